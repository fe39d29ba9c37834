package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestProblemDocuments checks the error contract the frontend codes
// against (RFC 9457 with our machine code), and that every detail is in
// the reader's language: Finnish unless they ask for Swedish or English.
func TestProblemDocuments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})

	tests := []struct {
		name           string
		acceptLanguage string
		wantLang       string
		wantDetail     string
	}{
		{"no preference is answered in Finnish", "", "fi", "Kirjaudu sisään."},
		{"Finnish is answered in Finnish", "fi-FI", "fi", "Kirjaudu sisään."},
		{"Swedish in Finland is answered in Swedish", "sv-FI", "sv", "Logga in."},
		{"English is answered in English", "en", "en", "Please sign in."},
		{"the preferred of several is chosen", "de-DE, en;q=0.5, sv;q=0.8", "sv", "Logga in."},
		{"a language we do not have falls back to Finnish", "de-DE", "fi", "Kirjaudu sisään."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, request{method: "GET", path: "/api/me", header: map[string]string{"Accept-Language": tc.acceptLanguage}})
			got := r.problem(t)
			want := problemDoc{
				Type:      "https://palvelumanuaali.fi/problems/unauthenticated",
				Title:     "Unauthorized",
				Status:    http.StatusUnauthorized,
				Detail:    tc.wantDetail,
				Code:      "unauthenticated",
				RequestID: r.header.Get("X-Request-ID"),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
			if got, want := r.header.Get("Content-Language"), tc.wantLang; got != want {
				t.Errorf("Content-Language = %q, want %q", got, want)
			}
		})
	}

	t.Run("every code has a detail in all three languages", func(t *testing.T) {
		codes := []string{codeInvalidJSON, codeInvalidField, codeUnknownField, codeTooLarge, codeUnsupportedMedia, codeMethodNotAllowed, codeInternal}
		for _, e := range errorStatus {
			codes = append(codes, e.code)
		}
		for _, code := range codes {
			for _, lang := range []string{"fi", "sv", "en"} {
				if detail(code, lang) == "" {
					t.Errorf("code %q has no %s detail", code, lang)
				}
			}
		}
	})

	t.Run("validation errors list each field with its code", func(t *testing.T) {
		_, token := h.activeUser(t)
		r := h.do(t, request{method: "PATCH", path: "/api/me", token: token,
			body:   map[string]string{"firstName": " ", "locale": "de"},
			header: map[string]string{"Accept-Language": "en"}})
		if got, want := r.status, http.StatusBadRequest; got != want {
			t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
		}
		got := r.problem(t)
		want := problemDoc{
			Type:      "https://palvelumanuaali.fi/problems/invalid-field",
			Title:     "Bad Request",
			Status:    http.StatusBadRequest,
			Detail:    "Some fields are invalid.",
			Code:      "invalid_field",
			RequestID: r.header.Get("X-Request-ID"),
			Errors: []problemField{
				{Field: "firstName", Code: "required", Detail: "This field is required."},
				{Field: "locale", Code: "invalid_locale", Detail: "The language must be fi, sv or en."},
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("problem (-want +got):\n%s", diff)
		}
	})
}

// TestWritesRefuseFieldsOutsideTheAllowlist proves AUTHZ-5 (mass
// assignment) and REC-5: a field an endpoint does not take is refused by
// name, never ignored, and nothing is stored. P5: nobody gives themselves
// a role, status or organisation through their own profile.
func TestWritesRefuseFieldsOutsideTheAllowlist(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, token := h.activeUser(t)
	etag := h.storedETag(t, p.id)

	patches := []struct {
		name      string
		body      string
		wantField string
	}{
		{"role is refused", `{"role":"admin"}`, "role"},
		{"status is refused", `{"status":"active"}`, "status"},
		{"email is refused", `{"email":"x@y.fi"}`, "email"},
		{"organizationId is refused", `{"organizationId":"x"}`, "organizationId"},
		{"passwordHash is refused", `{"passwordHash":"x"}`, "passwordHash"},
		{"lastActiveAt is refused", `{"lastActiveAt":"2030-01-01T00:00:00Z"}`, "lastActiveAt"},
		{"role beside an allowed field is refused", `{"firstName":"Uusi","role":"admin"}`, "role"},
		{"role spelt in another case is refused", `{"Role":"admin"}`, "Role"},
		{"a differently cased allowed field is refused", `{"FIRSTNAME":"Uusi"}`, "FIRSTNAME"},
		{"role spelt with a unicode escape is refused", `{"r\u006fle":"admin"}`, "role"},
	}
	for _, tc := range patches {
		t.Run("PATCH /api/me: "+tc.name, func(t *testing.T) {
			r := h.do(t, request{method: "PATCH", path: "/api/me", token: token, body: tc.body})
			if got, want := r.status, http.StatusBadRequest; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			got := r.problem(t)
			if got, want := got.Code, "unknown_field"; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			if diff := cmp.Diff([]problemField{{Field: tc.wantField, Code: "not_allowed"}}, got.Errors, ignoreDetail); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if got, want := h.storedETag(t, p.id), etag; got != want {
				t.Errorf("account changed: ETag %q, want %q", got, want)
			}
		})
	}

	t.Run("POST /api/auth/login: role is refused", func(t *testing.T) {
		r := h.do(t, request{method: "POST", path: "/api/auth/login",
			body: map[string]string{"email": p.email, "password": strongPassword, "role": "admin"}})
		if got, want := r.status, http.StatusBadRequest; got != want {
			t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
		}
		got := r.problem(t)
		if diff := cmp.Diff([]problemField{{Field: "role", Code: "not_allowed"}}, got.Errors, ignoreDetail); diff != "" || got.Code != "unknown_field" {
			t.Errorf("code %q, errors (-want +got):\n%s", got.Code, diff)
		}
		if got, want := h.storedETag(t, p.id), etag; got != want {
			t.Errorf("account changed: ETag %q, want %q", got, want)
		}
	})

	t.Run("POST /api/auth/invitations/accept: role and organizationId are refused", func(t *testing.T) {
		invited, invitation := h.invite(t)
		invitedETag := h.storedETag(t, invited.id)
		r := h.do(t, request{method: "POST", path: "/api/auth/invitations/accept", body: map[string]any{
			"token": invitation, "password": strongPassword, "acceptPrivacyNotice": true,
			"role": "admin", "organizationId": "service-administration",
		}})
		if got, want := r.status, http.StatusBadRequest; got != want {
			t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
		}
		got := r.problem(t)
		want := []problemField{{Field: "organizationId", Code: "not_allowed"}, {Field: "role", Code: "not_allowed"}}
		if diff := cmp.Diff(want, got.Errors, ignoreDetail); diff != "" || got.Code != "unknown_field" {
			t.Errorf("code %q, errors (-want +got):\n%s", got.Code, diff)
		}
		if got, want := h.storedETag(t, invited.id), invitedETag; got != want {
			t.Errorf("invited account changed: ETag %q, want %q", got, want)
		}
		// The link still works: the refused request used nothing up.
		ok := h.do(t, request{method: "POST", path: "/api/auth/invitations/accept", body: map[string]any{
			"token": invitation, "password": strongPassword, "acceptPrivacyNotice": true,
		}})
		if ok.status != http.StatusOK {
			t.Fatalf("accept after the refusal: status %d, body %s", ok.status, ok.body)
		}
		var si struct{ User userJSON }
		ok.decode(t, &si)
		if si.User.Role != "editor" || si.User.OrganizationID != testOrganization {
			t.Errorf("accepted as %q in %q, want editor in %q", si.User.Role, si.User.OrganizationID, testOrganization)
		}
	})
}

// TestRequestBodiesAreBoundedAndStrict covers body hygiene (API-1): the
// size limit, the media type, well-formed JSON of one object, and types.
func TestRequestBodiesAreBoundedAndStrict(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{maxBodyBytes: 1024})
	_, token := h.activeUser(t)

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantErrors  []problemField
	}{
		{"a body over the limit is too large", "POST", "/api/auth/login", "application/json",
			`{"email":"a@b.fi","password":"` + strings.Repeat("x", 2000) + `"}`, 413, "too_large", nil},
		{"text/plain is an unsupported media type", "POST", "/api/auth/login", "text/plain",
			`{"email":"a@b.fi","password":"x"}`, 415, "unsupported_media_type", nil},
		{"a form is an unsupported media type", "POST", "/api/auth/login", "application/x-www-form-urlencoded",
			`email=a@b.fi&password=x`, 415, "unsupported_media_type", nil},
		{"a missing Content-Type is an unsupported media type", "POST", "/api/auth/login", "",
			`{"email":"a@b.fi","password":"x"}`, 415, "unsupported_media_type", nil},
		{"malformed JSON is invalid", "POST", "/api/auth/login", "application/json",
			`{"email":"a@b.fi",`, 400, "invalid_json", nil},
		{"trailing garbage is invalid", "POST", "/api/auth/login", "application/json",
			`{"email":"a@b.fi","password":"x"} garbage`, 400, "invalid_json", nil},
		{"a second object is invalid", "POST", "/api/auth/login", "application/json",
			`{"email":"a@b.fi"}{"password":"x"}`, 400, "invalid_json", nil},
		{"an array is invalid", "POST", "/api/auth/login", "application/json",
			`[{"email":"a@b.fi"}]`, 400, "invalid_json", nil},
		{"null is invalid", "POST", "/api/auth/login", "application/json",
			`null`, 400, "invalid_json", nil},
		{"an empty body is invalid", "POST", "/api/auth/login", "application/json",
			``, 400, "invalid_json", nil},
		{"a number for a string is an invalid field", "POST", "/api/auth/login", "application/json",
			`{"email":5,"password":"x"}`, 400, "invalid_field", []problemField{{Field: "email", Code: "invalid_type"}}},
		{"a string for a boolean is an invalid field", "POST", "/api/auth/invitations/accept", "application/json",
			`{"token":"x","password":"x","acceptPrivacyNotice":"yes"}`, 400, "invalid_field", []problemField{{Field: "acceptPrivacyNotice", Code: "invalid_type"}}},
		{"an object for a name is an invalid field", "PATCH", "/api/me", "application/json",
			`{"firstName":{"role":"admin"}}`, 400, "invalid_field", []problemField{{Field: "firstName", Code: "invalid_type"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, request{method: tc.method, path: tc.path, token: token, body: tc.body,
				header: map[string]string{"Content-Type": tc.contentType}})
			if got, want := r.status, tc.wantStatus; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			got := r.problem(t)
			if got, want := got.Code, tc.wantCode; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			if diff := cmp.Diff(tc.wantErrors, got.Errors, ignoreDetail); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a JSON media type with parameters or a +json suffix is accepted", func(t *testing.T) {
		for _, ct := range []string{"application/json; charset=utf-8", "application/merge-patch+json"} {
			r := h.do(t, request{method: "PATCH", path: "/api/me", token: token, body: `{"firstName":"Uusi"}`,
				header: map[string]string{"Content-Type": ct}})
			if r.status != http.StatusOK {
				t.Errorf("%s: status %d, body %s", ct, r.status, r.body)
			}
		}
	})
}

// securityHeaders are set on every response, success or error (§7,
// API-4). Responses hold personal data, so nothing may be cached.
var securityHeaders = map[string]string{
	"Cache-Control":             "no-store",
	"X-Content-Type-Options":    "nosniff",
	"Content-Security-Policy":   "default-src 'none'; frame-ancestors 'none'",
	"X-Frame-Options":           "DENY",
	"Referrer-Policy":           "no-referrer",
	"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}

// TestEveryResponseIsHardened covers HTTP hygiene (API-4, CONF-4): only
// the documented methods, problem+json for unknown paths and methods, the
// security headers and a request id on every answer, and no server or
// runtime version.
func TestEveryResponseIsHardened(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, token := h.activeUser(t)

	tests := []struct {
		name       string
		rq         request
		wantStatus int
		wantCode   string // problem code; empty for a success
		wantJSON   bool   // a success with a JSON body
		wantAllow  string
	}{
		{"health is ok", request{method: "GET", path: "/api/health"}, 200, "", true, ""},
		{"login signs in", request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, 200, "", true, ""},
		{"me is read", request{method: "GET", path: "/api/me", token: token}, 200, "", true, ""},
		{"a reset is accepted", request{method: "POST", path: "/api/auth/password-resets", body: map[string]string{"email": p.email}}, 202, "", true, ""},
		{"a preflight is answered", request{method: "OPTIONS", path: "/api/me", header: map[string]string{"Origin": testOrigin, "Access-Control-Request-Method": "PATCH"}}, 204, "", false, ""},
		{"no session is unauthenticated", request{method: "GET", path: "/api/me"}, 401, "unauthenticated", false, ""},
		{"PUT on a GET-only route is not allowed", request{method: "PUT", path: "/api/health", body: map[string]string{}}, 405, "method_not_allowed", false, "GET"},
		{"TRACE is not allowed", request{method: "TRACE", path: "/api/health"}, 405, "method_not_allowed", false, "GET"},
		{"TRACE on a three-method route is not allowed", request{method: "TRACE", path: "/api/me"}, 405, "method_not_allowed", false, "GET, PATCH, DELETE"},
		{"GET on a POST-only route is not allowed", request{method: "GET", path: "/api/auth/login"}, 405, "method_not_allowed", false, "POST"},
		{"an unknown path is not found", request{method: "GET", path: "/api/nothing-here"}, 404, "not_found", false, ""},
		{"a trailing slash is not found", request{method: "GET", path: "/api/me/"}, 404, "not_found", false, ""},
		{"debug endpoints do not exist", request{method: "GET", path: "/debug/pprof/"}, 404, "not_found", false, ""},
		{"the wrong media type is unsupported", request{method: "POST", path: "/api/auth/login", body: "x", header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.rq)
			if got, want := r.status, tc.wantStatus; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			for name, want := range securityHeaders {
				if got := r.header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if r.header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			for _, name := range []string{"Server", "X-Powered-By", "X-AspNet-Version"} {
				if v := r.header.Get(name); v != "" {
					t.Errorf("%s = %q, want none", name, v)
				}
			}
			for name, values := range r.header {
				for _, v := range values {
					if strings.Contains(strings.ToLower(v), "go1.") || strings.Contains(v, "Go-http") {
						t.Errorf("header %s = %q names the runtime", name, v)
					}
				}
			}
			if got, want := r.header.Get("Allow"), tc.wantAllow; got != want {
				t.Errorf("Allow = %q, want %q", got, want)
			}
			switch {
			case tc.wantCode != "":
				if got, want := r.problem(t).Code, tc.wantCode; got != want {
					t.Errorf("code = %q, want %q", got, want)
				}
			case tc.wantJSON:
				if got, want := r.header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
					t.Errorf("Content-Type = %q, want %q", got, want)
				}
			}
		})
	}
}

// TestCORSAllowsOnlyConfiguredOrigins covers CORS (§7, API-4): browsers on
// the configured origins may call the API and read its answers; browsers
// anywhere else get nothing that lets them read a response.
func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})

	preflight := func(origin string) request {
		return request{method: "OPTIONS", path: "/api/me", header: map[string]string{
			"Origin":                         origin,
			"Access-Control-Request-Method":  "PATCH",
			"Access-Control-Request-Headers": "authorization, content-type, if-match",
		}}
	}
	tests := []struct {
		name        string
		rq          request
		wantStatus  int
		wantACAO    string
		wantMethods []string
		wantHeaders []string
	}{
		{"an allowed origin's request is echoed", request{method: "GET", path: "/api/health", header: map[string]string{"Origin": testOrigin}},
			200, testOrigin, nil, nil},
		{"an allowed origin may read an error", request{method: "GET", path: "/api/me", header: map[string]string{"Origin": testOrigin}},
			401, testOrigin, nil, nil},
		{"an allowed origin's preflight is allowed", preflight(testOrigin),
			204, testOrigin, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}, []string{"Authorization", "Content-Type", "If-Match"}},
		{"another origin's request gets no CORS headers", request{method: "GET", path: "/api/health", header: map[string]string{"Origin": "https://evil.example"}},
			200, "", nil, nil},
		{"another origin's preflight gets no CORS headers", preflight("https://evil.example"),
			204, "", nil, nil},
		{"a look-alike origin gets no CORS headers", preflight(testOrigin + ".evil.example"),
			204, "", nil, nil},
		{"the null origin gets no CORS headers", preflight("null"),
			204, "", nil, nil},
		{"a request without an origin gets no CORS headers", request{method: "GET", path: "/api/health"},
			200, "", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.rq)
			if got, want := r.status, tc.wantStatus; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			if got, want := r.header.Get("Access-Control-Allow-Origin"), tc.wantACAO; got != want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, want)
			}
			if got := r.header.Values("Vary"); !containsFold(got, "Origin") {
				t.Errorf("Vary = %q, want it to name Origin", got)
			}
			if v := r.header.Get("Access-Control-Allow-Credentials"); v != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q, want none", v)
			}
			methods := splitList(r.header.Get("Access-Control-Allow-Methods"))
			for _, m := range tc.wantMethods {
				if !containsFold(methods, m) {
					t.Errorf("Access-Control-Allow-Methods = %q, want %s in it", methods, m)
				}
			}
			allowed := splitList(r.header.Get("Access-Control-Allow-Headers"))
			for _, hd := range tc.wantHeaders {
				if !containsFold(allowed, hd) {
					t.Errorf("Access-Control-Allow-Headers = %q, want %s in it", allowed, hd)
				}
			}
			if tc.wantACAO == "" && (len(methods) > 0 || len(allowed) > 0) {
				t.Errorf("a disallowed origin got Allow-Methods %q, Allow-Headers %q", methods, allowed)
			}
			if tc.wantACAO != "" {
				exposed := splitList(r.header.Get("Access-Control-Expose-Headers"))
				for _, hd := range []string{"ETag", "X-Request-ID", "Retry-After"} {
					if !containsFold(exposed, hd) {
						t.Errorf("Access-Control-Expose-Headers = %q, want %s in it", exposed, hd)
					}
				}
			}
		})
	}
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		for _, part := range splitList(x) {
			if strings.EqualFold(part, s) {
				return true
			}
		}
	}
	return false
}

// TestMeHonoursETags covers optimistic concurrency on /api/me (§5): GET
// answers an opaque ETag that is not the storage's (AUTHZ-6), a PATCH
// with it succeeds and answers the next one, and a stale one is refused
// with 412 and changes nothing. P14: a person corrects their own name.
func TestMeHonoursETags(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, token := h.activeUser(t)

	get := h.do(t, request{method: "GET", path: "/api/me", token: token})
	if get.status != http.StatusOK {
		t.Fatalf("GET: status %d, body %s", get.status, get.body)
	}
	etag := get.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
		t.Fatalf("ETag = %q, want a quoted strong entity tag", etag)
	}
	stored := h.storedETag(t, p.id)
	if strings.Contains(etag, "datetime") || strings.Contains(etag, stored) || strings.Contains(stored, strings.Trim(etag, `"`)) {
		t.Errorf("ETag %q shows the storage ETag %q", etag, stored)
	}
	var me userJSON
	get.decode(t, &me)
	if got, want := me.FirstName, p.firstName; got != want {
		t.Errorf("firstName = %q, want %q", got, want)
	}

	patch := h.do(t, request{method: "PATCH", path: "/api/me", token: token,
		body: map[string]string{"firstName": "Aino-Maria"}, header: map[string]string{"If-Match": etag}})
	if patch.status != http.StatusOK {
		t.Fatalf("PATCH: status %d, body %s", patch.status, patch.body)
	}
	next := patch.header.Get("ETag")
	if next == "" || next == etag {
		t.Errorf("PATCH ETag = %q, want a new one (old %q)", next, etag)
	}
	var patched userJSON
	patch.decode(t, &patched)
	if got, want := patched.FirstName, "Aino-Maria"; got != want {
		t.Errorf("patched firstName = %q, want %q", got, want)
	}

	again := h.do(t, request{method: "GET", path: "/api/me", token: token})
	if got, want := again.header.Get("ETag"), next; got != want {
		t.Errorf("GET after PATCH: ETag = %q, want %q", got, want)
	}

	storedBefore := h.storedETag(t, p.id)
	stale := h.do(t, request{method: "PATCH", path: "/api/me", token: token,
		body: map[string]string{"lastName": "Vanha"}, header: map[string]string{"If-Match": etag}})
	if got, want := stale.status, http.StatusPreconditionFailed; got != want {
		t.Fatalf("stale PATCH: status = %d, want %d; body %s", got, want, stale.body)
	}
	if got, want := stale.problem(t).Code, "precondition_failed"; got != want {
		t.Errorf("stale PATCH: code = %q, want %q", got, want)
	}
	if got, want := h.storedETag(t, p.id), storedBefore; got != want {
		t.Errorf("stale PATCH changed the account: ETag %q, want %q", got, want)
	}

	// The signed-in person's account always exists, so "*" matches it
	// (RFC 9110 §13.1.1).
	star := h.do(t, request{method: "PATCH", path: "/api/me", token: token,
		body: map[string]string{"locale": "sv"}, header: map[string]string{"If-Match": "*"}})
	if star.status != http.StatusOK {
		t.Errorf("If-Match *: status %d, want 200; body %s", star.status, star.body)
	}
}

// ignoreDetail compares field errors by field and code; the localized
// detail texts are checked on their own.
var ignoreDetail = cmpopts.IgnoreFields(problemField{}, "Detail")
