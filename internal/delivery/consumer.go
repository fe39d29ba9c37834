// Package delivery turns a queued notification into an email: it claims
// it and mints the one-time link the email needs (so no raw token is ever
// stored or queued),
// renders the email in the recipient's language, and hands it to the
// provider. The same consumer serves the in-process transport of standalone
// mode and, in Azure, the Service Bus trigger.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Recipients claims a notification's email and reads whom it goes to
// from the stored account, minting the link an invitation or reset email
// carries, at send time (accounts.Service). The queued message names the
// account only. The claim is kept beside the account, so claiming, minting
// and the account's read cost one read and one transaction. It returns
// ErrAlreadySent when the message was sent, ErrClaimed when another
// delivery is sending it right now (retry later), and kernel.ErrNotFound
// when there is nothing to send (nothing is claimed then).
type Recipients interface {
	PrepareNotification(ctx context.Context, userID string, kind notify.Kind, notificationID string) (accounts.Prepared, error)
}

// Claims records the outcome of a claimed message (internal/tablestore),
// in the account's partition: the queue delivers at least once, and a
// message found sent is not emailed again.
type Claims interface {
	// MarkSent records that the provider took the message.
	MarkSent(ctx context.Context, userID, messageID string, now time.Time) error
	// Release gives a claim back after a failed send, so a retry may send.
	Release(ctx context.Context, userID, messageID string) error
}

// Claim outcomes.
var (
	ErrAlreadySent = accounts.ErrNotificationSent
	ErrClaimed     = accounts.ErrNotificationClaimed
)

// Consumer sends notification emails.
type Consumer struct {
	claims   Claims
	failures Failures
	accounts Recipients
	builder  notify.LinkBuilder
	renderer *notify.Renderer
	sender   notify.Sender
	log      *slog.Logger
	now      func() time.Time
}

// NewConsumer returns a consumer over its dependencies.
func NewConsumer(claims Claims, failures Failures, accounts Recipients, builder notify.LinkBuilder, renderer *notify.Renderer, sender notify.Sender, log *slog.Logger, now func() time.Time) *Consumer {
	return &Consumer{claims: claims, failures: failures, accounts: accounts, builder: builder, renderer: renderer, sender: sender, log: log, now: now}
}

// SendTimeout bounds one send: rendering and the provider's call, after
// the claim. A claim older than twice this belongs to a process that died
// (see accounts.Service.PrepareNotification).
const SendTimeout = accounts.NotificationSendTimeout

// ErrSkipped means the message needs no email any more (the account was
// erased, or the invitation was accepted before its email went out).
var ErrSkipped = errors.New("notification no longer applies")

// Handle sends one notification, once. It returns nil once the provider
// took the email or when it was sent before (ErrAlreadySent is absorbed),
// ErrSkipped when there is nothing to send, an error wrapping
// notify.ErrPermanent when retrying cannot help (a malformed message, a
// rejected address; the claim is then left for the caller to close once
// the failure is recorded, see Receive), and any other error (ErrClaimed among them) when a
// retry may succeed.
//
// The claim is recorded before anything is sent. A process that dies after
// the provider took the email but before MarkSent leaves a claim that
// expires, after which a redelivery sends again: the one duplicate we
// accept rather than risk losing an email.
//
// Its storage calls: one read of the account, one transaction that claims
// the message (with the link's token), one write that marks it sent.
func (c *Consumer) Handle(ctx context.Context, m notify.Message) error {
	p, err := c.accounts.PrepareNotification(ctx, m.UserID, m.Kind, m.ID)
	switch {
	case errors.Is(err, ErrAlreadySent):
		return nil
	case errors.Is(err, kernel.ErrNotFound):
		// Gone, being erased, or no longer in a state this kind is for
		// (an invitation accepted before its email went out). Nothing was
		// claimed: nothing to close.
		c.log.Info("notification skipped", "message_id", m.ID, "kind", string(m.Kind), "user", m.UserID)
		return ErrSkipped
	case errors.Is(err, ErrClaimed):
		return err
	case err != nil:
		return fmt.Errorf("read recipient: %w", err)
	}
	sendCtx, cancel := context.WithTimeout(ctx, SendTimeout)
	err = c.send(sendCtx, m, p)
	cancel()
	if err != nil {
		if notify.IsPermanent(err) {
			// Left claimed: Receive records the failure first and closes the
			// claim only then, so a crash in between cannot let the message
			// go without its failure on record.
			return err
		}
		if rerr := c.claims.Release(context.WithoutCancel(ctx), m.UserID, m.ID); rerr != nil {
			c.log.Warn("could not release claim; it expires instead", "message_id", m.ID, "error", rerr.Error())
		}
		return err
	}
	if err := c.claims.MarkSent(ctx, m.UserID, m.ID, c.now()); err != nil {
		// Sent, but not recorded: a redelivery after the claim expires would
		// send again. Report it so the queue does not redeliver now.
		c.log.Error("sent but not recorded as sent", "message_id", m.ID, "error", err.Error())
	}
	c.log.Info("notification sent", "message_id", m.ID, "kind", string(m.Kind), "user", m.UserID)
	return nil
}

// closeClaim records that nothing more will be tried for a message.
func (c *Consumer) closeClaim(ctx context.Context, m notify.Message) {
	if err := c.claims.MarkSent(ctx, m.UserID, m.ID, c.now()); err != nil {
		c.log.Warn("could not close claim", "message_id", m.ID, "error", err.Error())
	}
}

func (c *Consumer) send(ctx context.Context, m notify.Message, p accounts.Prepared) error {
	content := notify.Content{Kind: m.Kind, Locale: p.Recipient.Locale, FirstName: p.Recipient.FirstName, Role: m.Role,
		DueAt: m.DueAt, Now: c.now(), ValidFor: p.ValidFor}
	switch m.Kind {
	case notify.KindInvitation:
		content.Link = c.builder.Invitation(p.Token)
	case notify.KindPasswordReset:
		content.Link = c.builder.PasswordReset(p.Token)
	case notify.KindInactivityWarning, notify.KindAccountRestored, notify.KindAccessChanged, notify.KindInvitedElsewhere:
		content.Link = c.builder.SignIn()
	}
	r, err := c.renderer.Render(content)
	if err != nil {
		return fmt.Errorf("%w: render: %v", notify.ErrPermanent, err)
	}
	return c.sender.Send(ctx, notify.Email{MessageID: m.ID, To: p.Recipient.Email, Subject: r.Subject, Text: r.Text, HTML: r.HTML})
}
