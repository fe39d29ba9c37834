package accounts

import (
	"context"
	"errors"
	"net/mail"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Field-error codes for an email address that is refused.
const (
	// CodeInvalidEmail: not a plain address (local@domain.tld).
	CodeInvalidEmail = "invalid_email"
	// CodeEmailIPLiteral: the domain is an IP address ([192.0.2.1],
	// [IPv6:…] or a bare dotted quad) instead of a name.
	CodeEmailIPLiteral = "email_ip_literal"
	// CodeEmailQuotedLocalPart: the part before the @ is quoted ("a b"@…).
	CodeEmailQuotedLocalPart = "email_quoted_local_part"
)

// maxLocalPart is RFC 5321's limit on the part before the @, in octets.
const maxLocalPart = 64

// Email is an address in its two forms. Display is what the person typed
// (trimmed, NFC): it is shown in the API and mail is sent to it. Canonical
// is the one form all spellings of the same address share: the email
// claim (uniqueness), sign-in and password-reset lookups use it (P1).
type Email struct {
	Display   string
	Canonical string
}

// EmailError is why an address was refused; Code is one of the Code…
// constants, the field-error code for the address's field.
type EmailError struct{ Code string }

func (e *EmailError) Error() string { return "email refused: " + e.Code }

// ParseEmail checks an address and returns its display and canonical
// forms, or an *EmailError.
//
// The canonical form of the local part is NFKC, then full Unicode case
// folding (after lower-casing, see below), then NFKC again: the first NFKC turns compatibility characters
// (full-width letters, the Kelvin sign, ligatures) into the letters they
// stand for so that folding sees them; folding maps every case variant to
// one form (ß and SS to ss, final ς and Σ to σ), which lower-casing does
// not; folding can leave text that is no longer normalised (a folded
// letter may now compose with a following mark), so the last NFKC makes
// it so. P1 promises case-insensitive usernames, so the local part is
// folded too: no mail system our municipalities use tells
// Maija.Meikalainen from maija.meikalainen.
//
// The domain goes through IDNA: UTS #46 mapping (case, width, dots) as a
// resolver would, then the strict registration rules of RFC 5891, and is
// kept as its ASCII (A-label) form, so bücher.fi, BÜCHER.FI and
// xn--bcher-kva.fi are one domain. ß and ς stay as they are in a domain
// (non-transitional IDNA2008): there they name different domains.
//
// Confusables are not folded: Cyrillic а and Latin a stay different
// letters. Mapping look-alikes together would merge the addresses of
// different people (and a mailbox that differs in one look-alike is a
// different mailbox); spotting a look-alike is a matter for the person
// reading the address, not for the key.
//
// Refused: a display name, comments, a quoted local part, an IP address
// as the domain, a single-label domain, control, format (bidi, zero-width)
// and space characters, and anything longer than RFC 5321 allows.
func ParseEmail(raw string) (Email, error) {
	invalid := &EmailError{Code: CodeInvalidEmail}
	s := strings.TrimSpace(raw)
	// Bounded before any normalisation, which can grow the text.
	if s == "" || len(s) > MaxEmailLength || !utf8.ValidString(s) || notify.BreaksLine(s) {
		return Email{}, invalid
	}
	s = norm.NFC.String(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Email{}, invalid
	}
	local, domain := s[:at], s[at+1:]
	if strings.ContainsAny(local, `"\`) {
		return Email{}, &EmailError{Code: CodeEmailQuotedLocalPart}
	}
	if strings.HasPrefix(domain, "[") || isIPAddress(domain) {
		return Email{}, &EmailError{Code: CodeEmailIPLiteral}
	}
	if !dotAtom(local) || len(local) > maxLocalPart || len(s) > MaxEmailLength || !visible(domain) {
		return Email{}, invalid
	}
	// net/mail agrees that this is one plain address and nothing else.
	if addr, err := mail.ParseAddress(s); err != nil || addr.Name != "" || addr.Address != s {
		return Email{}, invalid
	}

	// Lower-casing before folding changes nothing Unicode folds, except
	// where cases.Fold errs: it folds upper-case Cherokee (Ꭰ) to lower
	// case but lower case (ꭰ) to upper, so the two never meet; lower case
	// first, both fold to Ꭰ, and the result folds to itself.
	canonLocal := norm.NFKC.String(cases.Fold().String(strings.ToLower(norm.NFKC.String(local))))
	// Normalising can make new separators or quotes (full-width ＠ and ＂);
	// the canonical form must be as plain as the typed one.
	if !dotAtom(canonLocal) || len(canonLocal) > maxLocalPart {
		return Email{}, invalid
	}
	canonDomain, ok := asciiDomain(domain)
	if !ok {
		return Email{}, invalid
	}
	if isIPAddress(canonDomain) {
		return Email{}, &EmailError{Code: CodeEmailIPLiteral}
	}
	canonical := canonLocal + "@" + canonDomain
	if len(canonical) > MaxEmailLength {
		return Email{}, invalid
	}
	return Email{Display: s, Canonical: canonical}, nil
}

// CanonicalEmail returns the canonical form of an address (see
// ParseEmail), and false when the address is refused.
func CanonicalEmail(raw string) (string, bool) {
	e, err := ParseEmail(raw)
	return e.Canonical, err == nil
}

// EmailLookupKeys are the forms under which the account of raw may be
// found, the canonical form first. An account invited before the canonical
// form folded case fully and converted the domain to ASCII is found under
// what was then its only form (trimmed, NFKC, lower-cased); that form is
// second when it differs. For an address refused today only that older
// form is returned, so an account stored under it can still be erased;
// sign-in and password reset refuse such an address before looking.
func EmailLookupKeys(raw string) []string {
	legacy := strings.ToLower(norm.NFKC.String(strings.TrimSpace(raw)))
	canonical, ok := CanonicalEmail(raw)
	switch {
	case !ok && legacy == "":
		return nil
	case !ok:
		return []string{legacy}
	case legacy == canonical:
		return []string{canonical}
	}
	return []string{canonical, legacy}
}

// asciiDomain maps a domain as a resolver would (UTS #46: case, width,
// full stops) and returns its A-label form when the result is valid for
// registration and has at least two labels.
func asciiDomain(domain string) (string, bool) {
	mapped, err := idna.Lookup.ToUnicode(domain)
	if err != nil {
		return "", false
	}
	ascii, err := idna.Registration.ToASCII(mapped)
	if err != nil || !strings.Contains(ascii, ".") || strings.HasSuffix(ascii, ".") {
		return "", false
	}
	for i := 0; i < len(ascii); i++ {
		if ascii[i] >= utf8.RuneSelf {
			return "", false
		}
	}
	return strings.ToLower(ascii), true
}

// isIPAddress reports whether a domain is an address rather than a name:
// an IPv4 or IPv6 address, or a name whose last label is all digits (no
// top-level domain is, and resolvers read 127.1 or 0x7f.0.0.1 as
// addresses).
func isIPAddress(domain string) bool {
	if _, err := netip.ParseAddr(domain); err == nil {
		return true
	}
	last := domain[strings.LastIndexByte(domain, '.')+1:]
	return last != "" && strings.IndexFunc(last, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// dotAtom reports whether s is an RFC 5322 dot-atom of RFC 6532 text:
// atoms of ASCII atext or visible non-ASCII characters, joined by single
// dots. Spaces, controls and format characters (bidi controls, zero-width
// joiners) are refused wherever they come from.
func dotAtom(s string) bool {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if !asciiAtext(byte(r)) && r != '.' {
				return false
			}
		case !visibleRune(r):
			return false
		}
	}
	return true
}

// visible reports whether s has only visible characters: no spaces,
// controls or format characters (soft hyphens and zero-width characters,
// which IDNA would quietly drop from a domain, stay out of the typed form
// that mail is sent to).
func visible(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !visibleRune(r) }) < 0
}

func visibleRune(r rune) bool {
	return r != utf8.RuneError && unicode.IsGraphic(r) && !unicode.IsSpace(r)
}

// asciiAtext reports whether c is an RFC 5322 atext character.
func asciiAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// userIDByEmail finds the account an address belongs to, under any of its
// EmailLookupKeys; the canonical form wins. Every key is looked up, found
// or not, so the time taken does not tell under which form an account is
// kept. ErrNotFound when none has one, and for a refused address.
func (s *Service) userIDByEmail(ctx context.Context, raw string) (string, error) {
	if _, ok := CanonicalEmail(raw); !ok {
		return "", kernel.ErrNotFound
	}
	found := ""
	for _, key := range EmailLookupKeys(raw) {
		id, err := s.store.UserIDByEmail(ctx, key)
		switch {
		case errors.Is(err, kernel.ErrNotFound):
		case err != nil:
			return "", err
		case found == "":
			found = id
		}
	}
	if found == "" {
		return "", kernel.ErrNotFound
	}
	return found, nil
}

// legacyClaimTaken reports whether an account invited before the current
// canonical form holds the address under its old form (ErrEmailTaken), so
// that a new account cannot be made beside it.
func (s *Service) legacyClaimTaken(ctx context.Context, raw string) error {
	keys := EmailLookupKeys(raw)
	if _, ok := CanonicalEmail(raw); !ok || len(keys) < 2 {
		return nil
	}
	_, err := s.store.UserIDByEmail(ctx, keys[1])
	switch {
	case errors.Is(err, kernel.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return ErrEmailTaken
}
