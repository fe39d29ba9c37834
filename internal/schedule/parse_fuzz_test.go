package schedule

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse feeds NCRONTAB expressions (a setting, so outside input) to
// Parse. Anything refused is a *ParseError; anything accepted keeps its
// text, has every field within its range and non-empty, and its Next is
// an instant after the given one that the schedule matches (or none).
func FuzzParse(f *testing.F) {
	from := time.Date(2026, 11, 29, 23, 59, 58, 500, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Expr != expr {
				t.Fatalf("Parse(%q): %v, want a *ParseError", expr, err)
			}
			return
		}
		if s.String() != expr {
			t.Fatalf("String() = %q, want %q", s.String(), expr)
		}
		for i, set := range []uint64{s.seconds, s.minutes, s.hours, s.days, s.months, s.weekdays} {
			f := fields[i]
			if set == 0 || set&^(lowBits(f.max)>>f.min<<f.min) != 0 {
				t.Fatalf("Parse(%q): %s field %b outside %d-%d", expr, f.name, set, f.min, f.max)
			}
		}
		next := s.Next(from)
		if next.IsZero() {
			return
		}
		if !next.After(from) {
			t.Fatalf("Parse(%q).Next(%s) = %s, not after", expr, from, next)
		}
		if again := s.Next(next.Add(-time.Second)); !again.Equal(next) {
			t.Fatalf("Parse(%q): %s does not match: the instant before it leads to %s", expr, next, again)
		}
	})
}
