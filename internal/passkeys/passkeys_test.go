package passkeys_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/passkeys/passkeystest"
)

const origin = "https://app.example.fi"

var (
	start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	alice = passkeys.UserRef{ID: "acc-7f3a9c", Name: "Alice Aalto"}
)

func relyingParty(t *testing.T) *passkeys.RelyingParty {
	t.Helper()
	rp, err := passkeys.New(passkeys.Config{RPID: "example.fi", RPName: "Palvelumanuaali", Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func authenticator(t *testing.T) *passkeystest.Authenticator {
	t.Helper()
	a, err := passkeystest.New(origin)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// register runs a whole registration ceremony and returns the credential.
func register(t *testing.T, rp *passkeys.RelyingParty, a *passkeystest.Authenticator) passkeys.Credential {
	t.Helper()
	options, state, err := rp.BeginRegistration(alice, nil, start)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Create(options)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.FinishRegistration(alice, state, response, start.Add(time.Minute))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return cred
}

// login runs a login ceremony with the authenticator as it is.
func login(t *testing.T, rp *passkeys.RelyingParty, a *passkeystest.Authenticator, creds []passkeys.Credential) (passkeys.Use, error) {
	t.Helper()
	options, state, err := rp.BeginLogin(alice, creds, start)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	return rp.FinishLogin(alice, creds, state, response, start.Add(time.Minute))
}

func TestRegistrationThenLogin(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	cred := register(t, rp, a)
	if string(cred.ID) != string(a.ID()) || len(cred.PublicKey) == 0 || cred.Algorithm != -7 || !cred.UserVerified || !cred.CreatedAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("credential = %+v", cred)
	}
	if got, want := strings.Join(cred.Transports, ","), "internal,hybrid"; got != want {
		t.Errorf("transports = %q, want %q", got, want)
	}
	use, err := login(t, rp, a, []passkeys.Credential{cred})
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if string(use.CredentialID) != string(cred.ID) || use.SignCount != cred.SignCount+1 || !use.UserVerified {
		t.Errorf("use = %+v, want the credential with its count one up", use)
	}
}

// A synced passkey keeps no counter (it answers 0 every time): that is
// not a clone.
func TestCounterlessPasskeyLogsInAgain(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	a.Counterless, a.Synced = true, true
	cred := register(t, rp, a)
	if !cred.BackupEligible || !cred.BackupState {
		t.Errorf("credential flags = %+v, want backup eligible and backed up", cred)
	}
	for range 2 {
		if _, err := login(t, rp, a, []passkeys.Credential{cred}); err != nil {
			t.Fatalf("FinishLogin: %v", err)
		}
	}
}

// The options carry what navigator.credentials.create needs, and the user
// handle is the account id, nothing personal (P9).
func TestRegistrationOptions(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	existing := register(t, rp, a)
	options, _, err := rp.BeginRegistration(alice, []passkeys.Credential{existing}, start)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct{ ID, Name string }
		User      struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		}
		PubKeyCredParams []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
		ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
		Timeout            int                   `json:"timeout"`
		Attestation        string                `json:"attestation"`
		Selection          struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if challenge, err := base64.RawURLEncoding.DecodeString(o.Challenge); err != nil || len(challenge) < 16 {
		t.Errorf("challenge %q is not 16+ bytes of base64url", o.Challenge)
	}
	if o.RP.ID != "example.fi" || o.RP.Name != "Palvelumanuaali" {
		t.Errorf("rp = %+v", o.RP)
	}
	if handle, _ := base64.RawURLEncoding.DecodeString(o.User.ID); string(handle) != alice.ID {
		t.Errorf("user.id = %q, want the account id in base64url", o.User.ID)
	}
	if strings.Contains(string(options), "@") {
		t.Errorf("options carry an email: %s", options)
	}
	algs := map[int]bool{}
	for _, p := range o.PubKeyCredParams {
		algs[p.Alg] = p.Type == "public-key"
	}
	if !algs[-7] || !algs[-257] {
		t.Errorf("pubKeyCredParams = %+v, want ES256 (-7) and RS256 (-257)", o.PubKeyCredParams)
	}
	if len(o.ExcludeCredentials) != 1 || o.ExcludeCredentials[0].ID != base64.RawURLEncoding.EncodeToString(existing.ID) {
		t.Errorf("excludeCredentials = %+v, want the existing passkey", o.ExcludeCredentials)
	}
	if o.Timeout != int(passkeys.DefaultCeremonyTTL.Milliseconds()) || o.Attestation != "none" ||
		o.Selection.ResidentKey != "preferred" || o.Selection.UserVerification != "preferred" {
		t.Errorf("options = %s", options)
	}
}

// The login options list the person's passkeys and ask for user
// verification.
func TestLoginOptions(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	cred := register(t, rp, a)
	options, _, err := rp.BeginLogin(alice, []passkeys.Credential{cred}, start)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		UserVerification string `json:"userVerification"`
		Allow            []struct {
			Type       string   `json:"type"`
			ID         string   `json:"id"`
			Transports []string `json:"transports"`
		} `json:"allowCredentials"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if o.Challenge == "" || o.RPID != "example.fi" || o.UserVerification != "preferred" {
		t.Errorf("options = %s", options)
	}
	if len(o.Allow) != 1 || o.Allow[0].ID != base64.RawURLEncoding.EncodeToString(cred.ID) || o.Allow[0].Type != "public-key" || len(o.Allow[0].Transports) != 2 {
		t.Errorf("allowCredentials = %+v, want the registered passkey", o.Allow)
	}
	if _, _, err := rp.BeginLogin(alice, nil, start); !errors.Is(err, passkeys.ErrUnknownCredential) {
		t.Errorf("BeginLogin with no passkeys: %v, want ErrUnknownCredential", err)
	}
}

// A response made for another page or another site is refused: phishing
// resistance rests on these two checks (AUTH: passkeys bound to the
// origin).
func TestRegistrationRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		spoil func(*passkeystest.Authenticator)
		when  time.Duration
		want  error
	}{
		"wrong origin":  {spoil: func(a *passkeystest.Authenticator) { a.Origin = "https://app.example.fi.evil.test" }, want: passkeys.ErrInvalidResponse},
		"wrong rp id":   {spoil: func(a *passkeystest.Authenticator) { a.RPID = "evil.test" }, want: passkeys.ErrInvalidResponse},
		"expired":       {when: passkeys.DefaultCeremonyTTL, want: passkeys.ErrCeremonyExpired},
		"user not seen": {spoil: func(a *passkeystest.Authenticator) { a.UserVerified = false }},
	} {
		t.Run(name, func(t *testing.T) {
			rp, a := relyingParty(t), authenticator(t)
			if tc.spoil != nil {
				tc.spoil(a)
			}
			options, state, err := rp.BeginRegistration(alice, nil, start)
			if err != nil {
				t.Fatal(err)
			}
			response, err := a.Create(options)
			if err != nil {
				t.Fatal(err)
			}
			_, err = rp.FinishRegistration(alice, state, response, start.Add(tc.when))
			if !errors.Is(err, tc.want) {
				t.Errorf("FinishRegistration: %v, want %v", err, tc.want)
			}
		})
	}
}

// A ceremony finishes only for the person and the kind it was begun for,
// and a passkey the person already has cannot be added again.
func TestRegistrationCeremonyMisuse(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	options, state, err := rp.BeginRegistration(alice, nil, start)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Create(options)
	if err != nil {
		t.Fatal(err)
	}
	mallory := passkeys.UserRef{ID: "acc-000001", Name: "Mallory"}
	if _, err := rp.FinishRegistration(mallory, state, response, start); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("another person's ceremony: %v, want ErrInvalidResponse", err)
	}
	if _, err := rp.FinishRegistration(alice, []byte("{not json"), response, start); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("garbled ceremony: %v, want ErrInvalidResponse", err)
	}
	if _, err := rp.FinishRegistration(alice, state, []byte(`{"id":"x"}`), start); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("garbled response: %v, want ErrInvalidResponse", err)
	}
	cred, err := rp.FinishRegistration(alice, state, response, start)
	if err != nil {
		t.Fatal(err)
	}
	// The authenticator ignored excludeCredentials and made the same
	// credential again.
	options, state, err = rp.BeginRegistration(alice, []passkeys.Credential{cred}, start)
	if err != nil {
		t.Fatal(err)
	}
	if response, err = a.Create(options); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.FinishRegistration(alice, state, response, start); !errors.Is(err, passkeys.ErrAlreadyRegistered) {
		t.Errorf("same passkey again: %v, want ErrAlreadyRegistered", err)
	}
	loginOptions, loginState, err := rp.BeginLogin(alice, []passkeys.Credential{cred}, start)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := a.Get(loginOptions)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.FinishRegistration(alice, loginState, assertion, start); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("a login ceremony finished as a registration: %v, want ErrInvalidResponse", err)
	}
}

// Each way a login can be forged or replayed is refused with its error.
func TestLoginRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		spoil func(t *testing.T, a *passkeystest.Authenticator, creds []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte)
		when  time.Duration
		user  passkeys.UserRef
		want  error
	}{
		"wrong origin": {want: passkeys.ErrInvalidResponse, spoil: func(_ *testing.T, a *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			a.Origin = "https://evil.test"
			return c, nil
		}},
		"wrong rp id": {want: passkeys.ErrInvalidResponse, spoil: func(_ *testing.T, a *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			a.RPID = "evil.test"
			return c, nil
		}},
		"tampered signature": {want: passkeys.ErrInvalidResponse, spoil: func(t *testing.T, _ *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			return c, func(r []byte) []byte { return tamper(t, r, "signature") }
		}},
		"tampered authenticator data": {want: passkeys.ErrInvalidResponse, spoil: func(t *testing.T, _ *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			return c, func(r []byte) []byte { return tamper(t, r, "authenticatorData") }
		}},
		"another key for the same id": {want: passkeys.ErrInvalidResponse, spoil: func(t *testing.T, _ *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			other := authenticator(t)
			forged := register(t, relyingParty(t), other)
			c[0].PublicKey = forged.PublicKey
			return c, nil
		}},
		"not registered": {want: passkeys.ErrUnknownCredential, spoil: func(t *testing.T, _ *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			other := authenticator(t)
			return []passkeys.Credential{register(t, relyingParty(t), other)}, nil
		}},
		"sign count went backwards": {want: passkeys.ErrCloned, spoil: func(_ *testing.T, a *passkeystest.Authenticator, c []passkeys.Credential) ([]passkeys.Credential, func([]byte) []byte) {
			c[0].SignCount = 40
			a.SignCount = 10
			return c, nil
		}},
		"expired":                   {want: passkeys.ErrCeremonyExpired, when: passkeys.DefaultCeremonyTTL},
		"another person's ceremony": {want: passkeys.ErrInvalidResponse, user: passkeys.UserRef{ID: "acc-000001"}},
	} {
		t.Run(name, func(t *testing.T) {
			rp, a := relyingParty(t), authenticator(t)
			creds := []passkeys.Credential{register(t, rp, a)}
			var edit func([]byte) []byte
			if tc.spoil != nil {
				creds, edit = tc.spoil(t, a, creds)
			}
			options, state, err := rp.BeginLogin(alice, creds, start)
			if err != nil {
				t.Fatal(err)
			}
			response, err := a.Get(options)
			if err != nil {
				t.Fatal(err)
			}
			if edit != nil {
				response = edit(response)
			}
			user := alice
			if tc.user.ID != "" {
				user = tc.user
			}
			_, err = rp.FinishLogin(user, creds, state, response, start.Add(tc.when))
			if !errors.Is(err, tc.want) {
				t.Errorf("FinishLogin: %v, want %v", err, tc.want)
			}
		})
	}
}

// A login response answers its own challenge only: replayed into a new
// ceremony it is refused, and replayed into its own (a caller that failed
// to delete it) the sign count that did not move refuses it.
func TestLoginReplayRefused(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	cred := register(t, rp, a)
	options, state, err := rp.BeginLogin(alice, []passkeys.Credential{cred}, start)
	if err != nil {
		t.Fatal(err)
	}
	response, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	use, err := rp.FinishLogin(alice, []passkeys.Credential{cred}, state, response, start)
	if err != nil {
		t.Fatal(err)
	}
	cred.SignCount = use.SignCount
	if _, err := rp.FinishLogin(alice, []passkeys.Credential{cred}, state, response, start); !errors.Is(err, passkeys.ErrCloned) {
		t.Errorf("same ceremony again: %v, want ErrCloned", err)
	}
	_, fresh, err := rp.BeginLogin(alice, []passkeys.Credential{cred}, start)
	if err != nil {
		t.Fatal(err)
	}
	cred.SignCount = 0
	if _, err := rp.FinishLogin(alice, []passkeys.Credential{cred}, fresh, response, start); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("old response in a new ceremony: %v, want ErrInvalidResponse", err)
	}
}

// A passkey alone signs in: the user handle names the account, and the
// person must have been verified on the authenticator.
func TestDiscoverableLogin(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	cred := register(t, rp, a)
	run := func(user passkeys.UserRef) (passkeys.Use, error) {
		options, state, err := rp.BeginDiscoverableLogin(start)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(options), "allowCredentials") || !strings.Contains(string(options), `"userVerification":"required"`) {
			t.Errorf("options = %s, want no allowCredentials and user verification required", options)
		}
		response, err := a.Get(options)
		if err != nil {
			t.Fatal(err)
		}
		handle, err := passkeys.UserHandle(response)
		if err != nil || handle != alice.ID {
			t.Fatalf("UserHandle = %q, %v; want %q", handle, err, alice.ID)
		}
		return rp.FinishDiscoverableLogin(user, []passkeys.Credential{cred}, state, response, start)
	}
	if use, err := run(alice); err != nil || string(use.CredentialID) != string(cred.ID) {
		t.Fatalf("FinishDiscoverableLogin = %+v, %v", use, err)
	}
	if _, err := run(passkeys.UserRef{ID: "acc-000001"}); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("a handle for another account: %v, want ErrInvalidResponse", err)
	}
	a.UserVerified = false
	if _, err := run(alice); !errors.Is(err, passkeys.ErrInvalidResponse) {
		t.Errorf("person not verified: %v, want ErrInvalidResponse", err)
	}
}

// Errors carry none of the library's text: a client learns only which of
// the few outcomes it met.
func TestErrorsCarryNoDetail(t *testing.T) {
	rp, a := relyingParty(t), authenticator(t)
	cred := register(t, rp, a)
	a.Origin = "https://evil.test"
	_, err := login(t, rp, a, []passkeys.Credential{cred})
	if err != passkeys.ErrInvalidResponse {
		t.Errorf("error = %#v, want exactly ErrInvalidResponse", err)
	}
}

// tamper flips a bit in one field of a response's "response" object.
func tamper(t *testing.T, response []byte, field string) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(response, &r); err != nil {
		t.Fatal(err)
	}
	inner := r["response"].(map[string]any)
	raw, err := base64.RawURLEncoding.DecodeString(inner[field].(string))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 0x01
	inner[field] = base64.RawURLEncoding.EncodeToString(raw)
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		config passkeys.Config
		ok     bool
	}{
		"local":                      {passkeys.Config{RPID: "localhost", RPName: "P", Origins: []string{"http://localhost:3000"}}, true},
		"azure":                      {passkeys.Config{RPID: "example.fi", RPName: "P", Origins: []string{"https://app.example.fi", "https://example.fi"}}, true},
		"http outside localhost":     {passkeys.Config{RPID: "example.fi", RPName: "P", Origins: []string{"http://app.example.fi"}}, false},
		"origin on another domain":   {passkeys.Config{RPID: "example.fi", RPName: "P", Origins: []string{"https://example.fi.evil.test"}}, false},
		"suffix without a dot":       {passkeys.Config{RPID: "example.fi", RPName: "P", Origins: []string{"https://badexample.fi"}}, false},
		"rp id below the origin":     {passkeys.Config{RPID: "app.example.fi", RPName: "P", Origins: []string{"https://example.fi"}}, false},
		"public suffix":              {passkeys.Config{RPID: "azurewebsites.net", RPName: "P", Origins: []string{"https://x.azurewebsites.net"}}, false},
		"top-level domain":           {passkeys.Config{RPID: "fi", RPName: "P", Origins: []string{"https://example.fi"}}, false},
		"ip address":                 {passkeys.Config{RPID: "127.0.0.1", RPName: "P", Origins: []string{"http://127.0.0.1:3000"}}, false},
		"rp id with a scheme":        {passkeys.Config{RPID: "https://example.fi", RPName: "P", Origins: []string{"https://example.fi"}}, false},
		"origin with a path":         {passkeys.Config{RPID: "example.fi", RPName: "P", Origins: []string{"https://example.fi/app"}}, false},
		"no origins":                 {passkeys.Config{RPID: "example.fi", RPName: "P"}, false},
		"no name":                    {passkeys.Config{RPID: "example.fi", Origins: []string{"https://example.fi"}}, false},
		"ceremony lifetime too long": {passkeys.Config{RPID: "example.fi", RPName: "P", Origins: []string{"https://example.fi"}, CeremonyTTL: time.Hour}, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.config.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if _, err := passkeys.New(tc.config); (err == nil) != tc.ok {
				t.Errorf("New() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
