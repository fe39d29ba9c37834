// Package delivery turns a queued notification into an email: it mints the
// one-time link the email needs (so no raw token is ever stored or queued),
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
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Recipients reads whom a notification goes to from the stored account,
// and mints the link an invitation or reset email carries, at send time
// (accounts.Service). The queued message names the account only.
type Recipients interface {
	PrepareNotification(ctx context.Context, userID string, kind notify.Kind, notificationID string) (accounts.Prepared, error)
}

// Claims records which messages were sent, so a message delivered twice
// (the queue delivers at least once) is emailed once (internal/tablestore).
type Claims interface {
	// Claim takes a message for sending. It returns ErrAlreadySent when the
	// message was sent, and ErrClaimed when another delivery is sending it
	// right now (retry later).
	Claim(ctx context.Context, messageID string, now time.Time) error
	// MarkSent records that the provider took the message.
	MarkSent(ctx context.Context, messageID string, now time.Time) error
	// Release gives a claim back after a failed send, so a retry may send.
	Release(ctx context.Context, messageID string) error
}

// Claim outcomes.
var (
	ErrAlreadySent = errors.New("notification already sent")
	ErrClaimed     = errors.New("notification being sent by another delivery")
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

// SendTimeout bounds one send: minting the link, rendering, and the
// provider's call. A claim older than twice this belongs to a process that
// died (see the Claims implementation).
const SendTimeout = 30 * time.Second

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
// expires (see the Claims implementation), after which a redelivery sends
// again: the one duplicate we accept rather than risk losing an email.
func (c *Consumer) Handle(ctx context.Context, m notify.Message) error {
	err := c.claims.Claim(ctx, m.ID, c.now())
	if errors.Is(err, ErrAlreadySent) {
		return nil
	}
	if err != nil {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, SendTimeout)
	err = c.send(sendCtx, m)
	cancel()
	if err != nil {
		if errors.Is(err, ErrSkipped) {
			// Nothing more will be tried for this message: close the claim.
			c.closeClaim(ctx, m.ID)
			return err
		}
		if notify.IsPermanent(err) {
			// Left claimed: Receive records the failure first and closes the
			// claim only then, so a crash in between cannot let the message
			// go without its failure on record.
			return err
		}
		if rerr := c.claims.Release(context.WithoutCancel(ctx), m.ID); rerr != nil {
			c.log.Warn("could not release claim; it expires instead", "message_id", m.ID, "error", rerr.Error())
		}
		return err
	}
	if err := c.claims.MarkSent(ctx, m.ID, c.now()); err != nil {
		// Sent, but not recorded: a redelivery after the claim expires would
		// send again. Report it so the queue does not redeliver now.
		c.log.Error("sent but not recorded as sent", "message_id", m.ID, "error", err.Error())
	}
	c.log.Info("notification sent", "message_id", m.ID, "kind", string(m.Kind), "user", m.UserID)
	return nil
}

// closeClaim records that nothing more will be tried for a message.
func (c *Consumer) closeClaim(ctx context.Context, id string) {
	if err := c.claims.MarkSent(ctx, id, c.now()); err != nil {
		c.log.Warn("could not close claim", "message_id", id, "error", err.Error())
	}
}

func (c *Consumer) send(ctx context.Context, m notify.Message) error {
	p, err := c.accounts.PrepareNotification(ctx, m.UserID, m.Kind, m.ID)
	if errors.Is(err, accounts.ErrNotFound) {
		// Gone, being erased, or no longer in a state this kind is for
		// (an invitation accepted before its email went out).
		c.log.Info("notification skipped", "message_id", m.ID, "kind", string(m.Kind), "user", m.UserID)
		return ErrSkipped
	}
	if err != nil {
		return fmt.Errorf("read recipient: %w", err)
	}
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
