package schedule

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// matches is the plain definition Next must agree with.
func (s Schedule) matches(t time.Time) bool {
	t = t.UTC()
	has := func(set uint64, v int) bool { return set&(1<<v) != 0 }
	return t.Nanosecond() == 0 &&
		has(s.seconds, t.Second()) && has(s.minutes, t.Minute()) && has(s.hours, t.Hour()) &&
		has(s.days, t.Day()) && has(s.months, int(t.Month())) && has(s.weekdays, int(t.Weekday()))
}

// randomField returns a random, valid field for f, dense more often than
// sparse so that brute force finds most next instants within its window.
func randomField(r *rand.Rand, f fieldSpec) string {
	value := func() int { return f.min + r.IntN(f.max-f.min+1) }
	item := func() string {
		switch r.IntN(4) {
		case 0:
			return fmt.Sprint(value())
		case 1:
			lo, hi := value(), value()
			return fmt.Sprintf("%d-%d", min(lo, hi), max(lo, hi))
		case 2:
			return fmt.Sprintf("*/%d", 1+r.IntN(f.max))
		default:
			lo, hi := value(), value()
			return fmt.Sprintf("%d-%d/%d", min(lo, hi), max(lo, hi), 1+r.IntN(10))
		}
	}
	if r.IntN(3) == 0 {
		return "*"
	}
	items := make([]string, 1+r.IntN(3))
	for i := range items {
		items[i] = item()
	}
	return strings.Join(items, ",")
}

// bruteNext is the slow, obvious search Next must agree with: every day
// from t on, and on a matching day every time of day, in order. It gives
// up after the given number of days and returns the zero time.
func (s Schedule) bruteNext(t time.Time, days int) time.Time {
	first := t.UTC().Truncate(time.Second).Add(time.Second)
	y, m, d := first.Date()
	for i := range days {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, time.UTC)
		if !s.matches(time.Date(y, m, d+i, firstBit(s.hours), firstBit(s.minutes), firstBit(s.seconds), 0, time.UTC)) {
			continue // not a matching date
		}
		for h := range 24 {
			for min := range 60 {
				for sec := range 60 {
					c := day.Add(time.Duration(h)*time.Hour + time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
					if !c.Before(first) && s.matches(c) {
						return c
					}
				}
			}
		}
	}
	return time.Time{}
}

func firstBit(set uint64) int {
	for v := range 64 {
		if set&(1<<v) != 0 {
			return v
		}
	}
	return 0
}

// TestNextAgreesWithBruteForce checks Next against bruteNext on random
// schedules and random start instants.
func TestNextAgreesWithBruteForce(t *testing.T) {
	const (
		cases = 500
		days  = 9 * 366 // brute-force horizon: two leap cycles
	)
	r := rand.New(rand.NewPCG(1, 2))
	found := 0
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for range cases {
		var parts [6]string
		for i, f := range fields {
			parts[i] = randomField(r, f)
		}
		expr := strings.Join(parts[:], " ")
		s, err := Parse(expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		from := base.Add(time.Duration(r.Int64N(int64(80 * 365 * 24 * time.Hour))))
		got, want := s.Next(from), s.bruteNext(from, days)
		if want.IsZero() {
			// Beyond the brute-force horizon: Next must find nothing sooner.
			if !got.IsZero() && (!s.matches(got) || got.Before(from.AddDate(0, 0, days-1))) {
				t.Errorf("Parse(%q).Next(%v) = %v, brute force found nothing within %d days", expr, from, got, days)
			}
			continue
		}
		found++
		if !got.Equal(want) {
			t.Errorf("Parse(%q).Next(%v) = %v, want %v", expr, from, got, want)
		}
	}
	t.Logf("%d of %d schedules fired within %d days", found, cases, days)
}
