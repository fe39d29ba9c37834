package accounts

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// API-1: a streamed cursor handed out before the directory position was
// opaque carried the store's keys as an object; it is refused (400
// invalid_cursor), so a client mid-pagination across the deploy starts
// over rather than being misread. Sorted cursors kept their format and
// go on working.
func TestCursorsFromBeforeTheOpaquePosition(t *testing.T) {
	t.Parallel()
	q := ListQuery{OrganizationID: "org-1"}
	filters := q.filtersDigest()
	// encodeCursor of the old listCursor, whose "a" was {"p": …, "r": …}.
	old := encodeRaw(`{"f":"` + filters + `","a":{"p":"org-1","r":"GDGMAQBCCS-C5KMSRQ-u-1"}}`)
	if _, err := decodeCursor(old, filters); !errors.Is(err, kernel.ErrInvalidCursor) {
		t.Errorf("a streamed cursor from before: %v, want ErrInvalidCursor", err)
	}
	sorted := encodeRaw(`{"f":"` + filters + `","k":"2024-01-01T00:00:00.000000000Z","i":"u-1"}`)
	got, err := decodeCursor(sorted, filters)
	if want := (listCursor{Filters: filters, Key: "2024-01-01T00:00:00.000000000Z", ID: "u-1"}); err != nil || got != want {
		t.Errorf("a sorted cursor from before: %+v, %v, want %+v", got, err, want)
	}
}

func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
