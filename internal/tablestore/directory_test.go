package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// rawEntries reads the members table itself, not through the list, and
// returns every entry of the account as "organisation/last name".
func rawEntries(t *testing.T, s *Store, userID string) []string {
	t.Helper()
	var out []string
	pager := s.members.NewListEntitiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range page.Entities {
			var e memberEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			if e.user().ID == userID {
				out = append(out, e.PartitionKey+"/"+e.LastName)
			}
		}
	}
	return out
}

// change applies f to the stored account, as a request would, and runs no
// sync: the relay stand-in of these tests delivers nothing until asked.
func change(t *testing.T, s *Store, userID string, f func(*accounts.User)) {
	t.Helper()
	agg, err := s.Aggregate(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	u := agg.User
	f(&u)
	if err := s.Apply(context.Background(), accounts.Change{UserID: userID, User: &u}); err != nil {
		t.Fatal(err)
	}
}

func moveTo(org string) func(*accounts.User) {
	return func(u *accounts.User) { u.OrganizationID = org }
}

func rename(last string) func(*accounts.User) { return func(u *accounts.User) { u.LastName = last } }

// P9, P10: the directory holds each person once, where they are now. A
// person moved twice (or moved and renamed) before any sync ran is listed
// in the last organisation only, with no copy of their email left behind
// in the earlier ones.
func TestQuickSuccessiveChangesLeaveOneEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		steps []func(*accounts.User)
		want  []string
	}{
		{"moved A to B to C", []func(*accounts.User){moveTo("org-b"), moveTo("org-c")}, []string{"org-c/Meikäläinen"}},
		{"moved A to B and back to A", []func(*accounts.User){moveTo("org-b"), moveTo("org-a")}, []string{"org-a/Meikäläinen"}},
		{"renamed, moved, renamed", []func(*accounts.User){rename("Virtanen"), moveTo("org-b"), rename("Aalto")}, []string{"org-b/Aalto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newTestStore(t)
			u := testUser("u-1", "maija@example.fi")
			u.OrganizationID = "org-a"
			if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
				t.Fatal(err)
			}
			for _, step := range tc.steps {
				change(t, s, u.ID, step)
			}
			if err := s.SyncDirectory(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, rawEntries(t, s, u.ID)); diff != "" {
				t.Errorf("directory entries (-want +got):\n%s", diff)
			}
		})
	}
}

// P9, P10: syncs of older versions still running while newer changes are
// made and synced never leave a second entry: once every sync is done, the
// person is listed once, as they are now.
func TestConcurrentChangesAndSyncsLeaveOneEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	u.OrganizationID = "org-0"
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	syncs := func(n int) {
		for range n {
			wg.Go(func() {
				if err := s.SyncDirectory(ctx, u.ID); err != nil {
					errs <- err
				}
			})
		}
	}
	const changes = 8
	for i := 1; i <= changes; i++ {
		change(t, s, u.ID, func(u *accounts.User) {
			u.OrganizationID = fmt.Sprintf("org-%d", i%3)
			u.LastName = fmt.Sprintf("Nimi%d", i)
		})
		syncs(3)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := []string{fmt.Sprintf("org-%d/Nimi%d", changes%3, changes)}
	if diff := cmp.Diff(want, rawEntries(t, s, u.ID)); diff != "" {
		t.Errorf("directory entries (-want +got):\n%s", diff)
	}
}

// P7: erasure removes every directory entry, and a sync that read the
// account before it cannot write one back.
func TestErasureRemovesEveryEntryForGood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	change(t, s, u.ID, moveTo("org-2"))
	agg, err := s.Aggregate(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EraseAccount(ctx, u.ID, u.Email); err != nil {
		t.Fatal(err)
	}
	if got := rawEntries(t, s, u.ID); len(got) != 0 {
		t.Fatalf("entries after erasure: %v", got)
	}
	// A sync that read the account before the erasure goes on from there.
	p, err := s.readPointer(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.version <= agg.User.Version {
		t.Fatalf("erased pointer version %d does not outrank the account's %d", p.version, agg.User.Version)
	}
	for _, v := range []accounts.User{agg.User} {
		if _, err := s.savePointer(ctx, u.ID, pointer{version: v.Version, entries: []entryKey{memberKey(v)}, etag: ""}); err == nil {
			t.Error("a late claim replaced the erased sentinel")
		}
	}
	if err := s.SyncDirectory(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, agg.User); err != nil {
		t.Fatal(err)
	}
	if got := rawEntries(t, s, u.ID); len(got) != 0 {
		t.Fatalf("entries after a late sync: %v", got)
	}
}

// An account from before the directory pointer, listed under its id in
// two organisations, is listed once, in name order, after one sync; its
// erasure finds entries the same way.
func TestLegacyEntriesAreReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	// Back to the old shape: no pointer, entries keyed by id.
	if _, err := s.users.DeleteEntity(ctx, u.ID, rkDirectory, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.members.DeleteEntity(ctx, u.OrganizationID, memberRowKey(u), nil); err != nil {
		t.Fatal(err)
	}
	for _, org := range []string{"org-old", u.OrganizationID} {
		e := toMemberEntity(u)
		e.PartitionKey, e.RowKey, e.UserID = org, u.ID, ""
		if _, err := s.members.AddEntity(ctx, mustJSON(e), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SyncDirectory(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{u.OrganizationID + "/" + u.LastName}, rawEntries(t, s, u.ID)); diff != "" {
		t.Errorf("directory entries (-want +got):\n%s", diff)
	}
}

// The key of the name order sorts as the names do, whatever their case
// and characters, and is a valid row key.
func TestMemberRowKeyOrder(t *testing.T) {
	t.Parallel()
	names := [][2]string{ // last, first, in the order they must sort
		{"Aalto", "Eero"}, {"aalto", "Liisa"}, {"Aaltonen", "Aino"}, {"Berg", "Zoe"}, {"Berg af", "Anna"}, {"Bergström", "Ulla"},
		{"Böök", "Bertta"}, {"O'Brien/#?\\", "Pat"}, {"Öhman", "Åke"},
	}
	var keys []string
	for i, n := range names {
		u := accounts.User{ID: fmt.Sprintf("u-%d", 9-i), LastName: n[0], FirstName: n[1]}
		k := memberRowKey(u)
		if strings.ContainsAny(k, "/\\#?") || len(k) > maxKeyChars {
			t.Errorf("%q: key %q is not a valid row key", n, k)
		}
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("%q sorts after %q", names[i-1], names[i])
		}
	}
	long := accounts.User{ID: strings.Repeat("u", 64), LastName: strings.Repeat("ä", accounts.MaxNameLength), FirstName: strings.Repeat("ö", accounts.MaxNameLength)}
	if k := memberRowKey(long); len(k) > maxKeyChars {
		t.Errorf("the longest names make a key of %d characters", len(k))
	}
}

// maxKeyChars is Table Storage's key limit, 1 KiB in UTF-16: Azurite
// refuses a longer key with 400 InvalidInput.
const maxKeyChars = 512

// A person whose names are as long as the API allows, in letters that take
// two bytes, is listed like anyone else: the directory key stays inside
// the store's key limit (it did not, at 240 bytes a name part).
func TestTheLongestNamesAreListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-long", "pitka@example.fi")
	u.LastName, u.FirstName = strings.Repeat("ä", accounts.MaxNameLength), strings.Repeat("ö", accounts.MaxNameLength)
	if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncDirectory(ctx, u.ID); err != nil {
		t.Fatalf("sync of the longest names: %v", err)
	}
	page, err := s.ListMembers(ctx, accounts.DirectoryQuery{OrganizationID: u.OrganizationID, Limit: 10})
	if err != nil || len(page.Users) != 1 || page.Users[0].ID != u.ID {
		t.Fatalf("directory: %+v, %v; want the person with the longest names", page.Users, err)
	}
}
