package handlers

import (
	"net/http"
	"regexp"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// publicRoutes is the whole allowlist of routes a caller may use without a
// session (AUTHZ-1). Adding a public route means adding it here, on
// purpose, in review.
var publicRoutes = []string{
	"GET /api/health",
	"GET /api/openapi.yaml", // the contract: no personal data
	"GET /api/openapi.json",
	"POST /api/auth/login",
	"POST /api/auth/login/second-factor",
	"POST /api/auth/passkey/challenge", // a passkey sign-in's start: a challenge, no account named
	"POST /api/auth/passkey",
	"POST /api/auth/invitations/accept",
	"POST /api/auth/password-resets",
	"POST /api/auth/password-resets/complete",
}

// pathVariable matches a gorilla/mux path variable such as {id}.
var pathVariable = regexp.MustCompile(`\{[^}]+\}`)

// TestEveryRouteIsDeniedWithoutASession walks the route table: every route
// outside the public allowlist answers 401 to a caller without a valid
// session, before reading the body (AUTHZ-1, deny by default; P10: nothing
// is disclosed to someone who has not signed in).
func TestEveryRouteIsDeniedWithoutASession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	routes := h.routes

	var public []string
	for _, rt := range routes {
		if rt.public {
			public = append(public, rt.method+" "+rt.path)
		}
	}
	sort.Strings(public)
	want := append([]string(nil), publicRoutes...)
	sort.Strings(want)
	if diff := cmp.Diff(want, public); diff != "" {
		t.Fatalf("public routes differ from the allowlist (-allowlist +table):\n%s", diff)
	}

	// A well-formed token for a session that does not exist, and a few
	// that are not tokens at all.
	const unknownSession = "00000000-0000-0000-0000-000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	credentials := []struct {
		name          string
		authorization string
	}{
		{"no Authorization header", ""},
		{"empty bearer token", "Bearer "},
		{"not a token", "Bearer not-a-token"},
		{"unknown session", "Bearer " + unknownSession},
		{"basic credentials", "Basic dXNlcjpwYXNz"},
	}
	for _, rt := range routes {
		if rt.public {
			continue
		}
		path := pathVariable.ReplaceAllString(rt.path, "00000000-0000-0000-0000-000000000000")
		for _, c := range credentials {
			t.Run(rt.method+" "+rt.path+"/"+c.name+" is unauthenticated", func(t *testing.T) {
				r := h.do(t, request{method: rt.method, path: path, body: map[string]string{},
					header: map[string]string{"Authorization": c.authorization}})
				if got, want := r.status, http.StatusUnauthorized; got != want {
					t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
				}
				if got, want := r.problem(t).Code, "unauthenticated"; got != want {
					t.Errorf("code = %q, want %q", got, want)
				}
				if got, want := r.header.Get("WWW-Authenticate"), `Bearer realm="api"`; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
	}
}

// TestPublicRoutesAnswerWithoutASession makes sure the allowlisted routes
// really are reachable without a session (the walk above would pass
// vacuously if the router dropped them).
func TestPublicRoutesAnswerWithoutASession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	for _, rt := range h.routes {
		if !rt.public {
			continue
		}
		t.Run(rt.method+" "+rt.path+" is not 401 unauthenticated, 404 or 405", func(t *testing.T) {
			var body any
			if rt.method != http.MethodGet {
				body = map[string]string{}
			}
			r := h.do(t, request{method: rt.method, path: rt.path, body: body})
			switch r.status {
			case http.StatusNotFound, http.StatusMethodNotAllowed:
				t.Fatalf("status = %d; body %s", r.status, r.body)
			case http.StatusUnauthorized:
				if r.problem(t).Code == "unauthenticated" {
					t.Fatalf("public route asks for a session: %s", r.body)
				}
			}
		})
	}
}
