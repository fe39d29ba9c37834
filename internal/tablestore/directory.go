package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// The directory (table "members") is a copy of each account's listable
// fields in its organisation's partition, so "the users of organisation X"
// is one partition scan rather than a scan of every account. It is derived
// state: SyncDirectory rebuilds an entry from the account record, and the
// relay calls it again whenever it settles an account, so an entry missed
// by a crash is repaired by the catch-up. Entries carry the account's
// Version and are never replaced by an older one.
type memberEntity struct {
	PartitionKey string // organisation id
	RowKey       string // user id
	Email        string
	FirstName    string
	LastName     string
	Role         string
	Status       string
	Locale       string
	CreatedAt    string
	LastActiveAt string
	ClosedAt     string
	ClosedReason string
	Version      int64
}

func toMemberEntity(u accounts.User) memberEntity {
	return memberEntity{
		PartitionKey: u.OrganizationID, RowKey: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: string(u.Role), Status: string(u.Status), Locale: u.Locale, CreatedAt: formatTime(u.CreatedAt),
		LastActiveAt: formatTime(u.LastActiveAt), ClosedAt: formatTime(u.ClosedAt), ClosedReason: u.ClosedReason,
		Version: u.Version,
	}
}

func (e memberEntity) user() accounts.User {
	return accounts.User{
		ID: e.RowKey, OrganizationID: e.PartitionKey, Email: e.Email, FirstName: e.FirstName, LastName: e.LastName,
		Role: accounts.Role(e.Role), Status: accounts.Status(e.Status), Locale: e.Locale, CreatedAt: parseTime(e.CreatedAt),
		LastActiveAt: parseTime(e.LastActiveAt), ClosedAt: parseTime(e.ClosedAt), ClosedReason: e.ClosedReason,
		Version: e.Version,
	}
}

// SyncDirectory brings an account's directory entry up to date with the
// account record: written when newer, removed from the organisation it
// left, removed entirely when the account is gone.
func (s *Store) SyncDirectory(ctx context.Context, userID string) error {
	resp, err := s.users.GetEntity(ctx, userID, rkUser, nil)
	if statusOf(err) == http.StatusNotFound {
		return s.removeFromDirectory(ctx, userID)
	}
	if err != nil {
		return classify(err)
	}
	var ue userEntity
	if err := json.Unmarshal(resp.Value, &ue); err != nil {
		return fmt.Errorf("decode account: %w", err)
	}
	u := ue.user(string(resp.ETag))
	if u.PreviousOrganizationID != "" && u.PreviousOrganizationID != u.OrganizationID {
		if err := s.deleteMember(ctx, u.PreviousOrganizationID, u.ID); err != nil {
			return err
		}
	}
	return s.putMember(ctx, toMemberEntity(u))
}

// AddMember writes the directory entry of an account just created; when
// one exists already (a retried create) it falls back to SyncDirectory.
func (s *Store) AddMember(ctx context.Context, u accounts.User) error {
	_, err := s.members.AddEntity(ctx, mustJSON(toMemberEntity(u)), nil)
	if statusOf(err) == http.StatusConflict {
		return s.SyncDirectory(ctx, u.ID)
	}
	return classify(err)
}

// putMember writes an entry unless the stored one is as new or newer.
func (s *Store) putMember(ctx context.Context, e memberEntity) error {
	for attempt := 0; attempt < 3; attempt++ {
		resp, err := s.members.GetEntity(ctx, e.PartitionKey, e.RowKey, nil)
		switch {
		case statusOf(err) == http.StatusNotFound:
			_, err = s.members.AddEntity(ctx, mustJSON(e), nil)
			if statusOf(err) == http.StatusConflict {
				continue
			}
			return classify(err)
		case err != nil:
			return classify(err)
		}
		var existing memberEntity
		if err := json.Unmarshal(resp.Value, &existing); err != nil {
			return fmt.Errorf("decode directory entry: %w", err)
		}
		if existing.Version >= e.Version {
			return nil
		}
		etag := resp.ETag
		_, err = s.members.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
		if statusOf(err) == http.StatusPreconditionFailed {
			continue
		}
		return classify(err)
	}
	return fmt.Errorf("%w: directory entry kept changing", accounts.ErrConflict)
}

func (s *Store) deleteMember(ctx context.Context, orgID, userID string) error {
	_, err := s.members.DeleteEntity(ctx, orgID, userID, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return classify(err)
}

// removeFromDirectory drops every entry of an erased account. Entries are
// keyed by organisation, so this filters the table; it runs once per
// erasure, never on a request path.
func (s *Store) removeFromDirectory(ctx context.Context, userID string) error {
	filter := "RowKey eq " + quote(userID)
	var orgs []string
	if err := s.listPartition(ctx, s.members, filter, func(meta rowMeta, _ []byte) error {
		orgs = append(orgs, meta.PartitionKey)
		return nil
	}); err != nil {
		return err
	}
	for _, org := range orgs {
		if err := s.deleteMember(ctx, org, userID); err != nil {
			return err
		}
	}
	return nil
}

// HasMembers reports whether any account (in any state) belongs to the
// organisation.
func (s *Store) HasMembers(ctx context.Context, orgID string) (bool, error) {
	filter := "PartitionKey eq " + quote(orgID)
	sel := "RowKey"
	top := int32(1)
	pager := s.members.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel, Top: &top})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return false, classify(err)
		}
		if len(page.Entities) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// ListMembers implements accounts.Directory. It pages through the
// directory in (organisation, user id) order; orgID empty means every
// organisation. Role, status and last-activity filters run in storage;
// match (the text search) runs here. It reads until it has limit matches
// or has scanned scanBudget entries, whichever comes first, and returns a
// continuation to go on from.
func (s *Store) ListMembers(ctx context.Context, q accounts.DirectoryQuery) (accounts.DirectoryPage, error) {
	var clauses []string
	if q.OrganizationID != "" {
		clauses = append(clauses, "PartitionKey eq "+quote(q.OrganizationID))
	}
	if q.Role != "" {
		clauses = append(clauses, "Role eq "+quote(string(q.Role)))
	}
	if q.Status != "" {
		clauses = append(clauses, "Status eq "+quote(string(q.Status)))
	}
	if !q.LastActiveBefore.IsZero() {
		// Never-active accounts store "", which sorts first: they count as
		// inactive before any time, which is what an admin looking for
		// inactive people wants.
		clauses = append(clauses, "LastActiveAt lt "+quote(formatTime(q.LastActiveBefore)))
	}
	if !q.LastActiveAfter.IsZero() {
		clauses = append(clauses, "LastActiveAt ge "+quote(formatTime(q.LastActiveAfter)))
	}
	// Keyset paging: go on after the last entry seen. Built from our own
	// keys, not the service's continuation tokens, so a cursor stays valid
	// across processes and storage endpoints.
	if p := q.After; p.PartitionKey != "" {
		clauses = append(clauses, fmt.Sprintf("((PartitionKey eq %s and RowKey gt %s) or PartitionKey gt %s)",
			quote(p.PartitionKey), quote(p.RowKey), quote(p.PartitionKey)))
	}
	// Only the listed columns travel: a third less to move and decode.
	sel := "PartitionKey,RowKey,Email,FirstName,LastName,Role,Status,Locale,CreatedAt,LastActiveAt,ClosedAt,ClosedReason,Version"
	opts := &aztables.ListEntitiesOptions{Select: &sel}
	if len(clauses) > 0 {
		f := strings.Join(clauses, " and ")
		opts.Filter = &f
	}
	var page accounts.DirectoryPage
	scanned := 0
	pager := s.members.NewListEntitiesPager(opts)
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return accounts.DirectoryPage{}, classify(err)
		}
		for i, raw := range resp.Entities {
			var e memberEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return accounts.DirectoryPage{}, fmt.Errorf("decode directory entry: %w", err)
			}
			scanned++
			u := e.user()
			if q.Match == nil || q.Match(u) {
				page.Users = append(page.Users, u)
			}
			full := q.Limit > 0 && len(page.Users) >= q.Limit
			if full || (q.ScanBudget > 0 && scanned >= q.ScanBudget) {
				if i+1 < len(resp.Entities) || pager.More() {
					page.Next = accounts.DirectoryPosition{PartitionKey: e.PartitionKey, RowKey: e.RowKey}
				}
				return page, nil
			}
		}
	}
	return page, nil
}

// The admin registry lists the active admins in one entity, so that "is
// this the last active admin?" and the change that would remove them are
// decided on one ETag: two admins demoting each other at once cannot both
// succeed.
const (
	pkRegistry = "$registry"
	rkAdmins   = "admins"
)

type registryEntity struct {
	PartitionKey string
	RowKey       string
	Admins       string // space-separated user ids
}

// ActiveAdmins implements accounts.AdminRegistry.
func (s *Store) ActiveAdmins(ctx context.Context) ([]string, string, error) {
	resp, err := s.orgs.GetEntity(ctx, pkRegistry, rkAdmins, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", classify(err)
	}
	var e registryEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return nil, "", fmt.Errorf("decode admin registry: %w", err)
	}
	return strings.Fields(e.Admins), string(resp.ETag), nil
}

// SetActiveAdmins implements accounts.AdminRegistry: etag "" creates the
// registry, anything else must still match. ErrConflict otherwise.
func (s *Store) SetActiveAdmins(ctx context.Context, ids []string, etag string) error {
	e := registryEntity{PartitionKey: pkRegistry, RowKey: rkAdmins, Admins: strings.Join(ids, " ")}
	var err error
	if etag == "" {
		_, err = s.orgs.AddEntity(ctx, mustJSON(e), nil)
	} else {
		tag := azcore.ETag(etag)
		_, err = s.orgs.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &tag, UpdateMode: aztables.UpdateModeReplace})
	}
	switch statusOf(err) {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusNotFound:
		return fmt.Errorf("%w: admin registry", accounts.ErrConflict)
	}
	return classify(err)
}
