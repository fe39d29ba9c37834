// Package notify holds the notification emails: what kinds exist, the
// message that travels on the queue, how an email is rendered in the
// recipient's language, and the port an email provider implements.
//
// A message carries ids and non-personal parameters only: the consumer
// reads the address, the name and the language from the stored account
// when it sends, so a message cannot redirect an email and nothing
// personal sits on the queue. Secrets never travel either: an invitation
// or reset link is minted when the email is sent (see Links), so no raw
// token sits in Table Storage or on the queue.
package notify

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"
	"unicode"
)

// Kind names one kind of notification email.
type Kind string

// The notification kinds.
const (
	KindInvitation        Kind = "invitation"
	KindPasswordReset     Kind = "password_reset"
	KindPasswordChanged   Kind = "password_changed"
	KindInactivityWarning Kind = "inactivity_warning"
	KindAccountClosed     Kind = "account_closed"
	KindAccountRestored   Kind = "account_restored"
	KindAccessChanged     Kind = "access_changed"
	// KindInvitedElsewhere tells a person who has an account that an
	// organisation they do not belong to tried to invite them (P1: one
	// account per person; an admin can move them).
	KindInvitedElsewhere Kind = "invited_elsewhere"
	// KindSecondFactorReset tells a person their second factors were
	// removed by an administrator: they add one at their next sign-in.
	KindSecondFactorReset Kind = "second_factor_reset"
	// KindFactorAdded tells a person a second factor was added to their
	// account: the alarm for one they did not add themselves.
	KindFactorAdded Kind = "factor_added"
)

// Kinds lists every kind, for tests and for validation.
var Kinds = []Kind{
	KindInvitation, KindPasswordReset, KindPasswordChanged, KindInactivityWarning,
	KindAccountClosed, KindAccountRestored, KindAccessChanged, KindInvitedElsewhere, KindSecondFactorReset,
	KindFactorAdded,
}

// Locales lists the languages every email exists in; the first is the default.
var Locales = []string{"fi", "sv", "en"}

// Message is one notification as recorded in the outbox and put on the
// queue. ID is stable across retries: it is the Service Bus MessageId and
// the consumer's idempotency key.
type Message struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	UserID    string    `json:"userId"`
	CreatedAt time.Time `json:"createdAt"`
	// Kind-specific, never personal:
	Role           string    `json:"role,omitempty"`           // access_changed: the new role
	OrganizationID string    `json:"organizationId,omitempty"` // access_changed: the new home organisation
	DueAt          time.Time `json:"dueAt,omitzero"`           // inactivity_warning: closing time; account_closed: erasure time
}

// Email is a rendered message ready for a provider.
type Email struct {
	MessageID string // the notification id, used as the provider's idempotency key where supported
	To        string
	Subject   string
	Text      string
	HTML      string
}

// Sender delivers one email. Implementations wrap failures that a retry
// cannot fix (a rejected address, an unverified sender) with ErrPermanent;
// every other error is treated as transient.
type Sender interface {
	Send(ctx context.Context, e Email) error
}

// ErrPermanent marks a delivery failure that retrying cannot fix.
var ErrPermanent = errors.New("permanent delivery failure")

// BreaksLine reports whether s holds a character that can end a line or
// start a new header: CR, LF and the other control characters, and the
// Unicode line and paragraph separators. Every value that may reach an
// email header is checked with it.
func BreaksLine(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}

// ParseAddress parses one email address (such as a sender's), refusing
// anything that could end a header line. Its error never quotes s.
func ParseAddress(s string) (*netmail.Address, error) {
	if BreaksLine(s) {
		return nil, errors.New("address contains a control character")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, errors.New("address is invalid")
	}
	return a, nil
}

// Check is what every provider checks before it sends e: no header
// injection through To or Subject, a recipient that is an address, a
// subject and a text body. It returns the parsed recipient, or an error
// wrapping ErrPermanent that never quotes the address.
func (e Email) Check() (*netmail.Address, error) {
	to, err := ParseAddress(e.To)
	if err != nil {
		return nil, fmt.Errorf("recipient %w: %w", err, ErrPermanent)
	}
	if BreaksLine(e.Subject) {
		return nil, fmt.Errorf("subject contains a control character: %w", ErrPermanent)
	}
	if strings.TrimSpace(e.Subject) == "" {
		return nil, fmt.Errorf("subject is empty: %w", ErrPermanent)
	}
	if strings.TrimSpace(e.Text) == "" {
		return nil, fmt.Errorf("text body is empty: %w", ErrPermanent)
	}
	return to, nil
}

// IsPermanent reports whether err is a permanent delivery failure.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
