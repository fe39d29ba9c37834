package tablestore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
)

// filed is where the account is filed: its lifecycle index entries as
// "day/user id" and the day its pointer names ("" when it has none).
func filed(t *testing.T, s *Store, userID string) (entries []string, pointer string) {
	t.Helper()
	entries = rows(t, s.lifecycle, "RowKey eq "+quote(userID))
	resp, err := s.users.GetEntity(context.Background(), userID, rkLifecycle, nil)
	if statusOf(err) == 404 {
		return entries, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var p lifecyclePointer
	if err := json.Unmarshal(resp.Value, &p); err != nil {
		t.Fatal(err)
	}
	return entries, p.Day
}

// The lifecycle index holds each account once, under the UTC day its next
// step is due, with the account's pointer naming that day: moving the due
// day files it under the new day and removes the old entry, moving back
// does the same, and no due day removes entry and pointer (the sweep's
// reads grow with the accounts due, so a stale entry would be work and a
// missing one a person never swept: P3).
func TestLifecycleEntryFollowsTheDueDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	// 23:30 in Helsinki is still the 1st in UTC: the day is the UTC one.
	first := time.Date(2027, 5, 1, 23, 30, 0, 0, time.FixedZone("EEST", 3*3600))
	second := first.AddDate(0, 1, 0)
	if err := s.FileNewAccount(ctx, u.ID, first); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		due         time.Time
		wantEntries []string
		wantPointer string
	}{
		{"moved to a later day", second, []string{"2027-06-01/u-1"}, "2027-06-01"},
		{"moved back", first, []string{"2027-05-01/u-1"}, "2027-05-01"},
		{"nothing due", time.Time{}, nil, ""},
		{"due again", second, []string{"2027-06-01/u-1"}, "2027-06-01"},
	}
	entries, pointer := filed(t, s, u.ID)
	if diff := cmp.Diff([]string{"2027-05-01/u-1"}, entries); diff != "" || pointer != "2027-05-01" {
		t.Fatalf("filed new account: entries (-want +got):\n%s pointer %q", diff, pointer)
	}
	for _, step := range steps {
		if err := s.SyncLifecycle(ctx, u.ID, step.due); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		entries, pointer := filed(t, s, u.ID)
		if diff := cmp.Diff(step.wantEntries, entries); diff != "" {
			t.Errorf("%s: entries (-want +got):\n%s", step.name, diff)
		}
		if pointer != step.wantPointer {
			t.Errorf("%s: pointer names %q, want %q", step.name, pointer, step.wantPointer)
		}
	}
}

// P7: erasure takes the account out of the lifecycle index last, and a
// settle that runs after it never writes a pointer back into the erased
// partition (which would bring the partition back to life).
func TestErasedAccountGetsNoLifecyclePointerBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	due := t0.AddDate(0, 6, 0)
	if err := s.FileNewAccount(ctx, u.ID, due); err != nil {
		t.Fatal(err)
	}
	if err := s.EraseAccount(ctx, u.ID, u.Email); err != nil {
		t.Fatal(err)
	}
	if entries, pointer := filed(t, s, u.ID); len(entries) != 0 || pointer != "" {
		t.Fatalf("after erasure: entries %v, pointer %q; want none", entries, pointer)
	}
	// A settle that read the account before the erasure.
	if err := s.SyncLifecycle(ctx, u.ID, due.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, pointer := filed(t, s, u.ID); pointer != "" {
		t.Fatalf("a late settle wrote a pointer for %q into the erased partition", pointer)
	}
	want := []string{u.ID + "/" + rkDirectory, u.ID + "/" + rkTombstone}
	if diff := cmp.Diff(want, rows(t, s.users, "PartitionKey eq "+quote(u.ID))); diff != "" {
		t.Errorf("erased partition (-want +got):\n%s", diff)
	}
}

// The sweep pages through the accounts due by a day in (day, user id)
// order, each page going on after the last position of the one before,
// and never sees an account due later.
func TestDueAccountsPagesInDayAndIDOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	day := func(d int) time.Time { return time.Date(2027, 1, d, 12, 0, 0, 0, time.UTC) }
	// Filed out of order, so the order read is the store's.
	for _, f := range []struct {
		id  string
		due time.Time
	}{{"u-c", day(2)}, {"u-b", day(1)}, {"u-e", day(4)}, {"u-a", day(1)}, {"u-d", day(3)}} {
		if err := s.SyncLifecycle(ctx, f.id, f.due); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]string
	var positions []lifecycle.Position
	after := lifecycle.Position{}
	for range 4 {
		ids, last, err := s.DueAccounts(ctx, day(3), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		pages, positions = append(pages, ids), append(positions, last)
		after = last
	}
	if diff := cmp.Diff([][]string{{"u-a", "u-b"}, {"u-c", "u-d"}}, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	wantPos := []lifecycle.Position{{Day: "2027-01-01", UserID: "u-b"}, {Day: "2027-01-03", UserID: "u-d"}}
	if diff := cmp.Diff(wantPos, positions); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
}
