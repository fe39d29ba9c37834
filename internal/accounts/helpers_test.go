package accounts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Passwords that pass passwords.DefaultPolicy for the test people.
const (
	goodPassword  = "plum-orbit-velvet-canyon-7"
	otherPassword = "amber lantern drifts north 42"
	thirdPassword = "quiet-harbor-lynx-0193"
)

// cheapParams keep argon2id fast in tests; only the pepper-rotation test
// that is about parameters uses passwords.DefaultParams.
var cheapParams = passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// idSource hands out sequential ids in the shape the service accepts, so
// outbox rows written at the same instant keep their creation order.
type idSource struct{ n atomic.Int64 }

func (s *idSource) New() string { return fmt.Sprintf("id-%08d", s.n.Add(1)) }

// changedCount counts how often the relay was told userID has outbox items.
func changedCount(r *testenv.Relay, userID string) int {
	n := 0
	for _, id := range r.ChangedIDs() {
		if id == userID {
			n++
		}
	}
	return n
}

// countingHasher wraps the real hasher and counts the work asked of it.
type countingHasher struct {
	h                         *passwords.Hasher
	hashes, verifies, dummies atomic.Int64
	// beforeVerify, when set before the hasher is shared, runs at the start
	// of every Verify.
	beforeVerify func()
}

var _ accounts.Hasher = (*countingHasher)(nil)

func (c *countingHasher) Hash(ctx context.Context, password string) (string, error) {
	c.hashes.Add(1)
	return c.h.Hash(ctx, password)
}

func (c *countingHasher) Verify(ctx context.Context, password, encoded string) (bool, bool, error) {
	c.verifies.Add(1)
	if c.beforeVerify != nil {
		c.beforeVerify()
	}
	return c.h.Verify(ctx, password, encoded)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, password string) {
	c.dummies.Add(1)
	c.h.VerifyDummy(ctx, password)
}

type hashCounts struct{ Hash, Verify, VerifyDummy int64 }

func (c *countingHasher) counts() hashCounts {
	return hashCounts{Hash: c.hashes.Load(), Verify: c.verifies.Load(), VerifyDummy: c.dummies.Load()}
}

func (c *countingHasher) reset() {
	c.hashes.Store(0)
	c.verifies.Store(0)
	c.dummies.Store(0)
}

// testPeppers returns a pepper set whose keys are derived from the version
// names, so a service rebuilt with the same version gets the same key.
func testPeppers(current string, versions ...string) passwords.Peppers {
	p := passwords.Peppers{Current: current, Keys: map[string][]byte{}}
	for _, v := range append(versions, current) {
		p.Keys[v] = []byte(strings.Repeat(v+"-pepper-", 8))[:passwords.MinPepperLen]
	}
	return p
}

func defaultOptions() accounts.Options {
	return accounts.Options{
		RestoreWindow:          30 * 24 * time.Hour,
		SessionIdleTimeout:     30 * time.Minute,
		SessionAbsoluteTimeout: 12 * time.Hour,
		InvitationTTL:          7 * 24 * time.Hour,
		PasswordResetTTL:       30 * time.Minute,
		LockoutThreshold:       5,
		LockoutWindow:          time.Hour,
		LockoutDuration:        15 * time.Minute,
		LockoutMaxDuration:     time.Hour,
		ActivityInterval:       time.Hour,
		PrivacyNoticeVersion:   "2026-01",
	}
}

// testEnv is one test's service over its own tables in the shared Azurite.
type testEnv struct {
	t      *testing.T
	ctx    context.Context
	store  *tablestore.Store
	clock  *testenv.Clock
	ids    *idSource
	relay  *testenv.Relay
	hasher *countingHasher
	opts   accounts.Options
	svc    *accounts.Service
}

// newEnv opens a store with its own table prefix and a service over it
// with the default options, changed by configure when given.
func newEnv(t *testing.T, configure ...func(*accounts.Options)) *testEnv {
	t.Helper()
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(t.Context()); err != nil {
		t.Fatal(err)
	}
	opts := defaultOptions()
	for _, f := range configure {
		f(&opts)
	}
	e := &testEnv{t: t, ctx: t.Context(), store: store, clock: testenv.NewClock(t0), ids: &idSource{}, relay: &testenv.Relay{}, opts: opts}
	e.rebuild(testPeppers("v1"), cheapParams)
	return e
}

// rebuild replaces the service with one whose hasher uses peppers and
// params, over the same store, clock, ids and relay: a restart after a
// configuration change.
func (e *testEnv) rebuild(peppers passwords.Peppers, params passwords.Params) {
	e.t.Helper()
	h, err := passwords.NewHasher(peppers, params, 4, 64)
	if err != nil {
		e.t.Fatal(err)
	}
	e.hasher = &countingHasher{h: h}
	e.svc = accounts.NewService(e.store, e.hasher, passwords.DefaultPolicy(), e.relay, e.clock.Now, e.ids.New, e.opts)
}

var testMeta = kernel.Meta{RequestID: "req-1"}

// inviteInput is a valid invitation of an editor in org-1.
func inviteInput(email string) accounts.InviteInput {
	return accounts.InviteInput{Email: email, FirstName: "Maija", LastName: "Meikäläinen", OrganizationID: "org-1", Role: kernel.RoleEditor, Locale: "fi"}
}

// invite creates an invited account for email.
func (e *testEnv) invite(email string) accounts.User {
	e.t.Helper()
	u, err := e.svc.Invite(e.ctx, "admin-1", inviteInput(email), testMeta)
	if err != nil {
		e.t.Fatalf("Invite(%q): %v", email, err)
	}
	return u
}

// linkToken mints a link token as the email sender would.
func (e *testEnv) linkToken(userID string, purpose accounts.Purpose) string {
	e.t.Helper()
	tok, _, err := e.svc.IssueLinkToken(e.ctx, userID, purpose)
	if err != nil {
		e.t.Fatalf("IssueLinkToken(%s, %s): %v", userID, purpose, err)
	}
	return tok
}

// activeUser invites email and accepts the invitation with goodPassword.
func (e *testEnv) activeUser(email string) (accounts.User, accounts.SignIn) {
	e.t.Helper()
	u := e.invite(email)
	in, err := e.svc.AcceptInvitation(e.ctx, e.linkToken(u.ID, accounts.PurposeInvitation), goodPassword, true, testMeta)
	if err != nil {
		e.t.Fatalf("AcceptInvitation for %s: %v", u.ID, err)
	}
	return in.User, in
}

func (e *testEnv) login(email, password string) accounts.SignIn {
	e.t.Helper()
	in, err := e.svc.Login(e.ctx, email, password, testMeta)
	if err != nil {
		e.t.Fatalf("Login(%q): %v", email, err)
	}
	return in
}

func (e *testEnv) authenticate(token string) accounts.Principal {
	e.t.Helper()
	p, err := e.svc.Authenticate(e.ctx, token)
	if err != nil {
		e.t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// authErr is Authenticate's error for token, nil when it is accepted.
func (e *testEnv) authErr(token string) error {
	_, err := e.svc.Authenticate(e.ctx, token)
	return err
}

func (e *testEnv) aggregate(userID string) accounts.Aggregate {
	e.t.Helper()
	agg, err := e.store.Aggregate(e.ctx, userID)
	if err != nil {
		e.t.Fatalf("Aggregate(%s): %v", userID, err)
	}
	return agg
}

func (e *testEnv) user(userID string) accounts.User {
	e.t.Helper()
	return e.aggregate(userID).User
}

// setStatus changes an account's status behind the service's back, as the
// lifecycle sweep or an admin's removal would.
func (e *testEnv) setStatus(userID string, s kernel.Status) {
	e.t.Helper()
	u := e.user(userID)
	u.Status = s
	if s == kernel.StatusClosed {
		u.ClosedAt = e.clock.Now()
		u.ClosedReason = "removed"
	}
	if err := e.store.Apply(e.ctx, accounts.Change{UserID: userID, User: &u}); err != nil {
		e.t.Fatalf("set status %s: %v", s, err)
	}
}

// outbox reads what an account's changes left for the relay: the direct
// proof that a change and its events and notifications were committed
// together.
func (e *testEnv) outbox(userID string) ([]audit.Event, []notify.Message) {
	e.t.Helper()
	items, err := e.store.OutboxItems(e.ctx, relay.OwnerFromKey(userID))
	if err != nil {
		e.t.Fatalf("OutboxItems(%s): %v", userID, err)
	}
	var events []audit.Event
	var notes []notify.Message
	for _, it := range items {
		if it.Event != nil {
			events = append(events, *it.Event)
		}
		if it.Notification != nil {
			notes = append(notes, *it.Notification)
		}
	}
	return events, notes
}

// eventsWith returns the account's outbox events with the action.
func (e *testEnv) eventsWith(userID string, action audit.Action) []audit.Event {
	e.t.Helper()
	events, _ := e.outbox(userID)
	var out []audit.Event
	for _, ev := range events {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// notificationsOf returns the account's outbox notifications of the kind.
func (e *testEnv) notificationsOf(userID string, kind notify.Kind) []notify.Message {
	e.t.Helper()
	_, notes := e.outbox(userID)
	var out []notify.Message
	for _, n := range notes {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// fieldErrors returns the field and code of each field error in err, or
// fails the test when err is not a *kernel.ValidationError.
func fieldErrors(t *testing.T, err error) []kernel.FieldError {
	t.Helper()
	var v *kernel.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error = %v, want *kernel.ValidationError", err)
	}
	out := make([]kernel.FieldError, 0, len(v.Fields))
	for _, f := range v.Fields {
		out = append(out, kernel.FieldError{Field: f.Field, Code: f.Code})
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
