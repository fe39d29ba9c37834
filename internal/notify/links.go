package notify

import (
	"errors"
	"fmt"
	"net/url"
)

// The frontend routes that email links point to, relative to the configured
// base URL. Changing one breaks the links in emails already in people's
// inboxes, so keep the old route working when a path changes.
const (
	// InvitationPath is the page that activates an invited account and sets
	// its first password; it reads the one-time token from TokenParam.
	InvitationPath = "/invitation"
	// PasswordResetPath is the page that sets a new password; it reads the
	// one-time token from TokenParam.
	PasswordResetPath = "/password-reset"
	// SignInPath is the sign-in page.
	SignInPath = "/sign-in"
	// TokenParam is the query parameter that carries a one-time token.
	TokenParam = "token"
)

// ErrInvalidBaseURL is returned by NewLinkBuilder for a base URL that links
// must not be built from.
var ErrInvalidBaseURL = errors.New("invalid link base URL")

// LinkBuilder builds the absolute links put in emails. It builds them only
// from the configured base URL, never from a request's Host or Forwarded
// headers, so a forged header cannot point a reset link at another site.
// Make one with NewLinkBuilder; the zero value has no base and panics.
type LinkBuilder struct {
	BaseURL *url.URL // e.g. https://palvelumanuaali.fi
}

// NewLinkBuilder returns a LinkBuilder for base, an absolute https URL
// (http is allowed only for localhost, 127.0.0.1 and ::1, for development)
// without user info, query or fragment. It returns an error wrapping
// ErrInvalidBaseURL otherwise.
func NewLinkBuilder(base string) (LinkBuilder, error) {
	// The errors leave base out: it may carry user info with a password.
	invalid := func(why string) (LinkBuilder, error) {
		return LinkBuilder{}, fmt.Errorf("notify: %w: %s", ErrInvalidBaseURL, why)
	}
	u, err := url.Parse(base)
	if err != nil {
		return invalid("does not parse as a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return invalid("scheme must be https")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return invalid("must be absolute, with a host")
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return invalid("http is allowed only for localhost")
	case u.User != nil:
		return invalid("must not contain user info")
	case u.RawQuery != "" || u.ForceQuery:
		return invalid("must not contain a query")
	case u.Fragment != "" || u.RawFragment != "":
		return invalid("must not contain a fragment")
	}
	return LinkBuilder{BaseURL: u}, nil
}

func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Invitation returns the link that activates an invited account with
// token, e.g. https://palvelumanuaali.fi/invitation?token=…. It returns no
// error: the token is query-escaped, whatever it contains.
func (b LinkBuilder) Invitation(token string) string {
	return b.link(InvitationPath, token)
}

// PasswordReset returns the link that sets a new password with token,
// e.g. https://palvelumanuaali.fi/password-reset?token=…. It returns no
// error: the token is query-escaped, whatever it contains.
func (b LinkBuilder) PasswordReset(token string) string {
	return b.link(PasswordResetPath, token)
}

// SignIn returns the link to the sign-in page, e.g.
// https://palvelumanuaali.fi/sign-in. It returns no error.
func (b LinkBuilder) SignIn() string {
	return b.link(SignInPath, "")
}

func (b LinkBuilder) link(path, token string) string {
	u := b.BaseURL.JoinPath(path)
	if token != "" {
		// Encode escapes every reserved character, so a token can never
		// end the parameter or add another one.
		u.RawQuery = url.Values{TokenParam: {token}}.Encode()
	}
	return u.String()
}
