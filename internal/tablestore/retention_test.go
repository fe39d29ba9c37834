package tablestore

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// P12 (audit retention): a purge at a month's start removes the chains of
// the months before it whole (events, head, every index copy) and keeps
// the month it starts untouched, so the chain that remains verifies from
// its genesis. The boundary is the first instant of the cutoff's month.
func TestAuditPurgeRemovesEndedMonthsWholeAndKeepsTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	cutoff := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	old := []audit.Event{signIn("old-1", time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)), signIn("old-2", cutoff.Add(-time.Nanosecond))}
	kept := []audit.Event{signIn("new-1", cutoff), signIn("new-2", cutoff.Add(time.Hour))}
	for _, e := range append(append([]audit.Event{}, old...), kept...) {
		if err := s.Append(ctx, []audit.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeAuditBefore(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(old) {
		t.Errorf("purged %d events, want %d", n, len(old))
	}
	if got := rows(t, s.audit, "PartitionKey eq 'org-1|2026-11'"); len(got) != 0 {
		t.Errorf("November's chain left %v", got)
	}
	checkChain(t, s, "org-1|2026-12", []string{"new-1", "new-2"})
	var idx []string
	for _, r := range rows(t, s.auditIdx, "") {
		idx = append(idx, r[:len("d|")]+r[len(r)-len("new-1"):])
	}
	// Each kept event has its day copy and its person copy; nothing else is left.
	want := []string{"d|new-2", "d|new-1", "u|new-2", "u|new-1"}
	if diff := cmp.Diff(want, idx); diff != "" {
		t.Errorf("index copies left (-want +got):\n%s", diff)
	}
}

// P12: the adapter's contract is "chains of months that ended before
// cutoff, whole chains only". A cutoff inside a month must leave that
// month's chain whole; the sweep passes a month's start, so this is a
// contract the caller happens not to test.
func TestAuditPurgeWithACutoffInsideAMonthKeepsItsChainWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	events := []audit.Event{signIn("dec-2", time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)), signIn("dec-20", time.Date(2026, 12, 20, 8, 0, 0, 0, time.UTC))}
	for _, e := range events {
		if err := s.Append(ctx, []audit.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PurgeAuditBefore(ctx, time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	checkChain(t, s, "org-1|2026-12", []string{"dec-2", "dec-20"})
}

// P12 (delivery records): claims in the legacy table claimed or sent
// before the cutoff go, newer ones stay; failure records go a whole UTC
// month at a time, so a failure in the cutoff's own month stays even when
// older than the cutoff.
func TestDeliveryPurgeBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	cutoff := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	before, after := cutoff.Add(-time.Second), cutoff.Add(time.Second)
	for _, c := range []claimEntity{
		{PartitionKey: "claimed-before", RowKey: "claim", ClaimedAt: formatTime(before)},
		{PartitionKey: "claimed-before-sent-after", RowKey: "claim", ClaimedAt: formatTime(before), SentAt: formatTime(after)},
		{PartitionKey: "claimed-at-cutoff", RowKey: "claim", ClaimedAt: formatTime(cutoff)},
		{PartitionKey: "claimed-after", RowKey: "claim", ClaimedAt: formatTime(after), SentAt: formatTime(after)},
	} {
		if _, err := s.deliveries.AddEntity(ctx, mustJSON(c), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []delivery.Failure{
		{MessageID: "failed-october", Kind: notify.KindInvitation, UserID: "u-1", Reason: "bounced", At: time.Date(2026, 10, 31, 23, 59, 0, 0, time.UTC)},
		{MessageID: "failed-november-1st", Kind: notify.KindInvitation, UserID: "u-1", Reason: "bounced", At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{MessageID: "failed-after", Kind: notify.KindInvitation, UserID: "u-1", Reason: "bounced", At: after},
	} {
		if err := s.RecordFailure(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeDeliveriesBefore(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d records, want 3", n)
	}
	if diff := cmp.Diff([]string{"claimed-after/claim", "claimed-at-cutoff/claim"}, rows(t, s.deliveries, "")); diff != "" {
		t.Errorf("claims left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"2026-11/failed-after", "2026-11/failed-november-1st"}, rows(t, s.failures, "")); diff != "" {
		t.Errorf("failures left (-want +got):\n%s", diff)
	}
}
