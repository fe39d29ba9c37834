package accounts

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Recipient is whom a notification email goes to. It is read from the
// stored account when the email is sent, never from the queued message:
// a message carries ids only, so whoever can put one on the queue cannot
// choose where an email (or a reset link) goes, and nothing personal sits
// on the queue or its dead-letter queue after an erasure (P7, P9).
type Recipient struct {
	UserID    string
	Email     string // as the person typed it
	FirstName string
	Locale    string
}

// Prepared is what sending one notification needs: the recipient and, for
// an invitation or a password reset, a freshly minted link token.
type Prepared struct {
	Recipient Recipient
	Token     string
	ValidFor  time.Duration
}

// sendableTo lists the account statuses each kind may be sent to. Nothing
// is sent to an erased account or one being erased, and a closed account
// gets only the notice of its closing. A link goes only to the status it
// serves. A notice of something that happened (closed, restored, access
// changed) still goes out when a later change overtook it before sending.
var sendableTo = map[notify.Kind][]Status{
	notify.KindInvitation:        {StatusInvited},
	notify.KindPasswordReset:     {StatusActive},
	notify.KindPasswordChanged:   {StatusActive},
	notify.KindInactivityWarning: {StatusActive},
	notify.KindAccountClosed:     {StatusClosed, StatusActive, StatusInvited},
	notify.KindAccountRestored:   {StatusActive, StatusInvited},
	notify.KindAccessChanged:     {StatusActive, StatusInvited},
	notify.KindInvitedElsewhere:  {StatusActive, StatusInvited},
}

// PrepareNotification reads the account a notification is for, with one
// storage read, and mints the link an invitation or reset email carries
// (recorded in the audit trail with the notification's id). It returns
// ErrNotFound when the account is gone, being erased, or in a status the
// kind is not meant for: the email must not be sent.
func (s *Service) PrepareNotification(ctx context.Context, userID string, kind notify.Kind, notificationID string) (Prepared, error) {
	agg, err := s.store.Aggregate(ctx, userID)
	if errors.Is(err, ErrErased) {
		return Prepared{}, ErrNotFound
	}
	if err != nil {
		return Prepared{}, err
	}
	u := agg.User
	if !u.ErasingSince.IsZero() || !slices.Contains(sendableTo[kind], u.Status) || u.InvitedElsewhere {
		// An invitation held for an address that has its account elsewhere
		// is nobody's mailbox: the address belongs to that account, so the
		// record gets no link and no mail.
		return Prepared{}, ErrNotFound
	}
	p := Prepared{Recipient: Recipient{UserID: u.ID, Email: u.Email, FirstName: u.FirstName, Locale: u.Locale}}
	switch kind {
	case notify.KindInvitation:
		p.Token, p.ValidFor, err = s.mintLink(ctx, agg, PurposeInvitation, notificationID)
	case notify.KindPasswordReset:
		p.Token, p.ValidFor, err = s.mintLink(ctx, agg, PurposePasswordReset, notificationID)
	}
	if err != nil {
		return Prepared{}, err
	}
	return p, nil
}
