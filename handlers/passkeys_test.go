package handlers

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passkeys/passkeystest"
)

// addPasskey adds a confirmed passkey to the session's account through
// the API and returns its authenticator.
func (h *harness) addPasskey(t *testing.T, token string) *passkeystest.Authenticator {
	t.Helper()
	a, err := passkeystest.New(passkeyOrigin)
	if err != nil {
		t.Fatal(err)
	}
	var begun struct {
		Authenticator factorJSON      `json:"authenticator"`
		Options       json.RawMessage `json:"options"`
	}
	h.mustDo(t, request{method: "POST", path: "/api/me/authenticators/passkey", token: token, body: map[string]string{"name": "key"}}, http.StatusCreated).decode(t, &begun)
	created, err := a.Create(begun.Options)
	if err != nil {
		t.Fatal(err)
	}
	h.mustDo(t, request{method: "POST", path: "/api/me/authenticators/" + begun.Authenticator.ID + "/confirm", token: token,
		body: map[string]json.RawMessage{"passkey": created}}, http.StatusOK)
	return a
}

// P13 (API): a passkey through the API, the answers matching the
// document: begin (the creation options), confirm with the browser's
// answer (the recovery codes), then password → challenge with the
// request options → the assertion → session; a tampered assertion is
// the same 401 invalid_credentials as a wrong code.
func TestPasskeyThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true})
	org := h.organization(t, "Avain")
	p, token := h.member(t, org, kernel.RolePrimaryUser)
	a, err := passkeystest.New(passkeyOrigin)
	if err != nil {
		t.Fatal(err)
	}

	r := h.mustDo(t, request{method: "POST", path: "/api/me/authenticators/passkey", token: token, body: map[string]string{"name": "security key"}}, http.StatusCreated)
	validateResponse(t, "POST", "/api/me/authenticators/passkey", r.status, r.header.Get("Content-Type"), r.body)
	var begun struct {
		Authenticator factorJSON      `json:"authenticator"`
		Options       json.RawMessage `json:"options"`
	}
	r.decode(t, &begun)
	created, err := a.Create(begun.Options)
	if err != nil {
		t.Fatal(err)
	}
	confirm := "/api/me/authenticators/" + begun.Authenticator.ID + "/confirm"
	r = h.mustDo(t, request{method: "POST", path: confirm, token: token, body: map[string]json.RawMessage{"passkey": created}}, http.StatusOK)
	validateResponse(t, "POST", "/api/me/authenticators/{factorId}/confirm", r.status, r.header.Get("Content-Type"), r.body)
	var codes recoveryCodesJSON
	r.decode(t, &codes)
	if len(codes.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes", len(codes.RecoveryCodes))
	}
	// The ceremony was used.
	wantProblem(t, h.do(t, request{method: "POST", path: confirm, token: token, body: map[string]json.RawMessage{"passkey": created}}), http.StatusNotFound, "not_found")

	challenge := func() secondFactorJSON {
		r := h.mustDo(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusOK)
		validateResponse(t, "POST", "/api/auth/login", r.status, r.header.Get("Content-Type"), r.body)
		var c secondFactorJSON
		r.decode(t, &c)
		if !slices.Contains(c.SecondFactor.Methods, "passkey") || len(c.SecondFactor.Passkey) == 0 {
			t.Fatalf("password step = %s", r.body)
		}
		return c
	}
	// AUTH-3: a tampered assertion is invalid_credentials, like a wrong code.
	c := challenge()
	bad, err := a.Get(c.SecondFactor.Passkey)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(bad, &doc); err != nil {
		t.Fatal(err)
	}
	doc["response"].(map[string]any)["signature"] = "AAAA"
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/auth/login/second-factor", body: map[string]any{"challenge": c.SecondFactor.Challenge, "passkey": doc}}),
		http.StatusUnauthorized, "invalid_credentials")

	c = challenge()
	good, err := a.Get(c.SecondFactor.Passkey)
	if err != nil {
		t.Fatal(err)
	}
	r = h.mustDo(t, request{method: "POST", path: "/api/auth/login/second-factor", body: map[string]any{"challenge": c.SecondFactor.Challenge, "passkey": json.RawMessage(good)}}, http.StatusOK)
	validateResponse(t, "POST", "/api/auth/login/second-factor", r.status, r.header.Get("Content-Type"), r.body)
	var si signInJSON
	r.decode(t, &si)
	if si.Token == "" || si.SecondFactorEnrolmentRequired {
		t.Fatalf("passkey sign-in = %s", r.body)
	}
	r = h.mustDo(t, request{method: "GET", path: "/api/me/authenticators", token: si.Token}, http.StatusOK)
	var list struct {
		Items []factorJSON `json:"items"`
	}
	r.decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Type != "passkey" || list.Items[0].LastUsedAt.IsZero() {
		t.Errorf("authenticators = %s", r.body)
	}
}

// P13 (API): the session's proof renewed with the password and a passkey
// (the ceremony from /api/me/reauthenticate/passkey); the same answer
// again is 403 wrong_password.
func TestPasskeyReauthenticationThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true})
	org := h.organization(t, "Uudelleen")
	_, token := h.member(t, org, kernel.RolePrimaryUser)
	a := h.addPasskey(t, token)
	r := h.mustDo(t, request{method: "POST", path: "/api/me/reauthenticate/passkey", token: token}, http.StatusOK)
	validateResponse(t, "POST", "/api/me/reauthenticate/passkey", r.status, r.header.Get("Content-Type"), r.body)
	var begun struct {
		Options json.RawMessage `json:"options"`
	}
	r.decode(t, &begun)
	answer, err := a.Get(begun.Options)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"password": strongPassword, "passkey": json.RawMessage(answer)}
	h.mustDo(t, request{method: "POST", path: "/api/me/reauthenticate", token: token, body: body}, http.StatusNoContent)
	wantProblem(t, h.do(t, request{method: "POST", path: "/api/me/reauthenticate", token: token, body: body}), http.StatusForbidden, "wrong_password")
}
