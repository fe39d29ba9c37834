package accounts_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// P1: every spelling of one address is one account. Each pair is one
// address typed two ways, and must have one canonical form.
func TestCanonicalEmailLookAlikesAreOneAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"Greek capital sigma and final sigma", "ΟΔΟΣ@kunta.example.fi", "οδος@kunta.example.fi", "οδοσ@kunta.example.fi"},
		{"Greek final and medial sigma", "οδος@kunta.example.fi", "οδοσ@kunta.example.fi", "οδοσ@kunta.example.fi"},
		{"sharp s and SS", "STRASSE@kunta.example.fi", "straße@kunta.example.fi", "strasse@kunta.example.fi"},
		{"sharp s and ss", "strasse@kunta.example.fi", "straße@kunta.example.fi", "strasse@kunta.example.fi"},
		{"capital sharp s and ss", "STRAẞE@kunta.example.fi", "strasse@kunta.example.fi", "strasse@kunta.example.fi"},
		{"full-width letters and ASCII", "ＭＡＩＪＡ@kunta.example.fi", "maija@kunta.example.fi", "maija@kunta.example.fi"},
		{"composed and decomposed é", "ren\u00e9@kunta.example.fi", "rene\u0301@kunta.example.fi", "ren\u00e9@kunta.example.fi"},
		{"Kelvin sign and K", "\u212Aari@kunta.example.fi", "Kari@kunta.example.fi", "kari@kunta.example.fi"},
		{"Cherokee lower and upper case", "\uab70\u13f8@kunta.example.fi", "\u13a0\u13f0@kunta.example.fi", "\u13a0\u13f0@kunta.example.fi"},
		{"ligature and its letters", "\ufb01nn@kunta.example.fi", "finn@kunta.example.fi", "finn@kunta.example.fi"},
		{"IDN domain and its punycode", "user@bücher.fi", "user@xn--bcher-kva.fi", "user@xn--bcher-kva.fi"},
		{"upper-case IDN domain and lower-case", "user@BÜCHER.FI", "user@bücher.fi", "user@xn--bcher-kva.fi"},
		{"upper-case punycode and lower-case", "user@XN--BCHER-KVA.FI", "user@xn--bcher-kva.fi", "user@xn--bcher-kva.fi"},
		{"decomposed ü in the domain and composed", "user@bu\u0308cher.fi", "user@bücher.fi", "user@xn--bcher-kva.fi"},
		{"full-width domain and ASCII", "user@ｋｕｎｔａ.fi", "user@kunta.fi", "user@kunta.fi"},
		{"Finnish letters in any case", "MÄKELÄ@Hämeenlinna.FI", "mäkelä@hämeenlinna.fi", "mäkelä@xn--hmeenlinna-q5a.fi"},
		{"ASCII case and spaces", "  Alice@Example.COM ", "alice@example.com", "alice@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, okA := accounts.CanonicalEmail(tt.a)
			b, okB := accounts.CanonicalEmail(tt.b)
			if !okA || !okB {
				t.Fatalf("refused: %q %v, %q %v", tt.a, okA, tt.b, okB)
			}
			if a != tt.want || b != tt.want {
				t.Errorf("CanonicalEmail(%q) = %q, CanonicalEmail(%q) = %q; want both %q", tt.a, a, tt.b, b, tt.want)
			}
		})
	}
}

// P1: addresses that only look alike stay different accounts.
//
// Confusables (Unicode TR 39) are not folded: a Cyrillic а and a Latin a
// are different letters, so the mail servers deliver them to different
// mailboxes, which may belong to different people. Folding them together
// would let one person's account block another's and send one person's
// mail to the other's address; telling them apart is left to the person
// reading the address.
func TestCanonicalEmailDifferentAddressesStayApart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
	}{
		{"different letters", "maija@kunta.example.fi", "maijb@kunta.example.fi"},
		{"Cyrillic а and Latin a", "m\u0430ija@kunta.example.fi", "maija@kunta.example.fi"},
		{"Greek ο and Latin o", "\u03bfona@kunta.example.fi", "oona@kunta.example.fi"},
		{"dotless ı and i", "\u0131lkka@kunta.example.fi", "ilkka@kunta.example.fi"},
		{"ä and a", "mäkelä@kunta.example.fi", "makela@kunta.example.fi"},
		{"Cyrillic а in the domain", "user@ex\u0430mple.fi", "user@example.fi"},
		// In a domain ß and ς are their own letters (IDNA2008): straße.de
		// and strasse.de are two registrable domains.
		{"sharp s in a domain", "user@straße.de", "user@strasse.de"},
		{"final sigma in a domain", "user@οδος.gr", "user@οδοσ.gr"},
		{"plus tag", "maija+a@kunta.example.fi", "maija@kunta.example.fi"},
		{"dots in the local part", "ma.ija@kunta.example.fi", "maija@kunta.example.fi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, okA := accounts.CanonicalEmail(tt.a)
			b, okB := accounts.CanonicalEmail(tt.b)
			if !okA || !okB {
				t.Fatalf("refused: %q %v, %q %v", tt.a, okA, tt.b, okB)
			}
			if a == b {
				t.Errorf("%q and %q are both %q", tt.a, tt.b, a)
			}
		})
	}
}

// API-1: what is not a plain address is refused with a stable code.
func TestParseEmailRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		code string
	}{
		{"IPv4 literal", "user@[192.0.2.1]", accounts.CodeEmailIPLiteral},
		{"IPv6 literal", "user@[IPv6:2001:db8::1]", accounts.CodeEmailIPLiteral},
		{"bare dotted quad", "user@192.0.2.1", accounts.CodeEmailIPLiteral},
		{"short IPv4 form", "user@127.1", accounts.CodeEmailIPLiteral},
		{"hexadecimal IPv4 form", "user@0x7f.0.0.1", accounts.CodeEmailIPLiteral},
		{"full-width dotted quad", "user@１９２.０.２.１", accounts.CodeEmailIPLiteral},
		{"quoted local part", `"a b"@kunta.example.fi`, accounts.CodeEmailQuotedLocalPart},
		{"quoted local part with an @", `"a@b"@kunta.example.fi`, accounts.CodeEmailQuotedLocalPart},
		{"backslash escape", `a\ b@kunta.example.fi`, accounts.CodeEmailQuotedLocalPart},
		{"invalid punycode label", "user@xn--zz.fi", accounts.CodeInvalidEmail},
		{"label starting with a hyphen", "user@-kunta.fi", accounts.CodeInvalidEmail},
		{"underscore in the domain", "user@kun_ta.fi", accounts.CodeInvalidEmail},
		{"slash in the domain", "user@kun/ta.fi", accounts.CodeInvalidEmail},
		{"soft hyphen in the domain", "user@kun\u00adta.fi", accounts.CodeInvalidEmail},
		{"bidi control in the domain", "user@kunta\u202e.fi", accounts.CodeInvalidEmail},
		{"empty local part", "@kunta.example.fi", accounts.CodeInvalidEmail},
		{"empty domain", "user@", accounts.CodeInvalidEmail},
		{"empty label", "user@kunta..fi", accounts.CodeInvalidEmail},
		{"single-label domain", "user@localhost", accounts.CodeInvalidEmail},
		{"no @", "user.kunta.example.fi", accounts.CodeInvalidEmail},
		{"empty", "", accounts.CodeInvalidEmail},
		{"only spaces", "  ", accounts.CodeInvalidEmail},
		{"display name", "Maija <maija@kunta.example.fi>", accounts.CodeInvalidEmail},
		{"comment", "maija(x)@kunta.example.fi", accounts.CodeInvalidEmail},
		{"bidi override in the local part", "ali\u202ece@kunta.example.fi", accounts.CodeInvalidEmail},
		{"zero-width joiner in the local part", "al\u200dice@kunta.example.fi", accounts.CodeInvalidEmail},
		{"no-break space in the local part", "a\u00a0b@kunta.example.fi", accounts.CodeInvalidEmail},
		{"full-width @ that folds to a second @", "a＠b@kunta.example.fi", accounts.CodeInvalidEmail},
		{"full-width quote that folds to a quote", "a＂b@kunta.example.fi", accounts.CodeInvalidEmail},
		{"CR LF header injection", "a@kunta.example.fi\r\nBcc: x@example.com", accounts.CodeInvalidEmail},
		{"invalid UTF-8", "a\xff@kunta.example.fi", accounts.CodeInvalidEmail},
		{"65-octet local part", strings.Repeat("a", 65) + "@kunta.example.fi", accounts.CodeInvalidEmail},
		{"local part over 64 octets once normalised", strings.Repeat("\u33af", 20) + "@kunta.example.fi", accounts.CodeInvalidEmail},
		{"64-octet domain label", "a@" + strings.Repeat("b", 64) + ".fi", accounts.CodeInvalidEmail},
		{"over 254 octets", "a@" + strings.Repeat("b", 62) + "." + strings.Repeat("c", 62) + "." + strings.Repeat("d", 62) + "." + strings.Repeat("e", 62) + ".fi", accounts.CodeInvalidEmail},
		{"over 254 octets only once in punycode", "a@" + strings.Repeat(strings.Repeat("a", 55)+"ä.", 4) + "fi", accounts.CodeInvalidEmail},
		{"huge input", strings.Repeat("a", 1<<20) + "@kunta.example.fi", accounts.CodeInvalidEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := accounts.ParseEmail(tt.raw)
			var refused *accounts.EmailError
			if !errors.As(err, &refused) {
				t.Fatalf("ParseEmail(%q) = %+v, %v; want refused with %s", tt.raw, e, err, tt.code)
			}
			if refused.Code != tt.code {
				t.Errorf("ParseEmail(%q) refused with %s, want %s", tt.raw, refused.Code, tt.code)
			}
			if got, ok := accounts.CanonicalEmail(tt.raw); ok || got != "" {
				t.Errorf("CanonicalEmail(%q) = %q, %v; want refused", tt.raw, got, ok)
			}
		})
	}
}

// P1: the address is shown and mailed as typed; only the key is folded.
func TestParseEmailKeepsWhatWasTyped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want accounts.Email
	}{
		{"  Maija.Meikalainen@Kunta.Example.FI ", accounts.Email{Display: "Maija.Meikalainen@Kunta.Example.FI", Canonical: "maija.meikalainen@kunta.example.fi"}},
		{"STRASSE@Bücher.fi", accounts.Email{Display: "STRASSE@Bücher.fi", Canonical: "strasse@xn--bcher-kva.fi"}},
		// Composed and decomposed letters are one text; the typed form is
		// stored composed (NFC) so that it compares as text.
		{"rene\u0301@kunta.fi", accounts.Email{Display: "ren\u00e9@kunta.fi", Canonical: "ren\u00e9@kunta.fi"}},
	}
	for _, tt := range tests {
		got, err := accounts.ParseEmail(tt.raw)
		if err != nil {
			t.Fatalf("ParseEmail(%q): %v", tt.raw, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseEmail(%q) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

// P1: an account stored before full folding is still found under the form
// it was stored under.
func TestEmailLookupKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want []string
	}{
		{"Alice@Example.com", []string{"alice@example.com"}},
		{"Straße@Bücher.fi", []string{"strasse@xn--bcher-kva.fi", "straße@bücher.fi"}},
		{"user@[192.0.2.1]", []string{"user@[192.0.2.1]"}}, // refused now; only erasure looks
		{"  ", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, accounts.EmailLookupKeys(tt.raw)); diff != "" {
			t.Errorf("EmailLookupKeys(%q) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

// P1, API-1: whatever is typed, canonicalising neither panics nor gives a
// form that canonicalises to something else, and a canonical form is
// valid UTF-8 with an ASCII domain. Seeds in testdata/fuzz/FuzzCanonicalEmail
// run with every go test.
func FuzzCanonicalEmail(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", "ΟΔΟΣ@kunta.fi", "straße@bücher.fi", "\u212Aari@x.fi",
		"user@[192.0.2.1]", `"a b"@x.fi`, "a＠b@x.fi", "user@xn--bcher-kva.fi", "ͺ@x.fi",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		e, err := accounts.ParseEmail(raw)
		canonical, ok := accounts.CanonicalEmail(raw)
		if ok != (err == nil) || canonical != e.Canonical {
			t.Fatalf("CanonicalEmail(%q) = %q, %v; ParseEmail: %+v, %v", raw, canonical, ok, e, err)
		}
		if !ok {
			return
		}
		if !utf8.ValidString(canonical) || !utf8.ValidString(e.Display) {
			t.Fatalf("invalid UTF-8 from %q: %q, %q", raw, canonical, e.Display)
		}
		if len(canonical) > accounts.MaxEmailLength || len(e.Display) > accounts.MaxEmailLength {
			t.Fatalf("too long from %q: %q, %q", raw, canonical, e.Display)
		}
		local, domain, found := strings.Cut(canonical, "@")
		if !found || local == "" || strings.Contains(domain, "@") {
			t.Fatalf("canonical form %q of %q is not one local part and one domain", canonical, raw)
		}
		for i := 0; i < len(domain); i++ {
			if c := domain[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
				t.Fatalf("canonical domain %q of %q is not lower-case ASCII", domain, raw)
			}
		}
		if again, ok := accounts.CanonicalEmail(canonical); !ok || again != canonical {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", raw, canonical, again, ok)
		}
		if again, ok := accounts.CanonicalEmail(e.Display); !ok || again != canonical {
			t.Fatalf("display form %q of %q canonicalises to %q (%v), not %q", e.Display, raw, again, ok, canonical)
		}
	})
}
