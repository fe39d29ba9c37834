package delivery_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// claimFixture is the consumer over the real store and account service,
// on a clock the test moves, with its store's calls counted.
type claimFixture struct {
	calls    *testenv.Calls
	clock    *testenv.Clock
	store    *tablestore.Store
	accounts *accounts.Service
	sender   *scripted
	consumer *delivery.Consumer
}

func newClaimFixture(t *testing.T) *claimFixture {
	t.Helper()
	prefix := testenv.UniqueName(t)
	f := &claimFixture{calls: testenv.NewCalls(prefix), clock: testenv.NewClock(time.Now().UTC()), sender: &scripted{}}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), prefix, testenv.AuditKeys(), tablestore.WithPolicy(f.calls))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.store = store
	f.accounts = accounts.NewService(store, nil, nil, silent{}, f.clock.Now, uuid.NewString,
		accounts.Options{InvitationTTL: 7 * 24 * time.Hour, PasswordResetTTL: 30 * time.Minute, RestoreWindow: 30 * 24 * time.Hour, InactivityMonths: 6})
	b, _ := notify.NewLinkBuilder("https://palvelumanuaali.fi")
	r, _ := notify.NewRenderer()
	f.consumer = delivery.NewConsumer(store, store, f.accounts, b, r, f.sender, slog.New(slog.NewJSONHandler(io.Discard, nil)), f.clock.Now)
	return f
}

// invited invites a person through the service, as the API does, and
// returns the account and the invitation notification its change queued.
func (f *claimFixture) invited(t *testing.T, email string) (accounts.User, notify.Message) {
	t.Helper()
	ctx := context.Background()
	org := "org-" + uuid.NewString()
	if err := f.store.CreateOrganization(ctx, organizations.Organization{ID: org, Name: organizations.Name{FI: "Kunta"},
		Type: organizations.TypeMunicipality, CreatedAt: f.clock.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	u, err := f.accounts.Invite(ctx, "", accounts.InviteInput{Email: email, FirstName: "Maija", LastName: "Meikäläinen",
		OrganizationID: org, Role: kernel.RoleEditor, Locale: "fi"}, kernel.Meta{RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := f.store.Aggregate(ctx, u.ID)
	if err != nil || len(agg.Deliveries) != 1 {
		t.Fatalf("the invitation's delivery record: %+v, %v", agg.Deliveries, err)
	}
	return u, notify.Message{ID: agg.Deliveries[0].MessageID, Kind: notify.KindInvitation, UserID: u.ID, CreatedAt: f.clock.Now()}
}

// Issue 11: an invitation email costs three storage calls: one read of the
// account's partition, one transaction in it that claims the message and
// stores the link's token (removing the earlier ones), one write that
// marks it sent. No outbox item, no pending mark, no other table.
func TestAnInvitationEmailCostsThreeStorageCalls(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	_, m := f.invited(t, "laskettu@example.fi")
	f.calls.Reset()
	if err := f.consumer.Handle(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := f.calls.Snapshot()
	want := testenv.CallCounts{
		{Kind: testenv.Query, Table: "users"}: 1,
		{Kind: testenv.Batch, Table: "users"}: 1,
		{Kind: testenv.Write, Table: "users"}: 1,
	}
	if got.Total() != 3 || got[testenv.CallKey{Kind: testenv.Query, Table: "users"}] != 1 ||
		got[testenv.CallKey{Kind: testenv.Batch, Table: "users"}] != 1 || got[testenv.CallKey{Kind: testenv.Write, Table: "users"}] != 1 {
		t.Fatalf("an invitation email took %v, want %v", got, want)
	}
	if f.sender.sent != 1 {
		t.Fatalf("sent %d, want 1", f.sender.sent)
	}
}

// A process that died between its claim and the send leaves a claim that
// holds for its lease (a redelivery meanwhile is ErrClaimed), then expires:
// the next delivery sends, once.
func TestAClaimLeftByACrashExpires(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	_, m := f.invited(t, "kaatui@example.fi")
	ctx := context.Background()
	if _, err := f.accounts.PrepareNotification(ctx, m.UserID, m.Kind, m.ID); err != nil { // claimed, then the process died
		t.Fatal(err)
	}
	if err := f.consumer.Handle(ctx, m); !errors.Is(err, delivery.ErrClaimed) {
		t.Fatalf("redelivery within the lease: %v, want ErrClaimed", err)
	}
	f.clock.Advance(2*delivery.SendTimeout + time.Second)
	for i := 0; i < 2; i++ {
		if err := f.consumer.Handle(ctx, m); err != nil {
			t.Fatalf("delivery %d after the lease: %v", i+1, err)
		}
	}
	if f.sender.sent != 1 {
		t.Fatalf("sent %d, want 1", f.sender.sent)
	}
	agg, err := f.store.Aggregate(ctx, m.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if len(agg.Tokens) != 1 {
		t.Fatalf("%d invitation tokens, want only the sent email's", len(agg.Tokens))
	}
}

// Issue 11 abuse (P10): the claim's row key is built from the message id.
// Ids that name another row kind, or that are not ids at all, must not let
// a queue message overwrite or delete the account, its token or its
// delivery records: the first are claimed under their own "delivery|" row,
// the others are refused before storage.
func TestAMessageIDCannotTouchAnotherRow(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	ctx := context.Background()
	u, _ := f.invited(t, "kohde@example.fi")
	if _, _, err := f.accounts.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation); err != nil {
		t.Fatal(err)
	}
	before, err := f.store.Aggregate(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	valid := []string{"user", "erased", "resetlimit", "lifecycle", "directory", "email", "token", "session", "outbox"}
	invalid := []string{"token|invitation|" + before.Tokens[0].Hash, "session|x", "delivery|user", "../user", "USER", "", "user\x00"}
	for _, id := range append(valid, invalid...) {
		m := notify.Message{ID: id, Kind: notify.KindAccessChanged, UserID: u.ID, CreatedAt: f.clock.Now()}
		err := f.consumer.Handle(ctx, m)
		isValid := accounts.ValidID(id)
		if isValid && err != nil || !isValid && !errors.Is(err, delivery.ErrSkipped) {
			t.Errorf("id %q: Handle = %v", id, err)
		}
	}
	after, err := f.store.Aggregate(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.User.ETag != before.User.ETag {
		t.Error("the account row was written")
	}
	if len(after.Tokens) != 1 || after.Tokens[0].Hash != before.Tokens[0].Hash {
		t.Errorf("tokens %+v, want %+v untouched", after.Tokens, before.Tokens)
	}
	sent := map[string]bool{}
	for _, d := range after.Deliveries {
		sent[d.MessageID] = d.State == accounts.DeliverySent
	}
	for _, id := range valid {
		if !sent[id] {
			t.Errorf("message %q not recorded as sent under its own row", id)
		}
	}
	if got, want := len(after.Deliveries), len(valid)+1; got != want { // +1: the invitation, queued
		t.Errorf("%d delivery records, want %d", got, want)
	}
	if f.sender.sent != len(valid) {
		t.Errorf("sent %d, want %d", f.sender.sent, len(valid))
	}
}

// P7: erasing an account takes its delivery records with it, and a message
// for the erased account (a redelivery, or one queued before) is skipped
// without writing anything into its partition again.
func TestAMessageForAnErasedAccountIsSkipped(t *testing.T) {
	t.Parallel()
	f := newClaimFixture(t)
	ctx := context.Background()
	u, m := f.invited(t, "poistettu@example.fi")
	if err := f.consumer.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := f.store.EraseAccount(ctx, u.ID, u.Email); err != nil {
		t.Fatalf("erasure with delivery records in the partition: %v", err)
	}
	later := notify.Message{ID: uuid.NewString(), Kind: notify.KindAccountClosed, UserID: u.ID, CreatedAt: f.clock.Now()}
	for _, msg := range []notify.Message{m, later} {
		if err := f.consumer.Handle(ctx, msg); err != nil && !errors.Is(err, delivery.ErrSkipped) {
			t.Fatalf("message %s for the erased account: %v", msg.Kind, err)
		}
	}
	if err := f.store.MarkSent(ctx, u.ID, later.ID, f.clock.Now()); err != nil {
		t.Fatalf("MarkSent for the erased account: %v", err)
	}
	if _, err := f.store.Aggregate(ctx, u.ID); !errors.Is(err, accounts.ErrErased) {
		t.Fatalf("Aggregate after erasure = %v, want ErrErased", err)
	}
	if f.sender.sent != 1 {
		t.Fatalf("sent %d, want the one before the erasure", f.sender.sent)
	}
}
