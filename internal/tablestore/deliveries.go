package tablestore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/delivery"
)

// claimLease is how long a "sending" claim holds before another delivery
// may take it over: twice the longest a send may take
// (delivery.SendTimeout), so a live send is never taken over and only a
// delivery whose process died waits it out. Short, so that what a crash
// left mid-send goes out about a minute after the restart.
const claimLease = 2 * delivery.SendTimeout

const (
	rkClaim      = "claim"
	claimSending = "sending"
	claimSent    = "sent"
)

// claimEntity records one notification's delivery. It holds the message
// id and times only: nothing personal.
type claimEntity struct {
	PartitionKey string
	RowKey       string
	State        string
	ClaimedAt    string
	SentAt       string
}

// Claim implements delivery.Claims with an insert that fails when the row
// exists, so two deliveries of one message cannot both send it.
func (s *Store) Claim(ctx context.Context, messageID string, now time.Time) error {
	e := claimEntity{PartitionKey: messageID, RowKey: rkClaim, State: claimSending, ClaimedAt: formatTime(now)}
	_, err := s.deliveries.AddEntity(ctx, mustJSON(e), nil)
	if statusOf(err) != http.StatusConflict {
		return classify(err)
	}
	resp, err := s.deliveries.GetEntity(ctx, messageID, rkClaim, nil)
	if statusOf(err) == http.StatusNotFound {
		return delivery.ErrClaimed // released in between; the retry takes it
	}
	if err != nil {
		return classify(err)
	}
	var existing claimEntity
	if err := json.Unmarshal(resp.Value, &existing); err != nil {
		return fmt.Errorf("decode claim: %w", err)
	}
	if existing.State == claimSent {
		return delivery.ErrAlreadySent
	}
	if now.Sub(parseTime(existing.ClaimedAt)) < claimLease {
		return delivery.ErrClaimed
	}
	etag := resp.ETag
	_, err = s.deliveries.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
	if code := statusOf(err); code == http.StatusPreconditionFailed || code == http.StatusNotFound {
		return delivery.ErrClaimed
	}
	return classify(err)
}

// MarkSent implements delivery.Claims.
func (s *Store) MarkSent(ctx context.Context, messageID string, now time.Time) error {
	e := claimEntity{PartitionKey: messageID, RowKey: rkClaim, State: claimSent, SentAt: formatTime(now)}
	any := azcore.ETagAny
	_, err := s.deliveries.UpdateEntity(ctx, mustJSON(e), &aztables.UpdateEntityOptions{IfMatch: &any, UpdateMode: aztables.UpdateModeReplace})
	return classify(err)
}

// Release implements delivery.Claims.
func (s *Store) Release(ctx context.Context, messageID string) error {
	_, err := s.deliveries.DeleteEntity(ctx, messageID, rkClaim, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return classify(err)
}
