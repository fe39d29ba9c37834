package accounts

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Limits on what people type.
const (
	MaxEmailLength = 254
	MaxNameLength  = 100
)

// cleanName trims a person's name and checks it: up to 100 characters
// (at least one when required), no
// control characters (a CR or LF could otherwise reach an email header).
func cleanName(v *kernel.ValidationError, field, raw string, required bool) string {
	s := norm.NFC.String(strings.TrimSpace(raw))
	switch {
	case s == "" && required:
		v.Add(field, "required", "")
	case utf8.RuneCountInString(s) > MaxNameLength:
		v.Add(field, "too_long", "")
	case notify.BreaksLine(s):
		v.Add(field, "invalid_characters", "")
	}
	return s
}

// Locales people can choose; the first is the default.
var Locales = []string{"fi", "sv", "en"}

func validLocale(l string) bool {
	for _, x := range Locales {
		if l == x {
			return true
		}
	}
	return false
}

// contextWords are the words a person's own password must not lean on.
func contextWords(u User) []string {
	local, _, _ := strings.Cut(u.Email, "@")
	return []string{local, u.FirstName, u.LastName}
}

// applyNames sets the given names on u (nil leaves a name as it is),
// records problems in v and returns the names of the fields that changed.
func applyNames(v *kernel.ValidationError, u *User, first, last *string) []string {
	var fields []string
	if first != nil {
		if n := cleanName(v, "firstName", *first, true); n != u.FirstName {
			u.FirstName = n
			fields = append(fields, "firstName")
		}
	}
	if last != nil {
		if n := cleanName(v, "lastName", *last, true); n != u.LastName {
			u.LastName = n
			fields = append(fields, "lastName")
		}
	}
	return fields
}
