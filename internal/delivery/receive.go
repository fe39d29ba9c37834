package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Delivery is one arrival of a queued notification, from Service Bus or
// the in-process transport.
type Delivery struct {
	MessageID     string // the queue's id for it; must match the body's id when both are present
	Body          []byte // the notification JSON
	DeliveryCount int    // 1 on the first arrival
	MaxDeliveries int    // the queue's limit; 0 when unknown
}

// Failure is a notification given up on: recorded, with a reason code
// and ids only, so ops can see and redrive it without reading anyone's
// address.
type Failure struct {
	MessageID     string
	Kind          notify.Kind
	UserID        string
	Reason        string
	DeliveryCount int
	At            time.Time
}

// Failures records notifications given up on (internal/tablestore).
type Failures interface {
	RecordFailure(ctx context.Context, f Failure) error
}

// Reasons a notification is given up on.
const (
	ReasonMalformed        = "malformed"
	ReasonPermanent        = "permanent_delivery_failure"
	ReasonRetriesExhausted = "retries_exhausted"
)

// Receive handles one delivery and says whether the queue should let it
// go. It returns nil when the message is done with: sent now or before,
// no longer applicable, or given up on for good (malformed, permanently
// rejected), in which case it is recorded as a failure. It returns an
// error when a retry may succeed; on the last allowed delivery the failure
// is recorded first, so a message the queue dead-letters is also on record.
func (c *Consumer) Receive(ctx context.Context, d Delivery) error {
	m, err := decodeMessage(d)
	if err != nil {
		c.log.Error("malformed notification", "message_id", d.MessageID, "delivery_count", d.DeliveryCount, "error", err.Error())
		return c.fail(ctx, Failure{MessageID: d.MessageID, Reason: ReasonMalformed, DeliveryCount: d.DeliveryCount})
	}
	err = c.Handle(ctx, m)
	switch {
	case err == nil, errors.Is(err, ErrSkipped):
		return nil
	case notify.IsPermanent(err):
		c.log.Error("notification failed permanently", "message_id", m.ID, "kind", string(m.Kind), "error", err.Error())
		if ferr := c.fail(ctx, Failure{MessageID: m.ID, Kind: m.Kind, UserID: m.UserID, Reason: ReasonPermanent, DeliveryCount: d.DeliveryCount}); ferr != nil {
			// Not on record: give the claim back so the redelivery tries
			// (and records) again rather than finding it "sent".
			if rerr := c.claims.Release(context.WithoutCancel(ctx), m.UserID, m.ID); rerr != nil {
				c.log.Warn("could not release claim; it expires instead", "message_id", m.ID, "error", rerr.Error())
			}
			return ferr
		}
		c.closeClaim(ctx, m) // on record: nothing more will be tried
		return nil
	}
	if d.MaxDeliveries > 0 && d.DeliveryCount >= d.MaxDeliveries {
		c.log.Error("notification failed on its last delivery", "message_id", m.ID, "kind", string(m.Kind), "error", err.Error())
		if ferr := c.fail(ctx, Failure{MessageID: m.ID, Kind: m.Kind, UserID: m.UserID, Reason: ReasonRetriesExhausted, DeliveryCount: d.DeliveryCount}); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	c.log.Warn("notification delivery will be retried", "message_id", m.ID, "kind", string(m.Kind), "delivery_count", d.DeliveryCount, "error", err.Error())
	return err
}

// ErrFailureNotRecorded means a notification was to be given up on but the
// failure could not be recorded: it must not be let go yet.
var ErrFailureNotRecorded = errors.New("failed notification not recorded")

func (c *Consumer) fail(ctx context.Context, f Failure) error {
	f.At = c.now().UTC()
	if f.MessageID == "" {
		f.MessageID = "unknown-" + f.At.Format("20060102T150405.000000000")
	}
	if err := c.failures.RecordFailure(ctx, f); err != nil {
		// Not recorded: let the queue try again rather than lose the trace.
		return fmt.Errorf("%w: %w", ErrFailureNotRecorded, err)
	}
	return nil
}

// queuedMessage is the body this code writes (notify.Message), plus the
// personal fields messages carried before they held ids only. Those are
// read so a message queued before the change is still delivered, and
// ignored: the recipient always comes from the stored account.
type queuedMessage struct {
	notify.Message
	LegacyTo        string `json:"to,omitempty"`
	LegacyLocale    string `json:"locale,omitempty"`
	LegacyFirstName string `json:"firstName,omitempty"`
}

// decodeMessage checks a delivery's body strictly: a message this code did
// not write is refused, never half-sent.
func decodeMessage(d Delivery) (notify.Message, error) {
	var q queuedMessage
	dec := json.NewDecoder(bytes.NewReader(d.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return notify.Message{}, fmt.Errorf("body is not a notification: %w", err)
	}
	// More would miss a stray "}" or "]": only the end of the body will do.
	if _, err := dec.Token(); err != io.EOF {
		return notify.Message{}, errors.New("body has trailing data")
	}
	m := q.Message
	switch {
	case m.ID == "" || !accounts.ValidID(m.ID):
		return notify.Message{}, errors.New("missing or invalid id")
	case d.MessageID != "" && d.MessageID != m.ID:
		return notify.Message{}, errors.New("message id and body id differ")
	case !slices.Contains(notify.Kinds, m.Kind):
		return notify.Message{}, errors.New("unknown kind")
	case !accounts.ValidID(m.UserID):
		return notify.Message{}, errors.New("missing or invalid user id")
	}
	return m, nil
}
