package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/palvelumanuaali/useradmin/internal/organizations"
)

const rkOrg = "org"

type orgEntity struct {
	PartitionKey     string
	RowKey           string
	NameFI           string
	NameSV           string
	NameEN           string
	Type             string
	BusinessID       string
	MunicipalityCode string
	ContactEmail     string
	CreatedAt        string
}

// CreateOrganization implements organizations.Store.
func (s *Store) CreateOrganization(ctx context.Context, o organizations.Organization) error {
	e := orgEntity{
		PartitionKey: o.ID, RowKey: rkOrg, NameFI: o.Name.FI, NameSV: o.Name.SV, NameEN: o.Name.EN,
		Type: string(o.Type), BusinessID: o.BusinessID, MunicipalityCode: o.MunicipalityCode,
		ContactEmail: o.ContactEmail, CreatedAt: formatTime(o.CreatedAt),
	}
	_, err := s.orgs.AddEntity(ctx, mustJSON(e), nil)
	if statusOf(err) == http.StatusConflict {
		return organizations.ErrExists
	}
	return classify(err)
}

// Organization implements organizations.Store.
func (s *Store) Organization(ctx context.Context, id string) (organizations.Organization, error) {
	resp, err := s.orgs.GetEntity(ctx, id, rkOrg, nil)
	if statusOf(err) == http.StatusNotFound {
		return organizations.Organization{}, organizations.ErrNotFound
	}
	if err != nil {
		return organizations.Organization{}, classify(err)
	}
	var e orgEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return organizations.Organization{}, fmt.Errorf("decode organisation: %w", err)
	}
	return organizations.Organization{
		ID: e.PartitionKey, Name: organizations.Name{FI: e.NameFI, SV: e.NameSV, EN: e.NameEN},
		Type: organizations.Type(e.Type), BusinessID: e.BusinessID, MunicipalityCode: e.MunicipalityCode,
		ContactEmail: e.ContactEmail, CreatedAt: parseTime(e.CreatedAt), ETag: string(resp.ETag),
	}, nil
}
