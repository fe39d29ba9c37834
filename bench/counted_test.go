package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/palvelumanuaali/useradmin/handlers"
	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/smtp"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// counted is the API wired as run() wires it in standalone mode (the real
// relay with its settle step, the real email consumer sending to MailDev)
// over a store whose every request is counted (testenv.Calls). Only the
// timing differs: the relay and the consumer run when the caller says
// (drain), not on their own, so the calls on the request path and the
// calls after the response are counted apart.
type counted struct {
	calls    *testenv.Calls
	prefix   string // of the store's table names
	clock    *testenv.Clock
	store    *tablestore.Store
	accounts *accounts.Service
	orgs     *organizations.Service
	trail    *relay.Relay
	consumer *delivery.Consumer
	woken    *wakeLog
	queue    *queueLog
	url      string
	client   *http.Client
}

// wakeLog stands where the relay's wake-up channel is: it keeps the
// owners a change woke the relay for, until drain delivers them.
type wakeLog struct {
	mu    sync.Mutex
	ids   []relay.Owner
	trail *relay.Relay
}

// unthrottled lets every benchmark client through: the benchmarks load the
// server far beyond what one client may do.
var unthrottled = handlers.Throttle{ClientPerMinute: 1 << 20, ClientBurst: 1 << 20, GlobalPerMinute: 1 << 20, GlobalBurst: 1 << 20, MaxClients: 1000}

// Changed and Settling tell the relay, as the wiring does (it keeps
// which deliveries may skip their settle), and keep the owner for drain,
// which delivers it as the relay's woken worker would.
func (w *wakeLog) Changed(o relay.Owner) { w.trail.Changed(o); w.keep(o) }

// Settling: see Changed.
func (w *wakeLog) Settling(o relay.Owner) func() {
	done := w.trail.Settling(o)
	w.keep(o)
	return done
}

func (w *wakeLog) keep(o relay.Owner) { w.mu.Lock(); w.ids = append(w.ids, o); w.mu.Unlock() }

func (w *wakeLog) AppendNow(ctx context.Context, e audit.Event) error {
	return w.trail.AppendNow(ctx, e)
}

func (w *wakeLog) take() []relay.Owner {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := w.ids
	w.ids = nil
	return ids
}

// queueLog stands where the notification queue is: it keeps what the
// relay published until drain hands it to the consumer.
type queueLog struct {
	mu       sync.Mutex
	messages []notify.Message
}

func (q *queueLog) Publish(_ context.Context, m notify.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.messages = append(q.messages, m)
	return nil
}

func (q *queueLog) take() []notify.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	ms := q.messages
	q.messages = nil
	return ms
}

// countedOrg is the organisation the counted fixture's people belong to
// (seed adds others).
const countedOrg = "org-laskettu"

// countedParams keep hashing cheap: the storage calls do not depend on
// the hashing cost, which BenchmarkSignIn8Clients measures.
func countedParams() passwords.Params {
	return passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func newCounted(tb testing.TB) *counted {
	tb.Helper()
	ctx := context.Background()
	prefix := testenv.UniqueName(tb)
	f := &counted{calls: testenv.NewCalls(prefix), prefix: prefix, clock: testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
		woken: &wakeLog{}, queue: &queueLog{}, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	if os.Getenv("STORAGE_CALLS_TRACE") != "" {
		f.calls.Trace = os.Stderr // where each call comes from
	}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(tb), prefix, testenv.AuditKeys(), tablestore.WithPolicy(f.calls))
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.EnsureTables(ctx); err != nil {
		tb.Fatal(err)
	}
	f.store = store
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{7}, 32)}}, countedParams(), 8, 256)
	if err != nil {
		tb.Fatal(err)
	}
	var seq atomic.Int64
	newID := func() string { return fmt.Sprintf("id-%d-%d", time.Now().UnixNano(), seq.Add(1)) }
	f.accounts = accounts.NewService(store, hasher, passwords.DefaultPolicy(), f.woken, f.clock.Now, newID,
		accounts.Options{SessionIdleTimeout: 30 * time.Minute, SessionAbsoluteTimeout: 12 * time.Hour, InvitationTTL: 7 * 24 * time.Hour,
			PasswordResetTTL: 30 * time.Minute, LockoutThreshold: 10, LockoutDuration: 15 * time.Minute,
			ActivityInterval: time.Hour, PrivacyNoticeVersion: "bench", RestoreWindow: 30 * 24 * time.Hour,
			InactivityMonths: 6, WarningDays: []int{30, 7}, SafetyMargin: time.Hour})
	f.orgs = organizations.NewService(store, f.woken, f.clock.Now, newID)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// As in run(): organisations derive nothing; accounts settle.
	settle := func(ctx context.Context, o relay.Owner) error {
		if o.Kind != relay.AccountOutbox {
			return nil
		}
		return f.accounts.Settle(ctx, o.ID)
	}
	f.trail = relay.New(store, store, f.queue, settle, logger, 0, f.clock.Now)
	f.woken.trail = f.trail
	mail := testenv.MailDev(tb)
	sender, err := smtp.New(smtp.Config{Host: mail.SMTPHost, Port: mail.SMTPPort, Security: smtp.SecurityNone, From: "Palvelumanuaali <no-reply@palvelumanuaali.fi>"})
	if err != nil {
		tb.Fatal(err)
	}
	links, err := notify.NewLinkBuilder("https://hallinta.palvelumanuaali.fi")
	if err != nil {
		tb.Fatal(err)
	}
	renderer, err := notify.NewRenderer()
	if err != nil {
		tb.Fatal(err)
	}
	f.consumer = delivery.NewConsumer(store, store, f.accounts, links, renderer, sender, logger, f.clock.Now)
	if err := store.CreateOrganization(ctx, organizations.Organization{ID: countedOrg, Name: organizations.Name{FI: "Laskentakunta"},
		Type: organizations.TypeMunicipality, CreatedAt: f.clock.Now()}, nil); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(handlers.NewServer(logger, handlers.Options{MaxBodyBytes: 64 << 10, Throttle: unthrottled, Now: f.clock.Now},
		handlers.Services{Accounts: f.accounts, Organizations: f.orgs, Hashing: hasher}, inline{}, store.Ping))
	tb.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// drain does the work after the response, as the relay and the consumer
// would do it on their own: each owner a change woke the relay for is
// delivered (audit append, queue, settle), and each queued notification
// is emailed, until nothing is left. workers owners go at once.
func (f *counted) drain(ctx context.Context, workers int) error {
	for {
		ids, messages := f.woken.take(), f.queue.take()
		if len(ids) == 0 && len(messages) == 0 {
			return nil
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(workers)
		for _, id := range ids {
			g.Go(func() error { return f.trail.Woken(gctx, id) })
		}
		for _, m := range messages {
			g.Go(func() error {
				if err := f.consumer.Handle(gctx, m); err != nil && !errors.Is(err, delivery.ErrSkipped) {
					return err
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
}

// countedPassword is every counted account's password.
const countedPassword = "kolme iloista kirahvia laulaa"

// invited makes an invited account in org directly through the service
// and returns its id and an invitation token, with the relay not yet run.
func (f *counted) invited(ctx context.Context, email, org string, role kernel.Role, lastName string) (string, string, error) {
	u, err := f.accounts.Invite(ctx, "", accounts.InviteInput{Email: email, FirstName: "Laskettu", LastName: lastName,
		OrganizationID: org, Role: role, Locale: "fi"}, kernel.Meta{RequestID: "setup"})
	if err != nil {
		return "", "", err
	}
	token, _, err := f.accounts.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	return u.ID, token, err
}

// active makes an active account in org and returns its id and a session
// token.
func (f *counted) active(ctx context.Context, email, org string, role kernel.Role) (string, string, error) {
	id, token, err := f.invited(ctx, email, org, role, "Aktiivinen")
	if err != nil {
		return "", "", err
	}
	si, err := f.accounts.AcceptInvitation(ctx, token, countedPassword, true, kernel.Meta{RequestID: "setup"})
	if err != nil {
		return "", "", err
	}
	return id, si.Token, nil
}

// do sends one API request and returns its status and how long it took.
func (f *counted) do(method, path, token string, body any) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, out, time.Since(start), err
}

// measured is the storage calls of one operation: on its request path,
// and in total once the work after the response is done.
type measured struct {
	path, total testenv.CallCounts
}

// measure counts the calls of op: those made before it returns, then,
// after draining, those made in all. Work left from before is drained
// first, and setup (when not nil) runs and is drained after that, so neither is counted.
func (f *counted) measure(tb testing.TB, setup, op func() error) measured {
	tb.Helper()
	ctx := context.Background()
	if err := f.drain(ctx, 1); err != nil {
		tb.Fatalf("drain before: %v", err)
	}
	if setup != nil {
		if err := setup(); err != nil {
			tb.Fatalf("setup: %v", err)
		}
		if err := f.drain(ctx, 1); err != nil {
			tb.Fatalf("drain after setup: %v", err)
		}
	}
	f.calls.Reset()
	f.traceMark("operation starts")
	if err := op(); err != nil {
		tb.Fatal(err)
	}
	path := f.calls.Snapshot()
	f.traceMark("response; the work after it follows")
	if err := f.drain(ctx, 1); err != nil {
		tb.Fatalf("drain after: %v", err)
	}
	m := measured{path: path, total: f.calls.Snapshot()}
	// Nothing is left for the catch-up: work it found would be calls this
	// count does not see.
	for shard := 0; shard < relay.PendingShards; shard++ {
		if marks, err := f.store.PendingAccounts(ctx, shard, 10); err != nil || len(marks) > 0 {
			tb.Fatalf("after the drain, marks are left for the catch-up: %+v (%v)", marks, err)
		}
	}
	return m
}

// traceMark separates an operation's calls in the trace.
func (f *counted) traceMark(what string) {
	if f.calls.Trace != nil {
		fmt.Fprintln(f.calls.Trace, "---", what)
	}
}

// expect turns a status check into an error.
func expect(want int) func(status int, body []byte, _ time.Duration, err error) error {
	return func(status int, body []byte, _ time.Duration, err error) error {
		if err != nil {
			return err
		}
		if status != want {
			return fmt.Errorf("status %d, want %d: %s", status, want, body)
		}
		return nil
	}
}
