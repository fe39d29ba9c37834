package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passkeys/passkeystest"
)

// beginPasskeySignIn starts a passkey sign-in through the API, checking
// the answer against the document.
func (h *harness) beginPasskeySignIn(t *testing.T) passkeySignInJSON {
	t.Helper()
	r := h.mustDo(t, request{method: "POST", path: "/api/auth/passkey/challenge"}, http.StatusOK)
	validateResponse(t, "POST", "/api/auth/passkey/challenge", r.status, r.header.Get("Content-Type"), r.body)
	var out passkeySignInJSON
	r.decode(t, &out)
	return out
}

func answer(t *testing.T, a *passkeystest.Authenticator, start passkeySignInJSON) json.RawMessage {
	t.Helper()
	r, err := a.Get(start.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// P13, AUTH (API): a passkey alone signs in: options with no
// allowCredentials and user verification required, then the assertion →
// a full session, the answer matching the document.
func TestPasskeySignInThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true})
	org := h.organization(t, "Yksin")
	p, token := h.member(t, org, kernel.RoleAdmin)
	a := h.addPasskey(t, token)

	start := h.beginPasskeySignIn(t)
	var opts map[string]any
	if err := json.Unmarshal(start.PublicKey, &opts); err != nil {
		t.Fatal(err)
	}
	if _, named := opts["allowCredentials"]; named || opts["userVerification"] != "required" || start.Challenge == "" {
		t.Fatalf("passkey sign-in start = %+v", start)
	}
	r := h.mustDo(t, request{method: "POST", path: "/api/auth/passkey", body: passkeySignInRequest{Challenge: start.Challenge, Passkey: answer(t, a, start)}}, http.StatusOK)
	validateResponse(t, "POST", "/api/auth/passkey", r.status, r.header.Get("Content-Type"), r.body)
	var si signInJSON
	r.decode(t, &si)
	if si.Token == "" || si.SecondFactorEnrolmentRequired || si.User.ID != p.id {
		t.Fatalf("passkey sign-in = %s", r.body)
	}
	// A full session: it may do what the role may.
	h.mustDo(t, request{method: "GET", path: "/api/users/" + p.id, token: si.Token}, http.StatusOK)
}

// P13, AUTH-3 (API, abuse): a replayed or expired challenge, another
// account's handle on the attacker's passkey, a closed account's passkey
// and a passkey without the person verified are each the same 401
// invalid_credentials, with nothing that tells them apart.
func TestPasskeySignInAbuseThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{secondFactor: true})
	org := h.organization(t, "Hyokkays")
	refused := func(t *testing.T, challenge string, response json.RawMessage) {
		t.Helper()
		r := h.do(t, request{method: "POST", path: "/api/auth/passkey", body: passkeySignInRequest{Challenge: challenge, Passkey: response}})
		validateResponse(t, "POST", "/api/auth/passkey", r.status, r.header.Get("Content-Type"), r.body)
		wantProblem(t, r, http.StatusUnauthorized, "invalid_credentials")
	}

	t.Run("replayed challenge", func(t *testing.T) {
		_, token := h.member(t, org, kernel.RolePrimaryUser)
		a := h.addPasskey(t, token)
		start := h.beginPasskeySignIn(t)
		first, second := answer(t, a, start), answer(t, a, start)
		h.mustDo(t, request{method: "POST", path: "/api/auth/passkey", body: passkeySignInRequest{Challenge: start.Challenge, Passkey: first}}, http.StatusOK)
		refused(t, start.Challenge, second)
	})
	t.Run("expired challenge", func(t *testing.T) {
		_, token := h.member(t, org, kernel.RolePrimaryUser)
		a := h.addPasskey(t, token)
		start := h.beginPasskeySignIn(t)
		response := answer(t, a, start)
		h.clock.Advance(accounts.PasskeyCeremonyTTL + time.Second)
		refused(t, start.Challenge, response)
	})
	t.Run("another account's handle", func(t *testing.T) {
		victim, _ := h.member(t, org, kernel.RoleAdmin)
		_, token := h.member(t, org, kernel.RolePrimaryUser)
		a := h.addPasskey(t, token)
		start := h.beginPasskeySignIn(t)
		var doc map[string]any
		if err := json.Unmarshal(answer(t, a, start), &doc); err != nil {
			t.Fatal(err)
		}
		doc["response"].(map[string]any)["userHandle"] = base64.RawURLEncoding.EncodeToString([]byte(victim.id))
		forged, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		refused(t, start.Challenge, forged)
	})
	t.Run("closed account", func(t *testing.T) {
		p, token := h.member(t, org, kernel.RolePrimaryUser)
		a := h.addPasskey(t, token)
		if err := h.accounts.CloseUser(t.Context(), setupActor, p.id, kernel.Meta{}); err != nil {
			t.Fatal(err)
		}
		start := h.beginPasskeySignIn(t)
		refused(t, start.Challenge, answer(t, a, start))
	})
	t.Run("person not verified", func(t *testing.T) {
		_, token := h.member(t, org, kernel.RolePrimaryUser)
		a := h.addPasskey(t, token)
		a.UserVerified = false
		start := h.beginPasskeySignIn(t)
		refused(t, start.Challenge, answer(t, a, start))
	})
}
