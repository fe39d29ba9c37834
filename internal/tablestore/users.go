package tablestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"golang.org/x/sync/errgroup"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// Row keys inside an account's partition.
const (
	rkUser           = "user"
	rkSessionPrefix  = "session|"
	rkTokenPrefix    = "token|"
	rkResetLimit     = "resetlimit"
	rkDeliveryPrefix = "delivery|" // a notification's claim (deliveries.go)
	rkOutboxPrefix   = "outbox|"
	rkEmail          = "email"
	rkTombstone      = "erased"    // all that is left of an erased account: its id and when
	rkLifecycle      = "lifecycle" // the day its lifecycle entry is filed under
	rkDirectory      = "directory" // where its directory entries are (directory.go)
)

// maxTransaction is Table Storage's limit of operations in one
// entity-group transaction.
const maxTransaction = 100

// Times are stored as fixed-width UTC strings so that string order is time
// order in filters; the empty string is the zero time.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// formatTimes stores a short list of times in one property.
func formatTimes(ts []time.Time) string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, formatTime(t))
	}
	return strings.Join(out, " ")
}

func parseTimes(s string) []time.Time {
	var out []time.Time
	for _, f := range strings.Fields(s) {
		if t := parseTime(f); !t.IsZero() {
			out = append(out, t)
		}
	}
	return out
}

// rowMeta is what every listed row carries besides its own properties.
type rowMeta struct {
	PartitionKey string `json:"PartitionKey"`
	RowKey       string `json:"RowKey"`
	ETag         string `json:"odata.etag"`
}

type userEntity struct {
	PartitionKey            string
	RowKey                  string
	Email                   string
	FirstName               string
	LastName                string
	OrganizationID          string
	Role                    string
	Status                  string
	Locale                  string
	CreatedAt               string
	ActivatedAt             string
	LastActiveAt            string
	ClosedAt                string
	ClosedReason            string
	PasswordHash            string
	PrivacyNoticeVersion    string
	PrivacyNoticeAcceptedAt string
	FailedSignIns           int
	FailureTimes            string // space-separated, oldest first
	Lockouts                int
	LockedUntil             string
	LockedForReset          bool
	InvitedAt               string
	WarnedFor               string
	WarnedDays              int
	WarnedAt                string
	ErasingSince            string
	InvitedElsewhere        bool  `json:",omitempty"`
	NeverAdmin              *bool `json:",omitempty"` // nil: unknown (older rows)
	Version                 int64
}

func toUserEntity(u accounts.User) userEntity {
	return userEntity{
		PartitionKey: u.ID, RowKey: rkUser,
		Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		OrganizationID: u.OrganizationID, Role: string(u.Role), Status: string(u.Status), Locale: u.Locale,
		CreatedAt: formatTime(u.CreatedAt), ActivatedAt: formatTime(u.ActivatedAt),
		LastActiveAt: formatTime(u.LastActiveAt), ClosedAt: formatTime(u.ClosedAt), ClosedReason: u.ClosedReason,
		PasswordHash: u.PasswordHash, PrivacyNoticeVersion: u.PrivacyNoticeVersion,
		PrivacyNoticeAcceptedAt: formatTime(u.PrivacyNoticeAcceptedAt),
		FailedSignIns:           u.FailedSignIns, FailureTimes: formatTimes(u.FailureTimes), Lockouts: u.Lockouts,
		LockedUntil: formatTime(u.LockedUntil), LockedForReset: u.LockedForReset,
		Version:   u.Version,
		InvitedAt: formatTime(u.InvitedAt), WarnedFor: formatTime(u.WarnedFor), WarnedDays: u.WarnedDays,
		WarnedAt: formatTime(u.WarnedAt), ErasingSince: formatTime(u.ErasingSince), InvitedElsewhere: u.InvitedElsewhere,
		NeverAdmin: new(u.NeverAdmin && u.Role != kernel.RoleAdmin),
	}
}

func (e userEntity) user(etag string) accounts.User {
	return accounts.User{
		ID: e.PartitionKey, Email: e.Email, FirstName: e.FirstName, LastName: e.LastName,
		OrganizationID: e.OrganizationID, Role: kernel.Role(e.Role), Status: kernel.Status(e.Status), Locale: e.Locale,
		CreatedAt: parseTime(e.CreatedAt), ActivatedAt: parseTime(e.ActivatedAt),
		LastActiveAt: parseTime(e.LastActiveAt), ClosedAt: parseTime(e.ClosedAt), ClosedReason: e.ClosedReason,
		PasswordHash: e.PasswordHash, PrivacyNoticeVersion: e.PrivacyNoticeVersion,
		PrivacyNoticeAcceptedAt: parseTime(e.PrivacyNoticeAcceptedAt),
		FailedSignIns:           e.FailedSignIns, FailureTimes: parseTimes(e.FailureTimes), Lockouts: e.Lockouts,
		LockedUntil: parseTime(e.LockedUntil), LockedForReset: e.LockedForReset,
		Version:   e.Version,
		InvitedAt: parseTime(e.InvitedAt), WarnedFor: parseTime(e.WarnedFor), WarnedDays: e.WarnedDays,
		WarnedAt: parseTime(e.WarnedAt), ErasingSince: parseTime(e.ErasingSince), InvitedElsewhere: e.InvitedElsewhere,
		NeverAdmin: e.NeverAdmin != nil && *e.NeverAdmin,
		ETag:       etag,
	}
}

// sessionEntity is a session row. The Access* properties are the account's
// access when the session was made (accounts.Session.Access); a row
// without AccessRole is from before sessions carried it.
type sessionEntity struct {
	PartitionKey         string
	RowKey               string
	ID                   string // the id its owner sees; absent on sessions older than ids
	CreatedAt            string
	LastSeenAt           string
	ExpiresAt            string
	AccessRole           string `json:",omitempty"`
	AccessOrganizationID string `json:",omitempty"`
	AccessStatus         string `json:",omitempty"`
	ActivityAt           string `json:",omitempty"`
	EnrolOnly            bool   `json:",omitempty"`
	VerifiedAt           string `json:",omitempty"`
}

func toSessionEntity(s accounts.Session) sessionEntity {
	e := sessionEntity{PartitionKey: s.UserID, RowKey: rkSessionPrefix + s.Hash, ID: s.ID,
		CreatedAt: formatTime(s.CreatedAt), LastSeenAt: formatTime(s.LastSeenAt), ExpiresAt: formatTime(s.ExpiresAt),
		ActivityAt: formatTime(s.ActivityAt), EnrolOnly: s.EnrolOnly, VerifiedAt: formatTime(s.VerifiedAt)}
	if a := s.Access; a != nil {
		e.AccessRole, e.AccessOrganizationID, e.AccessStatus = string(a.Role), a.OrganizationID, string(a.Status)
	}
	return e
}

func (e sessionEntity) session(etag string) accounts.Session {
	s := accounts.Session{UserID: e.PartitionKey, Hash: strings.TrimPrefix(e.RowKey, rkSessionPrefix), ID: e.ID,
		CreatedAt: parseTime(e.CreatedAt), LastSeenAt: parseTime(e.LastSeenAt), ExpiresAt: parseTime(e.ExpiresAt),
		ActivityAt: parseTime(e.ActivityAt), EnrolOnly: e.EnrolOnly, VerifiedAt: parseTime(e.VerifiedAt), ETag: etag}
	if e.AccessRole != "" {
		// The access is the partition's account's: the id is the key.
		s.Access = &kernel.Actor{ID: e.PartitionKey, OrganizationID: e.AccessOrganizationID,
			Role: kernel.Role(e.AccessRole), Status: kernel.Status(e.AccessStatus)}
	}
	return s
}

type tokenEntity struct {
	PartitionKey string
	RowKey       string
	CreatedAt    string
	ExpiresAt    string
}

func tokenRowKey(t accounts.Token) string {
	return rkTokenPrefix + string(t.Purpose) + "|" + t.Hash
}

func (e tokenEntity) token() accounts.Token {
	purpose, hash, _ := strings.Cut(strings.TrimPrefix(e.RowKey, rkTokenPrefix), "|")
	return accounts.Token{UserID: e.PartitionKey, Purpose: accounts.Purpose(purpose), Hash: hash,
		CreatedAt: parseTime(e.CreatedAt), ExpiresAt: parseTime(e.ExpiresAt)}
}

type resetLimitEntity struct {
	PartitionKey string
	RowKey       string
	WindowStart  string
	Count        int
}

// outboxEntity is an undelivered audit event or notification. Its row key
// orders items by creation, so delivery keeps their order.
type outboxEntity struct {
	PartitionKey string
	RowKey       string
	Kind         string // "event" or "notification"
	Payload      string
}

const (
	outboxKindEvent        = "event"
	outboxKindNotification = "notification"
)

type emailEntity struct {
	PartitionKey string
	RowKey       string
	UserID       string
	ClaimedAt    string
}

// emailKey turns a canonical email (accounts.CanonicalEmail), or an older
// form of it (accounts.EmailLookupKeys), into a key: hashing keeps the
// characters Table Storage forbids in keys (/ \ # ?) out of them.
func emailKey(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:])
}

// quote makes a string an OData literal, doubling single quotes so no value
// can change the shape of a filter.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Entities are flat structs of strings and ints.
		panic(fmt.Sprintf("tablestore: marshal entity: %v", err))
	}
	return b
}

// Aggregate implements accounts.Store: one query over the account's partition.
func (s *Store) Aggregate(ctx context.Context, userID string) (accounts.Aggregate, error) {
	var agg accounts.Aggregate
	found, erased := false, false
	err := s.listPartition(ctx, s.users, "PartitionKey eq "+quote(userID), func(meta rowMeta, raw []byte) error {
		switch {
		case meta.RowKey == rkTombstone:
			erased = true
		case meta.RowKey == rkUser:
			var e userEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.User = e.user(meta.ETag)
			found = true
		case strings.HasPrefix(meta.RowKey, rkSessionPrefix):
			var e sessionEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.Sessions = append(agg.Sessions, e.session(meta.ETag))
		case strings.HasPrefix(meta.RowKey, rkTokenPrefix):
			var e tokenEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.Tokens = append(agg.Tokens, e.token())
		case meta.RowKey == rkLifecycle:
			var e lifecyclePointer
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			if day, err := time.Parse(dayLayout, e.Day); err == nil {
				agg.FiledFor = day
			}
		case meta.RowKey == rkResetLimit:
			var e resetLimitEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.ResetLimit = accounts.ResetLimit{UserID: userID, WindowStart: parseTime(e.WindowStart), Count: e.Count, ETag: meta.ETag}
		case strings.HasPrefix(meta.RowKey, rkFactorPrefix):
			var e factorEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.Factors = append(agg.Factors, e.factor(meta.ETag))
		case strings.HasPrefix(meta.RowKey, rkRecoveryPrefix):
			var e recoveryEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.RecoveryCodes = append(agg.RecoveryCodes, accounts.RecoveryCode{UserID: userID,
				Hash: strings.TrimPrefix(meta.RowKey, rkRecoveryPrefix), CreatedAt: parseTime(e.CreatedAt)})
		case strings.HasPrefix(meta.RowKey, rkChallengePrefix):
			var e challengeEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.Challenges = append(agg.Challenges, e.challenge(meta.ETag))
		case strings.HasPrefix(meta.RowKey, rkDeliveryPrefix):
			var e claimEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return err
			}
			agg.Deliveries = append(agg.Deliveries, e.delivery(meta.ETag))
		}
		return nil
	})
	if err != nil {
		return accounts.Aggregate{}, err
	}
	if !found {
		if erased {
			return accounts.Aggregate{}, accounts.ErrErased
		}
		return accounts.Aggregate{}, kernel.ErrNotFound
	}
	return agg, nil
}

// UserWithSession implements accounts.Store: two point reads in parallel,
// the account row and the session row, both keyed by the account's id and
// a row key the token gives (the session's row key is the hash of its
// secret).
func (s *Store) UserWithSession(ctx context.Context, userID, sessionHash string) (accounts.User, accounts.Session, error) {
	if userID == "" || sessionHash == "" {
		return accounts.User{}, accounts.Session{}, kernel.ErrNotFound
	}
	var (
		u    accounts.User
		sess accounts.Session
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		u, err = s.User(gctx, userID)
		return err
	})
	g.Go(func() error {
		var err error
		sess, err = s.Session(gctx, userID, sessionHash)
		return err
	})
	// The first error is the one returned, so a missing row is reported
	// as missing, not as the cancellation of the other read it causes.
	if err := g.Wait(); err != nil {
		return accounts.User{}, accounts.Session{}, err
	}
	return u, sess, nil
}

// Session implements accounts.Store: one point read of the session row.
func (s *Store) Session(ctx context.Context, userID, sessionHash string) (accounts.Session, error) {
	if userID == "" || sessionHash == "" {
		return accounts.Session{}, kernel.ErrNotFound
	}
	resp, err := s.users.GetEntity(ctx, userID, rkSessionPrefix+sessionHash, nil)
	if statusOf(err) == http.StatusNotFound {
		return accounts.Session{}, kernel.ErrNotFound
	}
	if err != nil {
		return accounts.Session{}, classify(err)
	}
	var e sessionEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return accounts.Session{}, fmt.Errorf("decode session row: %w", err)
	}
	return e.session(string(resp.ETag)), nil
}

// User implements accounts.Store: one point read of the account row.
func (s *Store) User(ctx context.Context, userID string) (accounts.User, error) {
	if userID == "" {
		return accounts.User{}, kernel.ErrNotFound
	}
	resp, err := s.users.GetEntity(ctx, userID, rkUser, nil)
	if statusOf(err) == http.StatusNotFound {
		return accounts.User{}, kernel.ErrNotFound
	}
	if err != nil {
		return accounts.User{}, classify(err)
	}
	var e userEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return accounts.User{}, fmt.Errorf("decode user row: %w", err)
	}
	return e.user(string(resp.ETag)), nil
}

// RecordActivity implements accounts.Store: a conditional replace of the
// session and of the account, in parallel, outside a transaction (nothing
// else changes with them), so one that lost a race does not stop the
// other. Each written row gets its new ETag, and the account its next
// Version, as Apply counts them.
func (s *Store) RecordActivity(ctx context.Context, sess *accounts.Session, u *accounts.User) error {
	if u != nil && u.ETag == "" {
		return errors.New("tablestore: account update without an ETag")
	}
	var g errgroup.Group
	if sess != nil {
		next := *sess
		g.Go(func() error {
			etag := azcore.ETag(next.ETag)
			resp, err := s.users.UpdateEntity(ctx, mustJSON(toSessionEntity(next)), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
			if err != nil {
				return classifyTransaction(err)
			}
			next.ETag = string(resp.ETag)
			*sess = next
			return nil
		})
	}
	if u != nil {
		next := *u
		next.Version++
		g.Go(func() error {
			etag := azcore.ETag(u.ETag)
			resp, err := s.users.UpdateEntity(ctx, mustJSON(toUserEntity(next)), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
			if err != nil {
				return classifyTransaction(err)
			}
			next.ETag = string(resp.ETag)
			*u = next
			return nil
		})
	}
	return g.Wait()
}

// listPartition runs a filtered query and hands each row to fn.
func (s *Store) listPartition(ctx context.Context, c *aztables.Client, filter string, fn func(rowMeta, []byte) error) error {
	pager := c.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return classify(err)
		}
		for _, raw := range page.Entities {
			var meta rowMeta
			if err := json.Unmarshal(raw, &meta); err != nil {
				return fmt.Errorf("decode row: %w", err)
			}
			if err := fn(meta, raw); err != nil {
				// The row's kind only: a row key can hold a secret's hash.
				kind, _, _ := strings.Cut(meta.RowKey, "|")
				return fmt.Errorf("decode %s row: %w", kind, err)
			}
		}
	}
	return nil
}

// UserIDByEmail implements accounts.Store.
func (s *Store) UserIDByEmail(ctx context.Context, email string) (string, error) {
	resp, err := s.emails.GetEntity(ctx, emailKey(email), rkEmail, nil)
	if statusOf(err) == http.StatusNotFound {
		return "", kernel.ErrNotFound
	}
	if err != nil {
		return "", classify(err)
	}
	var e emailEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return "", fmt.Errorf("decode email claim: %w", err)
	}
	return e.UserID, nil
}

// orphanClaimAge is how old an email claim without an account must be before
// a new account may take it over: older than any create in flight.
const orphanClaimAge = 2 * time.Minute

// CreateUser implements accounts.Store. The email claim is taken first; if
// the account cannot be written the claim is released, and a claim left by
// a crash between the two is taken over once it is older than any create
// in flight.
func (s *Store) CreateUser(ctx context.Context, u accounts.User, ch accounts.Change) error {
	if _, ok := accounts.CanonicalEmail(u.Email); !ok {
		return errors.New("tablestore: account without a valid email")
	}
	claim := emailEntity{PartitionKey: emailKey(accounts.ClaimAddress(u)), RowKey: rkEmail, UserID: u.ID, ClaimedAt: formatTime(s.now())}
	resp, err := s.emails.AddEntity(ctx, mustJSON(claim), nil)
	claimETag := resp.ETag
	switch {
	case statusOf(err) == http.StatusConflict:
		if claimETag, err = s.takeOverOrphanClaim(ctx, claim); err != nil {
			return err
		}
	case err != nil:
		return classify(err)
	}
	// The directory pointer is born with the account, naming the entry
	// AddMember writes next.
	actions := []aztables.TransactionAction{
		{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(toUserEntity(u))},
		{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(toPointerEntity(u.ID, u.Version, []entryKey{memberKey(u)}))},
	}
	if err := s.commit(ctx, u.ID, actions, ch); err != nil {
		if _, derr := s.emails.DeleteEntity(context.WithoutCancel(ctx), claim.PartitionKey, rkEmail, &aztables.DeleteEntityOptions{IfMatch: &claimETag}); derr != nil {
			return fmt.Errorf("%w (and releasing the email claim failed: %v)", err, classify(derr))
		}
		return err
	}
	// The directory entry is written now, for the admin's next listing
	// (read-your-writes; a failure is repaired by the relay's settle). Its
	// check and the lifecycle filing follow the response: the relay runs
	// them once it has delivered the change (or here, when no wake-up will
	// take them).
	written, err := s.addMemberEntry(ctx, u)
	upkeep := func(ctx context.Context) error {
		switch {
		case err != nil:
			err = s.SyncDirectory(ctx, u.ID)
		case written:
			err = s.confirmMember(ctx, u)
		}
		if err != nil {
			return err
		}
		return s.FileNewAccount(ctx, u.ID, ch.FirstDue)
	}
	if !s.committed.addUpkeep(relay.Account(u.ID), upkeep) {
		_ = upkeep(ctx) // a miss is repaired by the relay's settle
	}
	return nil
}

func (s *Store) takeOverOrphanClaim(ctx context.Context, claim emailEntity) (azcore.ETag, error) {
	resp, err := s.emails.GetEntity(ctx, claim.PartitionKey, rkEmail, nil)
	if err != nil {
		return "", classify(err)
	}
	var existing emailEntity
	if err := json.Unmarshal(resp.Value, &existing); err != nil {
		return "", fmt.Errorf("decode email claim: %w", err)
	}
	if s.now().Sub(parseTime(existing.ClaimedAt)) < orphanClaimAge {
		return "", accounts.ErrEmailTaken
	}
	if _, err := s.users.GetEntity(ctx, existing.UserID, rkUser, nil); statusOf(err) != http.StatusNotFound {
		if err != nil {
			return "", classify(err)
		}
		return "", accounts.ErrEmailTaken
	}
	etag := resp.ETag
	upd, err := s.emails.UpdateEntity(ctx, mustJSON(claim), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if statusOf(err) == http.StatusPreconditionFailed || statusOf(err) == http.StatusNotFound {
		return "", accounts.ErrEmailTaken
	}
	if err != nil {
		return "", classify(err)
	}
	return upd.ETag, nil
}

// Apply implements accounts.Store.
func (s *Store) Apply(ctx context.Context, ch accounts.Change) error {
	var actions []aztables.TransactionAction
	if ch.User != nil {
		if ch.User.ETag == "" {
			return errors.New("tablestore: account update without an ETag")
		}
		next := *ch.User
		next.Version++
		actions = append(actions, replace(toUserEntity(next), ch.User.ETag))
	}
	for _, x := range ch.PutSessions {
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(toSessionEntity(x))})
	}
	for _, x := range ch.UpdateSessions {
		actions = append(actions, replace(toSessionEntity(x), x.ETag))
	}
	for _, x := range ch.DeleteSessions {
		actions = append(actions, remove(ch.UserID, rkSessionPrefix+x.Hash))
	}
	for _, x := range ch.PutTokens {
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(tokenEntity{
			PartitionKey: x.UserID, RowKey: tokenRowKey(x), CreatedAt: formatTime(x.CreatedAt), ExpiresAt: formatTime(x.ExpiresAt)})})
	}
	for _, x := range ch.DeleteTokens {
		actions = append(actions, remove(ch.UserID, tokenRowKey(x)))
	}
	actions = append(actions, factorActions(ch)...)
	if l := ch.ResetLimit; l != nil {
		e := resetLimitEntity{PartitionKey: ch.UserID, RowKey: rkResetLimit, WindowStart: formatTime(l.WindowStart), Count: l.Count}
		if l.ETag == "" {
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(e)})
		} else {
			actions = append(actions, replace(e, l.ETag))
		}
	}
	return s.commit(ctx, ch.UserID, actions, ch)
}

func replace(entity any, etag string) aztables.TransactionAction {
	e := azcore.ETag(etag)
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateReplace, Entity: mustJSON(entity), IfMatch: &e}
}

func remove(pk, rk string) aztables.TransactionAction {
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: mustJSON(rowMeta{PartitionKey: pk, RowKey: rk})}
}

// commit adds the change's outbox rows to the actions and submits them as
// one transaction. When there are outbox rows, the account is first marked
// pending so the relay's catch-up finds them even if this process dies
// right after the commit.
func (s *Store) commit(ctx context.Context, userID string, actions []aztables.TransactionAction, ch accounts.Change) error {
	owner := relay.Account(userID)
	outbox, items := outboxRows(owner, userID, ch.Events, ch.Notifications)
	actions = append(actions, outbox...)
	more, err := deliveryActions(userID, ch)
	if err != nil {
		return err
	}
	actions = append(actions, more...)
	if len(actions) == 0 {
		return nil
	}
	if len(actions) > maxTransaction {
		return fmt.Errorf("tablestore: change of %d operations exceeds one transaction", len(actions))
	}
	var mark relay.Pending
	if len(items) > 0 {
		var err error
		if mark, err = s.markPending(ctx, owner, changeID(items)); err != nil {
			return err
		}
	}
	if _, err := s.users.SubmitTransaction(ctx, actions, nil); err != nil {
		return classifyTransaction(err)
	}
	s.committed.add(owner, items, mark)
	return nil
}

func outboxAction(userID string, at time.Time, index int, id, kind string, payload any) aztables.TransactionAction {
	return aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(outboxEntity{
		PartitionKey: userID,
		RowKey:       fmt.Sprintf("%s%s|%03d|%s", rkOutboxPrefix, formatTime(at), index, id),
		Kind:         kind,
		Payload:      string(mustJSON(payload)),
	})}
}

// decode decodes an outbox row's payload: an audit event or a notification.
func (e outboxEntity) decode() (*audit.Event, *notify.Message, error) {
	switch e.Kind {
	case outboxKindEvent:
		var ev audit.Event
		if err := json.Unmarshal([]byte(e.Payload), &ev); err != nil {
			return nil, nil, err
		}
		return &ev, nil, nil
	case outboxKindNotification:
		var m notify.Message
		if err := json.Unmarshal([]byte(e.Payload), &m); err != nil {
			return nil, nil, err
		}
		return nil, &m, nil
	}
	return nil, nil, fmt.Errorf("unknown outbox kind %q", e.Kind)
}

// hashKey is a short digest for cursors.
func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}
