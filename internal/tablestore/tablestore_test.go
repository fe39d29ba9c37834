package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// newTestStore opens a store with its own tables on the test binary's
// Azurite, so tests can run in parallel.
func newTestStore(t *testing.T) *Store { return newTestStoreWith(t, testenv.UniqueName(t)) }

// newTestStoreWith is newTestStore with a table prefix and pipeline
// options (a fault or a call counter) of the test's choosing.
func newTestStoreWith(t *testing.T, prefix string, opts ...Option) *Store {
	t.Helper()
	s, err := NewFromConnectionString(testenv.AzuriteConnectionString(t), prefix, testenv.AuditKeys(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func testUser(id, email string) accounts.User {
	return accounts.User{ID: id, Email: email, FirstName: "Maija", LastName: "Meikäläinen", OrganizationID: "org-1",
		Role: kernel.RoleEditor, Status: kernel.StatusInvited, Locale: "fi", CreatedAt: t0}
}

func TestCreateUserClaimsEmailOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if err := s.CreateUser(ctx, testUser("u-1", "maija@example.fi"), accounts.Change{UserID: "u-1"}); err != nil {
		t.Fatal(err)
	}
	// P1: the email is the username, unique across accounts.
	err := s.CreateUser(ctx, testUser("u-2", "maija@example.fi"), accounts.Change{UserID: "u-2"})
	if !errors.Is(err, accounts.ErrEmailTaken) {
		t.Fatalf("second create: got %v, want ErrEmailTaken", err)
	}
	id, err := s.UserIDByEmail(ctx, "maija@example.fi")
	if err != nil || id != "u-1" {
		t.Fatalf("UserIDByEmail = %q, %v; want u-1", id, err)
	}
	if _, err := s.Aggregate(ctx, "u-2"); !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("loser account exists: %v", err)
	}
}

func TestAggregateRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	u.LastActiveAt = t0.Add(time.Hour)
	u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1,pv=1$c2FsdA$aGFzaA"
	u.FailedSignIns = 3
	// AUTH-3: the lockout's window, escalation and lock until a reset are
	// kept in storage, so every instance sees the same state.
	u.FailureTimes = []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)}
	u.Lockouts = 2
	u.LockedUntil = t0.Add(time.Hour)
	u.LockedForReset = true
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	agg, err := s.Aggregate(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if agg.User.ETag == "" {
		t.Fatal("no ETag read")
	}
	got := agg.User
	got.ETag = ""
	if diff := cmp.Diff(u, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestApplyWithStaleETagIsConflictAndChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "a@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	agg, _ := s.Aggregate(ctx, u.ID)
	first := agg.User
	first.FirstName = "Eka"
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, User: &first}); err != nil {
		t.Fatal(err)
	}
	stale := agg.User
	stale.FirstName = "Toka"
	sess := accounts.Session{UserID: u.ID, Hash: "abc", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	err := s.Apply(ctx, accounts.Change{UserID: u.ID, User: &stale, PutSessions: []accounts.Session{sess},
		Events: []audit.Event{{ID: "e1", At: t0, Action: audit.ActionProfileUpdated}}})
	if !errors.Is(err, kernel.ErrConflict) {
		t.Fatalf("stale write: got %v, want ErrConflict", err)
	}
	after, _ := s.Aggregate(ctx, u.ID)
	if got, want := after.User.FirstName, "Eka"; got != want {
		t.Fatalf("FirstName = %q, want %q", got, want)
	}
	if len(after.Sessions) != 0 {
		t.Fatal("the rejected transaction left a session behind")
	}
	if items, _ := s.OutboxItems(ctx, relay.OwnerFromKey(u.ID)); len(items) != 0 {
		t.Fatal("the rejected transaction left an outbox item: an event for a change that did not happen")
	}
}

func TestUserWithSessionReadsBothByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "a@example.fi")
	sess := accounts.Session{UserID: u.ID, Hash: "h1", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID, PutSessions: nil}); err != nil {
		t.Fatal(err)
	}
	agg, _ := s.Aggregate(ctx, u.ID)
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, PutSessions: []accounts.Session{sess}}); err != nil {
		t.Fatal(err)
	}
	gotU, gotS, err := s.UserWithSession(ctx, u.ID, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if gotU.ID != u.ID || gotS.Hash != "h1" || gotS.ETag == "" || gotU.ETag != agg.User.ETag {
		t.Fatalf("got %+v %+v", gotU, gotS)
	}
	if _, _, err := s.UserWithSession(ctx, u.ID, "other"); !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("unknown session: %v, want ErrNotFound", err)
	}
	if _, _, err := s.UserWithSession(ctx, "u-none", "h1"); !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("unknown account: %v, want ErrNotFound", err)
	}
	if _, err := s.User(ctx, "u-none"); !errors.Is(err, kernel.ErrNotFound) {
		t.Fatalf("User of an unknown account: %v, want ErrNotFound", err)
	}
}

// TestRecordActivityLeavesTheStoredETags: the activity write hands back
// each row as stored (ETag, Version), so a caller answering with it gives
// the ETag a later If-Match needs; a stale ETag is a conflict.
func TestRecordActivityLeavesTheStoredETags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "a@example.fi")
	sess := accounts.Session{UserID: u.ID, Hash: "h1", ID: "s-1", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, accounts.Change{UserID: u.ID, PutSessions: []accounts.Session{sess}}); err != nil {
		t.Fatal(err)
	}
	readU, readS, err := s.UserWithSession(ctx, u.ID, "h1")
	if err != nil {
		t.Fatal(err)
	}
	gotU, gotS := readU, readS
	gotU.LastActiveAt, gotS.LastSeenAt = t0.Add(time.Hour), t0.Add(time.Minute)
	if err := s.RecordActivity(ctx, &gotS, &gotU); err != nil {
		t.Fatal(err)
	}
	storedU, storedS, err := s.UserWithSession(ctx, u.ID, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(storedU, gotU); diff != "" {
		t.Errorf("account as written differs from as stored (-stored +written):\n%s", diff)
	}
	if diff := cmp.Diff(storedS, gotS); diff != "" {
		t.Errorf("session as written differs from as stored (-stored +written):\n%s", diff)
	}
	if storedU.Version != readU.Version+1 || storedS.ID != "s-1" {
		t.Errorf("version %d after %d, session id %q", storedU.Version, readU.Version, storedS.ID)
	}
	if err := s.RecordActivity(ctx, nil, &readU); !errors.Is(err, kernel.ErrConflict) {
		t.Errorf("stale account: %v, want ErrConflict", err)
	}
	if err := s.RecordActivity(ctx, &readS, nil); !errors.Is(err, kernel.ErrConflict) {
		t.Errorf("stale session: %v, want ErrConflict", err)
	}
}

func TestOutboxItemsAreMarkedListedAndAcknowledged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "a@example.fi")
	ch := accounts.Change{UserID: u.ID,
		Events:        []audit.Event{{ID: "e1", At: t0, Action: audit.ActionInvitationCreated, SubjectID: u.ID}},
		Notifications: []notify.Message{{ID: "n1", Kind: notify.KindInvitation, UserID: u.ID, CreatedAt: t0}},
	}
	if err := s.CreateUser(ctx, u, ch); err != nil {
		t.Fatal(err)
	}
	marks, err := s.PendingMarks(ctx, relay.OwnerFromKey(u.ID))
	if err != nil || len(marks) != 1 {
		t.Fatalf("want one pending mark, have %d: %v", len(marks), err)
	}
	mark := marks[0]
	items, err := s.OutboxItems(ctx, relay.OwnerFromKey(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Event == nil || items[1].Notification == nil || items[1].Notification.ID != "n1" {
		t.Fatalf("items = %+v", items)
	}
	if err := s.Acknowledge(ctx, relay.OwnerFromKey(u.ID), items); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearPending(ctx, mark); err != nil {
		t.Fatal(err)
	}
	if items, _ := s.OutboxItems(ctx, relay.OwnerFromKey(u.ID)); len(items) != 0 {
		t.Fatalf("acknowledged items remain: %d", len(items))
	}
	if marks, _ := s.PendingMarks(ctx, relay.OwnerFromKey(u.ID)); len(marks) != 0 {
		t.Fatal("mark remains after clearing")
	}
}

func TestAuditChainStaysLinearUnderConcurrentAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				e := audit.Event{ID: fmt.Sprintf("w%d-%d", w, i), At: t0, Action: audit.ActionSignInSucceeded, OrganizationID: "org-1"}
				if err := s.Append(ctx, []audit.Event{e}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	chainKey := audit.ChainKey(audit.Event{At: t0, OrganizationID: "org-1"})
	events, err := s.Chain(ctx, chainKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(events), 40; got != want {
		t.Fatalf("chain has %d events, want %d", got, want)
	}
	if err := testenv.AuditKeys().Verify(chainKey, events); err != nil {
		t.Fatal(err)
	}
}

func TestAuditAppendSkipsARedeliveredEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	e := audit.Event{ID: "same", At: t0, Action: audit.ActionSignInSucceeded, OrganizationID: "org-1"}
	for i := 0; i < 2; i++ {
		if err := s.Append(ctx, []audit.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	events, _ := s.Chain(ctx, audit.ChainKey(e))
	if got := len(events); got != 1 {
		t.Fatalf("chain has %d events after a redelivery, want 1", got)
	}
}

func TestQuoteKeepsFiltersClosed(t *testing.T) {
	if got, want := quote("a' or PartitionKey ne 'x"), "'a'' or PartitionKey ne ''x'"; got != want {
		t.Fatalf("quote = %s, want %s", got, want)
	}
}

func TestAcknowledgeToleratesItemsAnotherRelayRemoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "a@example.fi")
	ch := accounts.Change{UserID: u.ID, Events: []audit.Event{
		{ID: "e1", At: t0, Action: audit.ActionInvitationCreated},
		{ID: "e2", At: t0.Add(time.Second), Action: audit.ActionInvitationCreated},
	}}
	if err := s.CreateUser(ctx, u, ch); err != nil {
		t.Fatal(err)
	}
	items, _ := s.OutboxItems(ctx, relay.OwnerFromKey(u.ID))
	if err := s.Acknowledge(ctx, relay.OwnerFromKey(u.ID), items[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Acknowledge(ctx, relay.OwnerFromKey(u.ID), items); err != nil {
		t.Fatalf("acknowledging after a racing relay: %v", err)
	}
	if left, _ := s.OutboxItems(ctx, relay.OwnerFromKey(u.ID)); len(left) != 0 {
		t.Fatalf("%d items left", len(left))
	}
}

// A cursor stays valid while time passes between pages (the caller gave
// no "to": it means "up to now", and now moves).
func TestAuditCursorSurvivesTheClockMoving(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	var events []audit.Event
	for i := 0; i < 5; i++ {
		events = append(events, audit.Event{ID: fmt.Sprintf("e%d", i), At: t0.Add(time.Duration(i) * time.Minute), Action: audit.ActionSignInSucceeded, OrganizationID: "org-1"})
	}
	if err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, q := range []audit.Query{{OrganizationID: "org-1"}, {}} {
		q.Limit, q.Now = 2, t0.Add(time.Hour)
		page, err := s.Events(ctx, q)
		if err != nil || page.Next == "" {
			t.Fatalf("first page: %v %+v", err, page)
		}
		seen := len(page.Events)
		for page.Next != "" {
			q.Cursor, q.Now = page.Next, q.Now.Add(3*time.Hour)
			if page, err = s.Events(ctx, q); err != nil {
				t.Fatalf("next page after the clock moved: %v", err)
			}
			seen += len(page.Events)
		}
		if seen != 5 {
			t.Fatalf("saw %d events, want 5", seen)
		}
	}
}

// failIndexWrites refuses every write to the audit index table while on.
type failIndexWrites struct{ on atomic.Bool }

func (f *failIndexWrites) Do(req *policy.Request) (*http.Response, error) {
	target := req.Raw().URL.Path
	if strings.HasSuffix(target, "$batch") && req.Body() != nil {
		// A transaction names its table in the body.
		b, _ := io.ReadAll(req.Body())
		_ = req.RewindBody()
		target = string(b)
	}
	if f.on.Load() && req.Raw().Method != http.MethodGet && strings.Contains(target, "auditidx") {
		return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 injected", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("")), Request: req.Raw()}, nil
	}
	return req.Next()
}

// An append that dies after its chain commit and before its index copies
// (a crash, an outage) is finished by the redelivery: the events are in
// the chain once, and in the index, so the daily and per-person views and
// the export show them (P11, P14).
func TestAuditRedeliveryIndexesWhatAnInterruptedAppendLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fault := &failIndexWrites{}
	prefix := testenv.UniqueName(t)
	s := newTestStoreWith(t, prefix, WithPolicy(fault))
	e := audit.Event{ID: "ev-interrupted", At: t0, Action: audit.ActionSignInSucceeded, ActorID: "u-1", SubjectID: "u-1", OrganizationID: "org-1"}
	fault.on.Store(true)
	if err := s.Append(ctx, []audit.Event{e}); err == nil {
		t.Fatal("Append succeeded although the index refused its copies")
	}
	fault.on.Store(false)
	if err := s.Append(ctx, []audit.Event{e}); err != nil {
		t.Fatal(err)
	}
	chain, _ := s.Chain(ctx, audit.ChainKey(e))
	if got := len(chain); got != 1 {
		t.Fatalf("chain holds %d events, want 1", got)
	}
	page, err := s.Events(ctx, audit.Query{UserID: "u-1", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].ID != e.ID {
		t.Fatalf("the person's audit view shows %d events, want the redelivered one", len(page.Events))
	}
}

// P9: audit retention cut short at any storage call is finished by the
// next run, and leaves no per-person copy behind. Before, the daily-index
// copy (the only way back to the rest) could go first.
func TestAuditPurgeInterruptedAtAnyPointIsFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	for cut := 0; cut <= 12; cut++ {
		fault := &testenv.CutAfter{}
		s := newTestStoreWith(t, testenv.UniqueName(t), WithPolicy(fault))
		events := []audit.Event{
			{ID: "ev-1", At: old, Action: audit.ActionSignInSucceeded, ActorID: "u-1", SubjectID: "u-1", OrganizationID: "org-1"},
			{ID: "ev-2", At: old.Add(time.Hour), Action: audit.ActionSignInSucceeded, ActorID: "u-2", SubjectID: "u-3", OrganizationID: "org-1"},
		}
		if err := s.Append(ctx, events); err != nil {
			t.Fatal(err)
		}
		cutoff := old.AddDate(1, 0, 0)
		fault.Arm(cut)
		_, _ = s.PurgeAuditBefore(ctx, cutoff)
		fault.Disarm()
		if _, err := s.PurgeAuditBefore(ctx, cutoff); err != nil {
			t.Fatal(err)
		}
		for _, table := range []*aztables.Client{s.audit, s.auditIdx} {
			pager := table.NewListEntitiesPager(nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Entities) > 0 {
					t.Fatalf("cut after %d calls: %d audit rows outlived retention, e.g. %s", cut, len(page.Entities), page.Entities[0])
				}
			}
		}
	}
}

// Issue 11: a brand-new account is filed under its first due day without
// reading for an entry it cannot have yet (2 writes, no read), and when a
// settle filed it first, the settle's entry stands alone.
func TestFileNewAccountReadsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := testenv.UniqueName(t)
	calls := testenv.NewCalls(prefix)
	s := newTestStoreWith(t, prefix, WithPolicy(calls))
	u := testUser("new-1", "new-1@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	calls.Reset()
	due := t0.AddDate(0, 6, 0)
	if err := s.FileNewAccount(ctx, u.ID, due); err != nil {
		t.Fatal(err)
	}
	if got := calls.Snapshot(); got.Total() != 2 || got.Kind(testenv.PointRead)+got.Kind(testenv.Query) != 0 {
		t.Fatalf("filing a new account took %v, want 2 writes and no read", got)
	}
	// A settle that does not move the due day writes nothing.
	calls.Reset()
	if err := s.SyncLifecycle(ctx, u.ID, due.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := calls.Snapshot(); got.Total() != 1 || got.Kind(testenv.PointRead) != 1 {
		t.Fatalf("a settle on the same day took %v, want one point read", got)
	}
	// A settle got there first, with another day: one entry, the settle's.
	if err := s.SyncLifecycle(ctx, u.ID, due.AddDate(0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.FileNewAccount(ctx, u.ID, due); err != nil {
		t.Fatal(err)
	}
	for day, want := range map[time.Time]bool{due: false, due.AddDate(0, 0, 3): true} {
		_, err := s.lifecycle.GetEntity(ctx, day.UTC().Format(dayLayout), u.ID, nil)
		if got := err == nil; got != want {
			t.Errorf("index entry on %s present = %v, want %v", day.Format(dayLayout), got, want)
		}
	}
}

// A mark from before marks were per change (one row per owner, keyed by
// the owner alone) is still found, read back to its owner, and cleared:
// an upgrade strands no outbox (P11).
func TestLegacyOwnerMarkIsFoundAndCleared(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	owner := relay.Account("u-legacy")
	legacy := pendingEntity{PartitionKey: pendingShard(owner.Key()), RowKey: owner.Key(), MarkedAt: formatTime(t0)}
	if _, err := s.pending.AddEntity(ctx, mustJSON(legacy), nil); err != nil {
		t.Fatal(err)
	}
	marks, err := s.PendingMarks(ctx, owner)
	if err != nil || len(marks) != 1 || marks[0].Owner != owner {
		t.Fatalf("marks %+v, %v: want the legacy mark of %v", marks, err, owner)
	}
	var shard int
	fmt.Sscanf(pendingShard(owner.Key()), "%d", &shard)
	listed, err := s.PendingAccounts(ctx, shard, 10)
	if err != nil || len(listed) != 1 || listed[0].Owner != owner {
		t.Fatalf("listed %+v, %v", listed, err)
	}
	if err := s.ClearPending(ctx, marks[0]); err != nil {
		t.Fatal(err)
	}
	if marks, _ := s.PendingMarks(ctx, owner); len(marks) != 0 {
		t.Fatalf("legacy mark not cleared: %+v", marks)
	}
}

// Issue 11, P11: appends to one chain that arrive together are committed
// together (group commit): forty deliveries of one organisation's events
// at once cost a handful of chain transactions, not forty plus their
// If-Match retries, and the chain holds every event once, linked.
func TestConcurrentAppendsToOneChainAreCommittedTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prefix := testenv.UniqueName(t)
	calls := testenv.NewCalls(prefix)
	s := newTestStoreWith(t, prefix, WithPolicy(calls))
	// A cold head is read once, outside the count.
	if err := s.Append(ctx, []audit.Event{{ID: "first", At: t0, Action: audit.ActionSignInSucceeded, OrganizationID: "org-1"}}); err != nil {
		t.Fatal(err)
	}
	calls.Reset()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 40; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			e := audit.Event{ID: fmt.Sprintf("g%02d", w), At: t0, Action: audit.ActionSignInSucceeded, OrganizationID: "org-1"}
			if err := s.Append(ctx, []audit.Event{e}); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	chainKey := audit.ChainKey(audit.Event{At: t0, OrganizationID: "org-1"})
	events, err := s.Chain(ctx, chainKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(events); got != 41 {
		t.Fatalf("chain has %d events, want 41", got)
	}
	if err := testenv.AuditKeys().Verify(chainKey, events); err != nil {
		t.Fatal(err)
	}
	if n := calls.Snapshot()[testenv.CallKey{Kind: testenv.Batch, Table: "audit"}]; n > 10 {
		t.Errorf("%d chain transactions for 40 appends arriving together, want a few", n)
	}
}

// The admin registry is read when settling only accounts that may be on
// it: an account keeps "never an admin" until it first holds the role,
// and loses it for good then (a demoted admin's settle still checks the
// registry, which is how a phantom left by a race is removed), and an
// account stored before the flag is treated as unknown.
func TestNeverAdminIsLostForGoodOnceAdmin(t *testing.T) {
	u := accounts.User{ID: "u-1", Role: kernel.RoleEditor, NeverAdmin: true}
	if got := toUserEntity(u).user("").NeverAdmin; !got {
		t.Fatal("an editor who was never an admin lost the flag")
	}
	u.Role = kernel.RoleAdmin
	u = toUserEntity(u).user("")
	u.Role = kernel.RoleEditor
	if toUserEntity(u).user("").NeverAdmin {
		t.Fatal("a demoted admin is marked as never an admin")
	}
	var legacy userEntity
	if err := json.Unmarshal([]byte(`{"PartitionKey":"u-2","RowKey":"user","Role":"editor"}`), &legacy); err != nil {
		t.Fatal(err)
	}
	if legacy.user("").NeverAdmin {
		t.Fatal("an account stored before the flag is taken as never an admin")
	}
}

// Issue 11: a new account's directory entry is written with its creation
// (the admin's next listing shows it), while the entry's check and the
// lifecycle filing wait for the relay's delivery of the change, off the
// request path. A creation that wakes no relay (no outbox items) does
// them at once. Either way the account ends filed for its first step (P7:
// an invitation never accepted is found and erased).
func TestANewAccountsUpkeepFollowsItsDelivery(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	due := t0.Add(37 * 24 * time.Hour)
	u := testUser("u-1", "a@example.fi")
	ch := accounts.Change{UserID: u.ID, FirstDue: due,
		Events: []audit.Event{{ID: "e1", At: t0, Action: audit.ActionInvitationCreated, SubjectID: u.ID, OrganizationID: u.OrganizationID}}}
	if err := s.CreateUser(ctx, u, ch); err != nil {
		t.Fatal(err)
	}
	members, err := s.ListMembers(ctx, accounts.DirectoryQuery{OrganizationID: u.OrganizationID, Limit: 10})
	if err != nil || len(members.Users) != 1 {
		t.Fatalf("directory after creation: %+v, %v; want the new account", members, err)
	}
	if agg, _ := s.Aggregate(ctx, u.ID); !agg.FiledFor.IsZero() {
		t.Fatalf("filed for %v before the delivery", agg.FiledFor)
	}
	c, ok := s.TakeCommitted(ctx, relay.Account(u.ID))
	if !ok || len(c.Upkeep) != 1 {
		t.Fatalf("the relay is handed %d upkeep steps, want 1", len(c.Upkeep))
	}
	if err := c.Upkeep[0](ctx); err != nil {
		t.Fatal(err)
	}
	if agg, _ := s.Aggregate(ctx, u.ID); !agg.FiledFor.Equal(due.UTC().Truncate(24 * time.Hour)) {
		t.Fatalf("filed for %v after the delivery, want %v", agg.FiledFor, due)
	}

	quiet := testUser("u-2", "b@example.fi")
	if err := s.CreateUser(ctx, quiet, accounts.Change{UserID: quiet.ID, FirstDue: due}); err != nil {
		t.Fatal(err)
	}
	if agg, _ := s.Aggregate(ctx, quiet.ID); !agg.FiledFor.Equal(due.UTC().Truncate(24 * time.Hour)) {
		t.Fatalf("a creation without a delivery is filed for %v, want %v", agg.FiledFor, due)
	}
}
