package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	// The dates in emails are Helsinki dates; a minimal container image has
	// no zoneinfo, so the binary carries its own.
	_ "time/tzdata"
)

// Render errors name caller mistakes that retrying cannot fix; Render wraps
// them with the kind and, for ErrUnsafeValue, the field (never its value).
var (
	// ErrUnknownKind is returned for a Kind that is not in Kinds.
	ErrUnknownKind = errors.New("unknown notification kind")
	// ErrMissingLink is returned for an invitation or password_reset
	// without a Link.
	ErrMissingLink = errors.New("notification needs a link")
	// ErrMissingDueAt is returned for an inactivity_warning or
	// account_closed without a DueAt.
	ErrMissingDueAt = errors.New("notification needs a due date")
	// ErrUnknownRole is returned for an access_changed whose Role is not a
	// role id the templates can name.
	ErrUnknownRole = errors.New("unknown role")
	// ErrUnsafeValue is returned for a value that could inject headers or
	// disguise content: control characters or bidirectional overrides in
	// FirstName, OrganizationName or the subject, an over-long name, or a
	// Link that is not an absolute http(s) URL.
	ErrUnsafeValue = errors.New("unsafe value in notification")
)

// Content is what one email needs: the consumer builds it from a Message
// plus a link it mints when sending.
type Content struct {
	Kind   Kind
	Locale string // fi, sv or en; a region suffix is ignored and anything else falls back to fi
	// FirstName greets the recipient; empty gives a greeting without a name.
	FirstName string
	// Link is an absolute http(s) URL built by LinkBuilder: the one-time
	// link of an invitation or password_reset (required), or a sign-in link
	// for inactivity_warning, account_restored and access_changed (optional).
	Link string
	// Role is the new role id of an access_changed email (admin,
	// primary_user, editor, expert); empty when only the organisation changed.
	Role string
	// OrganizationName is the new home organisation of an access_changed
	// email, already in the recipient's language; empty when unchanged.
	OrganizationName string
	// DueAt is when an account will be closed (inactivity_warning) or its
	// data erased (account_closed); required for those kinds.
	DueAt time.Time
	// Now, when set, lets an inactivity_warning say how many days are left
	// as well as the date; it comes from the caller's clock so tests and
	// retries agree with what the scheduler decided.
	Now time.Time
	// ValidFor is how long an invitation or password_reset link is valid;
	// zero leaves the validity out of the email.
	ValidFor time.Duration
}

// Rendered is an email's subject and bodies in the recipient's language.
type Rendered struct{ Subject, Text, HTML string }

// Renderer renders notification emails from templates parsed once. It is
// safe for concurrent use.
type Renderer struct {
	helsinki *time.Location
	text     map[string]*texttemplate.Template // by locale: "<kind>.subject", "<kind>.txt"
	html     map[string]*htmltemplate.Template // by locale: "<kind>.html"
}

//go:embed templates
var templateFS embed.FS

// Field limits: longer values are not names but an attempt to put prose of
// one's own into an official-looking email.
const (
	maxFirstNameRunes    = 100
	maxOrganizationRunes = 200
)

// NewRenderer parses the embedded templates and checks that every kind
// exists in every locale, so a missing translation fails at start-up rather
// than when someone's email is due. It returns an error when a template
// does not parse, one is missing, or the time zone data cannot be loaded.
func NewRenderer() (*Renderer, error) {
	return newRenderer(templateFS)
}

// newRenderer parses the templates in fsys, laid out as the embedded
// templates folder; tests hand it a broken copy.
func newRenderer(fsys fs.FS) (*Renderer, error) {
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		return nil, fmt.Errorf("notify: time zone: %w", err)
	}
	r := &Renderer{
		helsinki: helsinki,
		text:     make(map[string]*texttemplate.Template, len(Locales)),
		html:     make(map[string]*htmltemplate.Template, len(Locales)),
	}
	for _, locale := range Locales {
		tt, err := texttemplate.New(locale).Option("missingkey=error").
			ParseFS(fsys, "templates/"+locale+".txt.tmpl")
		if err != nil {
			return nil, fmt.Errorf("notify: templates: %w", err)
		}
		ht, err := htmltemplate.New(locale).Option("missingkey=error").
			ParseFS(fsys, "templates/layout.html.tmpl", "templates/"+locale+".html.tmpl")
		if err != nil {
			return nil, fmt.Errorf("notify: templates: %w", err)
		}
		for _, kind := range Kinds {
			for _, name := range []string{string(kind) + ".subject", string(kind) + ".txt"} {
				if tt.Lookup(name) == nil {
					return nil, fmt.Errorf("notify: templates: %s has no %q", locale, name)
				}
			}
			if ht.Lookup(string(kind)+".html") == nil {
				return nil, fmt.Errorf("notify: templates: %s has no %q", locale, string(kind)+".html")
			}
		}
		r.text[locale], r.html[locale] = tt, ht
	}
	return r, nil
}

// defaultRenderer is built on first use; the templates are embedded, so a
// failure here is a build mistake that the tests catch.
var defaultRenderer = sync.OnceValues(NewRenderer)

// Render renders c in its locale with the embedded templates. See
// Renderer.Render for the errors it returns; it also returns the error of
// NewRenderer if the templates are broken.
func Render(c Content) (Rendered, error) {
	r, err := defaultRenderer()
	if err != nil {
		return Rendered{}, err
	}
	return r.Render(c)
}

// view is what the templates see: every value already checked and
// formatted for the locale.
type view struct {
	Lang             string
	Subject          string // for the HTML <title>
	FirstName        string
	Link             string
	Role             string // localised role name
	OrganizationName string
	DueDate          string // localised date
	DaysLeft         string // "30 päivän kuluttua", "om 30 dagar", "in 30 days" or ""
	ValidFor         string // "7 päivää", "7 dagar", "7 days" or ""
}

// Render renders c in its locale. It returns an error wrapping
// ErrUnknownKind for a kind not in Kinds; ErrMissingLink for an invitation
// or password_reset without a Link; ErrMissingDueAt for an
// inactivity_warning or account_closed without a DueAt; ErrUnknownRole for
// an access_changed with a role id it does not know; and ErrUnsafeValue when
// FirstName or OrganizationName holds control characters (a header or
// layout injection attempt) or is implausibly long, when Link is not an
// absolute http(s) URL, or when the subject would contain a control
// character. Error messages name the field, never its value.
func (r *Renderer) Render(c Content) (Rendered, error) {
	if !slices.Contains(Kinds, c.Kind) {
		return Rendered{}, fmt.Errorf("notify: render %q: %w", c.Kind, ErrUnknownKind)
	}
	v, err := r.view(c)
	if err != nil {
		return Rendered{}, fmt.Errorf("notify: render %s: %w", c.Kind, err)
	}
	var buf bytes.Buffer
	tt := r.text[v.Lang]
	if err := tt.ExecuteTemplate(&buf, string(c.Kind)+".subject", v); err != nil {
		return Rendered{}, fmt.Errorf("notify: render %s subject: %w", c.Kind, err)
	}
	// Whitespace around the subject is template layout; anything else that
	// is not printable would let a value start a new header line.
	subject := strings.TrimSpace(buf.String())
	if hasUnsafeRune(subject) {
		return Rendered{}, fmt.Errorf("notify: render %s: subject: %w", c.Kind, ErrUnsafeValue)
	}
	v.Subject = subject

	buf.Reset()
	if err := tt.ExecuteTemplate(&buf, string(c.Kind)+".txt", v); err != nil {
		return Rendered{}, fmt.Errorf("notify: render %s text: %w", c.Kind, err)
	}
	text := strings.TrimSpace(buf.String()) + "\n"

	buf.Reset()
	if err := r.html[v.Lang].ExecuteTemplate(&buf, string(c.Kind)+".html", v); err != nil {
		return Rendered{}, fmt.Errorf("notify: render %s html: %w", c.Kind, err)
	}
	return Rendered{Subject: subject, Text: text, HTML: buf.String()}, nil
}

// view checks c's values and formats them for the templates.
func (r *Renderer) view(c Content) (view, error) {
	v := view{Lang: normalizeLocale(c.Locale)}

	firstName := strings.TrimSpace(c.FirstName)
	if err := checkName("FirstName", firstName, maxFirstNameRunes); err != nil {
		return view{}, err
	}
	v.FirstName = firstName

	switch {
	case c.Link != "":
		if !isSafeLink(c.Link) {
			return view{}, fmt.Errorf("Link: %w", ErrUnsafeValue)
		}
		v.Link = c.Link
	case c.Kind == KindInvitation || c.Kind == KindPasswordReset:
		return view{}, ErrMissingLink
	}

	if c.Kind == KindInactivityWarning || c.Kind == KindAccountClosed {
		if c.DueAt.IsZero() {
			return view{}, ErrMissingDueAt
		}
		v.DueDate = formatDate(v.Lang, c.DueAt.In(r.helsinki))
		if c.Kind == KindInactivityWarning {
			v.DaysLeft = formatDaysUntil(v.Lang, c.Now, c.DueAt, r.helsinki)
		}
	}

	if c.Kind == KindAccessChanged {
		if c.Role != "" {
			name, ok := roleName(v.Lang, c.Role)
			if !ok {
				return view{}, fmt.Errorf("%w %q", ErrUnknownRole, c.Role)
			}
			v.Role = name
		}
		org := strings.TrimSpace(c.OrganizationName)
		if err := checkName("OrganizationName", org, maxOrganizationRunes); err != nil {
			return view{}, err
		}
		v.OrganizationName = org
	}

	v.ValidFor = formatValidity(v.Lang, c.ValidFor)
	return v, nil
}

func checkName(field, s string, maxRunes int) error {
	if !utf8.ValidString(s) || hasUnsafeRune(s) {
		return fmt.Errorf("%s: %w: control or invisible formatting character", field, ErrUnsafeValue)
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return fmt.Errorf("%s: %w: longer than %d characters", field, ErrUnsafeValue, maxRunes)
	}
	return nil
}

// hasUnsafeRune reports whether s holds a character that can break a
// header or a line (CR, LF and the other controls, the Unicode line and
// paragraph separators) or make text display in another order than it is
// stored (bidirectional overrides, used to disguise links and names).
func hasUnsafeRune(s string) bool {
	if BreaksLine(s) {
		return true
	}
	return strings.ContainsFunc(s, func(r rune) bool {
		return r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
	})
}

// isSafeLink reports whether link is an absolute http(s) URL that can be
// printed as is in a plain-text email.
func isSafeLink(link string) bool {
	if hasUnsafeRune(link) || strings.ContainsAny(link, " \"'<>") {
		return false
	}
	u, err := url.Parse(link)
	if err != nil {
		return false
	}
	return (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}
