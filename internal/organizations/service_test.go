package organizations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// fakeStore keeps organisations in a map for the rules-only tests of the
// Service; the storage itself is tested on Azurite in internal/tablestore.
// Every write bumps the ETag, and a write on an old one is a conflict, as
// the Store contract says.
type fakeStore struct {
	orgs    map[string]Organization
	members map[string]bool
	events  map[string][]audit.Event // the outbox of each organisation
	etags   int
}

func newFakeStore() *fakeStore {
	return &fakeStore{orgs: map[string]Organization{}, members: map[string]bool{}, events: map[string][]audit.Event{}}
}

func (f *fakeStore) nextETag() string { f.etags++; return fmt.Sprintf("W/%d", f.etags) }

func (f *fakeStore) CreateOrganization(_ context.Context, o Organization, events []audit.Event) error {
	if _, ok := f.orgs[o.ID]; ok {
		return ErrExists
	}
	o.ETag = f.nextETag()
	f.orgs[o.ID] = o
	f.events[o.ID] = append(f.events[o.ID], events...)
	return nil
}

func (f *fakeStore) Organization(_ context.Context, id string) (Organization, error) {
	o, ok := f.orgs[id]
	if !ok {
		return Organization{}, ErrNotFound
	}
	return o, nil
}

func (f *fakeStore) UpdateOrganization(_ context.Context, o Organization, events []audit.Event) error {
	if cur, ok := f.orgs[o.ID]; !ok || cur.ETag != o.ETag {
		return kernel.ErrConflict
	}
	o.ETag = f.nextETag()
	f.orgs[o.ID] = o
	f.events[o.ID] = append(f.events[o.ID], events...)
	return nil
}

func (f *fakeStore) DeleteOrganization(_ context.Context, o Organization, events []audit.Event) error {
	if cur, ok := f.orgs[o.ID]; !ok || cur.ETag != o.ETag {
		return kernel.ErrConflict
	}
	delete(f.orgs, o.ID)
	f.events[o.ID] = append(f.events[o.ID], events...)
	return nil
}

func (f *fakeStore) ListOrganizations(context.Context, string, int) ([]Organization, error) {
	return nil, errors.New("not used")
}

func (f *fakeStore) HasMembers(_ context.Context, id string) (bool, error) { return f.members[id], nil }

type fakeRelay struct{ changed []relay.Owner }

func (r *fakeRelay) Changed(o relay.Owner) { r.changed = append(r.changed, o) }

var (
	now   = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	admin = kernel.Actor{ID: "admin-1", OrganizationID: AdministrationID, Role: kernel.RoleAdmin, Status: kernel.StatusActive}
)

func newTestService(t *testing.T) (*Service, *fakeStore, *fakeRelay) {
	t.Helper()
	store, rel := newFakeStore(), &fakeRelay{}
	n := 0
	newID := func() string { n++; return fmt.Sprintf("id-%d", n) }
	return NewService(store, rel, func() time.Time { return now }, newID), store, rel
}

func actor(role kernel.Role, org string) kernel.Actor {
	return kernel.Actor{ID: "actor-1", OrganizationID: org, Role: role, Status: kernel.StatusActive}
}

// fieldCodes is "field=code" for each field error of err, nil when err is
// not a validation error.
func fieldCodes(err error) []string {
	var v *kernel.ValidationError
	if !errors.As(err, &v) {
		return nil
	}
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Field+"="+f.Code)
	}
	return out
}

func validInput() Input {
	return Input{Name: Name{FI: "Espoo"}, Type: TypeMunicipality, BusinessID: "0101263-6", MunicipalityCode: "049",
		ContactEmail: "kirjaamo@espoo.fi"}
}

// Rule: each invalid field of a new organisation is named with its own
// code, all at once, and nothing is stored.
func TestCreateRefusesEachInvalidFieldByName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Input)
		want []string
	}{
		{"no Finnish name", func(in *Input) { in.Name.FI = "  " }, []string{"name.fi=required"}},
		{"Swedish name too long", func(in *Input) { in.Name.SV = strings.Repeat("å", 201) }, []string{"name.sv=too_long"}},
		{"control character in English name", func(in *Input) { in.Name.EN = "Esp\x00oo" }, []string{"name.en=invalid_characters"}},
		{"unknown type", func(in *Input) { in.Type = "company"; in.MunicipalityCode = "" }, []string{"type=invalid_type"}},
		{"bad business id", func(in *Input) { in.BusinessID = "0101263-7" }, []string{"businessId=invalid_business_id"}},
		{"municipality code on a service provider", func(in *Input) { in.Type = TypeServiceProvider },
			[]string{"municipalityCode=only_for_municipalities"}},
		{"municipality code of two digits", func(in *Input) { in.MunicipalityCode = "49" },
			[]string{"municipalityCode=invalid_municipality_code"}},
		{"contact email without a domain", func(in *Input) { in.ContactEmail = "kirjaamo" }, nil},
		{"every field at once", func(in *Input) {
			in.Name.FI, in.BusinessID, in.MunicipalityCode = "", "x", "abc"
		}, []string{"name.fi=required", "businessId=invalid_business_id", "municipalityCode=invalid_municipality_code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, store, rel := newTestService(t)
			in := validInput()
			tt.edit(&in)
			_, err := s.Create(context.Background(), admin, in, kernel.Meta{})
			got := fieldCodes(err)
			if tt.want == nil {
				// The email's code belongs to accounts.ParseEmail; only its field is ours.
				if len(got) != 1 || !strings.HasPrefix(got[0], "contactEmail=") {
					t.Fatalf("field errors = %v (err %v), want one on contactEmail", got, err)
				}
			} else if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("field errors (-want +got):\n%s\nerr: %v", diff, err)
			}
			if len(store.orgs) != 0 || len(rel.changed) != 0 {
				t.Fatalf("refused input stored %d organisations, told the relay %v", len(store.orgs), rel.changed)
			}
		})
	}
}

// Rule: a valid organisation is stored cleaned (trimmed), and its creation
// is an audit event in its own outbox naming the fields set, with the
// relay told about that outbox (the change and its event commit together).
func TestCreateRecordsTheEventInTheOrganisationsOutbox(t *testing.T) {
	t.Parallel()
	s, store, rel := newTestService(t)
	in := validInput()
	in.Name.FI = "  Espoo  "
	o, err := s.Create(context.Background(), admin, in, kernel.Meta{RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Name.FI != "Espoo" || !o.CreatedAt.Equal(now) {
		t.Errorf("stored %+v, want the trimmed name and the clock's time", o)
	}
	want := []audit.Event{{ID: "id-2", At: now, Action: audit.ActionOrganizationCreated, ActorID: admin.ID, OrganizationID: o.ID,
		RequestID: "req-1", Fields: []string{"name", "type", "businessId", "municipalityCode", "contactEmail"}}}
	if diff := cmp.Diff(want, store.events[o.ID]); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]relay.Owner{relay.Organization(o.ID)}, rel.changed); diff != "" {
		t.Errorf("relay told (-want +got):\n%s", diff)
	}
}

// DESIGN §4: only admins create and delete organisations; a primary user
// edits only their own; editors and experts edit none; an inactive admin
// has no permission at all. One the actor may not see is not found, so
// its existence does not leak.
func TestPermissionsPerRole(t *testing.T) {
	t.Parallel()
	const own, other = "org-own", "org-other"
	inactive := admin
	inactive.Status = kernel.StatusClosed
	tests := []struct {
		name                      string
		actor                     kernel.Actor
		create, editOwn, editElse error
		deleteOwn                 error
	}{
		{"admin", admin, nil, nil, nil, nil},
		{"primary user", actor(kernel.RolePrimaryUser, own), kernel.ErrForbidden, nil, ErrNotFound, kernel.ErrForbidden},
		{"editor", actor(kernel.RoleEditor, own), kernel.ErrForbidden, kernel.ErrForbidden, ErrNotFound, kernel.ErrForbidden},
		{"expert", actor(kernel.RoleExpert, own), kernel.ErrForbidden, kernel.ErrForbidden, ErrNotFound, kernel.ErrForbidden},
		{"closed admin", inactive, kernel.ErrForbidden, ErrNotFound, ErrNotFound, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, store, _ := newTestService(t)
			for _, id := range []string{own, other} {
				if err := store.CreateOrganization(ctx, Organization{ID: id, Name: Name{FI: id}, Type: TypeServiceProvider}, nil); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.Create(ctx, tt.actor, validInput(), kernel.Meta{})
			if !errors.Is(err, tt.create) {
				t.Errorf("create: %v, want %v", err, tt.create)
			}
			name := Name{FI: "Uusi nimi"}
			if _, err := s.Update(ctx, tt.actor, own, Patch{Name: &name}, "", kernel.Meta{}); !errors.Is(err, tt.editOwn) {
				t.Errorf("edit own: %v, want %v", err, tt.editOwn)
			}
			if _, err := s.Update(ctx, tt.actor, other, Patch{Name: &name}, "", kernel.Meta{}); !errors.Is(err, tt.editElse) {
				t.Errorf("edit another: %v, want %v", err, tt.editElse)
			}
			if err := s.Delete(ctx, tt.actor, own, kernel.Meta{}); !errors.Is(err, tt.deleteOwn) {
				t.Errorf("delete own: %v, want %v", err, tt.deleteOwn)
			}
		})
	}
}

// Rule: an update sent with the ETag of a version that has moved on is
// refused with ErrPreconditionFailed and changes nothing; the current
// ETag is accepted; no ETag at all is last-writer-wins.
func TestUpdateHonoursIfMatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, store, _ := newTestService(t)
	o, err := s.Create(ctx, admin, validInput(), kernel.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	stale := kernel.PublicETag(o.ETag)
	first := Name{FI: "Esbo"}
	o, err = s.Update(ctx, admin, o.ID, Patch{Name: &first}, stale, kernel.Meta{})
	if err != nil {
		t.Fatalf("update with the current ETag: %v", err)
	}
	second := Name{FI: "Toinen"}
	if _, err := s.Update(ctx, admin, o.ID, Patch{Name: &second}, stale, kernel.Meta{}); !errors.Is(err, kernel.ErrPreconditionFailed) {
		t.Fatalf("update with a stale ETag: %v, want ErrPreconditionFailed", err)
	}
	if got := store.orgs[o.ID].Name.FI; got != "Esbo" {
		t.Fatalf("name after the refused update = %q, want Esbo", got)
	}
	if _, err := s.Update(ctx, admin, o.ID, Patch{Name: &second}, "", kernel.Meta{}); err != nil {
		t.Fatalf("update without an ETag: %v", err)
	}
}

// Rule: an update records only the fields that changed; one that changes
// nothing writes nothing and records no event.
func TestUpdateRecordsChangedFieldsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, store, rel := newTestService(t)
	o, err := s.Create(ctx, admin, validInput(), kernel.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	same, email := o.Name, "  kirjaamo@espoo.fi "
	if _, err := s.Update(ctx, admin, o.ID, Patch{Name: &same, ContactEmail: &email}, "", kernel.Meta{}); err != nil {
		t.Fatal(err)
	}
	if n := len(store.events[o.ID]); n != 1 || len(rel.changed) != 1 {
		t.Fatalf("a no-op update left %d events and %d relay calls, want the creation's only", n, len(rel.changed))
	}
	code := ""
	if _, err := s.Update(ctx, admin, o.ID, Patch{MunicipalityCode: &code}, "", kernel.Meta{RequestID: "req-2"}); err != nil {
		t.Fatal(err)
	}
	got := store.events[o.ID][len(store.events[o.ID])-1]
	if got.Action != audit.ActionOrganizationUpdated || got.RequestID != "req-2" {
		t.Errorf("event = %+v, want an update from req-2", got)
	}
	if diff := cmp.Diff([]string{"municipalityCode"}, got.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	bad := "12"
	if _, err := s.Update(ctx, admin, o.ID, Patch{MunicipalityCode: &bad}, "", kernel.Meta{}); fieldCodes(err) == nil {
		t.Errorf("update with a bad municipality code: %v, want a validation error", err)
	}
}

// Rule: the service administration is never deleted, and an organisation
// with members is not either (ErrNotEmpty); an empty one is, with its
// deletion recorded in its outbox.
func TestDeleteRefusesAdministrationAndOrganisationsWithMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, store, rel := newTestService(t)
	if _, err := EnsureAdministration(ctx, store, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, admin, AdministrationID, kernel.Meta{}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("delete the administration: %v, want ErrNotEmpty", err)
	}
	full, err := s.Create(ctx, admin, validInput(), kernel.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	store.members[full.ID] = true
	if err := s.Delete(ctx, admin, full.ID, kernel.Meta{}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("delete one with members: %v, want ErrNotEmpty", err)
	}
	if _, ok := store.orgs[AdministrationID]; !ok {
		t.Error("the administration is gone")
	}
	if _, ok := store.orgs[full.ID]; !ok {
		t.Error("the organisation with members is gone")
	}
	store.members[full.ID] = false
	rel.changed = nil
	if err := s.Delete(ctx, admin, full.ID, kernel.Meta{RequestID: "req-9"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.orgs[full.ID]; ok {
		t.Error("the empty organisation is still there")
	}
	evs := store.events[full.ID]
	if last := evs[len(evs)-1]; last.Action != audit.ActionOrganizationDeleted || last.RequestID != "req-9" || last.ActorID != admin.ID {
		t.Errorf("last event = %+v, want the deletion by the admin in req-9", last)
	}
	if diff := cmp.Diff([]relay.Owner{relay.Organization(full.ID)}, rel.changed); diff != "" {
		t.Errorf("relay told (-want +got):\n%s", diff)
	}
}

// Rule: an id that is not an id is not found before any read, so a
// crafted id never reaches a storage filter.
func TestGetRefusesMalformedIDs(t *testing.T) {
	t.Parallel()
	s, _, _ := newTestService(t)
	for _, id := range []string{"", "Org", "a'b", "a/b", string(make([]byte, 65))} {
		if _, err := s.Get(context.Background(), admin, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}
