// Package schedule parses the NCRONTAB expressions of Azure Functions timer
// triggers and runs a job on such a schedule in-process, so that standalone
// mode sweeps on the same instants as the timer function does in Azure.
//
// # What Azure does
//
// The timer trigger parses its schedule with NCrontab
// (atifaziz/NCrontab, via azure-webjobs-sdk-extensions CronSchedule, with
// IncludingSeconds = true): six fields
//
//	second minute hour day-of-month month day-of-week
//
// evaluated in UTC. Each field is *, a number, a name (month, day-of-week),
// a range a-b, a step x/n (x being *, a number or a range; a lone number
// means "from there to the maximum"), or a comma-separated list of these.
// Day-of-week is 0-6 with 0 = Sunday.
//
// Day-of-month and day-of-week are combined with AND: NCrontab only returns
// a day whose day-of-week is in the set, whatever the day-of-month field
// says. "0 0 0 13 * FRI" therefore means Friday the 13th, not "every 13th
// and every Friday" as in Vixie cron. NCrontab's own test suite pins this
// ("45 16 1 * Mon" after 2003-01-01 is 2003-09-01, the next Monday the 1st),
// and this package does the same so local and Azure runs agree.
//
// # Stricter, never different
//
// Parse accepts a subset of what NCrontab accepts, and every expression it
// accepts means exactly what it means in Azure. Where NCrontab is lenient
// in ways that hide mistakes, Parse refuses, so the mistake shows up locally
// instead of silently meaning something odd:
//
//   - names must be at least three letters of the English name (JAN, Sept,
//     MONDAY; any case); NCrontab would also take "J" or "Ma";
//   - a range must run upwards (1-5, not 5-1, which NCrontab swaps);
//   - a step must be at least 1 (NCrontab reads */0 as *);
//   - day-of-week 7 is refused, as NCrontab refuses it (Vixie cron reads it
//     as Sunday): a schedule that only works locally would fail in Azure.
//
// TimeSpan schedules ("01:00:00"), which the timer trigger also accepts,
// are refused: they are intervals from host start, not instants, and the
// app does not use them. %AppSetting% references must be resolved before
// Parse.
package schedule

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed NCRONTAB expression. The zero Schedule matches
// nothing.
type Schedule struct {
	expr string
	// One bit per allowed value: bit v set means v is allowed.
	seconds, minutes, hours, days, months, weekdays uint64
}

// ParseError reports why an expression is not a valid NCRONTAB schedule.
type ParseError struct {
	Expr  string // the expression as given to Parse
	Field string // "second" … "day-of-week"; empty when the whole expression is wrong
	Msg   string // the problem
}

// Error returns a message naming the expression, the field and the problem.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("schedule %q: %s", e.Expr, e.Msg)
	}
	return fmt.Sprintf("schedule %q: %s field: %s", e.Expr, e.Field, e.Msg)
}

type fieldSpec struct {
	name     string
	min, max int
	names    []string // full English names for min…max, or nil
}

var fields = [6]fieldSpec{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{
		"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december",
	}},
	{name: "day-of-week", min: 0, max: 6, names: []string{
		"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	}},
}

const fieldList = "second minute hour day-of-month month day-of-week"

// Parse parses a 6-field NCRONTAB expression (see the package doc for the
// syntax and for how it relates to Azure's parser). All instants are UTC.
//
// Parse returns a *ParseError naming the field and the problem for
// anything else, including 5-field cron expressions (NCRONTAB needs the
// seconds field too), TimeSpan schedules such as "01:00:00", unresolved
// %AppSetting% references and the empty string.
func Parse(expr string) (Schedule, error) {
	fail := func(field, format string, args ...any) (Schedule, error) {
		return Schedule{}, &ParseError{Expr: expr, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	parts := strings.Fields(expr)
	switch {
	case len(parts) == 0:
		return fail("", "empty; NCRONTAB needs 6 fields: %s", fieldList)
	case strings.Contains(expr, "%"):
		return fail("", "contains an unresolved %%AppSetting%% reference; resolve it before parsing")
	case len(parts) == 1 && strings.Contains(expr, ":"):
		return fail("", "TimeSpan schedules (hh:mm:ss) are not supported, only NCRONTAB expressions such as \"0 0 2 * * *\" (%s)", fieldList)
	case len(parts) == 5:
		return fail("", "NCRONTAB needs 6 fields including seconds (%s), got 5; for a 5-field cron expression prepend the second, e.g. \"0 %s\"", fieldList, strings.Join(parts, " "))
	case len(parts) != 6:
		return fail("", "NCRONTAB needs 6 fields (%s), got %d", fieldList, len(parts))
	}
	var sets [6]uint64
	for i, part := range parts {
		set, err := parseField(part, fields[i])
		if err != nil {
			return fail(fields[i].name, "%q: %v", part, err)
		}
		sets[i] = set
	}
	return Schedule{
		expr:    expr,
		seconds: sets[0], minutes: sets[1], hours: sets[2],
		days: sets[3], months: sets[4], weekdays: sets[5],
	}, nil
}

// parseField parses one comma-separated field into a bit set.
func parseField(text string, f fieldSpec) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("empty list element")
		}
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := parseNumber(stepText)
			if err != nil {
				return 0, fmt.Errorf("step %q: %v", stepText, err)
			}
			if n < 1 {
				return 0, fmt.Errorf("step must be at least 1")
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch loText, hiText, isRange := strings.Cut(base, "-"); {
		case base == "*":
		case isRange:
			var err error
			if lo, err = parseValue(loText, f); err != nil {
				return 0, err
			}
			if hi, err = parseValue(hiText, f); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("range %s runs backwards; write %s-%s", base, hiText, loText)
			}
		default:
			v, err := parseValue(base, f)
			if err != nil {
				return 0, err
			}
			// A lone value with a step runs to the maximum, as in NCrontab: 5/15 = 5-59/15.
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
			if step > hi-v {
				break // the next value is past hi; adding a huge step would overflow
			}
		}
	}
	return set, nil
}

// parseValue parses a number or a name and checks it is in range.
func parseValue(text string, f fieldSpec) (int, error) {
	if text == "" {
		return 0, fmt.Errorf("missing value")
	}
	if c := text[0]; c < '0' || c > '9' {
		if f.names == nil {
			return 0, fmt.Errorf("%q is not a number between %d and %d", text, f.min, f.max)
		}
		lower := strings.ToLower(text)
		if len(lower) >= 3 {
			for i, name := range f.names {
				if strings.HasPrefix(name, lower) {
					return f.min + i, nil
				}
			}
		}
		return 0, fmt.Errorf("%q is neither a number between %d and %d nor a name such as %s", text, f.min, f.max, nameExamples(f))
	}
	v, err := parseNumber(text)
	if err != nil {
		return 0, fmt.Errorf("%q: %v", text, err)
	}
	if v < f.min || v > f.max {
		if f.name == "day-of-week" && v == 7 {
			return 0, fmt.Errorf("7 is out of range 0-6; NCRONTAB (unlike Vixie cron) refuses 7, write 0 or SUN for Sunday")
		}
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

func nameExamples(f fieldSpec) string {
	first, last := f.names[0], f.names[len(f.names)-1]
	return strings.ToUpper(first[:3]) + "…" + strings.ToUpper(last[:3])
}

// parseNumber parses unsigned decimal digits only (no sign, no spaces).
func parseNumber(text string) (int, error) {
	if text == "" {
		return 0, fmt.Errorf("missing number")
	}
	for _, c := range []byte(text) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		return 0, fmt.Errorf("number too large")
	}
	return n, nil
}

// String returns the expression as given to Parse.
func (s Schedule) String() string { return s.expr }

// searchYears bounds Next. The Gregorian calendar repeats every 400 years
// (146097 days, a whole number of weeks), so a schedule with no instant in
// 400 years has none at all. A shorter bound would be wrong: with the AND
// rule, "0 0 0 29 2 MON" fires in 2044 after 2024, and around 2100 such
// gaps reach 40 years.
const searchYears = 400

// Next returns the first instant strictly after t that matches s, in UTC.
// t may be in any location; only the instant counts. Sub-second parts of t
// are honoured: after 02:00:00.5 the next "0 0 2 * * *" is the next day.
//
// Next returns the zero time (check with IsZero) when no instant ever
// matches, such as "0 0 0 31 2 *" (February 31st) or "0 0 0 30 2 *". Next
// proves that by scanning one 400-year Gregorian cycle, month by month and
// day by day, never second by second: at most a few thousand cheap steps.
func (s Schedule) Next(t time.Time) time.Time {
	// The first candidate is the next whole second after t.
	t = t.UTC().Truncate(time.Second).Add(time.Second)
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	m := int(month)
	for last := year + searchYears; year <= last; year++ {
		for ; m <= 12; m++ {
			if dim := daysIn(year, m); s.months&(1<<m) != 0 && s.days&lowBits(dim) != 0 {
				weekday := int(time.Date(year, time.Month(m), day, 0, 0, 0, 0, time.UTC).Weekday())
				for ; day <= dim; day, weekday = day+1, (weekday+1)%7 {
					if s.days&(1<<day) != 0 && s.weekdays&(1<<weekday) != 0 {
						if h, mi, se, ok := s.timeOfDay(hour, minute, second); ok {
							return time.Date(year, time.Month(m), day, h, mi, se, 0, time.UTC)
						}
					}
					hour, minute, second = 0, 0, 0
				}
			}
			day, hour, minute, second = 1, 0, 0, 0
		}
		m = 1
	}
	return time.Time{}
}

// timeOfDay returns the earliest time of day at or after h:m:sec that
// matches s, or ok = false when none is left that day.
func (s Schedule) timeOfDay(h, m, sec int) (int, int, int, bool) {
	for {
		nh, ok := nextBit(s.hours, h, 23)
		if !ok {
			return 0, 0, 0, false
		}
		if nh != h {
			h, m, sec = nh, 0, 0
		}
		nm, ok := nextBit(s.minutes, m, 59)
		if !ok {
			h, m, sec = h+1, 0, 0
			continue
		}
		if nm != m {
			m, sec = nm, 0
		}
		if ns, ok := nextBit(s.seconds, sec, 59); ok {
			return h, m, ns, true
		}
		m, sec = m+1, 0
	}
}

// nextBit returns the smallest v in from…max whose bit is set in set.
func nextBit(set uint64, from, max int) (int, bool) {
	if from > max {
		return 0, false
	}
	rest := set >> from << from
	if rest == 0 {
		return 0, false
	}
	v := bits.TrailingZeros64(rest)
	return v, v <= max
}

// lowBits returns a set with bits 0…n set.
func lowBits(n int) uint64 { return 1<<(n+1) - 1 }

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
