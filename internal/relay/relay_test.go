package relay_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// queue records published notifications and fails while down is set: a
// stand-in for Service Bus, which has no local emulator.
type queue struct {
	mu        sync.Mutex
	down      bool
	published []notify.Message
}

func (q *queue) Publish(_ context.Context, m notify.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return errors.New("queue unavailable")
	}
	q.published = append(q.published, m)
	return nil
}

func (q *queue) setDown(down bool) { q.mu.Lock(); q.down = down; q.mu.Unlock() }

func (q *queue) ids() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, m := range q.published {
		out = append(out, m.ID)
	}
	return out
}

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// setup wires a relay whose clock runs ahead of the wall clock by ahead,
// so marks written now look that old to it.
func setup(t *testing.T, ahead time.Duration) (*tablestore.Store, *queue, *relay.Relay) {
	t.Helper()
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	now := func() time.Time { return time.Now().Add(ahead) }
	return store, q, relay.New(store, store, q, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Hour, now)
}

func invite(t *testing.T, store *tablestore.Store, id string) {
	t.Helper()
	u := accounts.User{ID: id, Email: id + "@example.fi", FirstName: "A", LastName: "B", OrganizationID: "org-1",
		Role: kernel.RoleEditor, Status: kernel.StatusInvited, Locale: "fi", CreatedAt: t0}
	ch := accounts.Change{UserID: id,
		Events:        []audit.Event{{ID: id + "-ev", At: t0, Action: audit.ActionInvitationCreated, SubjectID: id, OrganizationID: "org-1"}},
		Notifications: []notify.Message{{ID: id + "-msg", Kind: notify.KindInvitation, UserID: id, CreatedAt: t0}},
	}
	if err := store.CreateUser(context.Background(), u, ch); err != nil {
		t.Fatal(err)
	}
}

func chainLen(t *testing.T, store *tablestore.Store) int {
	t.Helper()
	key := audit.ChainKey(audit.Event{At: t0, OrganizationID: "org-1"})
	events, err := store.Chain(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.AuditKeys().Verify(key, events); err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// P11: a committed change's audit event reaches the trail, and its
// notification reaches the queue, and the outbox empties.
func TestDeliverMovesEventsAndNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, q, r := setup(t, 2*time.Minute)
	invite(t, store, "u-1")
	if err := r.Deliver(ctx, relay.OwnerFromKey("u-1")); err != nil {
		t.Fatal(err)
	}
	if got := q.ids(); len(got) != 1 || got[0] != "u-1-msg" {
		t.Fatalf("published %v, want [u-1-msg]", got)
	}
	if got := chainLen(t, store); got != 1 {
		t.Fatalf("audit chain has %d events, want 1", got)
	}
	if items, _ := store.OutboxItems(ctx, relay.OwnerFromKey("u-1")); len(items) != 0 {
		t.Fatalf("%d outbox items left", len(items))
	}
	if marked(t, store, "u-1") {
		t.Fatal("pending mark left after delivery")
	}
}

// Nothing is lost when the queue is down: the change stands, the event is
// recorded once, and the notification goes out exactly once on recovery.
func TestQueueOutageDefersNotificationsWithoutLosingOrDoubling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, q, r := setup(t, 0)
	q.setDown(true)
	invite(t, store, "u-1")
	if err := r.Deliver(ctx, relay.OwnerFromKey("u-1")); err == nil {
		t.Fatal("Deliver reported success while the queue was down")
	}
	if got := len(q.ids()); got != 0 {
		t.Fatalf("published %d while down", got)
	}
	if !marked(t, store, "u-1") {
		t.Fatal("the pending mark was cleared although a notification is undelivered")
	}
	q.setDown(false)
	for i := 0; i < 2; i++ {
		if _, err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := q.ids(); len(got) != 1 {
		t.Fatalf("published %v after recovery, want exactly one", got)
	}
	if got := chainLen(t, store); got != 1 {
		t.Fatalf("audit chain has %d events, want 1 (no duplicate from the retry)", got)
	}
}

// A process that died between commit and delivery leaves a mark; the
// catch-up of another process delivers.
func TestCatchUpDeliversWhatACrashedProcessLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, q, r := setup(t, 0)
	for _, id := range []string{"u-1", "u-2", "u-3"} {
		invite(t, store, id) // committed, never woken: as if the process died
	}
	if _, err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(q.ids()); got != 3 {
		t.Fatalf("published %d, want 3", got)
	}
	if got := chainLen(t, store); got != 3 {
		t.Fatalf("audit chain has %d events, want 3", got)
	}
}

func TestRunDeliversWokenAccounts(t *testing.T) {
	t.Parallel()
	store, q, r := setup(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, 2); close(done) }()
	defer func() { cancel(); <-done }()
	invite(t, store, "u-1")
	r.Changed(relay.OwnerFromKey("u-1"))
	deadline := time.Now().Add(10 * time.Second)
	for len(q.ids()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := len(q.ids()); got != 1 {
		t.Fatalf("published %d, want 1", got)
	}
}

// A change marks its account before its transaction commits. A relay that
// finds the outbox empty while the mark is young must keep the mark: the
// commit may still be in flight, and if its process dies the mark is all
// that leads the catch-up to it.
func TestYoungMarkSurvivesAnEmptyOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _, r := setup(t, 0)
	invite(t, store, "u-1")
	if err := r.Deliver(ctx, relay.OwnerFromKey("u-1")); err != nil {
		t.Fatal(err)
	}
	if !marked(t, store, "u-1") {
		t.Fatal("a mark younger than the commit grace was cleared")
	}
	lateRelay := relay.New(store, store, &queue{}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Hour,
		func() time.Time { return time.Now().Add(2 * time.Minute) })
	if _, err := lateRelay.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if marked(t, store, "u-1") {
		t.Fatal("an old mark over an empty outbox was not cleared")
	}
}

// Issue 11: a change whose request settled the account (Settling, then
// its callback) is delivered without settling again. A change in between,
// a request whose settle failed, a catch-up and Deliver still settle, so
// nothing is left unsettled.
func TestSettleRunsOncePerChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _, _ := setup(t, 2*time.Minute)
	var mu sync.Mutex
	settled := map[string]int{}
	settle := func(_ context.Context, o relay.Owner) error {
		mu.Lock()
		defer mu.Unlock()
		settled[o.ID]++
		return nil
	}
	r := relay.New(store, store, &queue{}, settle, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Hour,
		func() time.Time { return time.Now().Add(2 * time.Minute) })
	count := func(id string) int { mu.Lock(); defer mu.Unlock(); return settled[id] }
	woken := func(id string) {
		t.Helper()
		if err := r.Woken(ctx, relay.OwnerFromKey(id)); err != nil {
			t.Fatal(err)
		}
	}

	invite(t, store, "s-1")
	r.Settling(relay.OwnerFromKey("s-1"))()
	woken("s-1")

	invite(t, store, "s-2")
	done := r.Settling(relay.OwnerFromKey("s-2"))
	r.Changed(relay.OwnerFromKey("s-2")) // a later change its request does not settle
	done()
	woken("s-2")

	invite(t, store, "s-3")
	r.Settling(relay.OwnerFromKey("s-3")) // the request's settle failed: no callback
	woken("s-3")

	invite(t, store, "s-4")
	r.Settling(relay.OwnerFromKey("s-4"))()
	if err := r.Deliver(ctx, relay.OwnerFromKey("s-4")); err != nil {
		t.Fatal(err)
	}
	invite(t, store, "s-5")
	r.Settling(relay.OwnerFromKey("s-5"))()
	if _, err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{"s-1": 0, "s-2": 1, "s-3": 1, "s-4": 1, "s-5": 1}
	for id, n := range want {
		if got := count(id); got != n {
			t.Errorf("%s: settled %d times by the relay, want %d", id, got, n)
		}
	}
}

// marked reports whether an account has a pending mark.
func marked(t *testing.T, store *tablestore.Store, id string) bool {
	t.Helper()
	marks, err := store.PendingMarks(context.Background(), relay.OwnerFromKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return len(marks) > 0
}

// change commits an event for an account that exists (Apply), as a second
// change after its invitation.
func change(t *testing.T, store *tablestore.Store, id, eventID string) {
	t.Helper()
	ch := accounts.Change{UserID: id, Events: []audit.Event{{ID: eventID, At: t0, Action: audit.ActionSignedOut, ActorID: id, SubjectID: id, OrganizationID: "org-1"}}}
	if err := store.Apply(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
}

// Issue 11, P11: the delivery a change wakes takes that change's items
// from the process that committed it, reading neither the mark nor the
// outbox, and clears that change's mark only: another instance's change
// to the same account, marked but not delivered yet, keeps its mark until
// its own delivery, so a crash of that instance still leaves the
// catch-up a way to it.
func TestAWokenDeliveryReadsNothingAndClearsOnlyItsOwnMark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := testenv.UniqueName(t)
	calls := testenv.NewCalls(prefix)
	open := func(opts ...tablestore.Option) *tablestore.Store {
		s, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), prefix, testenv.AuditKeys(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	here, other := open(tablestore.WithPolicy(calls)), open()
	if err := here.EnsureTables(ctx); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	q := &queue{}
	r := relay.New(here, here, q, nil, logger, time.Hour, time.Now)
	invite(t, here, "u-1")
	if err := r.Woken(ctx, relay.Account("u-1")); err != nil {
		t.Fatal(err)
	}

	change(t, other, "u-1", "ev-other") // the other instance: committed, not delivered yet
	change(t, here, "u-1", "ev-here")
	calls.Reset()
	if err := r.Woken(ctx, relay.Account("u-1")); err != nil {
		t.Fatal(err)
	}
	got := calls.Snapshot()
	if n := got[testenv.CallKey{Kind: testenv.PointRead, Table: "pending"}] + got[testenv.CallKey{Kind: testenv.Query, Table: "pending"}] +
		got[testenv.CallKey{Kind: testenv.Query, Table: "users"}]; n != 0 {
		t.Errorf("a woken delivery read marks or the outbox: %v", got)
	}
	marks, err := here.PendingMarks(ctx, relay.Account("u-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) != 1 || !strings.HasSuffix(marks[0].Key, "ev-other") {
		t.Fatalf("marks left %+v, want the other instance's only", marks)
	}
	items, err := here.OutboxItems(ctx, relay.Account("u-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Event.ID != "ev-other" {
		t.Fatalf("outbox holds %+v, want the other instance's event only", items)
	}

	// The other instance dies before its wake-up: the catch-up, once the
	// mark is past the commit grace, delivers its event.
	late := relay.New(here, here, q, nil, logger, time.Hour, func() time.Time { return time.Now().Add(2 * time.Minute) })
	if _, err := late.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if marks, _ := here.PendingMarks(ctx, relay.Account("u-1")); len(marks) != 0 {
		t.Fatalf("marks left after the catch-up: %+v", marks)
	}
	if got := chainLen(t, here); got != 3 {
		t.Fatalf("audit chain has %d events, want 3 (invitation, both changes)", got)
	}
}
