package accounts

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// DirectoryPosition is a place in the directory's order (organisation,
// then name: see NameOrder); the next page starts after it. It is opaque
// here: only the store makes and reads it, and the store refuses one it
// did not make with ErrInvalidCursor. Empty is the start.
type DirectoryPosition string

// DirectoryQuery asks the directory for accounts.
type DirectoryQuery struct {
	OrganizationID   string // empty: every organisation
	Role             kernel.Role
	Status           kernel.Status
	LastActiveBefore time.Time
	LastActiveAfter  time.Time
	Match            func(User) bool   // the text search, applied after storage filters; nil: none
	After            DirectoryPosition // a page's Next; the store refuses others with ErrInvalidCursor
	Limit            int               // stop after this many matches (0: no limit)
	ScanBudget       int               // stop after reading this many entries (0: no limit)
}

// nameOrderBytes bounds each name's part of NameOrder, so the key fits
// Table Storage's key size, 1 KiB counted in UTF-16, that is 512
// characters: two parts of 216 characters, the separators and a 64-byte
// id make at most 498. Names alike in their first 135 bytes sort by id.
const nameOrderBytes = 135

// nameOrderEncoding writes bytes in an alphabet ("0"–"9", "A"–"V") whose
// order is the order of the bytes it encodes and which holds none of the
// characters Table Storage forbids in keys.
var nameOrderEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// NameOrder is the key of the list's default order: last name, then
// first name, each NFC-normalised and lower-cased, compared byte by byte.
// It is plain ASCII, so any store orders it the same way; the parts are
// joined by "-", which sorts below every character of the encoding, so a
// name sorts before the longer names it begins. Ties break on the id.
func NameOrder(u User) string {
	part := func(s string) string {
		b := []byte(strings.ToLower(norm.NFC.String(s)))
		return nameOrderEncoding.EncodeToString(b[:min(len(b), nameOrderBytes)])
	}
	return part(u.LastName) + "-" + part(u.FirstName)
}

// DirectoryPage is one page of a directory query; Next is empty on the
// last page.
type DirectoryPage struct {
	Users []User
	Next  DirectoryPosition
}

// ListQuery is the users list as the admin views ask for it.
type ListQuery struct {
	OrganizationID   string
	Role             kernel.Role
	Status           kernel.Status
	Q                string
	LastActiveBefore time.Time
	LastActiveAfter  time.Time
	Sort             string
	Limit            int
	Cursor           string
}

// ListPage is one page of users with the cursor of the next ("" at the end).
type ListPage struct {
	Users      []User
	NextCursor string
}

// Sorts the users list offers; the key of each is compared case-insensitively.
var Sorts = []string{"name", "-name", "email", "-email", "createdAt", "-createdAt", "lastActiveAt", "-lastActiveAt"}

// Limits of the users list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
	// maxSortable is the most entries one organisation's list is sorted over
	// in memory (tens of thousands of people fit well within it).
	maxSortable = 100_000
	// streamScanBudget bounds the entries one unsorted page may read while
	// looking for text-search matches; a page may come back short with a
	// cursor to go on.
	streamScanBudget = 5_000
)

// listCursor is what a cursor carries: where the last page ended, and a
// digest of the filters so a cursor cannot be replayed with other filters.
// Streamed cursors from before the position was opaque carry an object in
// "a"; they no longer decode and are refused, so the client starts over.
type listCursor struct {
	Filters string            `json:"f"`
	Key     string            `json:"k,omitempty"` // sorted lists: the last sort key
	ID      string            `json:"i,omitempty"` // sorted lists: the last id
	After   DirectoryPosition `json:"a,omitempty"` // streamed lists: the store's position
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, filters string) (listCursor, error) {
	var c listCursor
	if s == "" {
		return listCursor{Filters: filters}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 2048 || json.Unmarshal(b, &c) != nil || c.Filters != filters {
		return listCursor{}, kernel.ErrInvalidCursor
	}
	return c, nil
}

func (q ListQuery) filtersDigest() string {
	// "directory/2": cursors from before the directory was kept in name
	// order carry another kind of position; they are refused, not misread.
	h := hashSecret(strings.Join([]string{"directory/2", q.OrganizationID, string(q.Role), string(q.Status), q.Q,
		q.LastActiveBefore.UTC().String(), q.LastActiveAfter.UTC().String(), q.Sort}, "\x00"))
	return h[:16]
}

func (q ListQuery) validate() (ListQuery, error) {
	v := &kernel.ValidationError{}
	if q.Role != "" && !q.Role.Valid() {
		v.Add("role", "invalid_role", "")
	}
	switch q.Status {
	case "", kernel.StatusInvited, kernel.StatusActive, kernel.StatusClosed:
	default:
		v.Add("status", "invalid_status", "")
	}
	if q.Sort != "" && !slices.Contains(Sorts, q.Sort) {
		v.Add("sort", "invalid_sort", "")
	}
	if q.OrganizationID != "" && !validID(q.OrganizationID) {
		v.Add("organizationId", "invalid_id", "")
	}
	q.Q = strings.ToLower(strings.TrimSpace(q.Q))
	if len([]rune(q.Q)) > 100 || notify.BreaksLine(q.Q) {
		v.Add("q", "invalid_search", "")
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	case q.Limit < 1 || q.Limit > MaxPageSize:
		v.Add("limit", "out_of_range", "")
	}
	return q, v.Err()
}

// matches is the text search: a case-insensitive substring of the first
// name, last name or email.
func (q ListQuery) matches(u User) bool {
	if q.Q == "" {
		return true
	}
	return strings.Contains(strings.ToLower(u.FirstName), q.Q) ||
		strings.Contains(strings.ToLower(u.LastName), q.Q) ||
		strings.Contains(strings.ToLower(u.Email), q.Q) ||
		strings.Contains(strings.ToLower(u.FirstName+" "+u.LastName), q.Q)
}

// sortKeyTime is a fixed-width time layout, so that the order of the
// strings is the order of the times (RFC 3339 with trimmed fractions is
// not: "…:00Z" would sort after "…:00.5Z").
const sortKeyTime = "2006-01-02T15:04:05.000000000Z"

// sortKey is the value a user is ordered by; ties break on the id.
func sortKey(sort string, u User) string {
	switch strings.TrimPrefix(sort, "-") {
	case "email":
		return strings.ToLower(u.Email) // kept as typed, so of mixed case
	case "createdAt":
		return u.CreatedAt.UTC().Format(sortKeyTime)
	case "lastActiveAt":
		return u.LastActiveAt.UTC().Format(sortKeyTime)
	}
	return NameOrder(u)
}

// ListUsers lists the accounts the caller may see (P10): admins anyone,
// primary users their own organisation, others only themselves.
//
// Two paths, chosen by the query. The directory is stored in
// (organisation, NameOrder) order, so the default order (by name) is
// streamed: a page reads the rows it shows and one more, with a keyset
// cursor, whatever the size of the organisation, and across organisations
// (admins without an organisationId) too. Storage applies the role, status
// and activity filters; the text search runs here and may read more than
// a page, up to streamScanBudget entries, before it answers with what it
// found and a cursor. Any other sort reads the organisation's partition and
// sorts it, with the last sort key and id in the cursor, so pages stay
// stable while people are added; it needs an organisation.
// *ValidationError for bad filters, ErrInvalidCursor, ErrNotFound for an
// organisation the caller may not see.
func (s *Service) ListUsers(ctx context.Context, actor kernel.Actor, q ListQuery) (ListPage, error) {
	q, err := q.validate()
	if err != nil {
		return ListPage{}, err
	}
	switch kernel.Matrix[kernel.PermSeeUsers][actor.Role] {
	case kernel.ScopeNone:
		return ListPage{}, kernel.ErrForbidden
	case kernel.ScopeSelf:
		return s.listSelf(ctx, actor, q)
	case kernel.ScopeOwnOrg:
		if q.OrganizationID != "" && q.OrganizationID != actor.OrganizationID {
			return ListPage{}, kernel.ErrNotFound
		}
		q.OrganizationID = actor.OrganizationID
	}
	cur, err := decodeCursor(q.Cursor, q.filtersDigest())
	if err != nil {
		return ListPage{}, err
	}
	switch {
	case q.OrganizationID == "" && q.Sort != "":
		v := &kernel.ValidationError{}
		v.Add("sort", "requires_organization", "sorting needs organizationId")
		return ListPage{}, v
	case q.Sort == "" || q.Sort == "name":
		return s.listStreamed(ctx, q, cur)
	}
	return s.listSorted(ctx, q, cur)
}

func (s *Service) directoryQuery(q ListQuery) DirectoryQuery {
	dq := DirectoryQuery{
		OrganizationID: q.OrganizationID, Role: q.Role, Status: q.Status,
		LastActiveBefore: q.LastActiveBefore, LastActiveAfter: q.LastActiveAfter,
	}
	if q.Q != "" {
		dq.Match = q.matches
	}
	return dq
}

func (s *Service) listStreamed(ctx context.Context, q ListQuery, cur listCursor) (ListPage, error) {
	dq := s.directoryQuery(q)
	dq.After, dq.Limit, dq.ScanBudget = cur.After, q.Limit, streamScanBudget
	page, err := s.store.ListMembers(ctx, dq)
	if err != nil {
		return ListPage{}, err
	}
	out := ListPage{Users: page.Users}
	if page.Next != "" {
		out.NextCursor = encodeCursor(listCursor{Filters: cur.Filters, After: page.Next})
	}
	return out, nil
}

func (s *Service) listSorted(ctx context.Context, q ListQuery, cur listCursor) (ListPage, error) {
	dq := s.directoryQuery(q)
	dq.ScanBudget = maxSortable
	page, err := s.store.ListMembers(ctx, dq)
	if err != nil {
		return ListPage{}, err
	}
	if page.Next != "" {
		v := &kernel.ValidationError{}
		v.Add("organizationId", "too_many_to_sort", "narrow the filters")
		return ListPage{}, v
	}
	sortBy := q.Sort
	if sortBy == "" {
		sortBy = "name"
	}
	desc := strings.HasPrefix(sortBy, "-")
	type keyed struct {
		key string
		u   User
	}
	all := make([]keyed, 0, len(page.Users))
	for _, u := range page.Users {
		all = append(all, keyed{sortKey(sortBy, u), u})
	}
	less := func(a, b keyed) int {
		c := strings.Compare(a.key, b.key)
		if c == 0 {
			c = strings.Compare(a.u.ID, b.u.ID)
		}
		if desc {
			c = -c
		}
		return c
	}
	slices.SortFunc(all, less)
	start := 0
	if cur.ID != "" {
		last := keyed{key: cur.Key, u: User{ID: cur.ID}}
		start, _ = slices.BinarySearchFunc(all, last, less)
		if start < len(all) && all[start].u.ID == cur.ID {
			start++
		}
	}
	end := min(start+q.Limit, len(all))
	out := ListPage{}
	for _, k := range all[start:end] {
		out.Users = append(out.Users, k.u)
	}
	if end < len(all) {
		lastK := all[end-1]
		out.NextCursor = encodeCursor(listCursor{Filters: cur.Filters, Key: lastK.key, ID: lastK.u.ID})
	}
	return out, nil
}

// listSelf is the list of someone who may see only themselves.
func (s *Service) listSelf(ctx context.Context, actor kernel.Actor, q ListQuery) (ListPage, error) {
	if q.OrganizationID != "" && q.OrganizationID != actor.OrganizationID {
		return ListPage{}, kernel.ErrNotFound
	}
	if _, err := decodeCursor(q.Cursor, q.filtersDigest()); err != nil {
		return ListPage{}, err
	}
	if q.Cursor != "" {
		return ListPage{}, nil
	}
	agg, err := s.store.Aggregate(ctx, actor.ID)
	if err != nil {
		return ListPage{}, err
	}
	u := agg.User
	keep := (q.Role == "" || q.Role == u.Role) && (q.Status == "" || q.Status == u.Status) && q.matches(u) &&
		(q.LastActiveBefore.IsZero() || u.LastActiveAt.Before(q.LastActiveBefore)) &&
		(q.LastActiveAfter.IsZero() || !u.LastActiveAt.Before(q.LastActiveAfter))
	if !keep {
		return ListPage{}, nil
	}
	return ListPage{Users: []User{u}}, nil
}

// ErasureDueAt is when a closed account's data will be erased (P7): the
// end of its restore window (P8). Zero for accounts that are not closed.
func (s *Service) ErasureDueAt(u User) time.Time {
	if u.Status != kernel.StatusClosed || u.ClosedAt.IsZero() {
		return time.Time{}
	}
	return u.ClosedAt.Add(s.opts.RestoreWindow)
}
