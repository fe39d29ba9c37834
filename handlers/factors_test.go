package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// totpCode is secret's code at the harness clock's now.
func (h *harness) totpCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type enrolment struct {
	Authenticator factorJSON `json:"authenticator"`
	Secret        string     `json:"secret"`
	OTPAuthURI    string     `json:"otpauthUri"`
}

// beginTOTP starts a TOTP factor through the API.
func (h *harness) beginTOTP(t *testing.T, token string) enrolment {
	t.Helper()
	var e enrolment
	h.mustDo(t, request{method: "POST", path: "/api/me/authenticators/totp", token: token, body: map[string]string{"name": "phone"}}, http.StatusCreated).decode(t, &e)
	return e
}

// enrol adds a confirmed TOTP factor through the API: its id, its secret
// and the recovery codes. The clock then moves a step on, so the next code
// is a new one.
func (h *harness) enrol(t *testing.T, token string) (string, string, []string) {
	t.Helper()
	id, secret, codes := h.confirmedFactor(t, token)
	h.clock.Advance(30 * time.Second)
	return id, secret, codes
}

// confirmedFactor is enrol without moving the clock, for tests that share
// the harness's clock with others.
func (h *harness) confirmedFactor(t *testing.T, token string) (string, string, []string) {
	t.Helper()
	e := h.beginTOTP(t, token)
	var codes recoveryCodesJSON
	h.mustDo(t, request{method: "POST", path: "/api/me/authenticators/" + e.Authenticator.ID + "/confirm", token: token,
		body: map[string]string{"code": h.totpCode(t, e.Secret)}}, http.StatusOK).decode(t, &codes)
	return e.Authenticator.ID, e.Secret, codes.RecoveryCodes
}

// passwordStep signs in with the password and expects a challenge.
func (h *harness) passwordStep(t *testing.T, email string) secondFactorJSON {
	t.Helper()
	var c secondFactorJSON
	r := h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": email, "password": strongPassword}}, http.StatusOK)
	r.decode(t, &c)
	if c.SecondFactor.Challenge == "" || strings.Contains(string(r.body), `"token"`) {
		t.Fatalf("password step = %s, want a challenge and no session", r.body)
	}
	return c
}

// P13 (API): the two-step sign-in end to end, the answers matching the
// document: an enrol-only session first, enrolment, then password →
// challenge → code → session, with a recovery code as well.
func TestTwoStepSignInThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true})
	org := h.organization(t, "Kaksivaihe")
	p, token := h.member(t, org, kernel.RolePrimaryUser)

	// The invitation gave an enrol-only session: it can list and add
	// factors, and nothing else.
	for _, rq := range []request{
		{method: "GET", path: "/api/me"},
		{method: "GET", path: "/api/users?organizationId=" + org},
		{method: "GET", path: "/api/me/export"},
		{method: "POST", path: "/api/me/recovery-codes"},
		{method: "POST", path: "/api/me/reauthenticate", body: map[string]string{"password": strongPassword}},
	} {
		rq.token = token
		wantProblem(t, h.do(t, rq), http.StatusForbidden, "second_factor_enrolment_required")
	}
	r := h.mustDo(t, request{method: "GET", path: "/api/me/authenticators", token: token}, http.StatusOK)
	validateResponse(t, "GET", "/api/me/authenticators", r.status, r.header.Get("Content-Type"), r.body)
	e := h.beginTOTP(t, token)
	// Unconfirmed, the factor counts for nothing: the password still gives
	// an enrol-only session.
	var si signInJSON
	h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusOK).decode(t, &si)
	if !si.SecondFactorEnrolmentRequired || si.Token == "" {
		t.Fatalf("sign-in before confirmation = %+v, want an enrol-only session", si)
	}
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/me/authenticators/" + e.Authenticator.ID + "/confirm", token: token,
		body: map[string]string{"code": "000000"}}), http.StatusBadRequest, "invalid_field")
	r = h.mustDo(t, request{method: "POST", path: "/api/me/authenticators/" + e.Authenticator.ID + "/confirm", token: token,
		body: map[string]string{"code": h.totpCode(t, e.Secret)}}, http.StatusOK)
	validateResponse(t, "POST", "/api/me/authenticators/{factorId}/confirm", r.status, r.header.Get("Content-Type"), r.body)
	var codes recoveryCodesJSON
	r.decode(t, &codes)
	if len(codes.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes", len(codes.RecoveryCodes))
	}
	// The enrolling session is an ordinary one now; the secret is not
	// shown again anywhere.
	r = h.mustDo(t, request{method: "GET", path: "/api/me/authenticators", token: token}, http.StatusOK)
	if strings.Contains(string(r.body), e.Secret) {
		t.Error("the list shows the secret")
	}
	x := h.mustDo(t, request{method: "GET", path: "/api/me/export", token: token}, http.StatusOK)
	validateResponse(t, "GET", "/api/me/export", x.status, x.header.Get("Content-Type"), x.body)
	if strings.Contains(string(x.body), e.Secret) || !strings.Contains(string(x.body), `"authenticators":[{`) {
		t.Errorf("export = %s", x.body)
	}
	h.clock.Advance(30 * time.Second)

	c := h.passwordStep(t, p.email)
	if strings.Join(c.SecondFactor.Methods, ",") != "totp,recovery" {
		t.Errorf("methods = %v", c.SecondFactor.Methods)
	}
	code := h.totpCode(t, e.Secret)
	r = h.mustDo(t, request{method: "POST", path: "/api/auth/login/second-factor",
		body: map[string]string{"challenge": c.SecondFactor.Challenge, "totp": code}}, http.StatusOK)
	validateResponse(t, "POST", "/api/auth/login/second-factor", r.status, r.header.Get("Content-Type"), r.body)
	var full signInJSON
	r.decode(t, &full)
	h.mustDo(t, request{method: "GET", path: "/api/me", token: full.Token}, http.StatusOK)

	// Replay of the same code, a used recovery code, an unknown challenge:
	// all the one answer.
	c = h.passwordStep(t, p.email)
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/auth/login/second-factor",
		body: map[string]string{"challenge": c.SecondFactor.Challenge, "totp": code}}), http.StatusUnauthorized, "invalid_credentials")
	h.mustDo(t, request{method: "POST", path: "/api/auth/login/second-factor",
		body: map[string]string{"challenge": c.SecondFactor.Challenge, "recoveryCode": codes.RecoveryCodes[0]}}, http.StatusOK)
	c = h.passwordStep(t, p.email)
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/auth/login/second-factor",
		body: map[string]string{"challenge": c.SecondFactor.Challenge, "recoveryCode": codes.RecoveryCodes[0]}}), http.StatusUnauthorized, "invalid_credentials")
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/auth/login/second-factor",
		body: map[string]string{"challenge": "not-a-challenge", "totp": "123456"}}), http.StatusUnauthorized, "invalid_credentials")
}

// P13 (API): changes to the factors need a recent authentication, and
// the last factor of a role that requires one stays.
func TestFactorChangesThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true})
	_, token := h.member(t, h.organization(t, "Muutokset"), kernel.RolePrimaryUser)
	id, secret, _ := h.enrol(t, token)
	wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/me/authenticators/" + id, token: token}), http.StatusConflict, "last_second_factor")
	r := h.mustDo(t, request{method: "PATCH", path: "/api/me/authenticators/" + id, token: token, body: map[string]string{"name": "old phone"}}, http.StatusOK)
	validateResponse(t, "PATCH", "/api/me/authenticators/{factorId}", r.status, r.header.Get("Content-Type"), r.body)
	wantProblem(t, h.do(t, request{method: "PATCH", path: "/api/me/authenticators/" + id, token: token, body: map[string]string{"name": "bad\u0000name"}}),
		http.StatusBadRequest, "invalid_field")
	h.clock.Advance(6 * time.Minute)
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/me/recovery-codes", token: token}), http.StatusForbidden, "reauthentication_required")
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/me/reauthenticate", token: token,
		body: map[string]string{"password": strongPassword, "totp": "000000"}}), http.StatusForbidden, "wrong_password")
	h.mustDo(t, request{method: "POST", path: "/api/me/reauthenticate", token: token,
		body: map[string]string{"password": strongPassword, "totp": h.totpCode(t, secret)}}, http.StatusNoContent)
	r = h.mustDo(t, request{method: "POST", path: "/api/me/recovery-codes", token: token}, http.StatusOK)
	validateResponse(t, "POST", "/api/me/recovery-codes", r.status, r.header.Get("Content-Type"), r.body)
}

// P5, P13 (API): an admin resets a person's factors: sessions end, the
// person is notified, the audit trail records it; a primary user cannot
// reset an admin's.
func TestResetFactorsThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true, realRelay: true})
	org := h.organization(t, "Nollaus")
	admin, adminToken := h.member(t, org, kernel.RoleAdmin)
	h.enrol(t, adminToken)
	primary, primaryToken := h.member(t, org, kernel.RolePrimaryUser)
	h.enrol(t, primaryToken)
	wantProblem(t, h.do(t, request{method: "DELETE", path: "/api/users/" + admin.id + "/authenticators", token: primaryToken}), http.StatusForbidden, "forbidden")
	h.mustDo(t, request{method: "DELETE", path: "/api/users/" + primary.id + "/authenticators", token: adminToken}, http.StatusNoContent)
	wantProblem(t, h.do(t, request{method: "GET", path: "/api/me/authenticators", token: primaryToken}), http.StatusUnauthorized, "unauthenticated")
	h.deliverAll(t)
	found := false
	h.published.mu.Lock()
	published := append([]notify.Message(nil), h.published.messages...)
	h.published.mu.Unlock()
	for _, m := range published {
		if m.Kind == notify.KindSecondFactorReset && m.UserID == primary.id {
			found = true
		}
	}
	if !found {
		t.Error("no second_factor_reset notification published")
	}
	page, err := h.store.Events(context.Background(), audit.Query{UserID: primary.id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ok := false
	for _, e := range page.Events {
		ok = ok || e.Action == audit.ActionFactorsReset && e.ActorID == admin.id
	}
	if !ok {
		t.Error("no second_factor.reset event by the admin")
	}
	var si signInJSON
	h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": primary.email, "password": strongPassword}}, http.StatusOK).decode(t, &si)
	if !si.SecondFactorEnrolmentRequired {
		t.Error("after the reset the password gives a full session")
	}
}
