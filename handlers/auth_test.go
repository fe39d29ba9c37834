package handlers

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

func headerNames(h http.Header) []string {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// TestLoginFailuresAreIndistinguishable proves AUTH-1 and P13: whatever
// makes a sign-in fail (no such account, a wrong password, an account
// that has not set its password yet, a locked account), the answer has
// the same status, the same body apart from the request id, and the same
// headers, so nobody can learn whether an email has an account (P10).
func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	active, _ := h.activeUser(t)
	invited, _ := h.invite(t)
	locked, _ := h.activeUser(t)
	for range lockoutThreshold {
		r := h.do(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": locked.email, "password": "väärä salasana joka ei käy"}})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("locking: status %d, body %s", r.status, r.body)
		}
	}

	tests := []struct {
		name            string
		email, password string
	}{
		{"unknown email is refused", "ei-ketaan@kunta.example.fi", strongPassword},
		{"wrong password is refused", active.email, "ihan eri salasana kuin oikea"},
		{"invited account is refused", invited.email, strongPassword},
		{"locked account is refused even with the right password", locked.email, strongPassword},
		{"malformed email is refused", "not an email", strongPassword},
		// PWD-2: a password longer than the hasher takes is a wrong
		// password, not a server error.
		{"over-long password is refused", active.email, strings.Repeat("salasana ", passwords.MaxBytes/9+1)},
	}
	var first response
	for i, tc := range tests {
		r := h.do(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": tc.email, "password": tc.password}})
		if got, want := r.status, http.StatusUnauthorized; got != want {
			t.Fatalf("%s: status = %d, want %d; body %s", tc.name, got, want, r.body)
		}
		if got, want := r.problem(t).Code, "invalid_credentials"; got != want {
			t.Errorf("%s: code = %q, want %q", tc.name, got, want)
		}
		if i == 0 {
			first = r
			continue
		}
		if got, want := r.withoutRequestID(), first.withoutRequestID(); got != want {
			t.Errorf("%s: body differs from %q:\n got %s\nwant %s", tc.name, tests[0].name, got, want)
		}
		if diff := cmp.Diff(headerNames(first.header), headerNames(r.header)); diff != "" {
			t.Errorf("%s: header names differ from %q (-first +this):\n%s", tc.name, tests[0].name, diff)
		}
		for _, name := range []string{"WWW-Authenticate", "Content-Type", "Content-Language", "Cache-Control"} {
			if got, want := r.header.Get(name), first.header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.name, name, got, want)
			}
		}
	}

	// The refusals above were not refusals of everything: the right
	// password signs the active person in, and the locked person once the
	// lockout has passed (AUTH-3).
	if r := h.do(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": active.email, "password": strongPassword}}); r.status != http.StatusOK {
		t.Errorf("active login: status %d, body %s", r.status, r.body)
	}
	h.clock.Advance(lockoutDuration + time.Second)
	if r := h.do(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": locked.email, "password": strongPassword}}); r.status != http.StatusOK {
		t.Errorf("login after the lockout: status %d, body %s", r.status, r.body)
	}
}

// TestLoginSignsInWithEmailAsUsername proves P1 and P13 at the edge: the
// email is the username whatever its case, and the answer is a session
// token with its expiry and the person's own account, nothing more.
func TestLoginSignsInWithEmailAsUsername(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, _ := h.activeUser(t)

	r := h.do(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "  " + strings.ToUpper(p.email) + " ", "password": strongPassword}})
	if got, want := r.status, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
	}
	var got map[string]any
	r.decode(t, &got)
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"expiresAt", "token", "user"}, keys); diff != "" {
		t.Errorf("sign-in answer fields (-want +got):\n%s", diff)
	}
	var si struct {
		Token     string
		ExpiresAt time.Time
		User      userJSON
	}
	r.decode(t, &si)
	if got, want := si.User.Email, p.email; got != want {
		t.Errorf("email = %q, want %q", got, want)
	}
	if got, want := si.ExpiresAt, h.clock.Now().Add(12*time.Hour); !got.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", got, want)
	}

	me := h.do(t, request{method: "GET", path: "/api/me", token: si.Token})
	if got, want := me.status, http.StatusOK; got != want {
		t.Fatalf("me: status = %d, want %d; body %s", got, want, me.body)
	}
}

// TestPasswordResetRequestAnswersAlike proves REC-1: asking for a reset
// answers 202 with the same body whether the email has an account, has
// none, or is not an email at all, and it changes nothing on the account.
// Only the real account gets an email queued.
func TestPasswordResetRequestAnswersAlike(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, _ := h.activeUser(t)
	etagBefore := h.storedETag(t, p.id)

	tests := []struct {
		name       string
		email      string
		wantQueued int // accounts the relay is woken for
	}{
		{"existing account is accepted", p.email, 1},
		{"unknown email is accepted alike", "ei-ketaan@kunta.example.fi", 0},
		{"malformed email is accepted alike", "@@not an email", 0},
		{"empty email is accepted alike", "", 0},
	}
	var firstBody string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			detachedBefore, changedBefore := h.detach.count(), len(h.relay.ChangedIDs())
			r := h.do(t, request{method: "POST", path: "/api/auth/password-resets", body: map[string]string{"email": tc.email}})
			if got, want := r.status, http.StatusAccepted; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			if got, want := r.header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if firstBody == "" {
				firstBody = string(r.body)
			}
			if got, want := string(r.body), firstBody; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
			if got, want := h.detach.count()-detachedBefore, 1; got != want {
				t.Errorf("detached lookups = %d, want %d", got, want)
			}
			if got, want := len(h.relay.ChangedIDs())-changedBefore, tc.wantQueued; got != want {
				t.Errorf("accounts with a queued email = %d, want %d", got, want)
			}
		})
	}
	if got, want := h.storedETag(t, p.id), etagBefore; got != want {
		t.Errorf("account ETag changed by reset requests: %q, want %q", got, want)
	}
}

// TestAcceptInvitationActivatesAccount proves P2 at the edge: the person
// sets their own password through the link, which works once, and the
// role and organisation come from the invitation.
func TestAcceptInvitationActivatesAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, token := h.invite(t)

	body := map[string]any{"token": token, "password": strongPassword, "acceptPrivacyNotice": true}
	r := h.do(t, request{method: "POST", path: "/api/auth/invitations/accept", body: body})
	if got, want := r.status, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
	}
	var si struct {
		Token string
		User  userJSON
	}
	r.decode(t, &si)
	want := userJSON{
		ID: p.id, Email: p.email, FirstName: p.firstName, LastName: p.lastName, OrganizationID: testOrganization,
		Role: "editor", Status: "active", Locale: "fi", CreatedAt: h.clock.Now(), LastActiveAt: h.clock.Now(),
	}
	if diff := cmp.Diff(want, si.User); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	if si.Token == "" {
		t.Error("no session token")
	}

	again := h.do(t, request{method: "POST", path: "/api/auth/invitations/accept", body: body})
	if got, want := again.status, http.StatusBadRequest; got != want {
		t.Fatalf("second accept: status = %d, want %d; body %s", got, want, again.body)
	}
	if got, want := again.problem(t).Code, "invalid_token"; got != want {
		t.Errorf("second accept: code = %q, want %q", got, want)
	}
}

// TestAcceptInvitationRefusesAWeakPassword: the password the person
// chooses is checked and refused with the reason as a field code (PWD-4),
// and the link stays usable for a better one (P2).
func TestAcceptInvitationRefusesAWeakPassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	_, token := h.invite(t)

	tests := []struct {
		name     string
		body     map[string]any
		wantCode string
		wantErrs []problemField
	}{
		{"a short password is refused with its reason", map[string]any{"token": token, "password": "lyhyt", "acceptPrivacyNotice": true},
			"invalid_field", []problemField{{Field: "password", Code: "password_too_short"}}},
		{"a common password is refused with its reason", map[string]any{"token": token, "password": "passwordpassword", "acceptPrivacyNotice": true},
			"invalid_field", []problemField{{Field: "password", Code: "password_blocklisted"}}},
		{"not accepting the privacy notice is refused", map[string]any{"token": token, "password": strongPassword},
			"invalid_field", []problemField{{Field: "acceptPrivacyNotice", Code: "required"}}},
		{"an unknown link is refused", map[string]any{"token": "ei-ole-linkki", "password": strongPassword, "acceptPrivacyNotice": true},
			"invalid_token", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, request{method: "POST", path: "/api/auth/invitations/accept", body: tc.body})
			if got, want := r.status, http.StatusBadRequest; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			p := r.problem(t)
			if got, want := p.Code, tc.wantCode; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			var got []problemField
			for _, f := range p.Errors {
				got = append(got, problemField{Field: f.Field, Code: f.Code})
			}
			if diff := cmp.Diff(tc.wantErrs, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	r := h.do(t, request{method: "POST", path: "/api/auth/invitations/accept", body: map[string]any{"token": token, "password": strongPassword, "acceptPrivacyNotice": true}})
	if got, want := r.status, http.StatusOK; got != want {
		t.Fatalf("accept after refusals: status = %d, want %d; body %s", got, want, r.body)
	}
}

// TestBearerSchemeFollowsRFC9110 covers SESS-1: the scheme name is
// case-insensitive (RFC 9110 §11.1) and one or more spaces may separate it
// from the token (token68), so a client's spelling never locks a person
// out; anything that is not the Bearer scheme with one token68 gets the
// usual 401 problem.
func TestBearerSchemeFollowsRFC9110(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	_, token := h.activeUser(t)
	tests := []struct {
		name          string
		authorization string
		want          int
	}{
		{"the usual spelling", "Bearer " + token, http.StatusOK},
		{"lower case", "bearer " + token, http.StatusOK},
		{"upper case", "BEARER " + token, http.StatusOK},
		{"mixed case", "bEaReR " + token, http.StatusOK},
		{"several spaces", "Bearer    " + token, http.StatusOK},
		{"no token", "Bearer", http.StatusUnauthorized},
		{"only spaces after the scheme", "bearer    ", http.StatusUnauthorized},
		{"no space", "Bearer" + token, http.StatusUnauthorized},
		{"a tab instead of a space", "Bearer\t" + token, http.StatusUnauthorized},
		{"another scheme", "Basic " + token, http.StatusUnauthorized},
		{"a scheme that starts like Bearer", "Bearerx " + token, http.StatusUnauthorized},
		{"two tokens", "Bearer " + token + " " + token, http.StatusUnauthorized},
		{"auth-params instead of a token", `Bearer token="` + token + `"`, http.StatusUnauthorized},
		{"a token with a comma", "Bearer " + token + ",x", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, request{method: "GET", path: "/api/me", header: map[string]string{"Authorization": tc.authorization}})
			if r.status != tc.want {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.want, r.body)
			}
			if tc.want != http.StatusUnauthorized {
				return
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
