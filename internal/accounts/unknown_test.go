package accounts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// noOrganizationChains lists the chains events of no organisation can join
// in at's month: the unsharded one and every shard's.
func noOrganizationChains(at time.Time) []string {
	keys := []string{audit.ChainKey(audit.Event{At: at})}
	for i := 0; i < audit.Shards; i++ {
		keys = append(keys, audit.ChainKey(audit.Event{At: at, Shard: fmt.Sprintf("%02d", i)}))
	}
	return keys
}

// unattributed reads the events waiting in every unattributed outbox.
func (e *testEnv) unattributed() []audit.Event {
	e.t.Helper()
	var out []audit.Event
	for i := 0; i < audit.Shards; i++ {
		items, err := e.store.OutboxItems(e.ctx, relay.Unattributed(fmt.Sprintf("%02d", i)))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range items {
			out = append(out, *it.Event)
		}
	}
	return out
}

// writeCounter counts the storage requests that write.
type writeCounter struct{ n atomic.Int64 }

func (c *writeCounter) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method != http.MethodGet {
		c.n.Add(1)
	}
	return req.Next()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Defect 4, AUTH-2: a sign-in with an unknown email writes once on the
// request path (its event into an unattributed outbox) and appends nothing
// to the audit trail synchronously; the relay delivers it later.
func TestUnknownEmailSignInWritesOnce(t *testing.T) {
	t.Parallel()
	writes := &writeCounter{}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys(), tablestore.WithPolicy(writes))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(t0)
	trail := relay.New(store, store, &recordingPublisher{}, nil, discardLogger(), 0, clock.Now)
	h, err := passwords.NewHasher(testPeppers("v1"), cheapParams, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(store, h, passwords.DefaultPolicy(), trail, clock.Now, (&idSource{}).New, defaultOptions())

	writes.n.Store(0)
	if _, err := svc.Login(t.Context(), "nobody@example.fi", goodPassword, testMeta); err != accounts.ErrInvalidCredentials {
		t.Fatalf("Login = %v, want ErrInvalidCredentials", err)
	}
	if got, want := writes.n.Load(), int64(1); got != want {
		t.Errorf("%d storage writes on the request path, want %d", got, want)
	}
	for _, key := range noOrganizationChains(clock.Now()) {
		if events, _ := store.Chain(t.Context(), key); len(events) != 0 {
			t.Errorf("chain %s got %d events during the request, want them left for the relay", key, len(events))
		}
	}
	if _, err := trail.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, key := range noOrganizationChains(clock.Now()) {
		events, _ := store.Chain(t.Context(), key)
		n += len(events)
	}
	if n != 1 {
		t.Errorf("%d events in the trail after the catch-up, want 1", n)
	}
}

// Defect 4, LOG-1, P9, P10: 200 concurrent sign-ins with unknown emails
// all reach the audit trail once the relay caught up, spread over several
// chains (no single hot partition), and no event holds the email or a
// hash of it.
func TestConcurrentUnknownEmailSignInsLoseNoEvent(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	trail := relay.New(env.store, env.store, &recordingPublisher{}, nil, discardLogger(), 0, env.clock.Now)
	h, err := passwords.NewHasher(testPeppers("v1"), cheapParams, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	svc := accounts.NewService(env.store, h, passwords.DefaultPolicy(), trail, env.clock.Now, env.ids.New, env.opts)
	// The wake-ups are delivered while the sign-ins go on, as in a server.
	ctx, stop := context.WithCancel(env.ctx)
	done := make(chan struct{})
	go func() { trail.Run(ctx, 4); close(done) }()

	const n = 200
	email := func(i int) string { return fmt.Sprintf("ghost-%03d@example.fi", i) }
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = svc.Login(env.ctx, email(i), goodPassword, kernel.Meta{RequestID: fmt.Sprintf("req-%03d", i)})
		})
	}
	wg.Wait()
	stop()
	<-done
	for i, err := range errs {
		if err != accounts.ErrInvalidCredentials {
			t.Fatalf("sign-in %d = %v, want ErrInvalidCredentials", i, err)
		}
	}
	if _, err := trail.CatchUp(env.ctx); err != nil {
		t.Fatal(err)
	}

	// What must never be in an event: the email, its canonical form's
	// SHA-256 (the email claim's key) or a prefix of it.
	var forbidden []string
	for i := range n {
		sum := sha256.Sum256([]byte(email(i)))
		forbidden = append(forbidden, email(i), "ghost-", hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:])[:16])
	}
	requests := map[string]bool{}
	perChain := map[string]int{}
	for _, key := range noOrganizationChains(env.clock.Now()) {
		events, err := env.store.Chain(env.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := testenv.AuditKeys().Verify(key, events); err != nil {
			t.Errorf("chain %s: %v", key, err)
		}
		for _, ev := range events {
			if ev.Action != audit.ActionSignInFailed || ev.Reason != "unknown_email" || ev.SubjectID != "" || ev.ActorID != "" {
				t.Errorf("event %+v, want an unattributed sign_in.failed with reason unknown_email", ev)
			}
			js := strings.ToLower(mustJSON(t, ev))
			for _, f := range forbidden {
				if strings.Contains(js, f) {
					t.Fatalf("event holds %q: %s", f, js)
				}
			}
			if requests[ev.RequestID] {
				t.Errorf("request %s recorded twice", ev.RequestID)
			}
			requests[ev.RequestID] = true
			perChain[key]++
		}
	}
	if got := len(requests); got != n {
		t.Errorf("%d of %d unknown-email sign-ins reached the audit trail", got, n)
	}
	if len(perChain) < 2 {
		t.Errorf("all events went to %d chain(s) %v, want them spread over the shards", len(perChain), perChain)
	}
	for key, c := range perChain {
		if c > n/2 {
			t.Errorf("chain %s took %d of %d events: a hot partition", key, c, n)
		}
	}
	if left := env.unattributed(); len(left) != 0 {
		t.Errorf("%d events still in the unattributed outboxes after the catch-up", len(left))
	}
}

// latest is the event with the greatest id (the test ids are sequential).
func latest(events []audit.Event) audit.Event {
	var out audit.Event
	for _, ev := range events {
		if ev.ID > out.ID {
			out = ev
		}
	}
	return out
}
