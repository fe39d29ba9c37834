package notify

import (
	"fmt"
	"strings"
	"time"
)

// The grammar the templates cannot express well (plurals, case endings,
// date formats, role names) lives here, one switch per locale, so that the
// templates hold only prose.

// normalizeLocale maps a stored locale to one the templates exist in. A
// region suffix is ignored ("sv-FI" is sv) and anything unknown falls back
// to the default, because sending in Finnish beats not sending at all.
func normalizeLocale(locale string) string {
	tag, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(locale)), "-")
	tag, _, _ = strings.Cut(tag, "_")
	for _, l := range Locales {
		if l == tag {
			return l
		}
	}
	return Locales[0]
}

// formatDate renders the calendar date of t in the locale's usual format.
func formatDate(locale string, t time.Time) string {
	switch locale {
	case "sv":
		return t.Format("2006-01-02")
	case "en":
		return t.Format("2 January 2006")
	default:
		return t.Format("2.1.2006")
	}
}

// formatValidity renders how long a link stays valid, in the form that
// completes "valid for …" ("voimassa 7 päivää", "giltig i 7 dagar"). It
// rounds up to whole minutes so that a link is never promised to last
// longer than it does, and picks the largest unit that divides evenly.
func formatValidity(locale string, d time.Duration) string {
	if d <= 0 {
		return ""
	}
	minutes := int64((d + time.Minute - 1) / time.Minute)
	n, unit := minutes, "minute"
	switch {
	case minutes%(24*60) == 0:
		n, unit = minutes/(24*60), "day"
	case minutes%60 == 0:
		n, unit = minutes/60, "hour"
	}
	return fmt.Sprintf("%d %s", n, unitWord(locale, unit, n))
}

func unitWord(locale, unit string, n int64) string {
	one := n == 1
	switch locale {
	case "sv":
		switch unit {
		case "day":
			return pick(one, "dag", "dagar")
		case "hour":
			return pick(one, "timme", "timmar")
		default:
			return pick(one, "minut", "minuter")
		}
	case "en":
		switch unit {
		case "day":
			return pick(one, "day", "days")
		case "hour":
			return pick(one, "hour", "hours")
		default:
			return pick(one, "minute", "minutes")
		}
	default:
		// Finnish: "voimassa 1 päivän" (accusative) but "voimassa 7 päivää"
		// (partitive).
		switch unit {
		case "day":
			return pick(one, "päivän", "päivää")
		case "hour":
			return pick(one, "tunnin", "tuntia")
		default:
			return pick(one, "minuutin", "minuuttia")
		}
	}
}

func pick(one bool, singular, plural string) string {
	if one {
		return singular
	}
	return plural
}

// formatDaysUntil renders how many calendar days are left until due, as
// seen in loc, or "" when now is unknown or due has passed: the email then
// states only the date, which is always true.
func formatDaysUntil(locale string, now, due time.Time, loc *time.Location) string {
	if now.IsZero() {
		return ""
	}
	days := calendarDays(now.In(loc), due.In(loc))
	if days < 0 {
		return ""
	}
	switch locale {
	case "sv":
		switch days {
		case 0:
			return "i dag"
		case 1:
			return "i morgon"
		}
		return fmt.Sprintf("om %d dagar", days)
	case "en":
		switch days {
		case 0:
			return "today"
		case 1:
			return "tomorrow"
		}
		return fmt.Sprintf("in %d days", days)
	default:
		switch days {
		case 0:
			return "tänään"
		case 1:
			return "huomenna"
		}
		return fmt.Sprintf("%d päivän kuluttua", days)
	}
}

// calendarDays counts date changes from a to b, so that 23:00 to 01:00 the
// next day is one day, matching the date printed in the email.
func calendarDays(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	da := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// roleName returns the name of a role id (as stored on users) as used in
// running text, and false for an unknown id.
func roleName(locale, role string) (string, bool) {
	names := map[string][3]string{ // fi, sv, en
		"admin":        {"ylläpitäjä", "administratör", "administrator"},
		"primary_user": {"pääkäyttäjä", "huvudanvändare", "primary user"},
		"editor":       {"muokkaaja", "redigerare", "editor"},
		"expert":       {"asiantuntija", "expert", "expert"},
	}
	n, ok := names[role]
	if !ok {
		return "", false
	}
	switch locale {
	case "sv":
		return n[1], true
	case "en":
		return n[2], true
	default:
		return n[0], true
	}
}
