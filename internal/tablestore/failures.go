package tablestore

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// failureEntity is a notification given up on. PK = UTC month, so ops read
// a month at a time and retention drops whole months; RK = message id.
// Ids and a reason code only: no address, no name.
type failureEntity struct {
	PartitionKey  string
	RowKey        string
	Kind          string
	UserID        string
	Reason        string
	DeliveryCount int
	At            string
}

// RecordFailure implements delivery.Failures. Recording the same message
// twice keeps the first record.
func (s *Store) RecordFailure(ctx context.Context, f delivery.Failure) error {
	e := failureEntity{PartitionKey: f.At.UTC().Format("2006-01"), RowKey: f.MessageID, Kind: string(f.Kind),
		UserID: f.UserID, Reason: f.Reason, DeliveryCount: f.DeliveryCount, At: formatTime(f.At)}
	_, err := s.failures.AddEntity(ctx, mustJSON(e), nil)
	if statusOf(err) == http.StatusConflict {
		return nil
	}
	return classify(err)
}

// Failures lists the failures recorded in a UTC month ("2006-01").
func (s *Store) Failures(ctx context.Context, month string) ([]delivery.Failure, error) {
	var out []delivery.Failure
	err := s.listPartition(ctx, s.failures, "PartitionKey eq "+quote(month), func(_ rowMeta, raw []byte) error {
		var e failureEntity
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		out = append(out, delivery.Failure{MessageID: e.RowKey, Kind: notify.Kind(e.Kind), UserID: e.UserID,
			Reason: e.Reason, DeliveryCount: e.DeliveryCount, At: parseTime(e.At)})
		return nil
	})
	return out, err
}
