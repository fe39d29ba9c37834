package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/relay"
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

func toOrgEntity(o organizations.Organization) orgEntity {
	return orgEntity{
		PartitionKey: o.ID, RowKey: rkOrg, NameFI: o.Name.FI, NameSV: o.Name.SV, NameEN: o.Name.EN,
		Type: string(o.Type), BusinessID: o.BusinessID, MunicipalityCode: o.MunicipalityCode,
		ContactEmail: o.ContactEmail, CreatedAt: formatTime(o.CreatedAt),
	}
}

func (e orgEntity) organization(etag string) organizations.Organization {
	return organizations.Organization{
		ID: e.PartitionKey, Name: organizations.Name{FI: e.NameFI, SV: e.NameSV, EN: e.NameEN},
		Type: organizations.Type(e.Type), BusinessID: e.BusinessID, MunicipalityCode: e.MunicipalityCode,
		ContactEmail: e.ContactEmail, CreatedAt: parseTime(e.CreatedAt), ETag: etag,
	}
}

// commitOrg submits an organisation's change with its events in the
// organisation's outbox, in one transaction.
func (s *Store) commitOrg(ctx context.Context, orgID string, action aztables.TransactionAction, events []audit.Event) error {
	owner := relay.Organization(orgID)
	outbox, items := outboxRows(owner, orgID, events, nil)
	actions := append([]aztables.TransactionAction{action}, outbox...)
	var mark relay.Pending
	if len(items) > 0 {
		var err error
		if mark, err = s.markPending(ctx, owner, changeID(items)); err != nil {
			return err
		}
	}
	if _, err := s.orgs.SubmitTransaction(ctx, actions, nil); err != nil {
		return classifyTransaction(err)
	}
	s.committed.add(owner, items, mark)
	return nil
}

// CreateOrganization implements organizations.Store.
func (s *Store) CreateOrganization(ctx context.Context, o organizations.Organization, events []audit.Event) error {
	err := s.commitOrg(ctx, o.ID, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(toOrgEntity(o))}, events)
	if errors.Is(err, kernel.ErrConflict) {
		return organizations.ErrExists
	}
	return err
}

// UpdateOrganization implements organizations.Store.
func (s *Store) UpdateOrganization(ctx context.Context, o organizations.Organization, events []audit.Event) error {
	return s.commitOrg(ctx, o.ID, replace(toOrgEntity(o), o.ETag), events)
}

// DeleteOrganization implements organizations.Store. Its events stay in
// the partition's outbox until the relay delivers them.
func (s *Store) DeleteOrganization(ctx context.Context, o organizations.Organization, events []audit.Event) error {
	etag := azcore.ETag(o.ETag)
	del := remove(o.ID, rkOrg)
	del.IfMatch = &etag
	return s.commitOrg(ctx, o.ID, del, events)
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
	return e.organization(string(resp.ETag)), nil
}

// OrganizationExists implements accounts.Store.
func (s *Store) OrganizationExists(ctx context.Context, id string) (bool, error) {
	_, err := s.Organization(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case isOrgNotFound(err):
		return false, nil
	}
	return false, err
}

// ListOrganizations implements organizations.Store.
func (s *Store) ListOrganizations(ctx context.Context, after string, limit int) ([]organizations.Organization, error) {
	filter := "RowKey eq " + quote(rkOrg)
	if after != "" {
		filter += " and PartitionKey gt " + quote(after)
	}
	top := int32(limit)
	var out []organizations.Organization
	pager := s.orgs.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: &top})
	for pager.More() && len(out) < limit {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(err)
		}
		for _, raw := range resp.Entities {
			var meta rowMeta
			var e orgEntity
			if err := errors.Join(json.Unmarshal(raw, &meta), json.Unmarshal(raw, &e)); err != nil {
				return nil, fmt.Errorf("decode organisation: %w", err)
			}
			if strings.HasPrefix(e.PartitionKey, "$") {
				continue
			}
			out = append(out, e.organization(meta.ETag))
		}
	}
	return out[:min(len(out), limit)], nil
}

func isOrgNotFound(err error) bool { return errors.Is(err, organizations.ErrNotFound) }
