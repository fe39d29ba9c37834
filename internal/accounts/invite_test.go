package accounts_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// P2, P3, P11: an invitation creates an invited account without any
// password, records who invited whom and queues the invitation email, all
// in one commit.
func TestInviteCreatesInvitedAccountWithItsEventAndEmail(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	in := inviteInput("maija@example.fi")
	in.Locale = "sv"
	in.Role = kernel.RolePrimaryUser
	u, err := env.svc.Invite(env.ctx, "admin-1", in, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	want := accounts.User{
		ID: u.ID, Email: "maija@example.fi", FirstName: "Maija", LastName: "Meikäläinen",
		OrganizationID: "org-1", Role: kernel.RolePrimaryUser, Status: kernel.StatusInvited, Locale: "sv",
		CreatedAt: t0, InvitedAt: t0, NeverAdmin: true,
	}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("returned account (-want +got):\n%s", diff)
	}
	agg := env.aggregate(u.ID)
	if diff := cmp.Diff(want, agg.User, cmpopts.IgnoreFields(accounts.User{}, "ETag")); diff != "" {
		t.Errorf("stored account (-want +got):\n%s", diff)
	}
	// P2: nobody but the person sets the password; the link is minted only
	// when the email is sent, so no token is stored yet either.
	if agg.User.PasswordHash != "" || len(agg.Tokens) != 0 || len(agg.Sessions) != 0 {
		t.Errorf("invited account has hash %q, %d tokens, %d sessions; want none", agg.User.PasswordHash, len(agg.Tokens), len(agg.Sessions))
	}
	if id, err := env.store.UserIDByEmail(env.ctx, "maija@example.fi"); err != nil || id != u.ID {
		t.Errorf("UserIDByEmail = %q, %v; want %q", id, err, u.ID)
	}

	events, notes := env.outbox(u.ID)
	wantEvents := []audit.Event{{
		Action: audit.ActionInvitationCreated, ActorID: "admin-1", SubjectID: u.ID, OrganizationID: "org-1",
		At: t0, RequestID: "req-1", Fields: []string{"email", "firstName", "lastName", "organizationId", "role", "locale"},
	}, {
		// P11: the link the invitation email will carry is on the trail
		// with the change that queued it, tied to the notification.
		Action: audit.ActionLinkIssued, SubjectID: u.ID, OrganizationID: "org-1", At: t0, Reason: string(accounts.PurposeInvitation),
	}}
	if diff := cmp.Diff(wantEvents, events, cmpopts.IgnoreFields(audit.Event{}, "ID", "RequestID")); diff != "" {
		t.Errorf("outbox events (-want +got):\n%s", diff)
	}
	wantNotes := []notify.Message{{Kind: notify.KindInvitation, UserID: u.ID, CreatedAt: t0}}
	if diff := cmp.Diff(wantNotes, notes, cmpopts.IgnoreFields(notify.Message{}, "ID")); diff != "" {
		t.Errorf("outbox notifications (-want +got):\n%s", diff)
	}
	if len(events) == 2 && len(notes) == 1 && (events[0].RequestID != "req-1" || events[1].RequestID != notes[0].ID) {
		t.Errorf("request ids %q, %q: want the request's and the notification's %q", events[0].RequestID, events[1].RequestID, notes[0].ID)
	}
	if got, want := changedCount(env.relay, u.ID), 1; got != want {
		t.Errorf("relay woken %d times for the account, want %d", got, want)
	}
}

// P1: the email is the username, unique and case-insensitive:
// "Alice@Example.COM " and "alice@example.com" are one account.
func TestInviteEmailIsUniqueCaseInsensitively(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := env.invite("Alice@Example.COM ")
	if got, want := first.Email, "Alice@Example.COM"; got != want { // kept as typed, unique folded
		t.Errorf("stored email = %q, want %q", got, want)
	}
	for _, variant := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", " alice@Example.com\t"} {
		t.Run("variant "+variant+" is taken", func(t *testing.T) {
			_, err := env.svc.Invite(env.ctx, "admin-1", inviteInput(variant), testMeta)
			if !errors.Is(err, accounts.ErrEmailTaken) {
				t.Fatalf("Invite(%q) = %v, want ErrEmailTaken", variant, err)
			}
		})
	}
	t.Run("one account signs in with any case", func(t *testing.T) {
		if _, err := env.svc.AcceptInvitation(env.ctx, env.linkToken(first.ID, accounts.PurposeInvitation), goodPassword, true, testMeta); err != nil {
			t.Fatal(err)
		}
		in := env.login("  ALICE@example.COM", goodPassword)
		if got, want := in.User.ID, first.ID; got != want {
			t.Errorf("signed in as %q, want %q", got, want)
		}
	})
	t.Run("an active account's email is still taken", func(t *testing.T) {
		_, err := env.svc.Invite(env.ctx, "admin-1", inviteInput("alice@EXAMPLE.com"), testMeta)
		if !errors.Is(err, accounts.ErrEmailTaken) {
			t.Fatalf("Invite = %v, want ErrEmailTaken", err)
		}
	})
}

func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// The role asked for is ignored: bootstrap makes an admin.
	adminInput := accounts.InviteInput{Email: "Root@Example.FI", OrganizationID: "administration", Role: kernel.RoleExpert}

	first, err := env.svc.BootstrapAdmin(env.ctx, adminInput, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("first admin is invited by email alone", func(t *testing.T) {
		got := struct {
			Email, OrganizationID, Locale string
			Role                          kernel.Role
			Status                        kernel.Status
		}{first.Email, first.OrganizationID, first.Locale, first.Role, first.Status}
		want := struct {
			Email, OrganizationID, Locale string
			Role                          kernel.Role
			Status                        kernel.Status
		}{"Root@Example.FI", "administration", "fi", kernel.RoleAdmin, kernel.StatusInvited} // as typed
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("bootstrapped admin (-want +got):\n%s", diff)
		}
		if got, want := len(env.notificationsOf(first.ID, notify.KindInvitation)), 1; got != want {
			t.Errorf("%d invitation emails queued, want %d", got, want)
		}
	})
	t.Run("stored role is admin", func(t *testing.T) {
		if got := env.user(first.ID).Role; got != kernel.RoleAdmin {
			t.Errorf("role = %q, want admin", got)
		}
	})
	t.Run("running again for a still-invited admin re-sends", func(t *testing.T) {
		again, err := env.svc.BootstrapAdmin(env.ctx, accounts.InviteInput{Email: " root@example.fi", OrganizationID: "administration"}, testMeta)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := again.ID, first.ID; got != want {
			t.Errorf("re-run user id = %q, want %q (the same account)", got, want)
		}
		notes := env.notificationsOf(first.ID, notify.KindInvitation)
		if got, want := len(notes), 2; got != want {
			t.Fatalf("%d invitation emails queued, want %d", got, want)
		}
		if notes[0].ID == notes[1].ID {
			t.Errorf("re-sent invitation reuses message id %q; the queue would drop it as a duplicate", notes[0].ID)
		}
		created := env.eventsWith(first.ID, audit.ActionInvitationCreated)
		if got, want := len(created), 2; got != want {
			t.Fatalf("%d invitation.created events, want %d", got, want)
		}
		if got, want := created[1].Reason, "resent"; got != want {
			t.Errorf("second event reason = %q, want %q", got, want)
		}
	})
	t.Run("an email of a non-admin is taken", func(t *testing.T) {
		editor := env.invite("editor@example.fi")
		_, err := env.svc.BootstrapAdmin(env.ctx, accounts.InviteInput{Email: "editor@example.fi", OrganizationID: "administration"}, testMeta)
		if !errors.Is(err, accounts.ErrEmailTaken) {
			t.Fatalf("BootstrapAdmin = %v, want ErrEmailTaken", err)
		}
		if got := env.user(editor.ID).Role; got != kernel.RoleEditor {
			t.Errorf("editor's role became %q", got)
		}
		if got := len(env.notificationsOf(editor.ID, notify.KindInvitation)); got != 1 {
			t.Errorf("%d invitation emails for the editor, want 1 (no re-send)", got)
		}
	})
	t.Run("bad input is a validation error", func(t *testing.T) {
		_, err := env.svc.BootstrapAdmin(env.ctx, accounts.InviteInput{Email: "root", OrganizationID: "administration"}, testMeta)
		if diff := cmp.Diff([]kernel.FieldError{{Field: "email", Code: "invalid_email"}}, fieldErrors(t, err)); diff != "" {
			t.Errorf("field errors (-want +got):\n%s", diff)
		}
	})
	t.Run("refused once an admin is active", func(t *testing.T) {
		if _, err := env.svc.AcceptInvitation(env.ctx, env.linkToken(first.ID, accounts.PurposeInvitation), goodPassword, true, testMeta); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"root@example.fi", "second-admin@example.fi"} {
			_, err := env.svc.BootstrapAdmin(env.ctx, accounts.InviteInput{Email: email, OrganizationID: "administration"}, testMeta)
			if !errors.Is(err, accounts.ErrAdminExists) {
				t.Errorf("BootstrapAdmin(%q) = %v, want ErrAdminExists", email, err)
			}
		}
		if _, err := env.store.UserIDByEmail(env.ctx, "second-admin@example.fi"); !errors.Is(err, kernel.ErrNotFound) {
			t.Errorf("refused bootstrap claimed the email: %v", err)
		}
		if got := len(env.notificationsOf(first.ID, notify.KindInvitation)); got != 2 {
			t.Errorf("%d invitation emails, want still 2", got)
		}
	})
}
