package audit_test

import (
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// The reach of a listing is the domain's policy, whatever store reads it:
// the unfiltered view reads a month by default and a quarter at most, an
// organisation's the retention, a person's everything; nothing reads past
// a day after now.
func TestSpanBoundsEachKindOfListing(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	long := now.AddDate(-5, 0, 0)
	cases := []struct {
		name     string
		q        audit.Query
		from, to time.Time
	}{
		{"unfiltered, no range", audit.Query{Now: now}, now.Add(day).AddDate(0, 0, -audit.DefaultUnfilteredDays), now.Add(day)},
		{"unfiltered, a year asked", audit.Query{Now: now, From: long}, now.Add(day).AddDate(0, 0, -audit.MaxUnfilteredDays), now.Add(day)},
		{"unfiltered, To in the future", audit.Query{Now: now, To: now.AddDate(1, 0, 0)}, now.Add(day).AddDate(0, 0, -audit.DefaultUnfilteredDays), now.Add(day)},
		{"organisation, years asked", audit.Query{Now: now, OrganizationID: "org-1", From: long}, now.Add(day).Add(-audit.Reach), now.Add(day)},
		{"organisation, a week", audit.Query{Now: now, OrganizationID: "org-1", From: now.AddDate(0, 0, -7), To: now}, now.AddDate(0, 0, -7), now},
		{"person, all of it", audit.Query{Now: now, UserID: "u-1"}, time.Time{}, now.Add(day)},
		{"subject, from long ago", audit.Query{Now: now, SubjectID: "u-1", From: long}, long, now.Add(day)},
	}
	for _, c := range cases {
		from, to := c.q.Span()
		if !from.Equal(c.from) || !to.Equal(c.to) {
			t.Errorf("%s: span [%v, %v), want [%v, %v)", c.name, from, to, c.from, c.to)
		}
	}
}
