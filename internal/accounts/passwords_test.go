package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// policyRejections are passwords the policy refuses for Maija Meikäläinen
// (maija@example.fi), with the field-error code each must give.
var policyRejections = []struct {
	name, password, code string
}{
	{"too short", "short pass 1", "password_too_short"},
	{"too long", strings.Repeat("kettu ", 50), "password_too_long"},
	{"common", "password1234567890", "password_blocklisted"},
	{"own name", "maijameikalainen", "password_context_word"},
	{"repetitive", "aaaaaaaaaaaaaaaaaaa", "password_repetitive"},
}

func TestAcceptInvitation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	t.Run("privacy notice must be accepted", func(t *testing.T) {
		u := env.invite("notice@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposeInvitation)
		_, err := env.svc.AcceptInvitation(env.ctx, tok, goodPassword, false, testMeta)
		if diff := cmp.Diff([]kernel.FieldError{{Field: "acceptPrivacyNotice", Code: "required"}}, fieldErrors(t, err)); diff != "" {
			t.Errorf("field errors (-want +got):\n%s", diff)
		}
		if got := env.user(u.ID); got.Status != kernel.StatusInvited || got.PasswordHash != "" {
			t.Errorf("refused acceptance changed the account: status %q, hash set %v", got.Status, got.PasswordHash != "")
		}
		if _, err := env.svc.AcceptInvitation(env.ctx, tok, goodPassword, true, testMeta); err != nil {
			t.Errorf("the link no longer works after a refused attempt: %v", err)
		}
	})

	// P2: the person sets their own password through the link; role,
	// organisation and email come from the stored account.
	t.Run("sets the password, records the notice and signs in", func(t *testing.T) {
		in := inviteInput("maija@example.fi")
		in.Role, in.OrganizationID = kernel.RoleExpert, "org-7"
		invited, err := env.svc.Invite(env.ctx, "admin-1", in, testMeta)
		if err != nil {
			t.Fatal(err)
		}
		tok := env.linkToken(invited.ID, accounts.PurposeInvitation)
		env.clock.Advance(2 * time.Hour)
		now := env.clock.Now()
		signIn, err := env.svc.AcceptInvitation(env.ctx, tok, goodPassword, true, testMeta)
		if err != nil {
			t.Fatal(err)
		}
		agg := env.aggregate(invited.ID)
		got := agg.User
		type view struct {
			Email, OrganizationID, PrivacyNoticeVersion string
			Role                                        kernel.Role
			Status                                      kernel.Status
			ActivatedAt, LastActiveAt, NoticeAcceptedAt time.Time
		}
		want := view{"maija@example.fi", "org-7", env.opts.PrivacyNoticeVersion, kernel.RoleExpert, kernel.StatusActive, now, now, now}
		if diff := cmp.Diff(want, view{got.Email, got.OrganizationID, got.PrivacyNoticeVersion, got.Role, got.Status, got.ActivatedAt, got.LastActiveAt, got.PrivacyNoticeAcceptedAt}); diff != "" {
			t.Errorf("stored account (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$") || strings.Contains(got.PasswordHash, goodPassword) {
			t.Errorf("stored password hash %q is not an argon2id hash of the password", got.PasswordHash)
		}
		if len(agg.Tokens) != 0 {
			t.Errorf("%d link tokens left after acceptance, want 0", len(agg.Tokens))
		}
		if got, want := signIn.ExpiresAt, now.Add(env.opts.SessionAbsoluteTimeout); !got.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", got, want)
		}
		if p := env.authenticate(signIn.Token); p.Actor.ID != invited.ID || p.Actor.Role != kernel.RoleExpert {
			t.Errorf("session is for %q as %q, want %q as expert", p.Actor.ID, p.Actor.Role, invited.ID)
		}
		accepted := env.eventsWith(invited.ID, audit.ActionInvitationAccepted)
		if len(accepted) != 1 || accepted[0].ActorID != invited.ID {
			t.Errorf("invitation.accepted events = %+v, want one by %s", accepted, invited.ID)
		}
		env.login("maija@example.fi", goodPassword)

		t.Run("the link works once", func(t *testing.T) {
			if _, err := env.svc.AcceptInvitation(env.ctx, tok, otherPassword, true, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
				t.Errorf("second use = %v, want ErrInvalidToken", err)
			}
			env.login("maija@example.fi", goodPassword)
		})
	})

	t.Run("an expired link is refused", func(t *testing.T) {
		u := env.invite("late@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposeInvitation)
		env.clock.Advance(env.opts.InvitationTTL)
		if _, err := env.svc.AcceptInvitation(env.ctx, tok, goodPassword, true, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("AcceptInvitation = %v, want ErrInvalidToken", err)
		}
		if got := env.user(u.ID).Status; got != kernel.StatusInvited {
			t.Errorf("status = %q, want invited", got)
		}
	})

	t.Run("a link is good until just before it expires", func(t *testing.T) {
		u := env.invite("prompt@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposeInvitation)
		env.clock.Advance(env.opts.InvitationTTL - time.Second)
		if _, err := env.svc.AcceptInvitation(env.ctx, tok, goodPassword, true, testMeta); err != nil {
			t.Errorf("AcceptInvitation = %v, want success", err)
		}
	})

	t.Run("a re-sent invitation kills the old link", func(t *testing.T) {
		u := env.invite("resent@example.fi")
		old := env.linkToken(u.ID, accounts.PurposeInvitation)
		fresh := env.linkToken(u.ID, accounts.PurposeInvitation)
		if _, err := env.svc.AcceptInvitation(env.ctx, old, goodPassword, true, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("old link = %v, want ErrInvalidToken", err)
		}
		if _, err := env.svc.AcceptInvitation(env.ctx, fresh, goodPassword, true, testMeta); err != nil {
			t.Errorf("new link = %v, want success", err)
		}
	})

	t.Run("a reset link is refused", func(t *testing.T) {
		u, _ := env.activeUser("active@example.fi")
		reset := env.linkToken(u.ID, accounts.PurposePasswordReset)
		if _, err := env.svc.AcceptInvitation(env.ctx, reset, otherPassword, true, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("AcceptInvitation with a reset link = %v, want ErrInvalidToken", err)
		}
		env.login("active@example.fi", goodPassword)
	})

	t.Run("malformed and unknown links are refused", func(t *testing.T) {
		u := env.invite("malformed@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposeInvitation)
		_, secret, _ := strings.Cut(tok, ".")
		for _, bad := range []string{"", "garbage", u.ID + ".", "id-99999999." + secret, u.ID + "." + strings.Repeat("A", len(secret))} {
			if _, err := env.svc.AcceptInvitation(env.ctx, bad, goodPassword, true, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
				t.Errorf("AcceptInvitation(%q) = %v, want ErrInvalidToken", bad, err)
			}
		}
	})

	t.Run("a password the policy refuses gives its reason", func(t *testing.T) {
		u := env.invite("maija.policy@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposeInvitation)
		for _, tt := range policyRejections {
			t.Run(tt.name, func(t *testing.T) {
				_, err := env.svc.AcceptInvitation(env.ctx, tok, tt.password, true, testMeta)
				if diff := cmp.Diff([]kernel.FieldError{{Field: "password", Code: tt.code}}, fieldErrors(t, err)); diff != "" {
					t.Errorf("field errors (-want +got):\n%s", diff)
				}
				// P10: the reason never repeats the password.
				if js := mustJSON(t, err); strings.Contains(js, strings.TrimSpace(tt.password)) {
					t.Errorf("error echoes the password: %s", js)
				}
				if got := env.user(u.ID); got.Status != kernel.StatusInvited || got.PasswordHash != "" {
					t.Errorf("account changed: status %q, hash set %v", got.Status, got.PasswordHash != "")
				}
			})
		}
		if _, err := env.svc.AcceptInvitation(env.ctx, tok, goodPassword, true, testMeta); err != nil {
			t.Errorf("the link no longer works after refused passwords: %v", err)
		}
	})
}

func TestIssueLinkToken(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	invited := env.invite("invited@example.fi")
	active, _ := env.activeUser("active@example.fi")
	tests := []struct {
		name    string
		userID  string
		purpose accounts.Purpose
		wantTTL time.Duration
		wantErr error
	}{
		{"invitation for an invited account", invited.ID, accounts.PurposeInvitation, env.opts.InvitationTTL, nil},
		{"reset for an active account", active.ID, accounts.PurposePasswordReset, env.opts.PasswordResetTTL, nil},
		{"no invitation for an active account", active.ID, accounts.PurposeInvitation, 0, kernel.ErrNotFound},
		{"no reset for an invited account", invited.ID, accounts.PurposePasswordReset, 0, kernel.ErrNotFound},
		{"nothing for an unknown account", "id-99999999", accounts.PurposeInvitation, 0, kernel.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, ttl, err := env.svc.IssueLinkToken(env.ctx, tt.userID, tt.purpose)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("IssueLinkToken = %v, want %v", err, tt.wantErr)
			}
			if ttl != tt.wantTTL {
				t.Errorf("ttl = %v, want %v", ttl, tt.wantTTL)
			}
			if err != nil {
				return
			}
			id, secret, _ := strings.Cut(tok, ".")
			if id != tt.userID {
				t.Errorf("token names %q, want %q", id, tt.userID)
			}
			// Only the hash is stored, and the token goes into no outbox row.
			agg := env.aggregate(tt.userID)
			if len(agg.Tokens) != 1 || strings.Contains(agg.Tokens[0].Hash, secret) || !agg.Tokens[0].ExpiresAt.Equal(env.clock.Now().Add(tt.wantTTL)) {
				t.Errorf("stored tokens = %+v, want one hash expiring in %v", agg.Tokens, tt.wantTTL)
			}
			events, notes := env.outbox(tt.userID)
			if js := mustJSON(t, events) + mustJSON(t, notes); strings.Contains(js, secret) {
				t.Errorf("the raw token reached the outbox")
			}
		})
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	t.Run("wrong current password", func(t *testing.T) {
		u, in := env.activeUser("wrong@example.fi")
		p := env.authenticate(in.Token)
		err := env.svc.ChangePassword(env.ctx, p, otherPassword, thirdPassword, testMeta)
		if !errors.Is(err, accounts.ErrWrongPassword) {
			t.Fatalf("ChangePassword = %v, want ErrWrongPassword", err)
		}
		if got, want := env.user(u.ID).FailedSignIns, 1; got != want {
			t.Errorf("FailedSignIns = %d, want %d (counted like a failed sign-in)", got, want)
		}
		if got := env.notificationsOf(u.ID, notify.KindPasswordChanged); len(got) != 0 {
			t.Errorf("password_changed email queued for a refused change")
		}
		env.login("wrong@example.fi", goodPassword)
	})

	t.Run("a current password beyond the hasher's limit is wrong", func(t *testing.T) {
		_, in := env.activeUser("long@example.fi")
		err := env.svc.ChangePassword(env.ctx, env.authenticate(in.Token), strings.Repeat("x", passwords.MaxBytes+1), thirdPassword, testMeta)
		if !errors.Is(err, accounts.ErrWrongPassword) {
			t.Fatalf("ChangePassword = %v, want ErrWrongPassword", err)
		}
	})

	// Lockout protects the current password here as at sign-in: a stolen
	// session must not be a way to guess it without limit.
	t.Run("a locked account cannot change its password", func(t *testing.T) {
		_, in := env.activeUser("locked@example.fi")
		p := env.authenticate(in.Token)
		for i := 0; i < env.opts.LockoutThreshold; i++ {
			if err := env.svc.ChangePassword(env.ctx, p, otherPassword, thirdPassword, testMeta); !errors.Is(err, accounts.ErrWrongPassword) {
				t.Fatalf("guess %d: %v, want ErrWrongPassword", i+1, err)
			}
		}
		if err := env.svc.ChangePassword(env.ctx, p, goodPassword, thirdPassword, testMeta); !errors.Is(err, accounts.ErrWrongPassword) {
			t.Fatalf("right password while locked: %v, want ErrWrongPassword", err)
		}
		env.clock.Advance(env.opts.LockoutDuration)
		if err := env.svc.ChangePassword(env.ctx, env.authenticate(in.Token), goodPassword, thirdPassword, testMeta); err != nil {
			t.Fatalf("after the lock: %v", err)
		}
	})

	t.Run("a new password the policy refuses", func(t *testing.T) {
		_, in := env.activeUser("maija.policy@example.fi")
		err := env.svc.ChangePassword(env.ctx, env.authenticate(in.Token), goodPassword, "short pass 1", testMeta)
		if diff := cmp.Diff([]kernel.FieldError{{Field: "newPassword", Code: "password_too_short"}}, fieldErrors(t, err)); diff != "" {
			t.Errorf("field errors (-want +got):\n%s", diff)
		}
		env.login("maija.policy@example.fi", goodPassword)
	})

	t.Run("success ends the other sessions and keeps this one", func(t *testing.T) {
		u, first := env.activeUser("change@example.fi")
		env.clock.Advance(time.Minute)
		current := env.login("change@example.fi", goodPassword)
		third := env.login("change@example.fi", goodPassword)
		if err := env.svc.ChangePassword(env.ctx, env.authenticate(current.Token), goodPassword, otherPassword, testMeta); err != nil {
			t.Fatal(err)
		}
		if err := env.authErr(current.Token); err != nil {
			t.Errorf("current session: %v, want still signed in", err)
		}
		for _, tok := range []string{first.Token, third.Token} {
			if err := env.authErr(tok); !errors.Is(err, accounts.ErrUnauthenticated) {
				t.Errorf("other session: %v, want ErrUnauthenticated", err)
			}
		}
		if got := len(env.aggregate(u.ID).Sessions); got != 1 {
			t.Errorf("%d sessions stored, want 1", got)
		}
		notes := env.notificationsOf(u.ID, notify.KindPasswordChanged)
		if len(notes) != 1 || notes[0].UserID != u.ID {
			t.Errorf("password_changed emails = %+v, want one for %s", notes, u.ID)
		}
		changed := env.eventsWith(u.ID, audit.ActionPasswordChanged)
		if len(changed) != 1 || changed[0].ActorID != u.ID || !cmp.Equal(changed[0].Fields, []string{"password"}) {
			t.Errorf("password.changed events = %+v, want one by %s with fields [password]", changed, u.ID)
		}
		if _, err := env.svc.Login(env.ctx, "change@example.fi", goodPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Errorf("old password: %v, want ErrInvalidCredentials", err)
		}
		env.login("change@example.fi", otherPassword)
	})
}

func TestRequestPasswordReset(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	invited := env.invite("invited@example.fi")
	active, _ := env.activeUser("active@example.fi")
	closed, _ := env.activeUser("closed@example.fi")
	env.setStatus(closed.ID, kernel.StatusClosed)

	// P10: the caller gets the same answer whoever the email belongs to.
	t.Run("same answer for every email, an email only for the active account", func(t *testing.T) {
		etags := map[string]string{}
		for _, id := range []string{invited.ID, active.ID, closed.ID} {
			etags[id] = env.user(id).ETag
		}
		for _, email := range []string{"nobody@example.fi", "not an email", "invited@example.fi", "closed@example.fi", "  ACTIVE@example.fi"} {
			if err := env.svc.RequestPasswordReset(env.ctx, email, testMeta); err != nil {
				t.Errorf("RequestPasswordReset(%q) = %v, want nil", email, err)
			}
		}
		for id, want := range map[string]int{invited.ID: 0, active.ID: 1, closed.ID: 0} {
			if got := len(env.notificationsOf(id, notify.KindPasswordReset)); got != want {
				t.Errorf("%s: %d reset emails, want %d", id, got, want)
			}
		}
		// Asking for a reset changes nothing about the account itself.
		for id, want := range etags {
			if got := env.user(id).ETag; got != want {
				t.Errorf("%s: account record rewritten by a reset request", id)
			}
		}
		if got := env.eventsWith(active.ID, audit.ActionPasswordResetRequest); len(got) != 1 || got[0].ActorID != "" {
			t.Errorf("password_reset.requested events = %+v, want one without an actor", got)
		}
		if got := len(env.aggregate(active.ID).Tokens); got != 0 {
			t.Errorf("%d tokens stored by the request, want 0 (minted when the email is sent)", got)
		}
	})

	t.Run("at most five emails an hour", func(t *testing.T) {
		u, _ := env.activeUser("flood@example.fi")
		for i := 0; i < 6; i++ {
			if err := env.svc.RequestPasswordReset(env.ctx, "flood@example.fi", testMeta); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		if got, want := len(env.notificationsOf(u.ID, notify.KindPasswordReset)), 5; got != want {
			t.Errorf("%d reset emails after 6 requests, want %d", got, want)
		}
		env.clock.Advance(time.Hour)
		if err := env.svc.RequestPasswordReset(env.ctx, "flood@example.fi", testMeta); err != nil {
			t.Fatal(err)
		}
		if got, want := len(env.notificationsOf(u.ID, notify.KindPasswordReset)), 6; got != want {
			t.Errorf("%d reset emails an hour later, want %d", got, want)
		}
	})
}

func TestCompletePasswordReset(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	t.Run("sets the password and ends every session", func(t *testing.T) {
		u, first := env.activeUser("reset@example.fi")
		second := env.login("reset@example.fi", goodPassword)
		tok := env.linkToken(u.ID, accounts.PurposePasswordReset)
		if err := env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{first.Token, second.Token} {
			if err := env.authErr(s); !errors.Is(err, accounts.ErrUnauthenticated) {
				t.Errorf("session after reset: %v, want ErrUnauthenticated", err)
			}
		}
		agg := env.aggregate(u.ID)
		if len(agg.Sessions) != 0 || len(agg.Tokens) != 0 {
			t.Errorf("%d sessions and %d tokens left, want none (the reset signs nobody in)", len(agg.Sessions), len(agg.Tokens))
		}
		if got := env.notificationsOf(u.ID, notify.KindPasswordChanged); len(got) != 1 {
			t.Errorf("%d password_changed emails, want 1", len(got))
		}
		done := env.eventsWith(u.ID, audit.ActionPasswordResetDone)
		if len(done) != 1 || !cmp.Equal(done[0].Fields, []string{"password"}) {
			t.Errorf("password_reset.completed events = %+v, want one with fields [password]", done)
		}
		if _, err := env.svc.Login(env.ctx, "reset@example.fi", goodPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Errorf("old password: %v, want ErrInvalidCredentials", err)
		}
		env.login("reset@example.fi", otherPassword)

		t.Run("the link works once", func(t *testing.T) {
			if err := env.svc.CompletePasswordReset(env.ctx, tok, thirdPassword, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
				t.Errorf("second use = %v, want ErrInvalidToken", err)
			}
			env.login("reset@example.fi", otherPassword)
		})
	})

	t.Run("a link expires after the reset TTL", func(t *testing.T) {
		u, _ := env.activeUser("slow@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposePasswordReset)
		env.clock.Advance(env.opts.PasswordResetTTL + time.Second)
		if err := env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("30 min + 1 s later: %v, want ErrInvalidToken", err)
		}
		tok = env.linkToken(u.ID, accounts.PurposePasswordReset)
		env.clock.Advance(env.opts.PasswordResetTTL - time.Second)
		if err := env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta); err != nil {
			t.Errorf("a second before expiry: %v, want success", err)
		}
	})

	t.Run("a newer link kills the older one", func(t *testing.T) {
		u, _ := env.activeUser("twice@example.fi")
		old := env.linkToken(u.ID, accounts.PurposePasswordReset)
		fresh := env.linkToken(u.ID, accounts.PurposePasswordReset)
		if err := env.svc.CompletePasswordReset(env.ctx, old, otherPassword, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("old link: %v, want ErrInvalidToken", err)
		}
		if err := env.svc.CompletePasswordReset(env.ctx, fresh, otherPassword, testMeta); err != nil {
			t.Errorf("new link: %v", err)
		}
	})

	t.Run("an invitation link is refused", func(t *testing.T) {
		u := env.invite("invited@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposeInvitation)
		if err := env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("CompletePasswordReset with an invitation link = %v, want ErrInvalidToken", err)
		}
		if got := env.user(u.ID); got.Status != kernel.StatusInvited || got.PasswordHash != "" {
			t.Errorf("account changed: status %q, hash set %v", got.Status, got.PasswordHash != "")
		}
	})

	t.Run("a closed account's link is refused", func(t *testing.T) {
		u, _ := env.activeUser("gone@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposePasswordReset)
		env.setStatus(u.ID, kernel.StatusClosed)
		if err := env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta); !errors.Is(err, accounts.ErrInvalidToken) {
			t.Errorf("CompletePasswordReset = %v, want ErrInvalidToken", err)
		}
	})

	t.Run("a password the policy refuses keeps the link", func(t *testing.T) {
		u, _ := env.activeUser("maija.reset@example.fi")
		tok := env.linkToken(u.ID, accounts.PurposePasswordReset)
		for _, tt := range policyRejections {
			err := env.svc.CompletePasswordReset(env.ctx, tok, tt.password, testMeta)
			if diff := cmp.Diff([]kernel.FieldError{{Field: "password", Code: tt.code}}, fieldErrors(t, err)); diff != "" {
				t.Errorf("%s: field errors (-want +got):\n%s", tt.name, diff)
			}
		}
		if err := env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta); err != nil {
			t.Errorf("the link no longer works after refused passwords: %v", err)
		}
	})
}

// A sign-in that checked the old password must not leave a session behind
// once a password reset has committed: the reset ends every session, and
// one created from the old password in the meantime would outlive it.
func TestSignInRacingAPasswordResetLeavesNoSession(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("race@example.fi")
	tok := env.linkToken(u.ID, accounts.PurposePasswordReset)

	// The reset commits while the sign-in is checking the old password,
	// after it has read the account.
	var resetErr error
	reset := false
	env.hasher.beforeVerify = func() {
		if !reset {
			reset = true
			resetErr = env.svc.CompletePasswordReset(env.ctx, tok, otherPassword, testMeta)
		}
	}
	in, err := env.svc.Login(env.ctx, "race@example.fi", goodPassword, testMeta)
	if resetErr != nil {
		t.Fatalf("reset: %v", resetErr)
	}
	if err == nil {
		if aerr := env.authErr(in.Token); aerr == nil {
			t.Fatalf("a session made with the old password survived the reset")
		}
	} else if !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Fatalf("Login = %v, want ErrInvalidCredentials", err)
	}
	if got := len(env.aggregate(u.ID).Sessions); got != 0 {
		t.Errorf("%d sessions after the reset, want 0", got)
	}
}

// Pepper rotation: hashes made with the old pepper keep working and move to
// the new one at the person's next sign-in.
func TestPepperRotation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.rebuild(testPeppers("old"), cheapParams)
	u, _ := env.activeUser("alice@example.fi")
	if h := env.user(u.ID).PasswordHash; !strings.Contains(h, ",pv=old$") {
		t.Fatalf("hash %q not made with pepper old", h)
	}

	env.rebuild(testPeppers("new", "old"), cheapParams)
	env.login("alice@example.fi", goodPassword)
	if got, want := env.hasher.counts(), (hashCounts{Verify: 1, Hash: 1}); got != want {
		t.Errorf("hashing work = %+v, want %+v (verify, then re-hash)", got, want)
	}
	if h := env.user(u.ID).PasswordHash; !strings.Contains(h, ",pv=new$") {
		t.Fatalf("hash after sign-in %q, want pv=new", h)
	}

	// Once re-hashed, the old pepper can go.
	env.rebuild(testPeppers("new"), cheapParams)
	env.login("alice@example.fi", goodPassword)
	if got, want := env.hasher.counts(), (hashCounts{Verify: 1}); got != want {
		t.Errorf("hashing work = %+v, want %+v (no second re-hash)", got, want)
	}
}

// A hash made with weaker argon2id parameters is upgraded to the current
// ones (here the production defaults) at the next sign-in.
func TestWeakerHashParametersAreUpgradedAtSignIn(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("alice@example.fi")
	env.rebuild(testPeppers("v1"), passwords.DefaultParams())
	env.login("alice@example.fi", goodPassword)
	d := passwords.DefaultParams()
	if h, want := env.user(u.ID).PasswordHash, fmt.Sprintf("$m=%d,t=%d,p=%d,", d.Memory, d.Time, d.Threads); !strings.Contains(h, want) {
		t.Errorf("hash after sign-in = %q, want parameters %q", h, want)
	}
	env.login("alice@example.fi", goodPassword)
	if got := env.hasher.counts().Hash; got != 1 {
		t.Errorf("re-hashed %d times over two sign-ins, want 1", got)
	}
}
