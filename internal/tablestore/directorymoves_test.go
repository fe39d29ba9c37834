package tablestore

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// P9, P10: after a settled rename or move the pointer names exactly the
// one entry there is, at its new key, with the account's version, so
// nothing is left for a later sync or the erasure to chase.
func TestPointerNamesTheOneEntryAfterARenameOrAMove(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		step func(*accounts.User)
	}{
		{"renamed", rename("Virtanen")},
		{"moved", moveTo("org-2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newTestStore(t)
			u := testUser("u-1", "maija@example.fi")
			if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
				t.Fatal(err)
			}
			change(t, s, u.ID, tc.step)
			if err := s.SyncDirectory(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			now, err := s.User(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.readPointer(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]entryKey{memberKey(now)}, p.entries); diff != "" || p.version != now.Version {
				t.Errorf("pointer at version %d (want %d) names (-want +got):\n%s", p.version, now.Version, diff)
			}
			want := []string{now.OrganizationID + "/" + now.LastName}
			if diff := cmp.Diff(want, rawEntries(t, s, u.ID)); diff != "" {
				t.Errorf("directory entries (-want +got):\n%s", diff)
			}
		})
	}
}

// P9: a write of an older version never replaces a newer entry at the
// same key (a role change keeps the key), and a late AddMember of the
// created version, after a rename was settled, takes back what it wrote
// at the old key.
func TestOlderVersionsDoNotOverwriteNewerEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	created := testUser("u-1", "maija@example.fi")
	if err := s.CreateUser(ctx, created, accounts.Change{UserID: created.ID}); err != nil {
		t.Fatal(err)
	}
	change(t, s, created.ID, func(u *accounts.User) { u.Role = kernel.RolePrimaryUser })
	if err := s.SyncDirectory(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	wrote, _, err := s.putMember(ctx, toMemberEntity(created), true)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.ListMembers(ctx, accounts.DirectoryQuery{OrganizationID: created.OrganizationID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if wrote || len(page.Users) != 1 || page.Users[0].Role != kernel.RolePrimaryUser {
		t.Fatalf("an older write (wrote %v) left %+v, want the newer role", wrote, page.Users)
	}

	change(t, s, created.ID, rename("Virtanen"))
	if err := s.SyncDirectory(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, created); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"org-1/Virtanen"}, rawEntries(t, s, created.ID)); diff != "" {
		t.Errorf("directory entries after a late AddMember (-want +got):\n%s", diff)
	}
}
