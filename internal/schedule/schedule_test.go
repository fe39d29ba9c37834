package schedule_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/schedule"
)

func utc(year int, month time.Month, day, hour, minute, second int) time.Time {
	return time.Date(year, month, day, hour, minute, second, 0, time.UTC)
}

func TestNext(t *testing.T) {
	helsinki := time.FixedZone("EET", 2*60*60)
	tests := []struct {
		name string
		expr string
		from time.Time
		want time.Time // zero: never
	}{
		{"daily sweep runs at 02:00 the next day", "0 0 2 * * *",
			utc(2026, 3, 10, 13, 45, 12), utc(2026, 3, 11, 2, 0, 0)},
		{"daily sweep runs at 02:00 the same day when before it", "0 0 2 * * *",
			utc(2026, 3, 10, 1, 59, 59), utc(2026, 3, 10, 2, 0, 0)},
		{"daily sweep crosses a month end", "0 0 2 * * *",
			utc(2026, 2, 28, 3, 0, 0), utc(2026, 3, 1, 2, 0, 0)},

		{"every 5 minutes rounds up to the next multiple", "0 */5 * * * *",
			utc(2026, 3, 10, 10, 7, 30), utc(2026, 3, 10, 10, 10, 0)},
		{"every 5 minutes rolls into the next hour", "0 */5 * * * *",
			utc(2026, 3, 10, 10, 55, 0), utc(2026, 3, 10, 11, 0, 0)},
		{"every 5 minutes rolls into the next year", "0 */5 * * * *",
			utc(2026, 12, 31, 23, 59, 59), utc(2027, 1, 1, 0, 0, 0)},

		{"weekdays only skips the weekend from Friday", "30 15 10 * * MON-FRI",
			utc(2026, 3, 13, 11, 0, 0), utc(2026, 3, 16, 10, 15, 30)},
		{"weekdays only skips Sunday", "30 15 10 * * MON-FRI",
			utc(2026, 3, 15, 9, 0, 0), utc(2026, 3, 16, 10, 15, 30)},
		{"weekdays only fires later the same weekday", "30 15 10 * * MON-FRI",
			utc(2026, 3, 12, 10, 15, 29), utc(2026, 3, 12, 10, 15, 30)},

		{"new year fires next January 1st", "0 0 0 1 JAN *",
			utc(2026, 6, 15, 12, 0, 0), utc(2027, 1, 1, 0, 0, 0)},
		{"new year fires one second after New Year's Eve ends", "0 0 0 1 JAN *",
			utc(2026, 12, 31, 23, 59, 59), utc(2027, 1, 1, 0, 0, 0)},

		{"February 29th waits for the next leap year", "0 0 0 29 2 *",
			utc(2026, 3, 1, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0)},
		{"February 29th skips 2100, which is not a leap year", "0 0 0 29 2 *",
			utc(2096, 3, 1, 0, 0, 0), utc(2104, 2, 29, 0, 0, 0)},
		{"February 31st never comes", "0 0 0 31 2 *",
			utc(2026, 1, 1, 0, 0, 0), time.Time{}},
		{"February 30th or 31st never comes", "0 0 0 30,31 2 *",
			utc(2026, 1, 1, 0, 0, 0), time.Time{}},
		{"day 31 skips months of 30 days", "0 0 0 31 * *",
			utc(2026, 4, 1, 0, 0, 0), utc(2026, 5, 31, 0, 0, 0)},

		// NCrontab (and so Azure) requires both day fields to match.
		{"13th and Friday both restricted: next Friday the 13th, not next Friday", "0 0 0 13 * FRI",
			utc(2026, 1, 1, 0, 0, 0), utc(2026, 2, 13, 0, 0, 0)},
		{"13th and Friday both restricted: a Friday that is not the 13th does not match", "0 0 0 13 * FRI",
			utc(2026, 2, 14, 0, 0, 0), utc(2026, 3, 13, 0, 0, 0)},
		{"1st and Monday both restricted: matches NCrontab's own test", "0 45 16 1 * MON",
			utc(2003, 1, 1, 12, 0, 0), utc(2003, 9, 1, 16, 45, 0)},
		{"February 29th on a Monday may be decades away", "0 0 0 29 2 MON",
			utc(2024, 3, 1, 0, 0, 0), utc(2044, 2, 29, 0, 0, 0)},
		{"day-of-week alone matches any day of month", "0 0 0 * * FRI",
			utc(2026, 1, 1, 0, 0, 0), utc(2026, 1, 2, 0, 0, 0)},
		{"day-of-month alone matches any weekday", "0 0 0 13 * *",
			utc(2026, 1, 1, 0, 0, 0), utc(2026, 1, 13, 0, 0, 0)},

		{"step range stops at its end", "0 0-30/10 * * * *",
			utc(2026, 3, 10, 10, 30, 0), utc(2026, 3, 10, 11, 0, 0)},
		{"step range fires on its steps", "0 0-30/10 * * * *",
			utc(2026, 3, 10, 10, 25, 0), utc(2026, 3, 10, 10, 30, 0)},
		{"value with step runs to the maximum", "0 5/20 * * * *",
			utc(2026, 3, 10, 10, 26, 0), utc(2026, 3, 10, 10, 45, 0)},
		// The fuzzer's crasher: the walk past the maximum overflowed.
		{"a step past the maximum means the start value only", "1/9223372036854775807 * * * * *",
			utc(2026, 3, 10, 10, 26, 0), utc(2026, 3, 10, 10, 26, 1)},
		{"list picks the next listed value", "0 0 1,13,22 * * *",
			utc(2026, 3, 10, 13, 0, 0), utc(2026, 3, 10, 22, 0, 0)},

		{"exactly on a match gives the next one", "0 0 2 * * *",
			utc(2026, 3, 10, 2, 0, 0), utc(2026, 3, 11, 2, 0, 0)},
		{"a nanosecond after a match gives the next one", "0 0 2 * * *",
			utc(2026, 3, 10, 2, 0, 0).Add(time.Nanosecond), utc(2026, 3, 11, 2, 0, 0)},
		{"a nanosecond before a match gives that match", "0 0 2 * * *",
			utc(2026, 3, 10, 2, 0, 0).Add(-time.Nanosecond), utc(2026, 3, 10, 2, 0, 0)},
		{"every second gives the next second", "* * * * * *",
			utc(2026, 3, 10, 2, 0, 0), utc(2026, 3, 10, 2, 0, 1)},

		{"another zone is the same instant", "0 0 2 * * *",
			time.Date(2026, 3, 10, 3, 30, 0, 0, helsinki), utc(2026, 3, 10, 2, 0, 0)},
		{"another zone's date is not used", "0 0 0 * * MON",
			time.Date(2026, 3, 16, 1, 0, 0, 0, helsinki), utc(2026, 3, 16, 0, 0, 0)},

		{"names are case-insensitive", "0 0 12 * jan,Feb mOn",
			utc(2026, 1, 13, 0, 0, 0), utc(2026, 1, 19, 12, 0, 0)},
		{"full names are accepted", "0 0 12 * * Thursday",
			utc(2026, 3, 10, 0, 0, 0), utc(2026, 3, 12, 12, 0, 0)},
		{"0 is Sunday", "0 0 0 * * 0",
			utc(2026, 3, 10, 0, 0, 0), utc(2026, 3, 15, 0, 0, 0)},
		{"SUN is Sunday", "0 0 0 * * SUN",
			utc(2026, 3, 10, 0, 0, 0), utc(2026, 3, 15, 0, 0, 0)},
		{"6 is Saturday", "0 0 0 * * 6",
			utc(2026, 3, 10, 0, 0, 0), utc(2026, 3, 14, 0, 0, 0)},
		{"tabs and repeated spaces separate fields", "0\t0  2 * * *",
			utc(2026, 3, 10, 3, 0, 0), utc(2026, 3, 11, 2, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := schedule.Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			got := s.Next(tt.from)
			if !got.Equal(tt.want) {
				t.Errorf("Parse(%q).Next(%v) = %v, want %v", tt.expr, tt.from, got, tt.want)
			}
			if !got.IsZero() && got.Location() != time.UTC {
				t.Errorf("Next returned location %v, want UTC", got.Location())
			}
			if got, want := s.String(), tt.expr; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestNextZeroScheduleNeverMatches(t *testing.T) {
	if got := (schedule.Schedule{}).Next(utc(2026, 1, 1, 0, 0, 0)); !got.IsZero() {
		t.Errorf("zero Schedule: Next = %v, want zero time", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		expr      string
		wantField string // "" = the expression as a whole
		wantHint  string // part of the message a person needs to fix it
	}{
		{"5-field cron is refused for lacking seconds", "0 2 * * *", "", "6 fields including seconds"},
		{"7 fields are refused", "0 0 2 * * * 2026", "", "got 7"},
		{"empty is refused", "", "", "needs 6 fields"},
		{"blank is refused", "  \t ", "", "needs 6 fields"},
		{"TimeSpan is refused", "01:00:00", "", "only NCRONTAB"},
		{"TimeSpan with days is refused", "1.00:00:00", "", "only NCRONTAB"},
		{"unresolved app setting is refused", "%SweepSchedule%", "", "AppSetting"},
		{"second 61 is out of range", "61 * * * * *", "second", "out of range 0-59"},
		{"minute 60 is out of range", "0 60 * * * *", "minute", "out of range 0-59"},
		{"hour 24 is out of range", "0 0 24 * * *", "hour", "out of range 0-23"},
		{"day 0 is out of range", "0 0 0 0 * *", "day-of-month", "out of range 1-31"},
		{"month 13 is out of range", "* * * * 13 *", "month", "out of range 1-12"},
		{"day-of-week 7 is refused as in NCrontab", "0 0 0 * * 7", "day-of-week", "write 0 or SUN"},
		{"letters in every field fail at the first", "a b c d e f", "second", "not a number"},
		{"unknown month name", "0 0 0 1 FOO *", "month", "JAN…DEC"},
		{"two-letter weekday is ambiguous", "0 0 0 * * MO", "day-of-week", "SUN…SAT"},
		{"weekday name in month field", "0 0 0 1 MON *", "month", "JAN…DEC"},
		{"step 0 is refused", "*/0 * * * * *", "second", "at least 1"},
		{"step missing", "*/ * * * * *", "second", "missing number"},
		{"step not a number", "0 */x * * * *", "minute", "not a number"},
		{"backwards range is refused", "0 0 5-1 * * *", "hour", "write 1-5"},
		{"open range is refused", "0 0 1- * * *", "hour", "missing value"},
		{"negative number is refused", "0 0 -1 * * *", "hour", "missing value"},
		{"empty list element is refused", "0 1,,2 * * * *", "minute", "empty list element"},
		{"question mark is refused", "0 0 0 ? * MON", "day-of-month", "not a number"},
		{"L is refused", "0 0 0 L * *", "day-of-month", "not a number"},
		{"hash is refused", "0 0 0 * * MON#2", "day-of-week", "SUN…SAT"},
		{"double step is refused", "0 */5/2 * * * *", "minute", "not a number"},
		{"signed number is refused", "+1 * * * * *", "second", "not a number"},
		{"huge number is refused", "99999999999999999999 * * * * *", "second", "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schedule.Parse(tt.expr)
			var pe *schedule.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want a *ParseError", tt.expr, err)
			}
			if got, want := pe.Field, tt.wantField; got != want {
				t.Errorf("Parse(%q) field = %q, want %q (error: %v)", tt.expr, got, want, err)
			}
			if got, want := pe.Expr, tt.expr; got != want {
				t.Errorf("Parse(%q) Expr = %q, want %q", tt.expr, got, want)
			}
			if !strings.Contains(err.Error(), tt.wantHint) {
				t.Errorf("Parse(%q) error = %q, want it to mention %q", tt.expr, err, tt.wantHint)
			}
			if tt.wantField != "" && !strings.Contains(err.Error(), tt.wantField+" field") {
				t.Errorf("Parse(%q) error = %q, want it to name the %s field", tt.expr, err, tt.wantField)
			}
		})
	}
}

func BenchmarkNextNever(b *testing.B) {
	s, err := schedule.Parse("0 0 0 31 2 *")
	if err != nil {
		b.Fatal(err)
	}
	from := utc(2026, 1, 1, 0, 0, 0)
	for b.Loop() {
		s.Next(from)
	}
}

func BenchmarkNextDaily(b *testing.B) {
	s, err := schedule.Parse("0 0 2 * * *")
	if err != nil {
		b.Fatal(err)
	}
	from := utc(2026, 3, 10, 13, 45, 12)
	for b.Loop() {
		s.Next(from)
	}
}
