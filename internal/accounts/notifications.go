package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
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
var sendableTo = map[notify.Kind][]kernel.Status{
	notify.KindInvitation:        {kernel.StatusInvited},
	notify.KindPasswordReset:     {kernel.StatusActive},
	notify.KindPasswordChanged:   {kernel.StatusActive},
	notify.KindInactivityWarning: {kernel.StatusActive},
	notify.KindAccountClosed:     {kernel.StatusClosed, kernel.StatusActive, kernel.StatusInvited},
	notify.KindAccountRestored:   {kernel.StatusActive, kernel.StatusInvited},
	notify.KindAccessChanged:     {kernel.StatusActive, kernel.StatusInvited},
	notify.KindInvitedElsewhere:  {kernel.StatusActive, kernel.StatusInvited},
	notify.KindSecondFactorReset: {kernel.StatusActive},
	notify.KindFactorAdded:       {kernel.StatusActive},
}

// NotificationSendTimeout bounds one send of a notification email (the
// consumer's part after its claim): a claim older than twice this belongs
// to a delivery whose process died, and another delivery may take it over.
const NotificationSendTimeout = 30 * time.Second

// claimLease is how long a "sending" claim holds: twice the longest a send
// may take, so a live send is never taken over and what a crash left
// mid-send goes out about a minute after the restart.
const claimLease = 2 * NotificationSendTimeout

// deliveryRetention is how long an account keeps a notification's
// delivery record (the queue's redeliveries come well within it; the
// default of DELIVERY_RETENTION for the claims of old); older records are
// dropped by the next claim in the account, a few at a time.
const (
	deliveryRetention = 30 * 24 * time.Hour
	maxDropsPerClaim  = 20
)

// linkPurpose is the link a notification kind carries.
var linkPurpose = map[notify.Kind]Purpose{
	notify.KindInvitation:    PurposeInvitation,
	notify.KindPasswordReset: PurposePasswordReset,
}

// queueLink adds to a change that queues n about u what its link needs:
// the link.issued event (P11: the link the email will carry is on the trail
// with the change that asked for it, ids only, the notification's id as
// its request id), and the notification's delivery record, which tells the
// consumer the event is recorded. A notification that is not u's own, or
// that no link will go with (an address held elsewhere), adds nothing.
func (s *Service) queueLink(ch *Change, u User, n notify.Message) {
	purpose, ok := linkPurpose[n.Kind]
	if !ok || n.UserID != u.ID || u.InvitedElsewhere {
		return
	}
	ch.Events = append(ch.Events, s.linkIssued(u, purpose, n.ID))
	ch.Deliveries = append(ch.Deliveries, Delivery{UserID: u.ID, MessageID: n.ID, State: DeliveryQueued, QueuedAt: n.CreatedAt})
}

func (s *Service) linkIssued(u User, purpose Purpose, requestID string) audit.Event {
	ev := s.event(audit.ActionLinkIssued, "", u, kernel.Meta{RequestID: requestID})
	ev.Reason = string(purpose)
	return ev
}

// PrepareNotification claims a notification's email and reads whom it
// goes to, in two storage calls: one read of the account's partition and
// one transaction in it that claims the notification and, for an
// invitation or a reset, stores the link's new token and removes the
// earlier ones. The claim is kept beside the account; the consumer marks it
// sent (or releases it) through the store.
//
// It returns ErrNotificationSent when the email went out before,
// ErrNotificationClaimed when another delivery is sending it (or the
// account's tokens changed in between: retry), and ErrNotFound, with
// nothing written, when the account is gone, being erased, or in a status
// the kind is not meant for: the email must not be sent.
func (s *Service) PrepareNotification(ctx context.Context, userID string, kind notify.Kind, notificationID string) (Prepared, error) {
	if !validID(userID) || !validID(notificationID) {
		return Prepared{}, kernel.ErrNotFound // nothing from such a message reaches storage
	}
	agg, err := s.store.Aggregate(ctx, userID)
	if errors.Is(err, ErrErased) {
		return Prepared{}, kernel.ErrNotFound
	}
	if err != nil {
		return Prepared{}, err
	}
	now := s.now().UTC()
	claim := Delivery{UserID: userID, MessageID: notificationID, State: DeliverySending, ClaimedAt: now}
	var drop []Delivery
	for _, d := range agg.Deliveries {
		if d.MessageID != notificationID {
			if len(drop) < maxDropsPerClaim && now.Sub(latest(d.QueuedAt, d.ClaimedAt, d.SentAt)) > deliveryRetention {
				drop = append(drop, d)
			}
			continue
		}
		switch {
		case d.State == DeliverySent:
			return Prepared{}, ErrNotificationSent
		case d.State == DeliverySending && now.Sub(d.ClaimedAt) < claimLease:
			return Prepared{}, ErrNotificationClaimed
		}
		// Queued, or a claim whose delivery died: taken over if it is
		// still as read.
		claim.QueuedAt, claim.ETag = d.QueuedAt, d.ETag
	}
	u := agg.User
	if !u.ErasingSince.IsZero() || !slices.Contains(sendableTo[kind], u.Status) || u.InvitedElsewhere {
		// An invitation held for an address that has its account elsewhere
		// is nobody's mailbox: the address belongs to that account, so the
		// record gets no link and no mail.
		return Prepared{}, kernel.ErrNotFound
	}
	p := Prepared{Recipient: Recipient{UserID: u.ID, Email: u.Email, FirstName: u.FirstName, Locale: u.Locale}}
	ch := Change{UserID: userID, Deliveries: []Delivery{claim}, DropDeliveries: drop}
	if purpose, ok := linkPurpose[kind]; ok {
		var tok Token
		p.Token, p.ValidFor, tok, err = s.newLink(u, purpose, now)
		if err != nil {
			return Prepared{}, err
		}
		ch.PutTokens, ch.DeleteTokens = []Token{tok}, tokensOf(agg, purpose)
		if claim.QueuedAt.IsZero() {
			// Not queued by a change that recorded its link: queued before
			// those did, or put on the queue by hand. The minting is
			// recorded here, as it was before (P11).
			ch.Events = []audit.Event{s.linkIssued(u, purpose, notificationID)}
		}
	}
	if err := s.apply(ctx, ch); err != nil {
		if errors.Is(err, kernel.ErrConflict) {
			return Prepared{}, fmt.Errorf("%w: %w", ErrNotificationClaimed, err)
		}
		return Prepared{}, err
	}
	return p, nil
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
