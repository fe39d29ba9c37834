package tablestore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// API-1: a directory position comes back from a client inside its list
// cursor, as the client pleases. ListMembers takes only positions it
// made: anything else is kernel.ErrInvalidCursor, with no storage call
// and no storage text, so a forged position never reaches a filter.
func TestListMembersRefusesPositionsItDidNotMake(t *testing.T) {
	t.Parallel()
	prefix := testenv.UniqueName(t)
	calls := testenv.NewCalls(prefix)
	s := newTestStoreWith(t, prefix, WithPolicy(calls))
	for _, tc := range []struct{ name, position string }{
		{"a quote in the organisation", "org-1' or PartitionKey ne '/GDGMAQBCCS-C5KMSRQ-u-1"},
		{"a quote in the row", "org-1/x' or RowKey ne '"},
		{"a filter for a whole position", "' or true or '"},
		{"no separator", "org-1"},
		{"truncated after the organisation", "org-1/"},
		{"no organisation", "/GDGMAQBCCS-C5KMSRQ-u-1"},
		{"truncated name order", "org-1/GDGMAQBCCS-"},
		{"a name part outside the alphabet", "org-1/GDGMAQBCCZ-C5KMSRQ-u-1"},
		{"a name part too long", "org-1/" + strings.Repeat("G", 385) + "-C5-u-1"},
		{"an id of the wrong shape", "org-1/GDG-C5-U_1"},
		{"an organisation of the wrong shape", "Org 1/GDG-C5-u-1"},
		{"an organisation too long", strings.Repeat("o", 65) + "/u-1"},
		{"a second separator", "org-1/u-1/u-2"},
		{"a line break", "org-1/u-1\n"},
		{"a position from before it was opaque", `{"p":"org-1","r":"u-1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Reset()
			_, err := s.ListMembers(context.Background(), accounts.DirectoryQuery{After: accounts.DirectoryPosition(tc.position), Limit: 10})
			if !errors.Is(err, kernel.ErrInvalidCursor) || err.Error() != kernel.ErrInvalidCursor.Error() {
				t.Errorf("ListMembers after %q: %v, want just ErrInvalidCursor", tc.position, err)
			}
			if got := calls.Snapshot(); len(got) != 0 {
				t.Errorf("ListMembers after %q made storage calls: %v", tc.position, got)
			}
		})
	}
}

// P10, API-1: a well-formed position of another organisation, put into a
// cursor by a client, does not widen an organisation's list: the query's
// organisation still bounds what is read.
func TestListMembersPositionStaysInsideTheQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for _, u := range []accounts.User{
		{ID: "u-1", OrganizationID: "org-1", LastName: "Aalto"},
		{ID: "u-2", OrganizationID: "org-1", LastName: "Berg"},
		{ID: "u-3", OrganizationID: "org-2", LastName: "Aalto"},
		{ID: "u-4", OrganizationID: "org-3", LastName: "Aalto"},
	} {
		if err := s.AddMember(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		after entryKey
		want  []string
	}{
		{"a position before the organisation", entryKey{Org: "org-0", Row: "u-9"}, []string{"u-1", "u-2"}},
		{"a position in another organisation", entryKey{Org: "org-2", Row: "--u-0"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListMembers(ctx, accounts.DirectoryQuery{OrganizationID: "org-1", After: encodePosition(tc.after), Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range page.Users {
				got = append(got, u.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
}

// A page's position, handed back, goes on right after the page's last
// entry, across organisations and for long names; and it is short enough
// for a URL when the names are.
func TestListMembersPositionContinuesThePage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	long := strings.Repeat("ä", 70)
	members := []accounts.User{
		{ID: "u-1", OrganizationID: "org-1", LastName: "Aalto", FirstName: "Eero"},
		{ID: "u-2", OrganizationID: "org-1", LastName: long, FirstName: long},
		{ID: "u-3", OrganizationID: "org-2", LastName: "Aalto", FirstName: "Eero"},
		{ID: "u-4", OrganizationID: "org-2", LastName: "Berg", FirstName: "Zoe"},
	}
	for _, u := range members {
		if err := s.AddMember(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var after accounts.DirectoryPosition
	for range len(members) + 1 {
		page, err := s.ListMembers(ctx, accounts.DirectoryQuery{After: after, Limit: 1})
		if err != nil {
			t.Fatalf("ListMembers after %q: %v", after, err)
		}
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		if page.Next == "" {
			break
		}
		if page.Users[0].ID == "u-1" && len(page.Next) > 64 {
			t.Errorf("position after a short name is %d bytes: %q", len(page.Next), page.Next)
		}
		after = page.Next
	}
	if diff := cmp.Diff([]string{"u-1", "u-2", "u-3", "u-4"}, got); diff != "" {
		t.Errorf("listed one at a time (-want +got):\n%s", diff)
	}
}

// FuzzDirectoryPosition feeds positions as a client may send them back
// (API-1): each is refused with kernel.ErrInvalidCursor or names a key
// with no quote that encodes back to itself; the position of any entry
// the store writes decodes to that entry's key.
func FuzzDirectoryPosition(f *testing.F) {
	f.Add("org-1/GDGMAQBCCS-C5KMSRQ-u-1", "org-1", "Aalto", "Eero", "u-1")
	f.Add("org-1' or true or '/u-1", "org-2", "O'Brien", "", "u-2")
	f.Add(`{"p":"org-1","r":"u-1"}`, "org-1", strings.Repeat("ä", 300), "", "u-3")
	f.Fuzz(func(t *testing.T, position, org, last, first, id string) {
		k, err := decodePosition(accounts.DirectoryPosition(position))
		switch {
		case err != nil && !errors.Is(err, kernel.ErrInvalidCursor):
			t.Fatalf("decodePosition(%q): %v, want ErrInvalidCursor", position, err)
		case err == nil && position == "":
			if k != (entryKey{}) {
				t.Fatalf("no position decodes to %+v", k)
			}
		case err == nil && strings.ContainsAny(k.Org+k.Row, "'\x00"):
			t.Fatalf("decodePosition(%q) let a quote through: %+v", position, k)
		case err == nil && string(encodePosition(k)) != position:
			t.Fatalf("decodePosition(%q) = %+v, which encodes to %q", position, k, encodePosition(k))
		}
		if !accounts.ValidID(org) || !accounts.ValidID(id) {
			return
		}
		made := memberKey(accounts.User{ID: id, OrganizationID: org, LastName: last, FirstName: first})
		if got, err := decodePosition(encodePosition(made)); err != nil || got != made {
			t.Fatalf("made %+v, decoded %+v, %v", made, got, err)
		}
	})
}
