package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

var t0 = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

const password = "kolme iloista kirahvia laulaa"

// env is a sweep over real Azurite with a clock the test moves.
type env struct {
	t       *testing.T
	ctx     context.Context
	prefix  string
	store   *tablestore.Store
	clock   *testenv.Clock
	svc     *accounts.Service
	sweeper *lifecycle.Sweeper
	admin   kernel.Actor
}

func options() accounts.Options {
	return accounts.Options{
		SessionIdleTimeout: 30 * time.Minute, SessionAbsoluteTimeout: 12 * time.Hour,
		InvitationTTL: 7 * 24 * time.Hour, PasswordResetTTL: 30 * time.Minute,
		LockoutThreshold: 10, LockoutDuration: 15 * time.Minute, ActivityInterval: time.Hour,
		PrivacyNoticeVersion: "2026-01", RestoreWindow: 30 * 24 * time.Hour,
		InactivityMonths: 6, WarningDays: []int{30, 7}, SafetyMargin: time.Hour,
	}
}

func newEnv(t *testing.T, storeOpts ...tablestore.Option) *env {
	t.Helper()
	prefix := testenv.UniqueName(t)
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), prefix, testenv.AuditKeys(), storeOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: context.Background(), prefix: prefix, store: store, clock: testenv.NewClock(t0)}
	e.svc = e.service(store)
	e.sweeper = lifecycle.New(store, e.svc, store, e.clock.Now)
	e.admin = kernel.Actor{ID: "admin-1", Role: kernel.RoleAdmin, Status: kernel.StatusActive, OrganizationID: "org-1"}
	return e
}

func (e *env) service(store *tablestore.Store) *accounts.Service {
	e.t.Helper()
	h, err := passwords.NewHasher(passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{9}, 32)}},
		passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 4, 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return accounts.NewService(store, h, passwords.DefaultPolicy(), &testenv.Relay{}, e.clock.Now, uuid.NewString, options())
}

// person invites someone and, unless invitedOnly, activates them now.
func (e *env) person(name string, invitedOnly bool) (accounts.User, string) {
	e.t.Helper()
	email := fmt.Sprintf("%s-%s@example.fi", name, e.prefix)
	u, err := e.svc.Invite(e.ctx, "", accounts.InviteInput{Email: email, FirstName: "Etu" + name, LastName: "Suku" + name,
		OrganizationID: "org-1", Role: kernel.RoleEditor}, kernel.Meta{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.upkeep(u.ID)
	if invitedOnly {
		return u, ""
	}
	tok, _, err := e.svc.IssueLinkToken(e.ctx, u.ID, accounts.PurposeInvitation)
	if err != nil {
		e.t.Fatal(err)
	}
	si, err := e.svc.AcceptInvitation(e.ctx, tok, password, true, kernel.Meta{})
	if err != nil {
		e.t.Fatal(err)
	}
	return si.User, si.Token
}

// upkeep runs what the relay runs after delivering a new account's change
// (its directory check and lifecycle filing): the recording relay of these
// tests delivers nothing, so each outbox keeps its items for the test.
func (e *env) upkeep(id string) {
	e.t.Helper()
	c, _ := e.store.TakeCommitted(e.ctx, relay.Account(id))
	for _, f := range c.Upkeep {
		if err := f(e.ctx); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) sweepAt(at time.Time) lifecycle.Summary {
	e.t.Helper()
	e.clock.Set(at)
	sum, err := e.sweeper.Run(e.ctx, at, lifecycle.Options{AuditRetentionMonths: 24, DeliveryRetention: 30 * 24 * time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return sum
}

func (e *env) user(id string) (accounts.User, error) {
	agg, err := e.store.Aggregate(e.ctx, id)
	return agg.User, err
}

// notifications counts the outbox notifications of a kind for an account.
func (e *env) notifications(id string, kind notify.Kind) int {
	e.t.Helper()
	items, err := e.store.OutboxItems(e.ctx, relay.OwnerFromKey(id))
	if err != nil && !errors.Is(err, kernel.ErrNotFound) {
		e.t.Fatal(err)
	}
	n := 0
	for _, it := range items {
		if it.Notification != nil && it.Notification.Kind == kind {
			n++
		}
	}
	return n
}

func sixMonthsAfter(t time.Time) time.Time { return t.AddDate(0, 6, 0) }

// P6: warnings 30 and 7 days before, each once; closing at six calendar
// months with the reason inactivity, sessions ended, the person emailed.
// P7: erased 30 days after closing. Idempotent: a second run the same day
// changes and sends nothing.
func TestInactiveAccountIsWarnedClosedAndErased(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := e.person("inactive", false)
	closeAt := sixMonthsAfter(t0)

	if sum := e.sweepAt(closeAt.AddDate(0, 0, -31)); sum.Warned+sum.Closed != 0 {
		t.Fatalf("31 days before closing: %+v", sum)
	}
	for i := 0; i < 2; i++ { // the second run the same day finds nothing due
		e.sweepAt(closeAt.AddDate(0, 0, -30).Add(time.Duration(i) * time.Hour))
	}
	if got := e.notifications(u.ID, notify.KindInactivityWarning); got != 1 {
		t.Fatalf("30-day warnings: %d, want 1", got)
	}
	e.sweepAt(closeAt.AddDate(0, 0, -7))
	e.sweepAt(closeAt.AddDate(0, 0, -7).Add(2 * time.Hour))
	if got := e.notifications(u.ID, notify.KindInactivityWarning); got != 2 {
		t.Fatalf("warnings after the 7-day one: %d, want 2", got)
	}
	// Not a minute early: the safety margin holds closing back.
	if sum := e.sweepAt(closeAt.Add(30 * time.Minute)); sum.Closed != 0 {
		t.Fatalf("closed inside the safety margin")
	}
	if sum := e.sweepAt(closeAt.Add(2 * time.Hour)); sum.Closed != 1 {
		t.Fatalf("at closing time + margin: %+v", sum)
	}
	got, _ := e.user(u.ID)
	if got.Status != kernel.StatusClosed || got.ClosedReason != accounts.ClosedInactivity {
		t.Fatalf("after closing: %s %s", got.Status, got.ClosedReason)
	}
	if _, err := e.svc.Authenticate(e.ctx, token); !errors.Is(err, accounts.ErrUnauthenticated) {
		t.Fatalf("session after closing: %v", err)
	}
	if got := e.notifications(u.ID, notify.KindAccountClosed); got != 1 {
		t.Fatalf("closing emails: %d", got)
	}
	if sum := e.sweepAt(closeAt.Add(3 * time.Hour)); sum.Closed+sum.Warned+sum.Erased != 0 {
		t.Fatalf("a second run changed something: %+v", sum)
	}

	if sum := e.sweepAt(got.ClosedAt.Add(30 * 24 * time.Hour).Add(2 * time.Hour)); sum.Erased != 1 {
		t.Fatalf("30 days after closing: %+v", sum)
	}
	if _, err := e.user(u.ID); !errors.Is(err, accounts.ErrErased) {
		t.Fatalf("after erasure: %v, want ErrErased", err)
	}
}

// P6: activity before closing resets the clock: a person warned and then
// active is never closed.
func TestActivityAfterAWarningPreventsClosing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := e.person("returns", false)
	closeAt := sixMonthsAfter(t0)
	e.sweepAt(closeAt.AddDate(0, 0, -10))
	if got := e.notifications(u.ID, notify.KindInactivityWarning); got != 1 {
		t.Fatalf("warnings: %d", got)
	}
	// The session from t0 expired long ago: the person signs in again.
	e.clock.Set(closeAt.AddDate(0, 0, -5))
	if _, err := e.svc.Login(e.ctx, u.Email, password, kernel.Meta{}); err != nil {
		t.Fatal(err)
	}
	_ = token
	if sum := e.sweepAt(closeAt.Add(48 * time.Hour)); sum.Closed != 0 {
		t.Fatalf("closed although active: %+v", sum)
	}
	if got, _ := e.user(u.ID); got.Status != kernel.StatusActive {
		t.Fatalf("status %s", got.Status)
	}
}

// An invitation never accepted is erased 30 days after it expired (P7).
func TestNeverAcceptedInvitationIsErased(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.person("never", true)
	expiry := t0.Add(7 * 24 * time.Hour)
	if sum := e.sweepAt(expiry.Add(29 * 24 * time.Hour)); sum.Erased != 0 {
		t.Fatalf("erased before 30 days past expiry")
	}
	if sum := e.sweepAt(expiry.Add(30 * 24 * time.Hour).Add(2 * time.Hour)); sum.Erased != 1 {
		t.Fatalf("not erased 30 days past expiry: %+v", sum)
	}
	if _, err := e.user(u.ID); !errors.Is(err, accounts.ErrErased) {
		t.Fatalf("%v", err)
	}
}

// P8: an admin can restore a closed account until the moment of erasure;
// after it the answer is a clear "restore window passed".
func TestRestoreWorksUntilErasure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := kernel.Actor{ID: "admin-1", Role: kernel.RoleAdmin, Status: kernel.StatusActive, OrganizationID: "org-adm"}
	a, _ := e.person("restored", false)
	b, _ := e.person("toolate", false)
	for _, id := range []string{a.ID, b.ID} {
		if err := e.svc.CloseUser(e.ctx, admin, id, kernel.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Set(t0.Add(30*24*time.Hour - time.Second))
	if _, err := e.svc.RestoreUser(e.ctx, admin, a.ID, kernel.Meta{}); err != nil {
		t.Fatalf("restore one second before the window ends: %v", err)
	}
	e.sweepAt(t0.Add(30 * 24 * time.Hour).Add(2 * time.Hour))
	if _, err := e.svc.RestoreUser(e.ctx, admin, b.ID, kernel.Meta{}); !errors.Is(err, accounts.ErrRestoreWindow) {
		t.Fatalf("restore after erasure: %v, want ErrRestoreWindow", err)
	}
	if got, _ := e.user(a.ID); got.Status != kernel.StatusActive {
		t.Fatalf("restored account: %s", got.Status)
	}
}

// P7, P9: after erasure nothing about the person is left in any table the
// app owns: not the email, not the names, not a password or session hash.
// Audit events keep the opaque id only.
func TestErasureLeavesNothingButIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := e.person("forgotten", false)
	stored, _ := e.store.Aggregate(e.ctx, u.ID)
	secrets := []string{u.Email, "Etuforgotten", "Sukuforgotten", stored.User.PasswordHash, stored.Sessions[0].Hash, strings.SplitN(token, ".", 2)[1]}
	// Leave traces everywhere: a reset request, a failed sign-in, a
	// delivered audit trail.
	_ = e.svc.RequestPasswordReset(e.ctx, u.Email, kernel.Meta{})
	_, _ = e.svc.Login(e.ctx, u.Email, "wrong password entirely", kernel.Meta{})
	if err := e.svc.CloseUser(e.ctx, e.admin, u.ID, kernel.Meta{}); err != nil {
		t.Fatal(err)
	}
	e.sweepAt(t0.Add(31 * 24 * time.Hour))

	client, err := aztables.NewServiceClientFromConnectionString(testenv.AzuriteConnectionString(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range e.store.TableNames() {
		pager := client.NewClient(table).NewListEntitiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range page.Entities {
				for _, s := range secrets {
					if bytes.Contains(raw, []byte(s)) {
						t.Errorf("table %s still holds %q: %s", table, s[:min(len(s), 12)], raw)
					}
				}
			}
		}
	}
	// The id survives in the tombstone, nothing else in its partition.
	if _, err := e.user(u.ID); !errors.Is(err, accounts.ErrErased) {
		t.Fatalf("%v", err)
	}
}

// failAfter fails every storage request once armed and n more went through.
type failAfter struct {
	armed atomic.Bool
	left  atomic.Int64
}

func (f *failAfter) Do(req *policy.Request) (*http.Response, error) {
	if f.armed.Load() && f.left.Add(-1) < 0 {
		return nil, errors.New("injected storage outage")
	}
	return req.Next()
}

// Storage failing mid-sweep leaves every person in a whole state, and the
// next run finishes the job.
func TestStorageFailureMidSweepIsFinishedByTheNextRun(t *testing.T) {
	t.Parallel()
	fault := &failAfter{}
	e := newEnv(t, tablestore.WithPolicy(fault))
	var ids []string
	for i := 0; i < 6; i++ {
		u, _ := e.person(fmt.Sprintf("p%d", i), false)
		ids = append(ids, u.ID)
	}
	at := sixMonthsAfter(t0).Add(2 * time.Hour)
	e.clock.Set(at)
	fault.left.Store(25)
	fault.armed.Store(true)
	_, _ = e.sweeper.Run(e.ctx, at, lifecycle.Options{AuditRetentionMonths: 24})
	fault.armed.Store(false)
	for _, id := range ids {
		u, err := e.user(id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != kernel.StatusActive && u.Status != kernel.StatusClosed {
			t.Fatalf("%s in a half state %q", id, u.Status)
		}
		if u.Status == kernel.StatusClosed && (u.ClosedReason != accounts.ClosedInactivity || u.ClosedAt.IsZero()) {
			t.Fatalf("%s closed without its reason or time", id)
		}
	}
	// Overdue and never warned: the next runs warn first, then close
	// once the final notice has run its course.
	for _, at := range []time.Time{at.Add(time.Hour), at.AddDate(0, 0, 8)} {
		e.sweepAt(at)
	}
	for _, id := range ids {
		if u, _ := e.user(id); u.Status != kernel.StatusClosed {
			t.Fatalf("%s not closed after the follow-up runs: %s", id, u.Status)
		}
	}
}

// A sign-in that lands while the sweep is closing the account wins: the
// sweep's conditional write fails and the person stays active.
func TestSignInDuringTheSweepWins(t *testing.T) {
	t.Parallel()
	var e *env
	var target string
	var once atomic.Bool
	race := policyFunc(func(req *policy.Request) (*http.Response, error) {
		// Just before the sweep commits the closing transaction, the person
		// signs in on another instance.
		if target != "" && strings.HasSuffix(req.Raw().URL.Path, "$batch") && once.CompareAndSwap(false, true) {
			other, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(e.t), e.prefix, testenv.AuditKeys())
			if err != nil {
				return nil, err
			}
			if _, err := e.service(other).Login(context.Background(), target, password, kernel.Meta{}); err != nil {
				return nil, err
			}
		}
		return req.Next()
	})
	e = newEnv(t, tablestore.WithPolicy(race))
	u, _ := e.person("racer", false)
	at := sixMonthsAfter(t0).AddDate(0, 0, 8)
	// Warned on time, so the sweep would close now.
	e.sweepAt(sixMonthsAfter(t0).AddDate(0, 0, -30))
	e.sweepAt(sixMonthsAfter(t0).AddDate(0, 0, -7))
	e.clock.Set(at)
	target = u.Email
	sum, err := e.sweeper.Run(e.ctx, at, lifecycle.Options{AuditRetentionMonths: 24})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.user(u.ID); got.Status != kernel.StatusActive || sum.Closed != 0 {
		t.Fatalf("status %s after a racing sign-in (summary %+v)", got.Status, sum)
	}
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }

func TestDryRunChangesNothingAndNamesWhom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.person("dry", false)
	before, _ := e.user(u.ID)
	at := sixMonthsAfter(t0).AddDate(0, 0, -30)
	e.clock.Set(at)
	sum, err := e.sweeper.Run(e.ctx, at, lifecycle.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Planned) != 1 || sum.Planned[0].UserID != u.ID || sum.Planned[0].Step != accounts.StepWarn {
		t.Fatalf("planned %+v", sum.Planned)
	}
	after, _ := e.user(u.ID)
	if after.ETag != before.ETag || e.notifications(u.ID, notify.KindInactivityWarning) != 0 {
		t.Fatal("a dry run changed the account or queued an email")
	}
}

// Audit events past retention leave whole months at a time, so every
// chain that remains still verifies from its start.
func TestAuditRetentionKeepsRemainingChainsVerifiable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := audit.Event{ID: "old-1", At: t0, Action: audit.ActionSignInSucceeded, OrganizationID: "org-1", SubjectID: "u-1"}
	recent := audit.Event{ID: "new-1", At: t0.AddDate(2, 1, 0), Action: audit.ActionSignInSucceeded, OrganizationID: "org-1", SubjectID: "u-1"}
	if err := e.store.Append(e.ctx, []audit.Event{old, recent}); err != nil {
		t.Fatal(err)
	}
	sum := e.sweepAt(t0.AddDate(2, 1, 5))
	if sum.AuditPurged != 1 {
		t.Fatalf("purged %d, want 1", sum.AuditPurged)
	}
	if chain, _ := e.store.Chain(e.ctx, audit.ChainKey(old)); len(chain) != 0 {
		t.Fatalf("the old month's chain remains: %d events", len(chain))
	}
	key := audit.ChainKey(recent)
	chain, err := e.store.Chain(e.ctx, key)
	if err != nil || len(chain) != 1 {
		t.Fatalf("recent chain: %d events, %v", len(chain), err)
	}
	if err := testenv.AuditKeys().Verify(key, chain); err != nil {
		t.Fatal(err)
	}
	// LOG-3: the whole table still verifies under the audit chain key: no
	// head or stray row of the dropped month is left behind.
	if got, want := chain[0].KeyVersion, testenv.AuditKeys().Current; got != want {
		t.Errorf("the remaining event names key version %q, want %q", got, want)
	}
	var broken []audit.Break
	verified, err := e.store.VerifyAuditChains(e.ctx, audit.VerifyOptions{}, func(b audit.Break) { broken = append(broken, b) })
	if err != nil || verified.Chains != 1 || len(broken) != 0 {
		t.Fatalf("after retention: %d chains, broken %v, %v; want 1 chain, none broken", verified.Chains, broken, err)
	}
	page, err := e.store.Events(e.ctx, audit.Query{UserID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(page.Events)
	if bytes.Contains(b, []byte("old-1")) {
		t.Fatal("the person's index still lists a purged event")
	}
}

// P7: an erasure cut short at any storage call (a crash, an outage, a
// shutdown) is finished by a later sweep. Before, the account's lifecycle
// index entry went before its data, so a cut after that point left the
// person's data in place and filed nowhere the sweep looks: never erased.
func TestErasureInterruptedAtAnyPointIsFinished(t *testing.T) {
	t.Parallel()
	for cut := 0; cut <= 30; cut++ {
		fault := &testenv.CutAfter{}
		e := newEnv(t, tablestore.WithPolicy(fault))
		u, _ := e.person(fmt.Sprintf("cut%d", cut), false)
		if err := e.svc.CloseUser(e.ctx, e.admin, u.ID, kernel.Meta{}); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(31 * 24 * time.Hour)
		e.clock.Set(at)
		fault.Arm(cut)
		_, _ = e.sweeper.Run(e.ctx, at, lifecycle.Options{AuditRetentionMonths: 24})
		fault.Disarm()
		for day := 1; day <= 2; day++ {
			e.sweepAt(at.AddDate(0, 0, day))
		}
		if _, err := e.user(u.ID); !errors.Is(err, accounts.ErrErased) {
			t.Fatalf("cut after %d storage calls: two sweeps later the account is %v, want erased", cut, err)
		}
	}
}

// filedFor is the day an account is filed under in the lifecycle index.
func (e *env) filedFor(id string) time.Time {
	e.t.Helper()
	agg, err := e.store.Aggregate(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return agg.FiledFor
}

// Issue 11, P6, P7: a lifecycle entry is a hint never later than the step
// it leads to. Accepting an invitation puts the next step months later
// and writes nothing to the index: the entry stays at the invitation's
// erasure day. The sweep that comes to it that day erases nothing, warns
// nobody (it removes the expired session, housekeeping it does on any
// visit), and moves the entry to the first warning's day; closing the
// account then brings its step (erasure) earlier, and the entry moves
// earlier at once.
func TestAnEarlyEntryIsMovedByTheSweepNotActedOn(t *testing.T) {
	e := newEnv(t)
	u, _ := e.person("varhainen", false)
	early := e.filedFor(u.ID)
	inviteErasure := t0.Add(7*24*time.Hour + 30*24*time.Hour + time.Hour).UTC().Truncate(24 * time.Hour)
	if !early.Equal(inviteErasure) {
		t.Fatalf("accepted account filed for %v, want the invitation's erasure day %v (nothing written on accept)", early, inviteErasure)
	}
	sum := e.sweepAt(early.Add(12 * time.Hour))
	if sum.Warned+sum.Closed+sum.Erased != 0 || sum.Unchanged+sum.Cleaned != 1 {
		t.Fatalf("the sweep acted on an early entry: %+v (only the expired session may go)", sum)
	}
	firstWarning := sixMonthsAfter(t0).AddDate(0, 0, -30).UTC().Truncate(24 * time.Hour)
	if got := e.filedFor(u.ID); !got.Equal(firstWarning) {
		t.Fatalf("after the visit, filed for %v, want the first warning's day %v", got, firstWarning)
	}
	if got, err := e.user(u.ID); err != nil || got.Status != kernel.StatusActive {
		t.Fatalf("account after the visit: %v, %v", got.Status, err)
	}
	admin := kernel.Actor{ID: "admin-1", Role: kernel.RoleAdmin, Status: kernel.StatusActive, OrganizationID: "org-adm"}
	e.clock.Set(early.AddDate(0, 0, 1))
	if err := e.svc.CloseUser(e.ctx, admin, u.ID, kernel.Meta{}); err != nil {
		t.Fatal(err)
	}
	erasure := e.clock.Now().Add(30*24*time.Hour + time.Hour).UTC().Truncate(24 * time.Hour)
	if got := e.filedFor(u.ID); !got.Equal(erasure) {
		t.Fatalf("after closing, filed for %v, want the erasure day %v", got, erasure)
	}
}

// The sweep stops when its time budget (the host's timeout, less a margin)
// is spent, says it did not finish, and the next run carries on where the
// due accounts still are: P7's erasures are late by a run, never lost.
func TestASweepOutOfTimeStopsAndTheNextCarriesOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, _ := e.person("budjetti-a", true)
	b, _ := e.person("budjetti-b", true)
	at := t0.Add(7 * 24 * time.Hour).Add(30 * 24 * time.Hour).Add(2 * time.Hour)
	e.clock.Set(at)
	// Each look at the clock is a minute later: the budget of 90 seconds
	// allows one page of one account.
	tick := at
	slow := lifecycle.New(e.store, e.svc, e.store, func() time.Time { tick = tick.Add(time.Minute); return tick })
	opts := lifecycle.Options{PageSize: 1, Budget: 90 * time.Second, AuditRetentionMonths: 24, DeliveryRetention: 30 * 24 * time.Hour}
	first, err := slow.Run(e.ctx, at, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Complete || first.Erased != 1 {
		t.Fatalf("first run = %+v, want one erasure and not complete", first)
	}
	second, err := slow.Run(e.ctx, at, opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.Erased != 1 {
		t.Fatalf("second run = %+v, want the other erasure", second)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := e.user(id); !errors.Is(err, accounts.ErrErased) {
			t.Errorf("%s after two runs: %v, want erased", id, err)
		}
	}
}
