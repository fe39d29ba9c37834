// Package organizations holds the organisations people belong to:
// municipalities, service-provider organisations and the service
// administration itself. Storage is the Store port (internal/tablestore).
package organizations

import (
	"context"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// Type is the kind of organisation.
type Type string

// The organisation types.
const (
	TypeMunicipality    Type = "municipality"
	TypeServiceProvider Type = "service_provider"
	TypeAdministration  Type = "administration"
)

// AdministrationID is the fixed id of the service administration, the home
// organisation of the first admin. A fixed id makes "create it if missing"
// safe when two bootstraps race: the second insert fails and reads it.
const AdministrationID = "service-administration"

// Name is an organisation's name in each language; Finnish is required.
type Name struct {
	FI string `json:"fi"`
	SV string `json:"sv,omitempty"`
	EN string `json:"en,omitempty"`
}

// Organization is one organisation.
type Organization struct {
	ID               string
	Name             Name
	Type             Type
	BusinessID       string // Finnish Y-tunnus, where it applies
	MunicipalityCode string // three digits, municipalities only
	ContactEmail     string
	CreatedAt        time.Time
	ETag             string
}

// Errors the store and the service return.
var (
	ErrNotFound = errors.New("organisation not found")
	ErrExists   = errors.New("organisation exists")
	ErrNotEmpty = errors.New("organisation still has users")
)

// Store keeps organisations. Changes carry their audit events, committed
// together with the change (the organisation's outbox).
type Store interface {
	// CreateOrganization inserts o. ErrExists when its id is taken.
	CreateOrganization(ctx context.Context, o Organization, events []audit.Event) error
	// Organization reads one. ErrNotFound when missing.
	Organization(ctx context.Context, id string) (Organization, error)
	// UpdateOrganization replaces o if its ETag still matches
	// (kernel.ErrConflict otherwise).
	UpdateOrganization(ctx context.Context, o Organization, events []audit.Event) error
	// DeleteOrganization removes o if its ETag still matches.
	DeleteOrganization(ctx context.Context, o Organization, events []audit.Event) error
	// ListOrganizations pages through organisations in id order after the
	// given id.
	ListOrganizations(ctx context.Context, after string, limit int) ([]Organization, error)
	// HasMembers reports whether any account belongs to the organisation.
	HasMembers(ctx context.Context, id string) (bool, error)
}

// EnsureAdministration returns the service administration organisation,
// creating it on first use.
func EnsureAdministration(ctx context.Context, store Store, now time.Time) (Organization, error) {
	o, err := store.Organization(ctx, AdministrationID)
	if !errors.Is(err, ErrNotFound) {
		return o, err
	}
	o = Organization{
		ID:        AdministrationID,
		Name:      Name{FI: "Palvelumanuaalin ylläpito", SV: "Servicemanualens administration", EN: "Employment Services Manual administration"},
		Type:      TypeAdministration,
		CreatedAt: now.UTC(),
	}
	if err := store.CreateOrganization(ctx, o, nil); err != nil && !errors.Is(err, ErrExists) {
		return Organization{}, err
	}
	return store.Organization(ctx, AdministrationID)
}
