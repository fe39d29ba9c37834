package accounts_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// recordingPublisher stands in for the queue behind the real relay.
type recordingPublisher struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (p *recordingPublisher) Publish(_ context.Context, m notify.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, m)
	return nil
}

// P9, P10, P11: a person's whole life through the service — invited,
// accepting, failing and succeeding to sign in, locked, changing and
// resetting the password, correcting their name, signing out — leaves
// audit events that hold ids, actions, field names and reason codes only:
// no email, no name, no password, no token. The same holds once the real
// relay has moved them to the tamper-evident audit trail.
func TestEventsHoldIDsOnly(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	queue := &recordingPublisher{}
	trail := relay.New(env.store, env.store, queue, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour, env.clock.Now)
	h, err := passwords.NewHasher(testPeppers("v1"), cheapParams, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(env.store, h, passwords.DefaultPolicy(), trail, env.clock.Now, env.ids.New, env.opts)
	ctx := env.ctx
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	refused := func(err error) {
		t.Helper()
		if err == nil {
			t.Fatal("expected a refusal")
		}
	}

	// Whatever is personal or secret in this story.
	const (
		email      = "Aurora.Virtanen@Kunta-Esimerkki.FI"
		adminEmail = "Paavo.Paakayttaja@Hallinto-Esimerkki.FI"
		newPass    = "meadow-copper-falcon-58"
	)
	personal := []string{
		"aurora", "virtanen", "kallio", "auroora", "kunta-esimerkki",
		"paavo", "paakayttaja", "pääkäyttäjä", "hallinto-esimerkki",
		goodPassword, otherPassword, newPass, "unknown.person",
	}

	admin, err := svc.BootstrapAdmin(ctx, accounts.InviteInput{Email: adminEmail, FirstName: "Paavo", LastName: "Pääkäyttäjä", OrganizationID: "administration"}, testMeta)
	must(err)
	_, err = svc.BootstrapAdmin(ctx, accounts.InviteInput{Email: adminEmail, OrganizationID: "administration"}, testMeta)
	must(err)
	adminIn, err := svc.AcceptInvitation(ctx, mint(t, svc, admin.ID, accounts.PurposeInvitation), otherPassword, true, testMeta)
	must(err)

	u, err := svc.Invite(ctx, admin.ID, accounts.InviteInput{Email: email, FirstName: "Aurora", LastName: "Virtanen-Kallio", OrganizationID: "org-1", Role: kernel.RoleEditor, Locale: "fi"}, testMeta)
	must(err)
	invitation := mint(t, svc, u.ID, accounts.PurposeInvitation)
	_, err = svc.AcceptInvitation(ctx, invitation, goodPassword, false, testMeta)
	refused(err)
	_, err = svc.AcceptInvitation(ctx, invitation, "auroravirtanen", true, testMeta)
	refused(err)
	_, err = svc.AcceptInvitation(ctx, invitation, goodPassword, true, testMeta)
	must(err)

	for i := 0; i < env.opts.LockoutThreshold; i++ {
		_, err = svc.Login(ctx, email, otherPassword, testMeta)
		refused(err)
	}
	_, err = svc.Login(ctx, email, goodPassword, testMeta) // locked
	refused(err)
	_, err = svc.Login(ctx, "unknown.person@kunta-esimerkki.fi", goodPassword, testMeta)
	refused(err)
	env.clock.Advance(env.opts.LockoutDuration)
	in, err := svc.Login(ctx, email, goodPassword, testMeta)
	must(err)
	p, err := svc.Authenticate(ctx, in.Token)
	must(err)

	refused(svc.ChangePassword(ctx, p, otherPassword, newPass, testMeta))
	must(svc.ChangePassword(ctx, p, goodPassword, newPass, testMeta))
	must(svc.RequestPasswordReset(ctx, email, testMeta))
	must(svc.CompletePasswordReset(ctx, mint(t, svc, u.ID, accounts.PurposePasswordReset), goodPassword, testMeta))
	in, err = svc.Login(ctx, email, goodPassword, testMeta)
	must(err)
	p, err = svc.Authenticate(ctx, in.Token)
	must(err)
	_, err = svc.UpdateProfile(ctx, p, accounts.ProfilePatch{FirstName: ptr("Auroora"), LastName: ptr("Virtanen")}, "", testMeta)
	must(err)
	must(svc.Logout(ctx, p, testMeta))
	in, err = svc.Login(ctx, email, goodPassword, testMeta)
	must(err)
	p, err = svc.Authenticate(ctx, in.Token)
	must(err)
	must(svc.EndAllSessions(ctx, p, testMeta))
	adminP, err := svc.Authenticate(ctx, adminIn.Token)
	must(err)
	must(svc.Logout(ctx, adminP, testMeta))

	leaks := func(what string, v any) {
		t.Helper()
		js := strings.ToLower(mustJSON(t, v))
		for _, s := range personal {
			if strings.Contains(js, strings.ToLower(s)) {
				t.Errorf("%s holds %q: %s", what, s, js)
			}
		}
	}

	// The outbox rows the changes committed, before any delivery.
	var all []audit.Event
	for _, id := range []string{admin.ID, u.ID} {
		events, _ := env.outbox(id)
		for _, ev := range events {
			leaks("outbox event "+string(ev.Action), ev)
			if ev.SubjectID != id || (ev.ActorID != "" && ev.ActorID != id && ev.ActorID != admin.ID) {
				t.Errorf("event %s names ids %q/%q, want subject %q", ev.Action, ev.ActorID, ev.SubjectID, id)
			}
		}
		all = append(all, events...)
	}
	var actions []audit.Action
	for _, ev := range all {
		if !slices.Contains(actions, ev.Action) {
			actions = append(actions, ev.Action)
		}
	}
	slices.Sort(actions)
	wantActions := []audit.Action{
		audit.ActionAccountLocked, audit.ActionAccountUnlocked, audit.ActionInvitationAccepted, audit.ActionInvitationCreated,
		audit.ActionLinkIssued, audit.ActionPasswordChanged, audit.ActionPasswordResetDone, audit.ActionPasswordResetRequest,
		audit.ActionProfileUpdated, audit.ActionSessionsEnded, audit.ActionSignInFailed,
		audit.ActionSignInSucceeded, audit.ActionSignedOut,
	}
	if diff := cmp.Diff(wantActions, actions); diff != "" {
		t.Errorf("the flow did not exercise every action (-want +got):\n%s", diff)
	}

	// Delivered through the real relay into the audit trail.
	for _, id := range []string{admin.ID, u.ID} {
		must(trail.Deliver(ctx, relay.OwnerFromKey(id)))
		if items, err := env.store.OutboxItems(ctx, relay.OwnerFromKey(id)); err != nil || len(items) != 0 {
			t.Errorf("outbox of %s after delivery: %d items, %v", id, len(items), err)
		}
	}
	_, err = trail.CatchUp(ctx) // the unknown email's event, from its unattributed outbox
	must(err)
	chained := 0
	keys := []string{
		audit.ChainKey(audit.Event{OrganizationID: "administration", At: env.clock.Now()}),
		audit.ChainKey(audit.Event{OrganizationID: "org-1", At: env.clock.Now()}),
	}
	keys = append(keys, noOrganizationChains(env.clock.Now())...)
	for _, key := range keys {
		events, err := env.store.Chain(ctx, key)
		must(err)
		if err := testenv.AuditKeys().Verify(key, events); err != nil {
			t.Errorf("chain %s: %v", key, err)
		}
		for _, ev := range events {
			leaks("audit trail event "+string(ev.Action), ev)
		}
		chained += len(events)
	}
	if got, want := chained, len(all)+1; got != want { // +1: the unknown email's event
		t.Errorf("%d events in the audit trail, want %d", got, want)
	}

	// P7, P9, issue 10: notifications carry ids only, nothing secret and
	// nothing personal (the consumer reads the recipient from the stored
	// account), so the queue and its dead-letter queue hold no one's data.
	queue.mu.Lock()
	defer queue.mu.Unlock()
	var kinds []notify.Kind
	for _, m := range queue.sent {
		if m.UserID == u.ID {
			kinds = append(kinds, m.Kind)
		}
		js := mustJSON(t, m)
		for _, secret := range []string{goodPassword, otherPassword, newPass, invitation,
			email, strings.ToLower(email), "Aurora", "Auroora", "Virtanen", "Paavo", "Pääkäyttäjä", adminEmail} {
			if strings.Contains(js, secret) {
				t.Errorf("notification %s holds a secret: %s", m.Kind, js)
			}
		}
	}
	// Which notifications, not their order: the test's clock stands still,
	// so items of different changes share a time.
	wantKinds := []notify.Kind{notify.KindInvitation, notify.KindPasswordChanged, notify.KindPasswordChanged, notify.KindPasswordReset}
	slices.Sort(kinds)
	slices.Sort(wantKinds)
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("notifications for the person (-want +got):\n%s", diff)
	}
}

func mint(t *testing.T, svc *accounts.Service, userID string, purpose accounts.Purpose) string {
	t.Helper()
	tok, _, err := svc.IssueLinkToken(t.Context(), userID, purpose)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// P10: errors never carry what a person typed, so nothing downstream can
// log or show it.
func TestErrorsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	const email = "Aurora.Virtanen@Example.FI"
	u, in := env.activeUser(email)
	p := env.authenticate(in.Token)
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }

	collect(env.svc.Invite(env.ctx, "admin-1", inviteInput(email), testMeta))
	collect(env.svc.Login(env.ctx, email, "aurora-wrong-password-x", testMeta))
	collect(env.svc.Login(env.ctx, "aurora.nobody@example.fi", goodPassword, testMeta))
	errs = append(errs, env.svc.ChangePassword(env.ctx, p, "aurora-wrong-password-x", otherPassword, testMeta))
	errs = append(errs, env.svc.ChangePassword(env.ctx, p, goodPassword, "aurora virtanen", testMeta))
	collect(env.svc.UpdateProfile(env.ctx, p, accounts.ProfilePatch{FirstName: ptr("Aurora\nBcc: x")}, "", testMeta))
	collect(env.svc.AcceptInvitation(env.ctx, "aurora."+strings.Repeat("A", 43), goodPassword, true, testMeta))

	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d succeeded, want an error", i)
			continue
		}
		msg := strings.ToLower(err.Error() + mustJSON(t, err))
		for _, s := range []string{"aurora", "virtanen", "example.fi", "wrong-password", goodPassword, otherPassword, u.ID} {
			if strings.Contains(msg, s) {
				t.Errorf("error %d %q carries %q", i, msg, s)
			}
		}
	}
	if !errors.Is(errs[0], accounts.ErrEmailTaken) {
		t.Errorf("duplicate invitation: %v, want ErrEmailTaken", errs[0])
	}
}
