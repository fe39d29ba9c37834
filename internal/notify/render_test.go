package notify

import (
	"bytes"
	"errors"
	"flag"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current templates")

// testNow is a fixed clock: 3 December 2026 12:00 in Helsinki.
var testNow = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func testLinks(t *testing.T) LinkBuilder {
	t.Helper()
	b, err := NewLinkBuilder("https://palvelumanuaali.fi")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fullContent fills every field a kind uses, so that every optional part
// of its template is rendered.
func fullContent(t *testing.T, kind Kind, locale string) Content {
	t.Helper()
	links := testLinks(t)
	c := Content{Kind: kind, Locale: locale, FirstName: "Åsa-Öljy"}
	switch kind {
	case KindInvitation:
		c.Link, c.ValidFor = links.Invitation("inv+tok/en="), 7*24*time.Hour
	case KindPasswordReset:
		c.Link, c.ValidFor = links.PasswordReset("res+tok/en="), 30*time.Minute
	case KindInactivityWarning:
		c.Link, c.Now, c.DueAt = links.SignIn(), testNow, testNow.AddDate(0, 0, 30)
	case KindAccountClosed:
		c.DueAt = testNow.AddDate(0, 0, 90)
	case KindAccountRestored:
		c.Link = links.SignIn()
	case KindAccessChanged:
		c.Link, c.Role, c.OrganizationName = links.SignIn(), "primary_user", "Vantaan kaupunki"
	}
	return c
}

// kindsWithLinks are the kinds whose emails carry Content.Link.
var kindsWithLinks = map[Kind]bool{
	KindInvitation: true, KindPasswordReset: true, KindInactivityWarning: true,
	KindAccountRestored: true, KindAccessChanged: true,
}

func TestRenderEveryKindInEveryLocale(t *testing.T) {
	productName := map[string]string{"fi": "Palvelumanuaali", "sv": "Servicemanualen", "en": "Employment Services Manual"}
	for _, locale := range Locales {
		for _, kind := range Kinds {
			t.Run(string(kind)+"."+locale+" renders completely", func(t *testing.T) {
				c := fullContent(t, kind, locale)
				got, err := Render(c)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				parts := map[string]string{"subject": got.Subject, "text": got.Text, "html": got.HTML}
				for name, s := range parts {
					if strings.TrimSpace(s) == "" {
						t.Errorf("%s is empty", name)
					}
					for _, leftover := range []string{"<no value>", "{{", "}}", "ZgotmplZ"} {
						if strings.Contains(s, leftover) {
							t.Errorf("%s contains %q:\n%s", name, leftover, s)
						}
					}
				}
				if !strings.Contains(got.Subject+got.Text, productName[locale]) {
					t.Errorf("subject and text do not name the product %q: wrong language?", productName[locale])
				}
				if got, want := strings.Contains(got.HTML, `<html lang="`+locale+`">`), true; got != want {
					t.Errorf("HTML has no lang=%q", locale)
				}
				for name, s := range map[string]string{"text": got.Text, "html": got.HTML} {
					if !strings.Contains(s, "Åsa-Öljy") {
						t.Errorf("%s does not greet by first name", name)
					}
				}
				if kindsWithLinks[kind] {
					if !strings.Contains(got.Text, c.Link) {
						t.Errorf("text does not contain the link %q", c.Link)
					}
					if !strings.Contains(got.HTML, `href="`+htmltemplate.HTMLEscapeString(c.Link)+`"`) {
						t.Errorf("HTML does not link to %q", c.Link)
					}
				}
			})
		}
	}
}

func TestRenderWithoutOptionalValues(t *testing.T) {
	for _, locale := range Locales {
		for _, kind := range Kinds {
			t.Run(string(kind)+"."+locale+" renders with only required values", func(t *testing.T) {
				c := Content{Kind: kind, Locale: locale}
				switch kind {
				case KindInvitation, KindPasswordReset:
					c.Link = testLinks(t).Invitation("t")
				case KindInactivityWarning, KindAccountClosed:
					c.DueAt = testNow
				}
				got, err := Render(c)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				for name, s := range map[string]string{"subject": got.Subject, "text": got.Text, "html": got.HTML} {
					if strings.Contains(s, "<no value>") || strings.Contains(s, "\n\n\n") {
						t.Errorf("%s has a gap where an optional value was left out:\n%s", name, s)
					}
				}
			})
		}
	}
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		kind   Kind
		locale string
	}{
		{KindInvitation, "fi"},
		{KindPasswordReset, "sv"},
		{KindAccountClosed, "en"},
	}
	for _, tt := range tests {
		name := string(tt.kind) + "." + tt.locale
		t.Run(name+" matches its golden files", func(t *testing.T) {
			c := fullContent(t, tt.kind, tt.locale)
			c.FirstName = "Maija"
			got, err := Render(c)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for ext, s := range map[string]string{"subject": got.Subject + "\n", "txt": got.Text, "html": got.HTML} {
				path := filepath.Join("testdata", "golden", name+"."+ext)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), s); diff != "" {
					t.Errorf("%s differs from golden file (-want +got; go test -update rewrites it):\n%s", path, diff)
				}
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	links := testLinks(t)
	tests := []struct {
		name    string
		content Content
		want    error
		secret  string // must not appear in the error message
	}{
		{
			name:    "unknown kind",
			content: Content{Kind: "newsletter", Locale: "fi"},
			want:    ErrUnknownKind,
		},
		{
			name:    "invitation without a link",
			content: Content{Kind: KindInvitation, Locale: "fi", ValidFor: time.Hour},
			want:    ErrMissingLink,
		},
		{
			name:    "password reset without a link",
			content: Content{Kind: KindPasswordReset, Locale: "sv"},
			want:    ErrMissingLink,
		},
		{
			name:    "inactivity warning without a due date",
			content: Content{Kind: KindInactivityWarning, Locale: "en", Now: testNow},
			want:    ErrMissingDueAt,
		},
		{
			name:    "account closed without an erasure date",
			content: Content{Kind: KindAccountClosed, Locale: "fi"},
			want:    ErrMissingDueAt,
		},
		{
			name:    "access change to an unknown role",
			content: Content{Kind: KindAccessChanged, Locale: "fi", Role: "superuser"},
			want:    ErrUnknownRole,
		},
		{
			name:    "first name with CR LF header injection",
			content: Content{Kind: KindPasswordChanged, Locale: "fi", FirstName: "x\r\nBcc: a@b"},
			want:    ErrUnsafeValue,
			secret:  "a@b",
		},
		{
			name:    "first name with a lone LF",
			content: Content{Kind: KindPasswordChanged, Locale: "fi", FirstName: "x\nSubject: y"},
			want:    ErrUnsafeValue,
			secret:  "Subject",
		},
		{
			name:    "first name with a NUL",
			content: Content{Kind: KindPasswordChanged, Locale: "fi", FirstName: "Maija\x00"},
			want:    ErrUnsafeValue,
		},
		{
			name:    "first name with a bidirectional override",
			content: Content{Kind: KindPasswordChanged, Locale: "fi", FirstName: "Maija\u202egnp.exe"},
			want:    ErrUnsafeValue,
			secret:  "gnp",
		},
		{
			name:    "first name with a Unicode line separator",
			content: Content{Kind: KindPasswordChanged, Locale: "fi", FirstName: "Maija\u2028Bcc"},
			want:    ErrUnsafeValue,
		},
		{
			name:    "first name that is prose, not a name",
			content: Content{Kind: KindPasswordChanged, Locale: "fi", FirstName: strings.Repeat("Klikkaa tästä ", 20)},
			want:    ErrUnsafeValue,
			secret:  "Klikkaa",
		},
		{
			name:    "organisation name with CR LF",
			content: Content{Kind: KindAccessChanged, Locale: "en", OrganizationName: "Org\r\nBcc: a@b"},
			want:    ErrUnsafeValue,
			secret:  "a@b",
		},
		{
			name:    "javascript link",
			content: Content{Kind: KindInvitation, Locale: "fi", Link: "javascript:alert(1)"},
			want:    ErrUnsafeValue,
			secret:  "alert",
		},
		{
			name:    "relative link",
			content: Content{Kind: KindPasswordReset, Locale: "fi", Link: "/password-reset?token=x"},
			want:    ErrUnsafeValue,
		},
		{
			name:    "link with a line break",
			content: Content{Kind: KindAccountRestored, Locale: "fi", Link: links.SignIn() + "\r\nBcc: a@b"},
			want:    ErrUnsafeValue,
		},
	}
	for _, tt := range tests {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			got, err := Render(tt.content)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Render error = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(Rendered{}, got); diff != "" {
				t.Errorf("Render returned content with its error (-want +got):\n%s", diff)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error message %q repeats the value", err)
			}
		})
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	const name = `<img src=x onerror=alert(1)>`
	c := fullContent(t, KindAccessChanged, "fi")
	c.FirstName = name
	c.OrganizationName = `<script>alert("org")</script>`
	got, err := Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, raw := range []string{"<img", "<script"} {
		if strings.Contains(got.HTML, raw) {
			t.Errorf("HTML contains unescaped %q:\n%s", raw, got.HTML)
		}
	}
	for _, escaped := range []string{"&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(&#34;org&#34;)&lt;/script&gt;"} {
		if !strings.Contains(got.HTML, escaped) {
			t.Errorf("HTML does not contain the escaped value %q", escaped)
		}
	}
	// Plain text is not markup: the name shows as typed.
	if !strings.Contains(got.Text, name) {
		t.Errorf("text does not contain the name as typed")
	}
}

func TestRenderLocale(t *testing.T) {
	tests := []struct {
		name, locale, wantSubject string
	}{
		{"fi is Finnish", "fi", "Palvelumanuaalin salasanasi on vaihdettu"},
		{"sv is Swedish", "sv", "Ditt lösenord i Servicemanualen har bytts"},
		{"en is English", "en", "Your Employment Services Manual password has been changed"},
		{"region and case are ignored", "SV-fi", "Ditt lösenord i Servicemanualen har bytts"},
		{"underscore region is ignored", "en_GB", "Your Employment Services Manual password has been changed"},
		{"empty falls back to Finnish", "", "Palvelumanuaalin salasanasi on vaihdettu"},
		{"unknown falls back to Finnish", "de", "Palvelumanuaalin salasanasi on vaihdettu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(Content{Kind: KindPasswordChanged, Locale: tt.locale})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got, want := got.Subject, tt.wantSubject; got != want {
				t.Errorf("subject = %q, want %q", got, want)
			}
		})
	}
}

func TestRenderPasswordChangedHasNoLinkOrSecret(t *testing.T) {
	for _, locale := range Locales {
		t.Run(locale+" has no link", func(t *testing.T) {
			// Even if a caller passes a link by mistake, this email must not
			// carry one: it is the email a hijacker would want to use.
			got, err := Render(Content{Kind: KindPasswordChanged, Locale: locale, Link: testLinks(t).PasswordReset("secret-token")})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for name, s := range map[string]string{"text": got.Text, "html": got.HTML} {
				for _, bad := range []string{"secret-token", "http", "href"} {
					if strings.Contains(s, bad) {
						t.Errorf("%s contains %q", name, bad)
					}
				}
			}
		})
	}
}

func TestRenderTellsWhomToContact(t *testing.T) {
	contact := map[string][]string{
		"fi": {"organisaatiosi pääkäyttäjään", "Palvelumanuaalin ylläpitoon"},
		"sv": {"din organisations huvudanvändare", "Servicemanualens administratörer"},
		"en": {"your organisation's primary user", "Employment Services Manual administrators"},
	}
	for _, kind := range []Kind{KindPasswordChanged, KindAccessChanged, KindAccountClosed} {
		for _, locale := range Locales {
			t.Run(string(kind)+"."+locale+" names the primary user and the administration", func(t *testing.T) {
				got, err := Render(fullContent(t, kind, locale))
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				for _, want := range contact[locale] {
					// Static template text is not escaped, so the apostrophe stays.
					if !strings.Contains(got.Text, want) || !strings.Contains(got.HTML, want) {
						t.Errorf("text or HTML does not mention %q", want)
					}
				}
			})
		}
	}
}

func TestRenderDates(t *testing.T) {
	// 23:30 UTC on New Year's Day is already 2 January in Helsinki.
	due := time.Date(2027, 1, 1, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		locale, want string
	}{
		{"fi", "2.1.2027"},
		{"sv", "2027-01-02"},
		{"en", "2 January 2027"},
	}
	for _, tt := range tests {
		t.Run(tt.locale+" shows the Helsinki date as "+tt.want, func(t *testing.T) {
			for _, kind := range []Kind{KindInactivityWarning, KindAccountClosed} {
				got, err := Render(Content{Kind: kind, Locale: tt.locale, DueAt: due})
				if err != nil {
					t.Fatalf("Render %s: %v", kind, err)
				}
				if !strings.Contains(got.Text, tt.want) || !strings.Contains(got.HTML, tt.want) {
					t.Errorf("%s text or HTML does not contain %q:\n%s", kind, tt.want, got.Text)
				}
			}
		})
	}
}

func TestRenderInactivityWarningDaysLeft(t *testing.T) {
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, helsinki)
	type phrase struct{ date, after string }
	tests := []struct {
		name     string
		now, due time.Time
		want     map[string]phrase // by locale; the date is bold in HTML
	}{
		{
			name: "30 days before",
			now:  now, due: now.AddDate(0, 0, 30),
			want: map[string]phrase{"fi": {"31.3.2027", " eli 30 päivän kuluttua,"}, "sv": {"2027-03-31", " (om 30 dagar)"}, "en": {"31 March 2027", " (in 30 days)"}},
		},
		{
			name: "7 days before",
			now:  now, due: now.AddDate(0, 0, 7),
			want: map[string]phrase{"fi": {"8.3.2027", " eli 7 päivän kuluttua,"}, "sv": {"2027-03-08", " (om 7 dagar)"}, "en": {"8 March 2027", " (in 7 days)"}},
		},
		{
			name: "the day before, late in the evening",
			now:  time.Date(2027, 3, 1, 23, 50, 0, 0, helsinki), due: time.Date(2027, 3, 2, 0, 10, 0, 0, helsinki),
			want: map[string]phrase{"fi": {"2.3.2027", " eli huomenna,"}, "sv": {"2027-03-02", " (i morgon)"}, "en": {"2 March 2027", " (tomorrow)"}},
		},
		{
			name: "across the change to summer time",
			now:  time.Date(2027, 3, 27, 12, 0, 0, 0, helsinki), due: time.Date(2027, 4, 3, 12, 0, 0, 0, helsinki),
			want: map[string]phrase{"fi": {"3.4.2027", " eli 7 päivän kuluttua,"}, "sv": {"2027-04-03", " (om 7 dagar)"}, "en": {"3 April 2027", " (in 7 days)"}},
		},
		{
			name: "without a clock only the date",
			due:  now.AddDate(0, 0, 7),
			want: map[string]phrase{"fi": {"8.3.2027", ", jos"}, "sv": {"2027-03-08", " om du"}, "en": {"8 March 2027", " unless"}},
		},
		{
			name: "a past date only the date",
			now:  now, due: now.AddDate(0, 0, -1),
			want: map[string]phrase{"fi": {"28.2.2027", ", jos"}, "sv": {"2027-02-28", " om du"}, "en": {"28 February 2027", " unless"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, locale := range Locales {
				got, err := Render(Content{Kind: KindInactivityWarning, Locale: locale, Now: tt.now, DueAt: tt.due})
				if err != nil {
					t.Fatalf("Render %s: %v", locale, err)
				}
				want := tt.want[locale]
				if !strings.Contains(got.Text, want.date+want.after) {
					t.Errorf("%s text does not contain %q:\n%s", locale, want.date+want.after, got.Text)
				}
				if !strings.Contains(got.HTML, "<strong>"+want.date+"</strong>"+want.after) {
					t.Errorf("%s HTML does not contain %q", locale, want.date+want.after)
				}
			}
		})
	}
}

func TestFormatValidity(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want map[string]string
	}{
		{7 * 24 * time.Hour, map[string]string{"fi": "7 päivää", "sv": "7 dagar", "en": "7 days"}},
		{24 * time.Hour, map[string]string{"fi": "1 päivän", "sv": "1 dag", "en": "1 day"}},
		{30 * time.Minute, map[string]string{"fi": "30 minuuttia", "sv": "30 minuter", "en": "30 minutes"}},
		{time.Hour, map[string]string{"fi": "1 tunnin", "sv": "1 timme", "en": "1 hour"}},
		{48 * time.Hour, map[string]string{"fi": "2 päivää", "sv": "2 dagar", "en": "2 days"}},
		{36 * time.Hour, map[string]string{"fi": "36 tuntia", "sv": "36 timmar", "en": "36 hours"}},
		{90 * time.Minute, map[string]string{"fi": "90 minuuttia", "sv": "90 minuter", "en": "90 minutes"}},
		{30 * time.Second, map[string]string{"fi": "1 minuutin", "sv": "1 minut", "en": "1 minute"}},
		{0, map[string]string{"fi": "", "sv": "", "en": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.d.String()+" reads naturally", func(t *testing.T) {
			for _, locale := range Locales {
				if got, want := formatValidity(locale, tt.d), tt.want[locale]; got != want {
					t.Errorf("formatValidity(%s, %s) = %q, want %q", locale, tt.d, got, want)
				}
			}
		})
	}
}

func TestRenderRoleNames(t *testing.T) {
	tests := []struct {
		role string
		want map[string]string
	}{
		{"admin", map[string]string{"fi": "ylläpitäjä", "sv": "administratör", "en": "administrator"}},
		{"primary_user", map[string]string{"fi": "pääkäyttäjä", "sv": "huvudanvändare", "en": "primary user"}},
		{"editor", map[string]string{"fi": "muokkaaja", "sv": "redigerare", "en": "editor"}},
		{"expert", map[string]string{"fi": "asiantuntija", "sv": "expert", "en": "expert"}},
	}
	for _, tt := range tests {
		t.Run(tt.role+" is named in every locale", func(t *testing.T) {
			for _, locale := range Locales {
				got, err := Render(Content{Kind: KindAccessChanged, Locale: locale, Role: tt.role})
				if err != nil {
					t.Fatalf("Render %s: %v", locale, err)
				}
				want := ": " + tt.want[locale] + "\n"
				if !strings.Contains(got.Text, want) {
					t.Errorf("%s text does not contain %q:\n%s", locale, want, got.Text)
				}
				if !strings.Contains(got.HTML, "<strong>"+tt.want[locale]+"</strong>") {
					t.Errorf("%s HTML does not name the role %q", locale, tt.want[locale])
				}
			}
		})
	}
}

func TestNewRendererIsIndependentOfDefault(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	c := fullContent(t, KindInvitation, "sv")
	got, err := r.Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want, err := Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Renderer.Render differs from Render (-want +got):\n%s", diff)
	}
}

func TestNewRendererRefusesMissingTranslation(t *testing.T) {
	tests := []struct {
		name, file, drop string
	}{
		{"refused without a Swedish HTML body", "templates/sv.html.tmpl", `{{define "account_restored.html"}}`},
		{"refused without an English subject", "templates/en.txt.tmpl", `{{define "access_changed.subject"}}`},
		{"refused without a Finnish text body", "templates/fi.txt.tmpl", `{{define "invitation.txt"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			entries, err := fs.ReadDir(templateFS, "templates")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				path := "templates/" + e.Name()
				b, err := fs.ReadFile(templateFS, path)
				if err != nil {
					t.Fatal(err)
				}
				if path == tt.file {
					if !bytes.Contains(b, []byte(tt.drop)) {
						t.Fatalf("%s has no %s to drop", path, tt.drop)
					}
					// Renaming the definition leaves the file parseable.
					b = bytes.Replace(b, []byte(tt.drop), []byte(`{{define "renamed"}}`), 1)
				}
				fsys[path] = &fstest.MapFile{Data: b}
			}
			if _, err := newRenderer(fsys); err == nil {
				t.Fatal("newRenderer accepted templates with a missing translation")
			}
		})
	}
}
