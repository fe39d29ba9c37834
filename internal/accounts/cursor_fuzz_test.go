package accounts

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// FuzzListCursor feeds users-list cursors, which clients send back as
// they please (API-1). Any cursor is either refused with ErrInvalidCursor
// or one for exactly these filters that encodes back to itself; a cursor
// the service made decodes to what it was made from, whatever position
// the store put in it (the store checks the position itself).
func FuzzListCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, cursor, filters, key, id, after string) {
		c, err := decodeCursor(cursor, filters)
		switch {
		case err != nil && !errors.Is(err, kernel.ErrInvalidCursor):
			t.Fatalf("decodeCursor(%q): %v, want ErrInvalidCursor", cursor, err)
		case err == nil && cursor == "":
			if c != (listCursor{Filters: filters}) {
				t.Fatalf("no cursor decodes to %+v", c)
			}
		case err == nil:
			if c.Filters != filters {
				t.Fatalf("accepted a cursor for filters %q under %q", c.Filters, filters)
			}
			if again, err := decodeCursor(encodeCursor(c), filters); err != nil || again != c {
				t.Fatalf("cursor %+v does not survive a round trip: %+v, %v", c, again, err)
			}
			if _, err := decodeCursor(cursor, filters+"x"); err == nil {
				t.Fatalf("cursor %q accepted under other filters", cursor)
			}
		}

		for _, s := range []string{filters, key, id, after} {
			if !utf8.ValidString(s) {
				return // JSON would replace the invalid bytes: not a cursor we make
			}
		}
		made := listCursor{Filters: filters, Key: key, ID: id, After: DirectoryPosition(after)}
		if b, _ := json.Marshal(made); len(b) > 2048 {
			return
		}
		if got, err := decodeCursor(encodeCursor(made), filters); err != nil || got != made {
			t.Fatalf("made %+v, decoded %+v, %v", made, got, err)
		}
	})
}
