package tablestore

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// A notification's claim is a row in its account's partition,
// "delivery|<notification id>", so the consumer claims the email and
// stores the link token it carries in one transaction, after one read of
// the partition (accounts.Service.PrepareNotification decides: sent,
// being sent, or free to take). Erasing the account takes its claims with
// it. Notification ids are checked (accounts.ValidID: lowercase letters,
// digits and dashes) before they become part of a row key, so no id can
// name a row of another kind.

// claimEntity records one notification's delivery. It holds the message
// id and times only: nothing personal.
type claimEntity struct {
	PartitionKey string
	RowKey       string
	State        string
	QueuedAt     string `json:",omitempty"`
	ClaimedAt    string `json:",omitempty"`
	SentAt       string `json:",omitempty"`
}

func toClaimEntity(d accounts.Delivery) claimEntity {
	return claimEntity{PartitionKey: d.UserID, RowKey: rkDeliveryPrefix + d.MessageID, State: string(d.State),
		QueuedAt: formatTime(d.QueuedAt), ClaimedAt: formatTime(d.ClaimedAt), SentAt: formatTime(d.SentAt)}
}

func (e claimEntity) delivery(etag string) accounts.Delivery {
	id := e.RowKey[len(rkDeliveryPrefix):]
	return accounts.Delivery{UserID: e.PartitionKey, MessageID: id, State: accounts.DeliveryState(e.State),
		QueuedAt: parseTime(e.QueuedAt), ClaimedAt: parseTime(e.ClaimedAt), SentAt: parseTime(e.SentAt), ETag: etag}
}

var errClaimKey = errors.New("tablestore: invalid account or notification id for a delivery claim")

// deliveryActions are a change's claim rows: inserted, or replaced if
// their ETag still matches, and the records it drops.
func deliveryActions(userID string, ch accounts.Change) ([]aztables.TransactionAction, error) {
	var actions []aztables.TransactionAction
	for _, d := range ch.Deliveries {
		if d.UserID != userID || !accounts.ValidID(d.MessageID) {
			return nil, errClaimKey
		}
		if d.ETag == "" {
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(toClaimEntity(d))})
		} else {
			actions = append(actions, replace(toClaimEntity(d), d.ETag))
		}
	}
	for _, d := range ch.DropDeliveries {
		if d.UserID != userID || !accounts.ValidID(d.MessageID) {
			return nil, errClaimKey
		}
		actions = append(actions, remove(userID, rkDeliveryPrefix+d.MessageID))
	}
	return actions, nil
}

// MarkSent implements delivery.Claims: the claim becomes "sent", in one
// write. It only replaces a claim that exists, so an account erased in
// the meantime is not given a row again.
func (s *Store) MarkSent(ctx context.Context, userID, messageID string, now time.Time) error {
	if !accounts.ValidID(userID) || !accounts.ValidID(messageID) {
		return errClaimKey
	}
	e := claimEntity{PartitionKey: userID, RowKey: rkDeliveryPrefix + messageID, State: string(accounts.DeliverySent), SentAt: formatTime(now)}
	any := azcore.ETagAny
	_, err := s.users.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &any, UpdateMode: aztables.UpdateModeMerge})
	if statusOf(err) == http.StatusNotFound {
		return nil // the account was erased: nothing to record it in
	}
	return classify(err)
}

// Release implements delivery.Claims: the claim is given back after a
// failed send (queued again, nobody sending it), so a retry may send. It
// keeps when the link was recorded, so the retry does not record it again.
// The link token minted with it stays until the retry mints a new one.
func (s *Store) Release(ctx context.Context, userID, messageID string) error {
	if !accounts.ValidID(userID) || !accounts.ValidID(messageID) {
		return errClaimKey
	}
	e := claimEntity{PartitionKey: userID, RowKey: rkDeliveryPrefix + messageID, State: string(accounts.DeliveryQueued)}
	any := azcore.ETagAny
	_, err := s.users.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &any, UpdateMode: aztables.UpdateModeMerge})
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return classify(err)
}
