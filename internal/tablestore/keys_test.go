package tablestore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// These tests pin the key design of the package doc: the keys a write
// produces, read back from the tables themselves, and the read paths that
// find the rows by those keys.

// Key design, users and emails: an account's rows share its partition; the
// email claim is keyed by a digest of the address (P1: one account per
// address; no address in a key), and the lookup by email finds it.
func TestKeysOfAnAccountAndItsEmailClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	u := testUser("u-1", "Maija.M@Example.fi")
	ch := accounts.Change{UserID: u.ID, Events: []audit.Event{{ID: "e-1", At: t0, Action: audit.ActionInvitationCreated, SubjectID: u.ID}}}
	if err := s.CreateUser(ctx, u, ch); err != nil {
		t.Fatal(err)
	}
	got := rows(t, s.users, "")
	want := []string{"u-1/directory", "u-1/outbox|" + formatTime(t0) + "|000|e-1", "u-1/user"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users rows (-want +got):\n%s", diff)
	}
	claimKey := emailKey(accounts.ClaimAddress(u))
	if diff := cmp.Diff([]string{claimKey + "/email"}, rows(t, s.emails, "")); diff != "" {
		t.Errorf("emails rows (-want +got):\n%s", diff)
	}
	if strings.Contains(strings.ToLower(claimKey), "maija") || len(claimKey) != 64 {
		t.Errorf("claim key %q is not a digest", claimKey)
	}
	for _, typed := range []string{"Maija.M@Example.fi", "maija.m@example.fi"} {
		canonical, _ := accounts.CanonicalEmail(typed)
		if id, err := s.UserIDByEmail(ctx, canonical); err != nil || id != u.ID {
			t.Errorf("UserIDByEmail(%q) = %q, %v; want %s", canonical, id, err, u.ID)
		}
	}
	// Pending: one mark per change, owner|change id, in the owner's shard.
	wantMark := pendingShard(u.ID) + "/" + u.ID + "|e-1"
	if diff := cmp.Diff([]string{wantMark}, rows(t, s.pending, "")); diff != "" {
		t.Errorf("pending rows (-want +got):\n%s", diff)
	}
}

// Key design, orgs and pending: an organisation is its own partition with
// its outbox beside it, and each change that leaves events marks the
// organisation's outbox pending under "org:<id>|<change id>", so two
// changes have two marks and clearing one leaves the other.
func TestKeysOfAnOrganisationAndItsPendingMarks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	o := organizations.Organization{ID: "org-1", Name: organizations.Name{FI: "Espoo"}, Type: organizations.TypeMunicipality, CreatedAt: t0}
	ev := func(id string) []audit.Event {
		return []audit.Event{{ID: id, At: t0, Action: audit.ActionOrganizationUpdated, OrganizationID: o.ID}}
	}
	if err := s.CreateOrganization(ctx, o, ev("e-1")); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Organization(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Name.SV = "Esbo"
	if err := s.UpdateOrganization(ctx, stored, ev("e-2")); err != nil {
		t.Fatal(err)
	}
	out := "org-1/outbox|" + formatTime(t0)
	if diff := cmp.Diff([]string{"org-1/org", out + "|000|e-1", out + "|000|e-2"}, rows(t, s.orgs, "")); diff != "" {
		t.Errorf("orgs rows (-want +got):\n%s", diff)
	}
	shard := pendingShard("org:org-1")
	if diff := cmp.Diff([]string{shard + "/org:org-1|e-1", shard + "/org:org-1|e-2"}, rows(t, s.pending, "")); diff != "" {
		t.Errorf("pending rows (-want +got):\n%s", diff)
	}
	marks, err := s.PendingMarks(ctx, relay.Organization(o.ID))
	if err != nil || len(marks) != 2 {
		t.Fatalf("PendingMarks = %d marks, %v; want 2", len(marks), err)
	}
	if err := s.ClearPending(ctx, marks[0]); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, s.pending, ""); len(got) != 1 {
		t.Errorf("after clearing one mark: %v, want the other left", got)
	}
}

// Key design, members: entries sit in their organisation's partition keyed
// by name order then id, so the partition read in key order is the list
// by last name, first name, and ListMembers finds them there.
func TestKeysOfTheDirectorySortByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for i, n := range [][2]string{{"Öhman", "Åke"}, {"aalto", "Liisa"}, {"Berg", "Zoe"}, {"Aalto", "Eero"}} {
		u := testUser("u-"+string(rune('1'+i)), n[1]+"@example.fi")
		u.LastName, u.FirstName = n[0], n[1]
		if err := s.CreateUser(ctx, u, accounts.Change{UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	var raw []string
	for _, r := range rows(t, s.members, "PartitionKey eq 'org-1'") {
		_, rk, _ := strings.Cut(r, "/")
		raw = append(raw, rk[strings.LastIndex(rk, "-")+1:])
	}
	want := []string{"4", "2", "3", "1"} // Aalto Eero, aalto Liisa, Berg, Öhman
	if diff := cmp.Diff(want, raw); diff != "" {
		t.Errorf("member ids in key order (-want +got):\n%s", diff)
	}
	page, err := s.ListMembers(ctx, accounts.DirectoryQuery{OrganizationID: "org-1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, u := range page.Users {
		listed = append(listed, u.LastName+" "+u.FirstName)
	}
	if diff := cmp.Diff([]string{"Aalto Eero", "aalto Liisa", "Berg Zoe", "Öhman Åke"}, listed); diff != "" {
		t.Errorf("ListMembers (-want +got):\n%s", diff)
	}
}

// Key design, audit and auditidx: one chain per organisation and month,
// row keys newest first below the chain's head; index copies per person
// and per UTC day, newest first; the listing reads them newest first.
func TestKeysOfTheAuditChainAndIndexSortNewestFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	var events []audit.Event
	for i, id := range []string{"e-1", "e-2", "e-3"} {
		events = append(events, signIn(id, t0.Add(time.Duration(i)*time.Minute)))
	}
	for _, e := range events {
		if err := s.Append(ctx, []audit.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	chain := "org-1|2026-11"
	want := []string{chain + "/" + auditRowKey(3), chain + "/" + auditRowKey(2), chain + "/" + auditRowKey(1), chain + "/head"}
	if diff := cmp.Diff(want, rows(t, s.audit, "")); diff != "" {
		t.Errorf("audit rows (-want +got):\n%s", diff)
	}
	var idx []string
	for _, pk := range []string{"d|2026-11-22", "u|u-1"} {
		for _, r := range rows(t, s.auditIdx, "PartitionKey eq "+quote(pk)) {
			idx = append(idx, r[strings.LastIndex(r, "|")+1:])
		}
	}
	if diff := cmp.Diff([]string{"e-3", "e-2", "e-1", "e-3", "e-2", "e-1"}, idx); diff != "" {
		t.Errorf("index copies by day then person, in key order (-want +got):\n%s", diff)
	}
	page, err := s.Events(ctx, audit.Query{OrganizationID: "org-1", Limit: 10, Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range page.Events {
		listed = append(listed, e.ID)
	}
	if diff := cmp.Diff([]string{"e-3", "e-2", "e-1"}, listed); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
}
