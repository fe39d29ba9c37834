package passwords

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Policy is the password acceptance rule of NIST SP 800-63B-4 for
// single-factor passwords: a length floor and ceiling counted in Unicode
// code points after NFKC normalisation, and a check against common,
// breached, repetitive and context-specific passwords. It deliberately has
// no composition rules (no "one digit, one capital"), and never truncates.
// Zero fields take their DefaultPolicy values.
type Policy struct {
	MinLength int // code points after NFKC, default 15
	MaxLength int // code points after NFKC, default 256
	MaxBytes  int // UTF-8 bytes before normalisation, default and ceiling MaxBytes
}

// DefaultPolicy returns the policy this service uses: at least 15 and at
// most 256 code points, and at most MaxBytes bytes.
func DefaultPolicy() Policy {
	return Policy{MinLength: 15, MaxLength: 256, MaxBytes: MaxBytes}
}

// Reason says why a password was rejected. The values are stable so that
// clients can map them to localised messages.
type Reason string

// The reasons Check gives for a rejection.
const (
	// ReasonTooShort means fewer code points than Policy.MinLength.
	ReasonTooShort Reason = "too_short"
	// ReasonTooLong means more code points than Policy.MaxLength or more
	// bytes than Policy.MaxBytes.
	ReasonTooLong Reason = "too_long"
	// ReasonBlocklisted means a common or breached password, possibly
	// decorated, disguised or repeated.
	ReasonBlocklisted Reason = "blocklisted"
	// ReasonContext means little is left once the user's names, email
	// address and the service's names are taken out.
	ReasonContext Reason = "context_word"
	// ReasonRepetitive means a repeated character or short unit, or a
	// sequence such as 12345... or a keyboard row.
	ReasonRepetitive Reason = "repetitive"
)

// Rejection is the error Check returns for an unacceptable password. It
// carries only the reason, never the password.
type Rejection struct {
	Reason Reason
}

// Error returns a short English description of the reason.
func (r *Rejection) Error() string {
	switch r.Reason {
	case ReasonTooShort:
		return "password is too short"
	case ReasonTooLong:
		return "password is too long"
	case ReasonBlocklisted:
		return "password is too common"
	case ReasonContext:
		return "password is too close to your name, email address or the name of the service"
	case ReasonRepetitive:
		return "password is too repetitive or predictable"
	}
	return "password rejected: " + string(r.Reason)
}

// productWords are always treated as context words: they are the first
// thing someone guessing a password for this service would try. They are
// given in folded form (lowercase, no diacritics, no spaces or punctuation).
func productWords() []string {
	return []string{
		"palvelumanuaali",
		"servicemanualen",
		"employmentservicesmanual",
		"employmentservices",
		"tyollisyyspalvelu", // työllisyyspalvelut, työllisyyspalvelujen, ...
		"tepalvelu",         // TE-palvelut
		"sysselsattningstjanst",
		"tyomarkkinatori",
	}
}

// keyboardRows are key runs people type as if they were random: US and
// Nordic (folded: å, ö, ä become a, o, a) layouts, with and without the
// punctuation keys at the row ends.
func keyboardRows() []string {
	return []string{
		"1234567890qwertyuiopasdfghjklzxcvbnm",
		"`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./",
		"~!@#$%^&*()_+qwertyuiop{}|asdfghjkl:\"zxcvbnm<>?",
		"qwertyuiopaasdfghjkloazxcvbnm",
		"qwertzuiopasdfghjklyxcvbnm",
		"azertyuiopqsdfghjklmwxcvbn",
		"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
	}
}

const (
	// contextMinRemaining is how much of a password must remain once the
	// context words and the digits and punctuation around them are taken
	// away; it matches NIST's floor for a password that is not the only
	// factor.
	contextMinRemaining = 8
	// contextMinWord keeps initials and short fragments from removing
	// large parts of unrelated passwords.
	contextMinWord = 3
	// shortUnit is the longest repeated unit that counts as repetitive even
	// when it is a listed word ("abcabc...", "xoxo...").
	shortUnit = 4
	// maxTrivialAffix is how many distinct characters a run of digits or
	// punctuation around a word may have and still count as a guessable
	// decoration, like "2025", "!!!" or a date.
	maxTrivialAffix = 8
)

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.MinLength <= 0 {
		p.MinLength = d.MinLength
	}
	if p.MaxLength <= 0 {
		p.MaxLength = d.MaxLength
	}
	// Hash refuses anything longer than MaxBytes, so a larger policy limit
	// would accept passwords that can never be stored.
	if p.MaxBytes <= 0 || p.MaxBytes > MaxBytes {
		p.MaxBytes = MaxBytes
	}
	return p
}

// Check returns nil if password is acceptable and a *Rejection otherwise.
// contextWords are words specific to the user, such as the email address or
// its local part and the first and last name; each is also split at . _ - +
// @ and spaces, parts shorter than three characters are ignored, and the
// product's own names are always included.
//
// Rejections, in the order they are tested:
//   - ReasonTooLong, ReasonTooShort: the length in code points after NFKC
//     normalisation (or the byte length) is out of bounds;
//   - ReasonContext: fewer than eight characters remain once every context
//     word and all digits, punctuation and spaces are removed, provided a
//     context word occurred at all;
//   - ReasonBlocklisted: the password is a listed common password, is one
//     once a guessable run of digits or punctuation is taken off either end
//     or obvious character substitutions (p@ssw0rd) are undone, or is a
//     listed word repeated;
//   - ReasonRepetitive: a character or a short unit repeated, or a plain
//     sequence such as 123456789012345, abcdefghijklmnop or a keyboard row.
func (p Policy) Check(password string, contextWords ...string) error {
	p = p.withDefaults()
	// Compared before normalising so that an oversized input costs nothing.
	if len(password) > p.MaxBytes {
		return &Rejection{Reason: ReasonTooLong}
	}
	n := utf8.RuneCountInString(norm.NFKC.String(password))
	if n > p.MaxLength {
		return &Rejection{Reason: ReasonTooLong}
	}
	if n < p.MinLength {
		return &Rejection{Reason: ReasonTooShort}
	}
	s := fold(password)
	if contextMatch(s, contextWords) {
		return &Rejection{Reason: ReasonContext}
	}
	if r := patternMatch(s); r != "" {
		return &Rejection{Reason: r}
	}
	return nil
}

// fold maps s to the form every comparison uses: NFKC, lowercase and
// without combining marks, so that "Pässwörd" counts as "password" and
// "Työllisyyspalvelut" as "tyollisyyspalvelut", as a guesser would try.
func fold(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	s = strings.ToLower(norm.NFKC.String(s))
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		// Only possible with invalid UTF-8; compare the unfolded form.
		return s
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isFiller reports the characters people pad words with: digits,
// punctuation, spaces and the ASCII symbols ($ + ^ = < > | ~ `), which
// users think of as punctuation. Other symbols such as emoji are content.
func isFiller(r rune) bool {
	return unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSpace(r) ||
		r < utf8.RuneSelf && unicode.IsSymbol(r)
}

func removeFiller(s string) string {
	return strings.Map(func(r rune) rune {
		if isFiller(r) {
			return -1
		}
		return r
	}, s)
}

func removeSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// splitAffixes splits s into the filler run at its start, the core, and the
// filler run at its end. An all-filler s is returned whole as the prefix.
func splitAffixes(s string) (prefix, core, suffix string) {
	start := strings.IndexFunc(s, func(r rune) bool { return !isFiller(r) })
	if start < 0 {
		return s, "", ""
	}
	end := strings.LastIndexFunc(s, func(r rune) bool { return !isFiller(r) })
	_, size := utf8.DecodeRuneInString(s[end:])
	return s[:start], s[start : end+size], s[end+size:]
}

// leet undoes the common look-alike substitutions; ones is what 1 stands
// for, since people use it for both i and l.
func leet(s string, ones rune) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '4', '@':
			return 'a'
		case '3':
			return 'e'
		case '1':
			return ones
		case '!', '|':
			return 'i'
		case '0':
			return 'o'
		case '5', '$':
			return 's'
		case '7', '+':
			return 't'
		}
		return r
	}, s)
}

// contextMatch reports whether s (folded) is mostly made of context words.
func contextMatch(s string, contextWords []string) bool {
	words := productWords()
	for _, w := range contextWords {
		w = fold(w)
		words = append(words, removeFiller(w))
		for part := range strings.FieldsFuncSeq(w, func(r rune) bool {
			return r == '.' || r == '_' || r == '-' || r == '+' || r == '@' || unicode.IsSpace(r)
		}) {
			words = append(words, removeFiller(part))
		}
	}
	words = slices.DeleteFunc(words, func(w string) bool {
		return utf8.RuneCountInString(w) < contextMinWord
	})
	// Longest first, so "aino" does not break up "ainovirtanen" before the
	// whole name is taken out.
	slices.SortFunc(words, func(a, b string) int {
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	words = slices.Compact(words)

	_, core, _ := splitAffixes(removeSpaces(s))
	for _, v := range []string{removeFiller(s), removeFiller(leet(core, 'i')), removeFiller(leet(core, 'l'))} {
		rest, removed := removeWords(v, words)
		if removed && utf8.RuneCountInString(rest) < contextMinRemaining {
			return true
		}
	}
	return false
}

// removeWords deletes every occurrence of every word, repeating until none
// is left, since a deletion can join the halves of another occurrence.
func removeWords(s string, words []string) (string, bool) {
	removed := false
	for changed := true; changed; {
		changed = false
		for _, w := range words {
			if strings.Contains(s, w) {
				s = strings.ReplaceAll(s, w, "")
				changed, removed = true, true
			}
		}
	}
	return s, removed
}

// patternMatch returns the reason s (folded) is guessable, or "".
func patternMatch(s string) Reason {
	candidates := []string{s}
	compact := removeSpaces(s)
	if compact != s {
		candidates = append(candidates, compact)
	}
	prefix, core, suffix := splitAffixes(compact)
	if core != compact && trivialAffix(prefix) && trivialAffix(suffix) {
		if utf8.RuneCountInString(core) < contextMinWord {
			// Nothing but decoration around a character or two.
			return ReasonRepetitive
		}
		candidates = append(candidates, core)
	}
	for _, c := range candidates {
		if listed(c) {
			return ReasonBlocklisted
		}
		if r := repetition(c); r != "" {
			return r
		}
		if sequence(c) || keyboardWalk(c) {
			return ReasonRepetitive
		}
	}
	return ""
}

// listed reports whether s, or s with look-alike substitutions undone, is
// in the blocklist.
func listed(s string) bool {
	set := blocklist()
	if _, ok := set[s]; ok {
		return true
	}
	if !strings.ContainsAny(s, "43@10!|57$+") {
		return false
	}
	for _, ones := range []rune{'i', 'l'} {
		if _, ok := set[leet(s, ones)]; ok {
			return true
		}
	}
	return false
}

// trivialAffix reports whether a run of filler is one a guesser tries
// after a word: empty, short once repeats are squeezed out ("2025!!!!"),
// a sequence or repetition ("123456789"), or listed ("12345678"). At most
// three such pieces, alternating digits and other filler, are allowed.
func trivialAffix(s string) bool {
	if s == "" {
		return true
	}
	pieces := 0
	for piece := range fillerPieces(s) {
		pieces++
		if pieces > 3 {
			return false
		}
		if squeezedLen(piece) <= maxTrivialAffix || sequence(piece) || repetition(piece) != "" || listed(piece) {
			continue
		}
		return false
	}
	return true
}

// fillerPieces yields the maximal runs of digits and of non-digits in s.
func fillerPieces(s string) func(func(string) bool) {
	return func(yield func(string) bool) {
		start, digits := 0, false
		for i, r := range s {
			if d := unicode.IsDigit(r); i == 0 {
				digits = d
			} else if d != digits {
				if !yield(s[start:i]) {
					return
				}
				start, digits = i, d
			}
		}
		yield(s[start:])
	}
}

// squeezedLen is the rune count of s with runs of one repeated rune
// counted once.
func squeezedLen(s string) int {
	n, prev := 0, rune(-1)
	for _, r := range s {
		if r != prev {
			n++
		}
		prev = r
	}
	return n
}

// repetition judges s that is at least two copies of a shorter unit
// (with possibly a partial copy at the end): a unit of up to shortUnit
// characters is repetitive, a listed unit makes s blocklisted, and any unit
// shorter than contextMinRemaining is repetitive because guessing the unit
// is all it takes.
func repetition(s string) Reason {
	r := []rune(s)
	p := period(r)
	if len(r) < 2 || len(r) < 2*p {
		return ""
	}
	if p <= shortUnit {
		return ReasonRepetitive
	}
	unit := string(r[:p])
	if listed(unit) {
		return ReasonBlocklisted
	}
	if _, core, _ := splitAffixes(unit); core != "" && listed(core) {
		return ReasonBlocklisted
	}
	if p < contextMinRemaining {
		return ReasonRepetitive
	}
	return ""
}

// period returns the length of the shortest unit u such that r is a prefix
// of u repeated, from the Knuth-Morris-Pratt failure function.
func period(r []rune) int {
	if len(r) == 0 {
		return 0
	}
	fail := make([]int, len(r))
	for i, k := 1, 0; i < len(r); i++ {
		for k > 0 && r[i] != r[k] {
			k = fail[k-1]
		}
		if r[i] == r[k] {
			k++
		}
		fail[i] = k
	}
	return len(r) - fail[len(r)-1]
}

// sequence reports whether s is at least three characters stepping by the
// same +1, -1, +2 or -2 throughout, with digits wrapping 9 to 0 and ASCII
// letters z to a, so "7890123456" and "zyxwvu" count.
func sequence(s string) bool {
	r := []rune(s)
	if len(r) < 3 {
		return false
	}
	d := step(r[0], r[1])
	if d == 0 || d < -2 || d > 2 {
		return false
	}
	for i := 2; i < len(r); i++ {
		if step(r[i-1], r[i]) != d {
			return false
		}
	}
	return true
}

func step(a, b rune) int {
	wrap := func(d, n int) int {
		d = ((d % n) + n) % n
		if d > n/2 {
			d -= n
		}
		return d
	}
	switch {
	case '0' <= a && a <= '9' && '0' <= b && b <= '9':
		return wrap(int(b-a), 10)
	case 'a' <= a && a <= 'z' && 'a' <= b && b <= 'z':
		return wrap(int(b-a), 26)
	}
	return int(b - a)
}

// keyboardWalk reports whether s, of four or more characters, is a run of
// adjacent keys along a keyboard row, forwards or backwards.
func keyboardWalk(s string) bool {
	if utf8.RuneCountInString(s) < 4 {
		return false
	}
	reversed := []rune(s)
	slices.Reverse(reversed)
	for _, row := range keyboardRows() {
		if strings.Contains(row, s) || strings.Contains(row, string(reversed)) {
			return true
		}
	}
	return false
}
