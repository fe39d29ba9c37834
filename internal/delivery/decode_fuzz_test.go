package delivery_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
)

// FuzzDecodeMessage feeds queue message bodies to the consumer's decoder
// (API-1, FI-9). A body is accepted only when it is exactly one JSON
// object with no trailing data and only the notification's fields, with
// valid ids and a known kind (a message names the account, never a
// recipient), and the queue's message
// id (when given) is the body's id. What is accepted survives a round
// trip through the encoding the producers use.
func FuzzDecodeMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, messageID string) {
		m, err := delivery.DecodeMessage(delivery.Delivery{MessageID: messageID, Body: body})
		if err != nil {
			return
		}
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("accepted %q, which is not exactly one JSON object", body)
		}
		if !accounts.ValidID(m.ID) || !accounts.ValidID(m.UserID) {
			t.Fatalf("accepted invalid ids %q, %q", m.ID, m.UserID)
		}
		if messageID != "" && messageID != m.ID {
			t.Fatalf("accepted body id %q under message id %q", m.ID, messageID)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted %q, which cannot be encoded again: %v", body, err)
		}
		round, err := delivery.DecodeMessage(delivery.Delivery{MessageID: m.ID, Body: again})
		if err != nil {
			t.Fatalf("the re-encoded message %s is refused: %v", again, err)
		}
		if back, _ := json.Marshal(round); !bytes.Equal(back, again) {
			t.Fatalf("round trip changed %s into %s", again, back)
		}
	})
}
