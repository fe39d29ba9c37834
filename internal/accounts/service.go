package accounts

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// Store keeps accounts. Implementations return kernel.ErrNotFound,
// ErrEmailTaken and kernel.ErrConflict as documented,
// kernel.ErrUnavailable (wrapped) when storage is briefly out of reach, and
// other errors as they are. The unqualified ErrNotFound, ErrConflict and
// ErrInvalidCursor below are the kernel's.
type Store interface {
	// CreateUser stores a new account and claims its email under its
	// canonical form (CanonicalEmail of User.Email), together with the
	// change's events and notifications. ErrEmailTaken when the email
	// belongs to another account.
	CreateUser(ctx context.Context, u User, ch Change) error
	// Aggregate reads an account with its sessions and tokens in one call.
	// ErrNotFound when there is no such account.
	Aggregate(ctx context.Context, userID string) (Aggregate, error)
	// UserIDByEmail finds the account that owns a claim: a canonical email,
	// or a pre-folding form (EmailLookupKeys).
	// ErrNotFound when none does.
	UserIDByEmail(ctx context.Context, email string) (string, error)
	// UserWithSession reads an account and one of its sessions, each by
	// its key, at once. ErrNotFound when either is missing.
	UserWithSession(ctx context.Context, userID, sessionHash string) (User, Session, error)
	// Session reads one session of an account by its key, with one point
	// read. ErrNotFound when it is missing.
	Session(ctx context.Context, userID, sessionHash string) (Session, error)
	// User reads an account by its key, without what is stored beside it.
	// ErrNotFound when there is no such account.
	User(ctx context.Context, userID string) (User, error)
	// RecordActivity replaces a session (when sess is not nil) and an
	// account (when u is not nil), each if its ETag still matches
	// (ErrConflict otherwise), and sets on each one written its new ETag
	// and, on the account, its new Version. Nothing else is in the write:
	// it is for the activity a request records.
	RecordActivity(ctx context.Context, sess *Session, u *User) error
	// Apply commits a change atomically. ErrConflict when the account or a
	// session changed since it was read.
	Apply(ctx context.Context, ch Change) error
	// AddUnattributed leaves an event that belongs to no account (its
	// Shard set) in that shard's outbox, in one write, for the relay.
	AddUnattributed(ctx context.Context, e audit.Event) error
	// PutPasskeyCeremony keeps a passkey sign-in's ceremony (named by
	// its hash, in a shard of such rows), and removes a bounded number of
	// expired ones of the same shard as of now.
	PutPasskeyCeremony(ctx context.Context, c PasskeyCeremony, now time.Time) error
	// TakePasskeyCeremony reads a passkey sign-in's ceremony and deletes
	// it on the ETag read, so it is used once. ErrNotFound when there is
	// none or another request took it first.
	TakePasskeyCeremony(ctx context.Context, hash string) (PasskeyCeremony, error)

	// ListMembers reads the directory: accounts by organisation.
	ListMembers(ctx context.Context, q DirectoryQuery) (DirectoryPage, error)
	// SyncDirectory brings an account's directory entry in line with it.
	SyncDirectory(ctx context.Context, userID string) error
	// SyncDirectoryOf is SyncDirectory returning the account as it read
	// it; ErrNotFound when the account is gone.
	SyncDirectoryOf(ctx context.Context, userID string) (User, error)
	// AfterDelivery hands f to the relay's delivery of the change just
	// committed for the account, to run once its items went out (and the
	// catch-up settles in full if it fails); false when no delivery will
	// run it.
	AfterDelivery(userID string, f func(context.Context) error) bool
	// SyncDirectoryFor is SyncDirectory for the account version the caller
	// has just committed (u with its new version): no read of the account.
	SyncDirectoryFor(ctx context.Context, u User) error
	// ActiveAdmins reads the admin registry and its ETag ("" when empty).
	ActiveAdmins(ctx context.Context) ([]string, string, error)
	// SetActiveAdmins replaces the registry if its ETag still matches
	// (ErrConflict otherwise).
	SetActiveAdmins(ctx context.Context, ids []string, etag string) error
	// OrganizationExists reports whether an organisation exists.
	OrganizationExists(ctx context.Context, id string) (bool, error)
	// Events lists audit events, newest first. ErrInvalidCursor.
	Events(ctx context.Context, q audit.Query) (audit.Page, error)
	// SyncLifecycle files an account under the day its next lifecycle step
	// is due (zero: none), replacing its earlier entry.
	SyncLifecycle(ctx context.Context, userID string, due time.Time) error
	// FileNoLaterThan files an account under due's day only if it is not
	// filed on that day or earlier: an entry is a hint that is never later
	// than the step it leads to, and the sweep moves one it finds early
	// (SyncLifecycle). A change that puts the step later writes nothing.
	FileNoLaterThan(ctx context.Context, userID string, due time.Time) error
	// EraseAccount removes every row held about an account: its partition,
	// its email claims under every EmailLookupKeys form of email (those
	// still its own), its directory and lifecycle entries. Safe to repeat.
	EraseAccount(ctx context.Context, userID, email string) error
}

// Hasher hashes and verifies passwords (implemented by passwords.Hasher).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, password string)
}

// PasswordPolicy checks a new password (implemented by passwords.Policy).
type PasswordPolicy interface {
	Check(password string, contextWords ...string) error
}

// Relay delivers what changes leave behind: audit events to the audit
// trail and notifications to the queue; an event that cannot wait for that
// is appended at once (AppendNow).
type Relay interface {
	// Changed says an account's change left events or notifications in its
	// outbox, so the relay can deliver them right away.
	Changed(o relay.Owner)
	// Settling is Changed for a change whose request settles the account
	// right after; the request calls the returned func once its settle went
	// through, so the delivery need not settle again.
	Settling(o relay.Owner) (settled func())
	// AppendNow appends an event to the audit trail synchronously, past
	// the outbox, logging and returning a failure: for an event that must
	// be in the trail before the caller goes on (an erasure), never for one
	// on the sign-in path.
	AppendNow(ctx context.Context, e audit.Event) error
}

// Options are the service's tunable periods and limits.
type Options struct {
	SessionIdleTimeout     time.Duration
	SessionAbsoluteTimeout time.Duration
	InvitationTTL          time.Duration
	PasswordResetTTL       time.Duration
	// The lockout (lockout.go): LockoutThreshold failures inside
	// LockoutWindow lock the account for LockoutDuration, each further lock
	// twice as long up to LockoutMaxDuration. A zero window never forgets
	// a failure; a zero maximum keeps every lock at LockoutDuration.
	LockoutThreshold     int
	LockoutWindow        time.Duration
	LockoutDuration      time.Duration
	LockoutMaxDuration   time.Duration
	ActivityInterval     time.Duration
	PrivacyNoticeVersion string
	// RestoreWindow is how long a closed account can be restored; its data
	// is erased when it ends (P7, P8).
	RestoreWindow time.Duration
	// InactivityMonths closes an account that many calendar months after
	// its last activity (P6); WarningDays are the warnings before it.
	InactivityMonths int
	WarningDays      []int
	// SafetyMargin delays closing and erasing past their time so clock
	// skew can never make them early.
	SafetyMargin time.Duration
	// SecondFactorRoles are the roles that must sign in with a second
	// factor (factors.go); MFAKeys seal TOTP secrets and key recovery codes.
	SecondFactorRoles []kernel.Role
	MFAKeys           MFAKeys
	// Passkeys runs the passkey ceremonies (passkeys.go); without it no
	// passkey can be added.
	Passkeys RelyingParty
}

// MaxSessions caps one person's concurrent sessions; signing in on one more
// device ends the oldest. It keeps an account's change within one storage
// transaction.
const MaxSessions = 20

// resetRequestsPerHour caps reset emails per account so nobody can flood
// an inbox through the always-202 reset endpoint.
const resetRequestsPerHour = 5

// sessionTouchInterval is how stale a session's LastSeenAt may get before a
// request writes it again: one write a minute at most per session, at the
// price of an idle timeout up to a minute early.
const sessionTouchInterval = time.Minute

// Service runs the account rules.
type Service struct {
	store  Store
	hasher Hasher
	policy PasswordPolicy
	relay  Relay
	now    func() time.Time
	newID  func() string
	opts   Options
}

// NewService returns a Service over its dependencies.
func NewService(store Store, hasher Hasher, policy PasswordPolicy, relay Relay, now func() time.Time, newID func() string, opts Options) *Service {
	return &Service{store: store, hasher: hasher, policy: policy, relay: relay, now: now, newID: newID, opts: opts}
}

// SignIn is a new session handed to a person.
//
// When a second step must follow the password, SecondFactor is set and
// nothing else: no session yet. EnrolOnly marks a session that may only
// add a second factor.
type SignIn struct {
	Token        string
	ExpiresAt    time.Time
	User         User
	EnrolOnly    bool
	SecondFactor *SecondFactorChallenge
}

// Actor is the account's access, as a session snapshots it. Authentication
// takes it from the session's snapshot (Session.Access) without reading the
// account. That is sound because every change to one of its fields ends all
// the account's sessions in the same transaction: a role change or a move
// (UpdateUser), closing (close, by anyone or the lifecycle sweep), the start
// of an erasure; restoring acts on a closed account, which has no sessions;
// and a session is only made in a transaction that writes the account on
// the ETag its snapshot was taken from (sign-in, invitation accept).
func (u User) Actor() kernel.Actor {
	return kernel.Actor{ID: u.ID, OrganizationID: u.OrganizationID, Role: u.Role, Status: u.Status}
}

// subjectOf is the caller as the subject of an audit event about their own
// session: the event keeps ids only.
func subjectOf(a kernel.Actor) User {
	return User{ID: a.ID, OrganizationID: a.OrganizationID}
}

// Principal is the signed-in caller of a request.
type Principal struct {
	// Actor is the caller's access: a snapshot the session carries, or the
	// account as read. Authorization decisions use it.
	Actor       kernel.Actor
	SessionHash string
	// VerifiedAt is when the session last proved the password (and factor).
	VerifiedAt time.Time
	// account is the caller's account as authentication read it, or as its
	// own activity write left it: its data and its ETag are one stored
	// version, so Me can answer with it without reading again. Nil when
	// authentication read the session alone.
	account *User
}

func (s *Service) event(action audit.Action, actorID string, subject User, m kernel.Meta) audit.Event {
	return audit.Event{
		ID:             s.newID(),
		At:             s.now().UTC(),
		Action:         action,
		ActorID:        actorID,
		SubjectID:      subject.ID,
		OrganizationID: subject.OrganizationID,
		RequestID:      m.RequestID,
	}
}

// notification is a message about u: ids only. The consumer reads the
// address, name and language from the stored account when it sends.
func (s *Service) notification(kind notify.Kind, u User) notify.Message {
	return notify.Message{
		ID:        s.newID(),
		Kind:      kind,
		UserID:    u.ID,
		CreatedAt: s.now().UTC(),
	}
}

// apply commits a change and wakes the relay for what it must deliver.
func (s *Service) apply(ctx context.Context, ch Change) error {
	if err := s.store.Apply(ctx, ch); err != nil {
		return err
	}
	if len(ch.Events) > 0 || len(ch.Notifications) > 0 {
		s.relay.Changed(relay.Account(ch.UserID))
	}
	return nil
}

// applyWithoutUpkeep commits a change that leaves what is derived from
// the account as it was (its directory entry, lifecycle day and place in
// the admin registry): a sign-in without new activity, a failed sign-in.
// The relay delivers its outbox and settles nothing: that would be a
// dozen storage calls to rewrite nothing.
func (s *Service) applyWithoutUpkeep(ctx context.Context, ch Change) error {
	if err := s.store.Apply(ctx, ch); err != nil {
		return err
	}
	if len(ch.Events) > 0 || len(ch.Notifications) > 0 {
		s.relay.Settling(relay.Account(ch.UserID))() // nothing to settle: settled as it stands
	}
	return nil
}

// applySettled commits a change whose derived state (directory entry,
// lifecycle index, admin registry) the caller needs at once, wakes the
// relay for its outbox, and settles it on the request path from what the
// request knows (before, the account as read, and the change), telling
// the relay when that went through: its delivery then skips its own
// settle, so the upkeep runs once per change. A failed settle is the
// relay's to repeat, as for any change.
func (s *Service) applySettled(ctx context.Context, before Aggregate, ch Change) error {
	if err := s.store.Apply(ctx, ch); err != nil {
		return err
	}
	done := func() {}
	if len(ch.Events) > 0 || len(ch.Notifications) > 0 {
		done = s.relay.Settling(relay.Account(ch.UserID))
	}
	if s.settleCommitted(ctx, before, ch) == nil {
		done()
	}
	return nil
}

// applyThenSettle commits a change whose derived state may wait for the
// relay (no read-your-writes need), and has the relay's delivery settle
// it from what the request knows, with none of Settle's reads; when the
// delivery cannot take that, the relay settles as for any change.
func (s *Service) applyThenSettle(ctx context.Context, before Aggregate, ch Change) error {
	if err := s.store.Apply(ctx, ch); err != nil {
		return err
	}
	o := relay.Account(ch.UserID)
	switch {
	case s.store.AfterDelivery(ch.UserID, func(ctx context.Context) error { return s.settleCommitted(ctx, before, ch) }):
		s.relay.Settling(o)() // the delivery settles
	case len(ch.Events) > 0 || len(ch.Notifications) > 0:
		s.relay.Changed(o) // the relay settles as for any change
	default:
		_ = s.settleCommitted(ctx, before, ch) // no delivery: now, best effort
	}
	return nil
}

// newSession makes a session for u, the account as the change writes it
// (on the ETag it was read with, so the session's snapshot of its access
// is the stored one when the change commits), ending expired sessions
// and, past MaxSessions, the oldest ones, in the same change.
func (s *Service) newSession(agg Aggregate, u User, ch *Change) (string, Session, error) {
	return s.newSessionOf(agg, u, ch, false)
}

// newSessionOf is newSession, enrol-only (EnrolOnlyLifetime, nothing but
// adding a second factor) when enrolOnly.
func (s *Service) newSessionOf(agg Aggregate, u User, ch *Change, enrolOnly bool) (string, Session, error) {
	now := s.now().UTC()
	token, hash, err := newToken(u.ID)
	if err != nil {
		return "", Session{}, err
	}
	access := u.Actor()
	lifetime := s.opts.SessionAbsoluteTimeout
	if enrolOnly {
		lifetime = min(lifetime, EnrolOnlyLifetime)
	}
	sess := Session{UserID: u.ID, Hash: hash, ID: s.newID(), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(lifetime),
		Access: &access, ActivityAt: u.LastActiveAt, EnrolOnly: enrolOnly, VerifiedAt: now}
	live := make([]Session, 0, len(agg.Sessions))
	for _, old := range agg.Sessions {
		if s.sessionExpired(old, now) {
			ch.DeleteSessions = append(ch.DeleteSessions, old)
		} else {
			live = append(live, old)
		}
	}
	for len(live) >= MaxSessions {
		oldest := 0
		for i, x := range live {
			if x.CreatedAt.Before(live[oldest].CreatedAt) {
				oldest = i
			}
		}
		ch.DeleteSessions = append(ch.DeleteSessions, live[oldest])
		live = append(live[:oldest], live[oldest+1:]...)
	}
	ch.PutSessions = append(ch.PutSessions, sess)
	return token, sess, nil
}

func (s *Service) sessionExpired(sess Session, now time.Time) bool {
	return !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.opts.SessionIdleTimeout))
}

// checkPassword applies the password policy and turns a rejection into a
// field error with the reason, as NIST SP 800-63B asks.
func (s *Service) checkPassword(field, password string, u User) error {
	err := s.policy.Check(password, contextWords(u)...)
	if err == nil {
		return nil
	}
	var rej *passwords.Rejection
	if errors.As(err, &rej) {
		v := &kernel.ValidationError{}
		v.Add(field, "password_"+string(rej.Reason), rej.Error())
		return v
	}
	return err
}

// retryConflicts runs a read-modify-write up to five times when someone
// else changed the account in between; the caller's function re-reads.
func retryConflicts(f func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = f(); !errors.Is(err, kernel.ErrConflict) {
			return err
		}
		// Requests that collided on one account (the same person signing
		// in on several devices at once) would collide again in lockstep:
		// a short random pause spreads them out.
		time.Sleep(time.Duration(1+rand.IntN(10*(attempt+1))) * time.Millisecond)
	}
	return err
}
