package organizations

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// Relay is told when an organisation's change left audit events to deliver.
type Relay interface {
	Changed(o relay.Owner)
}

// Service runs the organisation rules under the permission matrix: admins
// create, edit and delete; a primary user edits their own organisation;
// everyone sees their own organisation, admins all of them.
type Service struct {
	store Store
	relay Relay
	now   func() time.Time
	newID func() string
}

// NewService returns a Service over its dependencies.
func NewService(store Store, relay Relay, now func() time.Time, newID func() string) *Service {
	return &Service{store: store, relay: relay, now: now, newID: newID}
}

// Limits of the list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
	maxNameLength   = 200
)

// Input is a new organisation.
type Input struct {
	Name             Name
	Type             Type
	BusinessID       string
	MunicipalityCode string
	ContactEmail     string
}

// Patch is a change to an organisation's information; nil fields stay.
// The type is fixed at creation.
type Patch struct {
	Name             *Name
	BusinessID       *string
	MunicipalityCode *string
	ContactEmail     *string
}

// Get returns an organisation the actor may see; ErrNotFound otherwise.
func (s *Service) Get(ctx context.Context, actor kernel.Actor, id string) (Organization, error) {
	if !accounts.ValidID(id) || !kernel.Allows(actor, kernel.PermSeeOrganization, "", id) {
		return Organization{}, ErrNotFound
	}
	return s.store.Organization(ctx, id)
}

// List pages through the organisations the actor may see: all for admins,
// their own for everyone else. The cursor is the last id of the page
// before ("" for the first page); next is "" on the last page.
func (s *Service) List(ctx context.Context, actor kernel.Actor, cursor string, limit int) (orgs []Organization, next string, err error) {
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > MaxPageSize {
		v := &kernel.ValidationError{Fields: []kernel.FieldError{{Field: "limit", Code: "out_of_range"}}}
		return nil, "", v
	}
	if cursor != "" && !accounts.ValidID(cursor) {
		return nil, "", kernel.ErrInvalidCursor
	}
	if kernel.Matrix[kernel.PermSeeOrganization][actor.Role] != kernel.ScopeAll {
		if cursor != "" {
			return nil, "", nil
		}
		o, err := s.Get(ctx, actor, actor.OrganizationID)
		if errors.Is(err, ErrNotFound) {
			return nil, "", nil
		}
		return []Organization{o}, "", err
	}
	orgs, err = s.store.ListOrganizations(ctx, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(orgs) > limit {
		orgs = orgs[:limit]
		next = orgs[limit-1].ID
	}
	return orgs, next, nil
}

// Create adds an organisation (admins only: kernel.ErrForbidden).
// *kernel.ValidationError for bad input.
func (s *Service) Create(ctx context.Context, actor kernel.Actor, in Input, m kernel.Meta) (Organization, error) {
	if !kernel.Allows(actor, kernel.PermManageOrgs, "", "") {
		return Organization{}, kernel.ErrForbidden
	}
	o := Organization{ID: s.newID(), Name: in.Name, Type: in.Type, BusinessID: in.BusinessID,
		MunicipalityCode: in.MunicipalityCode, ContactEmail: in.ContactEmail, CreatedAt: s.now().UTC()}
	v := &kernel.ValidationError{}
	switch o.Type {
	case TypeMunicipality, TypeServiceProvider, TypeAdministration:
	default:
		v.Fields = append(v.Fields, kernel.FieldError{Field: "type", Code: "invalid_type"})
	}
	o = validate(v, o)
	if len(v.Fields) > 0 {
		return Organization{}, v
	}
	ev := s.event(audit.ActionOrganizationCreated, actor, o.ID, m)
	ev.Fields = o.setFields()
	if err := s.store.CreateOrganization(ctx, o, []audit.Event{ev}); err != nil {
		return Organization{}, err
	}
	s.relay.Changed(relay.Organization(o.ID))
	return s.store.Organization(ctx, o.ID)
}

// Update changes an organisation's information: admins any, a primary
// user their own (kernel.ErrForbidden otherwise; ErrNotFound for one the
// actor may not see). ifMatch is the ETag the caller saw
// (kernel.ErrPreconditionFailed when it moved on).
func (s *Service) Update(ctx context.Context, actor kernel.Actor, id string, p Patch, ifMatch string, m kernel.Meta) (Organization, error) {
	for attempt := 0; ; attempt++ {
		o, err := s.Get(ctx, actor, id)
		if err != nil {
			return Organization{}, err
		}
		if !kernel.Allows(actor, kernel.PermEditOrg, "", o.ID) {
			return Organization{}, kernel.ErrForbidden
		}
		if ifMatch != "" && ifMatch != kernel.PublicETag(o.ETag) {
			return Organization{}, kernel.ErrPreconditionFailed
		}
		before := o
		if p.Name != nil {
			o.Name = *p.Name
		}
		if p.BusinessID != nil {
			o.BusinessID = *p.BusinessID
		}
		if p.MunicipalityCode != nil {
			o.MunicipalityCode = *p.MunicipalityCode
		}
		if p.ContactEmail != nil {
			o.ContactEmail = *p.ContactEmail
		}
		v := &kernel.ValidationError{}
		o = validate(v, o)
		if len(v.Fields) > 0 {
			return Organization{}, v
		}
		fields := changedFields(before, o)
		if len(fields) == 0 {
			return before, nil
		}
		ev := s.event(audit.ActionOrganizationUpdated, actor, o.ID, m)
		ev.Fields = fields
		err = s.store.UpdateOrganization(ctx, o, []audit.Event{ev})
		if errors.Is(err, kernel.ErrConflict) {
			if ifMatch != "" {
				return Organization{}, kernel.ErrPreconditionFailed
			}
			if attempt < 2 {
				continue
			}
		}
		if err != nil {
			return Organization{}, err
		}
		s.relay.Changed(relay.Organization(o.ID))
		return s.store.Organization(ctx, o.ID)
	}
}

// Delete removes an organisation that has no users (ErrNotEmpty
// otherwise; the service administration is never empty of purpose and is
// refused the same way). Admins only.
func (s *Service) Delete(ctx context.Context, actor kernel.Actor, id string, m kernel.Meta) error {
	o, err := s.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	if !kernel.Allows(actor, kernel.PermManageOrgs, "", o.ID) {
		return kernel.ErrForbidden
	}
	if o.ID == AdministrationID {
		return ErrNotEmpty
	}
	has, err := s.store.HasMembers(ctx, o.ID)
	if err != nil {
		return err
	}
	if has {
		return ErrNotEmpty
	}
	if err := s.store.DeleteOrganization(ctx, o, []audit.Event{s.event(audit.ActionOrganizationDeleted, actor, o.ID, m)}); err != nil {
		return err
	}
	s.relay.Changed(relay.Organization(o.ID))
	return nil
}

func (s *Service) event(action audit.Action, actor kernel.Actor, orgID string, m kernel.Meta) audit.Event {
	return audit.Event{ID: s.newID(), At: s.now().UTC(), Action: action, ActorID: actor.ID,
		OrganizationID: orgID, RequestID: m.RequestID}
}

var (
	municipalityCode = regexp.MustCompile(`^[0-9]{3}$`)
	businessIDShape  = regexp.MustCompile(`^[0-9]{7}-[0-9]$`)
)

// ValidBusinessID checks a Finnish business ID (Y-tunnus): seven digits, a
// dash and a check digit computed with the weights 7, 9, 10, 5, 8, 4, 2
// modulo 11 (a remainder of 1 is never issued).
func ValidBusinessID(id string) bool {
	if !businessIDShape.MatchString(id) {
		return false
	}
	weights := []int{7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(id[i]-'0') * w
	}
	check := 0
	switch r := sum % 11; r {
	case 0:
	case 1:
		return false
	default:
		check = 11 - r
	}
	return int(id[8]-'0') == check
}

// validate cleans o and records every problem in v.
func validate(v *kernel.ValidationError, o Organization) Organization {
	add := func(field, code string) { v.Fields = append(v.Fields, kernel.FieldError{Field: field, Code: code}) }
	o.Name.FI = cleanText(add, "name.fi", o.Name.FI, true)
	o.Name.SV = cleanText(add, "name.sv", o.Name.SV, false)
	o.Name.EN = cleanText(add, "name.en", o.Name.EN, false)
	o.BusinessID = strings.TrimSpace(o.BusinessID)
	if o.BusinessID != "" && !ValidBusinessID(o.BusinessID) {
		add("businessId", "invalid_business_id")
	}
	o.MunicipalityCode = strings.TrimSpace(o.MunicipalityCode)
	switch {
	case o.MunicipalityCode == "":
	case o.Type != TypeMunicipality:
		add("municipalityCode", "only_for_municipalities")
	case !municipalityCode.MatchString(o.MunicipalityCode):
		add("municipalityCode", "invalid_municipality_code")
	}
	if o.ContactEmail != "" {
		// Kept as typed: a mailbox to write to, not a key (folding would
		// turn straße@ into strasse@, another mailbox on some servers).
		email, err := accounts.ParseEmail(o.ContactEmail)
		var refused *accounts.EmailError
		if errors.As(err, &refused) {
			add("contactEmail", refused.Code)
		}
		o.ContactEmail = email.Display
	}
	return o
}

func cleanText(add func(field, code string), field, raw string, required bool) string {
	s := strings.TrimSpace(raw)
	switch {
	case s == "" && required:
		add(field, "required")
	case utf8.RuneCountInString(s) > maxNameLength:
		add(field, "too_long")
	case strings.ContainsFunc(s, unicode.IsControl):
		add(field, "invalid_characters")
	}
	return s
}

func (o Organization) setFields() []string {
	fields := []string{"name", "type"}
	for _, f := range []struct{ name, value string }{
		{"businessId", o.BusinessID}, {"municipalityCode", o.MunicipalityCode}, {"contactEmail", o.ContactEmail},
	} {
		if f.value != "" {
			fields = append(fields, f.name)
		}
	}
	return fields
}

func changedFields(a, b Organization) []string {
	var out []string
	if a.Name != b.Name {
		out = append(out, "name")
	}
	if a.BusinessID != b.BusinessID {
		out = append(out, "businessId")
	}
	if a.MunicipalityCode != b.MunicipalityCode {
		out = append(out, "municipalityCode")
	}
	if a.ContactEmail != b.ContactEmail {
		out = append(out, "contactEmail")
	}
	return out
}
