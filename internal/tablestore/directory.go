package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// The directory (table "members") is a copy of each account's listable
// fields in its organisation's partition, in name order: PK = organisation
// id, RK = accounts.NameOrder + "-" + user id. "A page of organisation X
// by name" is then the rows after the cursor, as many as the page shows
// and one more, however large X is.
//
// It is derived state with one writer, SyncDirectory (AddMember for a new
// account), and it converges to exactly one entry per account whatever the
// interleaving of changes and syncs. A move or a rename changes an entry's
// key, so the account keeps a record of where its entries may be: the
// directory pointer (users table, PK = user id, RK = "directory"), holding
// their keys and the newest account version that claimed it.
//
//   - An entry is written only at a key the pointer already names, so every
//     entry is named there (a crash leaves a key too many, never an entry
//     nobody can find).
//   - A sync of account version v stops when the pointer holds a newer
//     version. Before writing at a key the pointer does not name, it claims
//     the pointer (version v, its key added) on the pointer's ETag.
//   - It writes its entry (never over a newer one), deletes the other named
//     entries no newer than v, and confirms the pointer as naming just its
//     key, at version v, on the ETag it read or claimed. The confirm
//     succeeding means no sync claimed meanwhile.
//   - A sync whose confirm finds a newer claim takes back what it wrote
//     (unless something newer replaced it): the newer sync may have passed
//     that key before it was written.
//
// Erasure turns the pointer into a sentinel that outranks every version
// and names nothing, so a sync still in flight cannot bring an entry back.
type memberEntity struct {
	PartitionKey string // organisation id
	RowKey       string // memberRowKey
	UserID       string
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

func memberRowKey(u accounts.User) string { return accounts.NameOrder(u) + "-" + u.ID }

func toMemberEntity(u accounts.User) memberEntity {
	return memberEntity{
		PartitionKey: u.OrganizationID, RowKey: memberRowKey(u), UserID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: string(u.Role), Status: string(u.Status), Locale: u.Locale, CreatedAt: formatTime(u.CreatedAt),
		LastActiveAt: formatTime(u.LastActiveAt), ClosedAt: formatTime(u.ClosedAt), ClosedReason: u.ClosedReason,
		Version: u.Version,
	}
}

func (e memberEntity) user() accounts.User {
	id := e.UserID
	if id == "" {
		id = e.RowKey // an entry from before the name order was keyed by the id
	}
	return accounts.User{
		ID: id, OrganizationID: e.PartitionKey, Email: e.Email, FirstName: e.FirstName, LastName: e.LastName,
		Role: kernel.Role(e.Role), Status: kernel.Status(e.Status), Locale: e.Locale, CreatedAt: parseTime(e.CreatedAt),
		LastActiveAt: parseTime(e.LastActiveAt), ClosedAt: parseTime(e.ClosedAt), ClosedReason: e.ClosedReason,
		Version: e.Version,
	}
}

// erasedVersion is the pointer version of an erased account, above any
// account's own. Numbers travel as JSON numbers, stored as a double
// above 32 bits: the largest integer a double holds exactly.
const erasedVersion = 1<<53 - 1

// entryKey is where one directory entry is.
type entryKey struct {
	Org string `json:"p"`
	Row string `json:"r"`
}

func memberKey(u accounts.User) entryKey {
	return entryKey{Org: u.OrganizationID, Row: memberRowKey(u)}
}

type pointerEntity struct {
	PartitionKey string // user id
	RowKey       string // rkDirectory
	Version      int64
	Entries      string // JSON list of entryKey
}

func toPointerEntity(userID string, version int64, entries []entryKey) pointerEntity {
	return pointerEntity{PartitionKey: userID, RowKey: rkDirectory, Version: version, Entries: string(mustJSON(entries))}
}

// pointer is a directory pointer as read; etag "" when there is none.
type pointer struct {
	version int64
	entries []entryKey
	etag    azcore.ETag
}

// errPointerMoved means another sync changed the pointer since it was read.
var errPointerMoved = errors.New("tablestore: directory pointer changed")

func (s *Store) readPointer(ctx context.Context, userID string) (pointer, error) {
	resp, err := s.users.GetEntity(ctx, userID, rkDirectory, nil)
	if statusOf(err) == http.StatusNotFound {
		return pointer{}, nil
	}
	if err != nil {
		return pointer{}, classify(err)
	}
	var e pointerEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return pointer{}, fmt.Errorf("decode directory pointer: %w", err)
	}
	p := pointer{version: e.Version, etag: resp.ETag}
	if e.Entries != "" {
		if err := json.Unmarshal([]byte(e.Entries), &p.entries); err != nil {
			return pointer{}, fmt.Errorf("decode directory pointer: %w", err)
		}
	}
	return p, nil
}

// savePointer writes p on its ETag (creates it when etag is ""), and
// returns it with the new ETag; errPointerMoved when another sync got
// there first.
func (s *Store) savePointer(ctx context.Context, userID string, p pointer) (pointer, error) {
	e := mustJSON(toPointerEntity(userID, p.version, p.entries))
	var err error
	if p.etag == "" {
		var resp aztables.AddEntityResponse
		resp, err = s.users.AddEntity(ctx, e, nil)
		p.etag = resp.ETag
	} else {
		var resp aztables.UpdateEntityResponse
		resp, err = s.users.UpdateEntity(ctx, e, &aztables.UpdateEntityOptions{IfMatch: &p.etag, UpdateMode: aztables.UpdateModeReplace})
		p.etag = resp.ETag
	}
	switch statusOf(err) {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusNotFound:
		return pointer{}, errPointerMoved
	}
	return p, classify(err)
}

// SyncDirectory brings an account's directory entry up to date with the
// account record, following the rules above: one entry, at the key of the
// account's organisation and name, none once the account is gone.
// ErrConflict when other syncs keep changing the pointer.
func (s *Store) SyncDirectory(ctx context.Context, userID string) error {
	_, err := s.SyncDirectoryOf(ctx, userID)
	if errors.Is(err, kernel.ErrNotFound) {
		return nil
	}
	return err
}

// SyncDirectoryOf implements accounts.Store: SyncDirectory, returning the
// account as it read it (ErrNotFound when it is gone), so the caller's
// other upkeep needs no read of its own.
func (s *Store) SyncDirectoryOf(ctx context.Context, userID string) (accounts.User, error) {
	// Each round that loses to another sync reads again; a lost round is
	// cheap and ends as soon as a newer version holds the pointer.
	for attempt := 0; attempt < 20; attempt++ {
		u, err := s.syncDirectory(ctx, userID)
		if !errors.Is(err, errPointerMoved) {
			return u, err
		}
	}
	return accounts.User{}, fmt.Errorf("%w: directory pointer kept changing", kernel.ErrConflict)
}

// syncDirectory is one round of SyncDirectoryOf.
func (s *Store) syncDirectory(ctx context.Context, userID string) (accounts.User, error) {
	u, err := s.syncDirectoryRound(ctx, userID)
	if err == nil && u.ID == "" {
		err = kernel.ErrNotFound
	}
	return u, err
}

// SyncDirectoryFor implements accounts.Store: SyncDirectory for an
// account version the caller has just committed (u with its new version),
// which needs no read of the account: a later version's sync outranks it
// by version, as any stale sync.
func (s *Store) SyncDirectoryFor(ctx context.Context, u accounts.User) error {
	for attempt := 0; attempt < 20; attempt++ {
		_, err := s.syncDirectoryKnown(ctx, u.ID, &u)
		if !errors.Is(err, errPointerMoved) {
			return err
		}
		u = accounts.User{ID: u.ID} // a lost round reads the account afresh
	}
	return fmt.Errorf("%w: directory pointer kept changing", kernel.ErrConflict)
}

func (s *Store) syncDirectoryRound(ctx context.Context, userID string) (accounts.User, error) {
	return s.syncDirectoryKnown(ctx, userID, nil)
}

// syncDirectoryKnown is one round of the sync; known, when set and whole,
// is the account as the caller committed it, so only the pointer is read.
func (s *Store) syncDirectoryKnown(ctx context.Context, userID string, known *accounts.User) (accounts.User, error) {
	var (
		u     accounts.User
		found bool
		p     pointer
	)
	if known != nil && known.Email != "" {
		var err error
		if p, err = s.readPointer(ctx, userID); err != nil {
			return accounts.User{}, err
		}
		return s.syncWith(ctx, userID, *known, true, p)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		resp, err := s.users.GetEntity(gctx, userID, rkUser, nil)
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		if err != nil {
			return classify(err)
		}
		var ue userEntity
		if err := json.Unmarshal(resp.Value, &ue); err != nil {
			return fmt.Errorf("decode account: %w", err)
		}
		u, found = ue.user(string(resp.ETag)), true
		return nil
	})
	g.Go(func() (err error) {
		p, err = s.readPointer(gctx, userID)
		return err
	})
	if err := g.Wait(); err != nil {
		return accounts.User{}, err
	}
	return s.syncWith(ctx, userID, u, found, p)
}

// syncWith runs the sync rules for the account as read (found) and its
// pointer.
func (s *Store) syncWith(ctx context.Context, userID string, u accounts.User, found bool, p pointer) (accounts.User, error) {
	switch {
	case !found && p.etag == "":
		return accounts.User{}, nil // never had an entry, or erased before pointers
	case !found:
		return accounts.User{}, s.removeFromDirectory(ctx, userID)
	case p.version > u.Version:
		return u, nil // a newer sync has it, or the account is being erased
	case p.etag == "":
		legacy, err := s.legacyEntries(ctx, userID)
		if err != nil {
			return accounts.User{}, err
		}
		p.entries = legacy
	}
	target := memberKey(u)
	named := slices.Contains(p.entries, target)
	if !named {
		p.version = u.Version
		p.entries = append(p.entries, target)
		var err error
		if p, err = s.savePointer(ctx, userID, p); err != nil {
			return accounts.User{}, err
		}
	}
	wrote, inPlace, err := s.putMember(ctx, toMemberEntity(u), named)
	if err != nil {
		return accounts.User{}, err
	}
	for _, k := range p.entries {
		if k == target {
			continue
		}
		// Another key at the same version can only be from before the
		// name order; a newer one belongs to a newer sync.
		if err := s.deleteMemberIf(ctx, k, func(v int64) bool { return v <= u.Version }); err != nil {
			return accounts.User{}, err
		}
	}
	if len(p.entries) == 1 && (inPlace || !wrote && p.version == u.Version) {
		// Nothing to confirm: the pointer names only this key, and the
		// entry was replaced in place on the ETag it was read with (a
		// newer sync moving the key away would have deleted it, failing
		// that write) or was already as new.
		return u, nil
	}
	_, err = s.savePointer(ctx, userID, pointer{version: u.Version, entries: []entryKey{target}, etag: p.etag})
	if !errors.Is(err, errPointerMoved) {
		return u, err
	}
	now, err := s.readPointer(ctx, userID)
	if err != nil {
		return accounts.User{}, err
	}
	if now.version <= u.Version {
		return accounts.User{}, errPointerMoved // a sync of the same version or an older claim: again
	}
	if !wrote {
		return u, nil
	}
	return u, s.deleteMemberIf(ctx, target, func(v int64) bool { return v == u.Version })
}

// AddMember writes the directory entry of an account just created, at the
// key CreateUser named in its pointer. A sync of a newer change may have
// passed that key before it was written; then the write is taken back.
func (s *Store) AddMember(ctx context.Context, u accounts.User) error {
	written, err := s.addMemberEntry(ctx, u)
	if err != nil || !written {
		return err
	}
	return s.confirmMember(ctx, u)
}

// addMemberEntry is AddMember's write alone; false when an entry was there
// already (a settle got there first), which it then syncs.
func (s *Store) addMemberEntry(ctx context.Context, u accounts.User) (bool, error) {
	_, err := s.members.AddEntity(ctx, mustJSON(toMemberEntity(u)), nil)
	if statusOf(err) == http.StatusConflict {
		return false, s.SyncDirectory(ctx, u.ID)
	}
	return err == nil, classify(err)
}

// confirmMember is AddMember's check: a sync of a newer version that
// passed the entry's key before it was written has moved the pointer on,
// and the entry written late is taken back.
func (s *Store) confirmMember(ctx context.Context, u accounts.User) error {
	p, err := s.readPointer(ctx, u.ID)
	if err != nil || p.version <= u.Version {
		return err
	}
	return s.deleteMemberIf(ctx, memberKey(u), func(v int64) bool { return v == u.Version })
}

// putMember writes an entry unless the stored one is as new or newer, and
// reports whether it wrote, and whether that write replaced an entry on
// the ETag it was read with (in place). mayExist false skips the read of
// an entry that cannot be there yet.
func (s *Store) putMember(ctx context.Context, e memberEntity, mayExist bool) (wrote, inPlace bool, err error) {
	if !mayExist {
		_, err := s.members.AddEntity(ctx, mustJSON(e), nil)
		if statusOf(err) != http.StatusConflict {
			return err == nil, false, classify(err)
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		resp, err := s.members.GetEntity(ctx, e.PartitionKey, e.RowKey, nil)
		switch {
		case statusOf(err) == http.StatusNotFound:
			_, err = s.members.AddEntity(ctx, mustJSON(e), nil)
			if statusOf(err) == http.StatusConflict {
				continue
			}
			return err == nil, false, classify(err)
		case err != nil:
			return false, false, classify(err)
		}
		var existing memberEntity
		if err := json.Unmarshal(resp.Value, &existing); err != nil {
			return false, false, fmt.Errorf("decode directory entry: %w", err)
		}
		if existing.Version >= e.Version {
			return false, false, nil
		}
		etag := resp.ETag
		_, err = s.members.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
		switch statusOf(err) {
		case http.StatusPreconditionFailed, http.StatusNotFound:
			continue
		}
		return err == nil, err == nil, classify(err)
	}
	return false, false, fmt.Errorf("%w: directory entry kept changing", kernel.ErrConflict)
}

// deleteMemberIf deletes the entry at k when its version satisfies ok, on
// the ETag of the entry it judged.
func (s *Store) deleteMemberIf(ctx context.Context, k entryKey, ok func(version int64) bool) error {
	for attempt := 0; attempt < 3; attempt++ {
		resp, err := s.members.GetEntity(ctx, k.Org, k.Row, nil)
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		if err != nil {
			return classify(err)
		}
		var e memberEntity
		if err := json.Unmarshal(resp.Value, &e); err != nil {
			return fmt.Errorf("decode directory entry: %w", err)
		}
		if !ok(e.Version) {
			return nil
		}
		etag := resp.ETag
		_, err = s.members.DeleteEntity(ctx, k.Org, k.Row, &aztables.DeleteEntityOptions{IfMatch: &etag})
		switch statusOf(err) {
		case http.StatusNotFound:
			return nil
		case http.StatusPreconditionFailed:
			continue
		}
		return classify(err)
	}
	return fmt.Errorf("%w: directory entry kept changing", kernel.ErrConflict)
}

// legacyEntries finds an account's entries from before the pointer, when
// they were keyed by user id: a scan of the table, once per such account.
func (s *Store) legacyEntries(ctx context.Context, userID string) ([]entryKey, error) {
	var out []entryKey
	err := s.listPartition(ctx, s.members, "RowKey eq "+quote(userID), func(meta rowMeta, _ []byte) error {
		out = append(out, entryKey{Org: meta.PartitionKey, Row: meta.RowKey})
		return nil
	})
	return out, err
}

// removeFromDirectory drops every entry of an account being erased (P7)
// and leaves the erased sentinel in its pointer, so no sync in flight
// writes one back. Every entry is named in the pointer; an account from
// before pointers has its entries found by legacyEntries.
func (s *Store) removeFromDirectory(ctx context.Context, userID string) error {
	for attempt := 0; attempt < 5; attempt++ {
		p, err := s.readPointer(ctx, userID)
		if err != nil {
			return err
		}
		if p.version == erasedVersion {
			return nil
		}
		if p.etag == "" {
			if p.entries, err = s.legacyEntries(ctx, userID); err != nil {
				return err
			}
		}
		for _, k := range p.entries {
			if _, err := s.members.DeleteEntity(ctx, k.Org, k.Row, nil); err != nil && statusOf(err) != http.StatusNotFound {
				return classify(err)
			}
		}
		_, err = s.savePointer(ctx, userID, pointer{version: erasedVersion, etag: p.etag})
		if !errors.Is(err, errPointerMoved) {
			return err
		}
	}
	return fmt.Errorf("%w: directory pointer kept changing", kernel.ErrConflict)
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

// maxTop is the most rows Table Storage returns for one request.
const maxTop = 1000

// A directory position (accounts.DirectoryPosition) is an entry's key,
// organisation id and row key joined by "/", a character no key may hold.
// Clients round-trip it inside their list cursors, so decodePosition takes
// only what encodePosition makes: an id, then a row key of memberRowKey's
// shape (or a bare id, the key of an entry from before the name order).
// Neither may hold a quote, so a forged position cannot change the shape
// of the filter it goes into, even before quote.
const positionSeparator = "/"

func encodePosition(k entryKey) accounts.DirectoryPosition {
	return accounts.DirectoryPosition(k.Org + positionSeparator + k.Row)
}

// decodePosition reads a position; the zero entryKey for none,
// kernel.ErrInvalidCursor for one the store did not make.
func decodePosition(p accounts.DirectoryPosition) (entryKey, error) {
	if p == "" {
		return entryKey{}, nil
	}
	org, row, ok := strings.Cut(string(p), positionSeparator)
	if !ok || !accounts.ValidID(org) || !(accounts.ValidID(row) || nameOrderRowKey(row)) {
		return entryKey{}, kernel.ErrInvalidCursor
	}
	return entryKey{Org: org, Row: row}, nil
}

// nameOrderRowKey reports whether row has memberRowKey's shape: the two
// encoded name parts of accounts.NameOrder, then a user id, joined by "-".
func nameOrderRowKey(row string) bool {
	last, rest, ok1 := strings.Cut(row, "-")
	first, id, ok2 := strings.Cut(rest, "-")
	return ok1 && ok2 && nameOrderPart(last) && nameOrderPart(first) && accounts.ValidID(id)
}

// nameOrderPart reports whether s can be one part of accounts.NameOrder:
// base32hex without padding, at most 240 bytes' worth.
func nameOrderPart(s string) bool {
	if len(s) > 384 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'V') {
			return false
		}
	}
	return true
}

// ListMembers implements accounts.Store. It pages through the
// directory in (organisation, name) order; an empty OrganizationID means
// every organisation. Role, status and last-activity filters run in storage;
// match (the text search) runs here. It asks for the rows the page needs
// and one more (to know whether a next page exists); when the text search
// drops rows it asks again after the last row read, for more at a time.
// It reads until it has Limit matches or has scanned ScanBudget entries,
// whichever comes first, and returns a continuation to go on from.
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
	// Only the listed columns travel: a third less to move and decode.
	sel := "PartitionKey,RowKey,UserID,Email,FirstName,LastName,Role,Status,Locale,CreatedAt,LastActiveAt,ClosedAt,ClosedReason,Version"
	top := maxTop
	if q.Limit > 0 {
		top = min(q.Limit+1, maxTop)
	}
	var page accounts.DirectoryPage
	scanned := 0
	after, err := decodePosition(q.After)
	if err != nil {
		return accounts.DirectoryPage{}, err
	}
	for {
		// Keyset paging: go on after the last entry seen. Built from our
		// own keys, not the service's continuation tokens, so a cursor stays
		// valid across processes and storage endpoints.
		filter := slices.Clone(clauses)
		if after.Org != "" {
			filter = append(filter, fmt.Sprintf("((PartitionKey eq %s and RowKey gt %s) or PartitionKey gt %s)",
				quote(after.Org), quote(after.Row), quote(after.Org)))
		}
		top32 := int32(top)
		opts := &aztables.ListEntitiesOptions{Select: &sel, Top: &top32}
		if len(filter) > 0 {
			f := strings.Join(filter, " and ")
			opts.Filter = &f
		}
		pager := s.members.NewListEntitiesPager(opts)
		read := false
		// The service may answer with no rows and a continuation; follow it
		// until rows come.
		for pager.More() && !read {
			resp, err := pager.NextPage(ctx)
			if err != nil {
				return accounts.DirectoryPage{}, classify(err)
			}
			for i, raw := range resp.Entities {
				var e memberEntity
				if err := json.Unmarshal(raw, &e); err != nil {
					return accounts.DirectoryPage{}, fmt.Errorf("decode directory entry: %w", err)
				}
				read = true
				scanned++
				after = entryKey{Org: e.PartitionKey, Row: e.RowKey}
				u := e.user()
				if q.Match == nil || q.Match(u) {
					page.Users = append(page.Users, u)
				}
				full := q.Limit > 0 && len(page.Users) >= q.Limit
				if full || (q.ScanBudget > 0 && scanned >= q.ScanBudget) {
					if i+1 < len(resp.Entities) || pager.More() {
						page.Next = encodePosition(after)
					}
					return page, nil
				}
			}
		}
		if !pager.More() {
			return page, nil
		}
		top = min(top*4, maxTop)
	}
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

// ActiveAdmins implements accounts.Store.
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

// SetActiveAdmins implements accounts.Store: etag "" creates the
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
		return fmt.Errorf("%w: admin registry", kernel.ErrConflict)
	}
	return classify(err)
}
