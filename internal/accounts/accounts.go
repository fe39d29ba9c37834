// Package accounts holds people's accounts and how they sign in: the
// account states (invited → active → closed), roles, sessions, single-use
// link tokens, lockout, and the rules that protect them. It knows nothing of
// Azure: storage is the Store port, implemented by internal/tablestore.
//
// What is kept about a person is exactly what P9 allows: first and last
// name, email, home organisation, plus what authentication needs (password
// hash, role, status, timestamps, failed sign-in counter, and the second
// factor: each factor's type, name and times with its sealed secret, and
// the keyed hashes of unused recovery codes). No IP address, no user agent.
package accounts

import (
	"errors"
	"fmt"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// User is one person's account.
type User struct {
	ID             string
	Email          string // as typed (Email.Display); the username, unique in its canonical form (P1, CanonicalEmail)
	FirstName      string
	LastName       string
	OrganizationID string
	Role           kernel.Role
	Status         kernel.Status
	Locale         string

	CreatedAt    time.Time
	ActivatedAt  time.Time
	LastActiveAt time.Time
	ClosedAt     time.Time
	ClosedReason string

	PasswordHash            string
	PrivacyNoticeVersion    string
	PrivacyNoticeAcceptedAt time.Time
	// The lockout (see lockout.go). FailedSignIns counts the failures since
	// the last success or reset and never decays: at hardLockFailures the
	// account stays locked until a password reset (LockedForReset).
	// FailureTimes are the failures inside the window that count towards
	// the next temporary lock, oldest first; Lockouts is how many temporary
	// locks there were since the last success or reset (each one longer).
	FailedSignIns  int
	FailureTimes   []time.Time
	Lockouts       int
	LockedUntil    time.Time
	LockedForReset bool

	// InvitedAt is when the latest invitation was made (its link expires
	// InvitationTTL later).
	InvitedAt time.Time
	// The inactivity warnings sent for the current period of inactivity:
	// WarnedFor is the nominal closing time they announce, WarnedDays the
	// most urgent one sent (30, 7), WarnedAt when it went out.
	WarnedFor  time.Time
	WarnedDays int
	WarnedAt   time.Time
	// ErasingSince is set when an erasure has begun (P7); such an account
	// is gone for every purpose and the sweep finishes the job.
	ErasingSince time.Time

	// InvitedElsewhere marks an invitation made by someone who may not see
	// that its address already has an account (in another organisation).
	// It is a real invitation record in the inviter's organisation and
	// behaves like any other until it expires, so the inviter cannot tell
	// the two cases apart (P10); but it holds no claim on the address (the
	// account does), gets no link and can never be accepted (P1). The
	// person is told by email instead, and an admin can move them.
	InvitedElsewhere bool
	// NeverAdmin says the account has never held the admin role, so it
	// cannot be on the admin registry and settling it reads no registry.
	// False when unknown (accounts from before it was kept).
	NeverAdmin bool

	// ETag is the stored version, for conditional writes; Version counts
	// the account's writes so derived copies (the directory) never go back
	// to an older state.
	ETag    string
	Version int64
}

// ClaimAddress is what an account's email claim is keyed on: the
// canonical address, or, for an invitation held for an address that has
// its account elsewhere, that address within the inviting organisation,
// so one organisation holds at most one such invitation per address.
func ClaimAddress(u User) string {
	email := u.Email
	if canonical, ok := CanonicalEmail(u.Email); ok {
		email = canonical
	}
	if u.InvitedElsewhere {
		return "invited-elsewhere:" + u.OrganizationID + ":" + email
	}
	return email
}

// Session is one signed-in device. Only the hash of its secret is stored.
type Session struct {
	UserID string
	Hash   string
	// ID names the session to its owner (to list and end it). It is drawn
	// from the id source, independent of the secret, so neither the token
	// nor its hash can be derived from it. Sessions made before ids existed
	// have none until ListSessions gives them one.
	ID         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end
	// Access is the account's access as it was when the session was made:
	// what authorization needs, and nothing else. Every change to one of
	// its fields ends the account's sessions in the same transaction (see
	// User.Actor), so while the session lives it is the account's access now.
	// Nil on sessions made before sessions carried it: they authenticate
	// by reading the account, and get it at their next touch.
	Access *kernel.Actor
	// ActivityAt is the account's last activity as this session last read
	// or wrote it; the session reads the account again (and records its
	// activity) once an ActivityInterval has passed since.
	ActivityAt time.Time
	// EnrolOnly marks a session made by a password alone for a person whose
	// role requires a second factor they do not have yet: it may only list
	// and add factors (and sign out), and lives EnrolOnlyLifetime.
	EnrolOnly bool
	// VerifiedAt is when the session's holder last proved the password (and
	// the second factor, when the account has one): at sign-in, or by
	// reauthenticating. Changes to the factors need it recent.
	VerifiedAt time.Time
	ETag       string
}

// Purpose is what a link token is for; a token works only for its purpose.
type Purpose string

// The link-token purposes.
const (
	PurposeInvitation    Purpose = "invitation"
	PurposePasswordReset Purpose = "reset"
)

// Token is a single-use link token (invitation or password reset). Only
// the hash of its secret is stored.
type Token struct {
	UserID    string
	Purpose   Purpose
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ResetLimit counts an account's password-reset requests in the current
// hour. It is kept beside the account, not on it, so asking for a reset
// changes nothing about the account itself.
type ResetLimit struct {
	UserID      string
	WindowStart time.Time
	Count       int
	ETag        string // empty until first stored
}

// Aggregate is one account with everything stored beside it: its sessions,
// its outstanding link tokens, its reset counter, its second factors and
// recovery codes, its pending sign-in challenges and the delivery records
// of its notifications. It is read in one storage call.
type Aggregate struct {
	User          User
	Sessions      []Session
	Tokens        []Token
	Factors       []Factor
	RecoveryCodes []RecoveryCode
	Challenges    []Challenge
	ResetLimit    ResetLimit
	// FiledFor is the UTC day (midnight) the account is filed under in the
	// lifecycle index, as its partition records it; zero when not filed.
	FiledFor   time.Time
	Deliveries []Delivery
}

// Delivery records one notification email about an account, beside the
// account, so the email's claim, its link token and the account's read
// share one partition (and the claim one transaction with the token). It
// holds the notification's id and times only: nothing personal.
type Delivery struct {
	UserID    string
	MessageID string
	State     DeliveryState
	QueuedAt  time.Time // when the change that queued it recorded its link (DeliveryQueued)
	ClaimedAt time.Time
	SentAt    time.Time
	ETag      string // empty until stored
}

// DeliveryState is where a notification's email stands.
type DeliveryState string

// Delivery states.
const (
	// DeliveryQueued: nobody is sending it: the change that queued a
	// link-bearing notification recorded its link.issued event (QueuedAt
	// set), or a failed send gave its claim back.
	DeliveryQueued DeliveryState = "queued"
	// DeliverySending: claimed by a delivery that is sending it now (or
	// died doing so: the claim then expires, see PrepareNotification).
	DeliverySending DeliveryState = "sending"
	// DeliverySent: the provider took it, or nothing more will be tried.
	DeliverySent DeliveryState = "sent"
)

// Change is one atomic change to one account: the account record, its
// sessions and tokens, plus the audit events and notifications the change
// causes. The store commits all of it or none of it, so there is never a
// change without its audit event, or an email for a change that did not
// happen.
type Change struct {
	UserID         string
	User           *User // replaced if its ETag still matches
	PutSessions    []Session
	UpdateSessions []Session // replaced if their ETag still matches
	DeleteSessions []Session
	PutTokens      []Token
	DeleteTokens   []Token
	// The second factor (factors.go): factors inserted, replaced if their
	// ETag still matches, deleted; recovery codes inserted and deleted;
	// sign-in challenges inserted, replaced on their ETag, deleted.
	PutFactors          []Factor
	UpdateFactors       []Factor
	DeleteFactors       []Factor
	PutRecoveryCodes    []RecoveryCode
	DeleteRecoveryCodes []RecoveryCode
	PutChallenges       []Challenge
	UpdateChallenges    []Challenge
	DeleteChallenges    []Challenge
	ResetLimit          *ResetLimit // inserted, or replaced if its ETag still matches
	Deliveries          []Delivery  // each inserted, or replaced if its ETag still matches
	DropDeliveries      []Delivery  // records past their retention
	Events              []audit.Event
	Notifications       []notify.Message
	// FirstDue, for CreateUser, is the new account's first lifecycle step:
	// the store files it once the change is delivered.
	FirstDue time.Time
}

// Errors only the account rules return; the shared ones (not found,
// conflict, forbidden, …) are kernel's. The HTTP edge maps each to one status.
var (
	ErrEmailTaken         = errors.New("email taken")
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrInvalidToken       = errors.New("invalid or expired token")
	ErrUnauthenticated    = errors.New("not signed in")
	ErrWrongPassword      = errors.New("current password is wrong")
	ErrAdminExists        = errors.New("an active admin already exists")
	ErrLastAdmin          = errors.New("the last active admin cannot be closed or demoted")
	ErrRestoreWindow      = errors.New("the restore window has passed")
	ErrNotClosed          = errors.New("the account is not closed")
	ErrNotInvited         = errors.New("the account is not waiting for an invitation")
	ErrClosed             = errors.New("the account is closed")
	// ErrEnrolmentRequired: the session is enrol-only (a second factor
	// must be added first). ErrReauthenticationRequired: the change needs
	// the password (and factor) proven within ReauthenticationWindow.
	// ErrLastFactor: the role requires a factor and this is the last one.
	// ErrNoSecondFactor: recovery codes without a factor to recover.
	ErrEnrolmentRequired        = errors.New("second factor enrolment required")
	ErrReauthenticationRequired = errors.New("reauthentication required")
	ErrLastFactor               = errors.New("the last second factor cannot be removed while the role requires one")
	ErrNoSecondFactor           = errors.New("no second factor")
	// ErrNotificationSent and ErrNotificationClaimed are the outcomes of
	// claiming a notification's email (PrepareNotification): sent before,
	// and being sent by another delivery right now (retry later).
	ErrNotificationSent    = errors.New("notification already sent")
	ErrNotificationClaimed = errors.New("notification being sent by another delivery")
	// ErrErased is an account that existed and was erased (P7); it is a
	// kernel.ErrNotFound everywhere except where the difference matters to
	// the answer (restore: the window has passed).
	ErrErased = fmt.Errorf("%w: erased", kernel.ErrNotFound)
)
