package tablestore

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// FuzzAuditCursor feeds audit-listing cursors, which clients send back
// as they please (API-1). Any cursor is either refused with
// kernel.ErrInvalidCursor or one for exactly this query that encodes
// back to itself; a cursor Events made decodes to what it was made from.
func FuzzAuditCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, cursor, digest, partition, rowKey string) {
		c, err := decodeAuditCursor(cursor, digest)
		switch {
		case err != nil && !errors.Is(err, kernel.ErrInvalidCursor):
			t.Fatalf("decodeAuditCursor(%q): %v, want ErrInvalidCursor", cursor, err)
		case err == nil && cursor != "":
			if c.Query != digest {
				t.Fatalf("accepted a cursor for query %q under %q", c.Query, digest)
			}
			if again, err := decodeAuditCursor(encodeAuditCursor(c), digest); err != nil || again != c {
				t.Fatalf("cursor %+v does not survive a round trip: %+v, %v", c, again, err)
			}
			if _, err := decodeAuditCursor(cursor, digest+"x"); err == nil {
				t.Fatalf("cursor %q accepted for another query", cursor)
			}
		}

		for _, s := range []string{digest, partition, rowKey} {
			if !utf8.ValidString(s) {
				return // JSON would replace the invalid bytes: not a cursor we make
			}
		}
		made := auditCursor{Query: digest, Partition: partition, RowKey: rowKey}
		if b, _ := json.Marshal(made); len(b) > maxCursorBytes {
			return
		}
		if got, err := decodeAuditCursor(encodeAuditCursor(made), digest); err != nil || got != made {
			t.Fatalf("made %+v, decoded %+v, %v", made, got, err)
		}
	})
}
