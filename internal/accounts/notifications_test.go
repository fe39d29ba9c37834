package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Issue 10, defect 1 (P7, P10): the recipient of a notification comes from
// the stored account at send time, and a kind goes only to the statuses it
// is meant for: a link only to the status it serves, nothing to an erased
// account, and a closed account only the notice of its closing.
func TestPrepareNotificationReadsTheStoredAccountAndItsStatus(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	sendable := map[kernel.Status][]notify.Kind{
		kernel.StatusInvited: {notify.KindInvitation, notify.KindAccountClosed, notify.KindAccountRestored, notify.KindAccessChanged,
			notify.KindInvitedElsewhere},
		kernel.StatusActive: {notify.KindPasswordReset, notify.KindPasswordChanged, notify.KindInactivityWarning,
			notify.KindAccountClosed, notify.KindAccountRestored, notify.KindAccessChanged, notify.KindInvitedElsewhere,
			notify.KindSecondFactorReset, notify.KindFactorAdded},
		kernel.StatusClosed: {notify.KindAccountClosed},
	}
	for status, kinds := range sendable {
		email := fmt.Sprintf("prepare-%s@example.fi", status)
		u := env.invite(email)
		if status != kernel.StatusInvited {
			env.setStatus(u.ID, status)
		}
		for _, kind := range notify.Kinds {
			p, err := env.svc.PrepareNotification(env.ctx, u.ID, kind, "n-"+strings.ReplaceAll(string(kind), "_", "-"))
			want := false
			for _, k := range kinds {
				want = want || k == kind
			}
			switch {
			case want && err != nil:
				t.Errorf("%s account, %s: %v, want it sent", status, kind, err)
			case !want && !errors.Is(err, kernel.ErrNotFound):
				t.Errorf("%s account, %s: %v, want ErrNotFound (not sent)", status, kind, err)
			case want && p.Recipient.Email != email:
				t.Errorf("%s account, %s: to %q, want the stored %q", status, kind, p.Recipient.Email, email)
			case want && (kind == notify.KindInvitation || kind == notify.KindPasswordReset) && p.Token == "":
				t.Errorf("%s account, %s: no link minted", status, kind)
			}
		}
	}
	// Every minted link is on the audit trail, tied to its notification:
	// one put on the queue by hand (or before the change that queues it
	// recorded its link) is recorded when it is minted.
	u := env.invite("minted@example.fi")
	if _, err := env.svc.PrepareNotification(env.ctx, u.ID, notify.KindInvitation, "n-42"); err != nil {
		t.Fatal(err)
	}
	var issued []audit.Event
	for _, e := range env.eventsWith(u.ID, audit.ActionLinkIssued) {
		if e.RequestID == "n-42" {
			issued = append(issued, e)
		}
	}
	if len(issued) != 1 || issued[0].Reason != string(accounts.PurposeInvitation) || issued[0].ActorID != "" {
		t.Fatalf("link.issued events = %+v", issued)
	}
	// An account that does not exist gets nothing.
	if _, err := env.svc.PrepareNotification(env.ctx, "no-such-user", notify.KindPasswordChanged, "n-43"); !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("unknown account: %v, want ErrNotFound", err)
	}
}

// P7: an invitation held for an address that has its account elsewhere
// claims the address within its organisation; its erasure must find and
// release that claim under the same key it was made with.
func TestInvitedElsewhereClaimIsFoundForErasure(t *testing.T) {
	t.Parallel()
	for _, email := range []string{"Maija.Meikäläinen@Kunta.example.fi", "straße@bücher.example.fi", "plain@example.fi"} {
		u := accounts.User{ID: "u-1", Email: email, OrganizationID: "0b7c2d9e-1f3a-4b5c-8d6e-7f8091a2b3c4", InvitedElsewhere: true}
		key := accounts.ClaimAddress(u)
		found := false
		for _, k := range accounts.EmailLookupKeys(key) {
			found = found || k == key
		}
		if !found {
			t.Errorf("%s: claim key %q is not among the keys erasure releases %q", email, key, accounts.EmailLookupKeys(key))
		}
		plain := u
		plain.InvitedElsewhere = false
		if accounts.ClaimAddress(plain) == key {
			t.Errorf("%s: the organisation-scoped claim collides with the account's own", email)
		}
	}
}

// P11, issue 11: the link.issued event of an invitation or reset email is
// recorded by the change that queues it (same outbox, same audit append,
// the notification's id as its request id), and the email's mint records
// no second one: the consumer's claim writes no outbox item.
func TestTheLinkIsRecordedWithTheChangeThatQueuesIt(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u := env.invite("queued-link@example.fi")
	_, notes := env.outbox(u.ID)
	issued := env.eventsWith(u.ID, audit.ActionLinkIssued)
	if len(notes) != 1 || len(issued) != 1 || issued[0].RequestID != notes[0].ID || issued[0].Reason != string(accounts.PurposeInvitation) {
		t.Fatalf("link.issued events %+v for notifications %+v: want one, tied to the invitation", issued, notes)
	}
	p, err := env.svc.PrepareNotification(env.ctx, u.ID, notes[0].Kind, notes[0].ID)
	if err != nil || p.Token == "" {
		t.Fatalf("PrepareNotification = %+v, %v", p, err)
	}
	if got := env.eventsWith(u.ID, audit.ActionLinkIssued); len(got) != 1 {
		t.Fatalf("%d link.issued events after the mint, want the queued one only", len(got))
	}
	// The same notification again is being sent: no second link.
	if _, err := env.svc.PrepareNotification(env.ctx, u.ID, notes[0].Kind, notes[0].ID); !errors.Is(err, accounts.ErrNotificationClaimed) {
		t.Fatalf("second claim = %v, want ErrNotificationClaimed", err)
	}
}
