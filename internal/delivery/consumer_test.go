package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/smtp"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// silent stands where the relay is: the consumer's tests deliver nothing
// a change leaves behind.
type silent struct{}

func (silent) Changed(relay.Owner)                          {}
func (silent) Settling(relay.Owner) func()                  { return func() {} }
func (silent) AppendNow(context.Context, audit.Event) error { return nil }

// newAccounts is the account service the consumer reads recipients from,
// over the real store: the claims are kept beside the accounts.
func newAccounts(t testing.TB, store *tablestore.Store) *accounts.Service {
	t.Helper()
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{7}, 32)}},
		passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	return accounts.NewService(store, hasher, passwords.DefaultPolicy(), silent{}, time.Now, uuid.NewString,
		accounts.Options{InvitationTTL: 7 * 24 * time.Hour, PasswordResetTTL: 30 * time.Minute, RestoreWindow: 30 * 24 * time.Hour,
			InactivityMonths: 6, SessionIdleTimeout: time.Hour, SessionAbsoluteTimeout: 12 * time.Hour})
}

// userFor stores an account for the address in the given status and
// returns its id.
func userFor(t testing.TB, store *tablestore.Store, to string, status kernel.Status) string {
	t.Helper()
	now := time.Now().UTC()
	u := accounts.User{ID: uuid.NewString(), Email: to, FirstName: "Maija", LastName: "Meikäläinen", OrganizationID: "org-delivery",
		Role: kernel.RoleEditor, Status: status, Locale: "fi", CreatedAt: now, InvitedAt: now}
	if status == kernel.StatusActive {
		u.ActivatedAt = now
	}
	if err := store.CreateUser(context.Background(), u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// scripted fails the first n sends with err, then counts successes.
type scripted struct {
	mu    sync.Mutex
	fails int
	err   error
	sent  int
}

func (s *scripted) Send(context.Context, notify.Email) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails > 0 {
		s.fails--
		return s.err
	}
	s.sent++
	return nil
}

func newStore(t *testing.T) *tablestore.Store {
	t.Helper()
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), testenv.UniqueName(t), testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

func newConsumer(t *testing.T, store *tablestore.Store, sender notify.Sender) *delivery.Consumer {
	t.Helper()
	b, err := notify.NewLinkBuilder("https://palvelumanuaali.fi")
	if err != nil {
		t.Fatal(err)
	}
	r, err := notify.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	return delivery.NewConsumer(store, store, newAccounts(t, store), b, r, sender, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
}

// invitation is an invitation email for a new invited account of to.
func invitation(t *testing.T, store *tablestore.Store, to string) notify.Message {
	return notify.Message{ID: uuid.NewString(), Kind: notify.KindInvitation, UserID: userFor(t, store, to, kernel.StatusInvited), CreatedAt: time.Now()}
}

// The queue delivers at least once; the person gets the email once,
// whether the duplicate comes later or at the same moment. Read back from
// the real SMTP catcher.
func TestSameMessageTwiceIsEmailedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mail := testenv.MailDev(t)
	sender, err := smtp.New(smtp.Config{Host: mail.SMTPHost, Port: mail.SMTPPort, Security: smtp.SecurityNone, From: "Palvelumanuaali <no-reply@palvelumanuaali.localhost>"})
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	c := newConsumer(t, store, sender)

	t.Run("in sequence", func(t *testing.T) {
		to := testenv.UniqueName(t) + "@example.fi"
		m := invitation(t, store, to)
		for i := 0; i < 2; i++ {
			if err := c.Handle(ctx, m); err != nil {
				t.Fatalf("delivery %d: %v", i+1, err)
			}
		}
		got := mail.WaitForEmails(t, to, 2, time.Second)
		if len(got) != 1 {
			t.Fatalf("%d emails, want 1", len(got))
		}
		if !strings.Contains(got[0].Text, "https://palvelumanuaali.fi/invitation?token="+m.UserID+".") {
			t.Fatalf("no invitation link from the configured base in:\n%s", got[0].Text)
		}
	})
	t.Run("concurrently", func(t *testing.T) {
		to := testenv.UniqueName(t) + "@example.fi"
		m := invitation(t, store, to)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = c.Handle(ctx, m) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, delivery.ErrClaimed) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if got := mail.WaitForEmails(t, to, 2, time.Second); len(got) != 1 {
			t.Fatalf("%d emails, want 1", len(got))
		}
	})
}

func TestTransientFailureReleasesTheClaimForTheRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sender := &scripted{fails: 1, err: errors.New("451 try later")}
	store := newStore(t)
	c := newConsumer(t, store, sender)
	m := invitation(t, store, "a@example.fi")
	if err := c.Handle(ctx, m); err == nil || notify.IsPermanent(err) {
		t.Fatalf("first delivery: %v, want a transient error", err)
	}
	if err := c.Handle(ctx, m); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := c.Handle(ctx, m); err != nil {
		t.Fatalf("redelivery after success: %v", err)
	}
	if got, want := sender.sent, 1; got != want {
		t.Fatalf("sent %d, want %d", got, want)
	}
}

func receive(m notify.Message, count int) delivery.Delivery {
	body, _ := json.Marshal(m)
	return delivery.Delivery{MessageID: m.ID, Body: body, DeliveryCount: count, MaxDeliveries: 10}
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sender := &scripted{fails: 1, err: fmt.Errorf("550 no such mailbox: %w", notify.ErrPermanent)}
	store := newStore(t)
	c := newConsumer(t, store, sender)
	m := invitation(t, store, "a@example.fi")
	if err := c.Receive(ctx, receive(m, 1)); err != nil {
		t.Fatalf("first delivery: %v, want nil (recorded and let go)", err)
	}
	if err := c.Receive(ctx, receive(m, 2)); err != nil {
		t.Fatalf("redelivery: %v, want nil (already settled)", err)
	}
	if sender.sent != 0 {
		t.Fatalf("sent %d after a permanent failure", sender.sent)
	}
}

// A permanent failure is let go only once it is on record. Before, the
// claim was closed first, so when recording failed (or the process died
// in between) the redelivery found the message "sent" and let it go with
// no trace for ops to see or redrive.
func TestPermanentFailureIsLetGoOnlyOnRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	sender := &scripted{fails: 2, err: fmt.Errorf("550 no such mailbox: %w", notify.ErrPermanent)}
	b, _ := notify.NewLinkBuilder("https://palvelumanuaali.fi")
	r, _ := notify.NewRenderer()
	failures := &flakyFailures{store: store, failing: true}
	c := delivery.NewConsumer(store, failures, newAccounts(t, store), b, r, sender, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
	m := invitation(t, store, "permanent@example.fi")
	if err := c.Receive(ctx, receive(m, 1)); err == nil {
		t.Fatal("first delivery let go although its failure was not recorded")
	}
	failures.failing = false
	if err := c.Receive(ctx, receive(m, 2)); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if got := failures.recorded; got != 1 {
		t.Fatalf("%d failures on record, want 1", got)
	}
}

func TestInvitationForAGoneAccountIsSkipped(t *testing.T) {
	t.Parallel()
	sender := &scripted{}
	c := newConsumer(t, newStore(t), sender)
	gone := notify.Message{ID: uuid.NewString(), Kind: notify.KindInvitation, UserID: uuid.NewString(), CreatedAt: time.Now()}
	if err := c.Handle(context.Background(), gone); !errors.Is(err, delivery.ErrSkipped) {
		t.Fatalf("Handle = %v, want ErrSkipped", err)
	}
	if sender.sent != 0 {
		t.Fatal("an email went out for an account that is gone")
	}
}

// The in-process transport of standalone mode keeps what Service Bus
// keeps: Publish returns only once the consumer is done with the
// notification, and a transient failure comes back to the relay, which
// keeps the item in the outbox (issue 15). A later delivery sends it, once.
func TestInProcessReturnsOnlyWhenHandled(t *testing.T) {
	t.Parallel()
	sender := &scripted{fails: 2, err: errors.New("connection refused")}
	store := newStore(t)
	q := delivery.NewInProcess(newConsumer(t, store, sender).Receive, 5)
	m := invitation(t, store, "in-process@example.fi")
	for attempt := 1; attempt <= 2; attempt++ {
		if err := q.Publish(context.Background(), m); err == nil {
			t.Fatalf("attempt %d: Publish = nil while the provider refused: the relay would drop the item", attempt)
		}
		if sender.sent != 0 {
			t.Fatalf("attempt %d: sent %d", attempt, sender.sent)
		}
	}
	if err := q.Publish(context.Background(), m); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if err := q.Publish(context.Background(), m); err != nil { // a redelivery after a crash before the ack
		t.Fatalf("redelivery: %v", err)
	}
	if got, want := sender.sent, 1; got != want {
		t.Fatalf("sent %d, want %d", got, want)
	}
}

// After as many failed deliveries as the queue allows, the consumer
// records the failure and the transport lets the item go, as Service Bus
// dead-letters it; while the failure cannot be recorded, it is kept.
func TestInProcessGivesUpOnlyOnceTheFailureIsRecorded(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	sender := &scripted{fails: 100, err: errors.New("connection refused")}
	b, _ := notify.NewLinkBuilder("https://palvelumanuaali.fi")
	r, _ := notify.NewRenderer()
	failures := &flakyFailures{store: store, failing: true}
	c := delivery.NewConsumer(store, failures, newAccounts(t, store), b, r, sender, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
	q := delivery.NewInProcess(c.Receive, 3)
	m := invitation(t, store, "gives-up@example.fi")
	for attempt := 1; attempt <= 4; attempt++ {
		if err := q.Publish(context.Background(), m); err == nil {
			t.Fatalf("attempt %d: let go although the failure was not recorded", attempt)
		}
	}
	failures.failing = false
	if err := q.Publish(context.Background(), m); err != nil {
		t.Fatalf("after the failure could be recorded: Publish = %v, want nil (given up and recorded)", err)
	}
	if got := failures.recorded; got != 1 {
		t.Fatalf("%d failures recorded, want 1", got)
	}

	// A delivery cut short by shutdown does not count toward the limit.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q2 := delivery.NewInProcess(c.Receive, 1)
	if err := q2.Publish(ctx, invitation(t, store, "shutdown@example.fi")); err == nil {
		t.Fatal("a delivery during shutdown was let go")
	}
}

// flakyFailures records failures in the store, or refuses to.
type flakyFailures struct {
	store    *tablestore.Store
	failing  bool
	recorded int
}

func (f *flakyFailures) RecordFailure(ctx context.Context, fl delivery.Failure) error {
	if f.failing {
		return errors.New("storage unavailable")
	}
	f.recorded++
	return f.store.RecordFailure(ctx, fl)
}

// BenchmarkConsumerPath is one notification through the consumer as the
// SendNotification function runs it: decode, idempotency claim in Table
// Storage (Azurite), render, SMTP to the real catcher, mark sent.
func BenchmarkConsumerPath(b *testing.B) {
	ctx := context.Background()
	mail := testenv.MailDev(b)
	sender, err := smtp.New(smtp.Config{Host: mail.SMTPHost, Port: mail.SMTPPort, Security: smtp.SecurityNone, From: "Palvelumanuaali <no-reply@palvelumanuaali.localhost>"})
	if err != nil {
		b.Fatal(err)
	}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(b), testenv.UniqueName(b), testenv.AuditKeys())
	if err != nil {
		b.Fatal(err)
	}
	if err := store.EnsureTables(ctx); err != nil {
		b.Fatal(err)
	}
	lb, _ := notify.NewLinkBuilder("https://palvelumanuaali.fi")
	r, _ := notify.NewRenderer()
	c := delivery.NewConsumer(store, store, newAccounts(b, store), lb, r, sender, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
	user := userFor(b, store, "bench@example.fi", kernel.StatusActive)
	prefix := testenv.UniqueName(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := notify.Message{ID: fmt.Sprintf("%s-%d", prefix, i), Kind: notify.KindPasswordChanged, UserID: user,
			CreatedAt: time.Now()}
		body, _ := json.Marshal(m)
		if err := c.Receive(ctx, delivery.Delivery{MessageID: m.ID, Body: body, DeliveryCount: 1, MaxDeliveries: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsumerPathNoSMTP is the same path with a sender that returns
// at once: the storage and rendering share of BenchmarkConsumerPath.
func BenchmarkConsumerPathNoSMTP(b *testing.B) {
	ctx := context.Background()
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(b), testenv.UniqueName(b), testenv.AuditKeys())
	if err != nil {
		b.Fatal(err)
	}
	if err := store.EnsureTables(ctx); err != nil {
		b.Fatal(err)
	}
	lb, _ := notify.NewLinkBuilder("https://palvelumanuaali.fi")
	r, _ := notify.NewRenderer()
	c := delivery.NewConsumer(store, store, newAccounts(b, store), lb, r, &scripted{}, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now)
	user := userFor(b, store, "bench@example.fi", kernel.StatusActive)
	prefix := testenv.UniqueName(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := notify.Message{ID: fmt.Sprintf("%s-%d", prefix, i), Kind: notify.KindPasswordChanged, UserID: user,
			CreatedAt: time.Now()}
		body, _ := json.Marshal(m)
		if err := c.Receive(ctx, delivery.Delivery{MessageID: m.ID, Body: body, DeliveryCount: 1, MaxDeliveries: 10}); err != nil {
			b.Fatal(err)
		}
	}
}
