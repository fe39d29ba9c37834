package accounts_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/passkeys/passkeystest"
)

const passkeyOrigin = "https://app.example.fi"

// passkeyEnv is mfaEnv with a relying party for the passkeys.
func passkeyEnv(t *testing.T, configure ...func(*accounts.Options)) *testEnv {
	t.Helper()
	rp, err := passkeys.New(passkeys.Config{RPID: "example.fi", RPName: "Palvelumanuaali", Origins: []string{passkeyOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	return mfaEnv(t, append([]func(*accounts.Options){func(o *accounts.Options) { o.Passkeys = rp }}, configure...)...)
}

func (e *testEnv) authenticator() *passkeystest.Authenticator {
	e.t.Helper()
	a, err := passkeystest.New(passkeyOrigin)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// addPasskey runs a whole enrolment with the authenticator on the session
// p and returns the recovery codes it gave.
func (e *testEnv) addPasskey(p accounts.Principal, a *passkeystest.Authenticator) []string {
	e.t.Helper()
	en, err := e.svc.BeginPasskey(e.ctx, p, "security key", testMeta)
	if err != nil {
		e.t.Fatalf("BeginPasskey: %v", err)
	}
	response, err := a.Create(en.Options)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err := e.svc.ConfirmPasskey(e.ctx, p, en.Factor.ID, response, testMeta)
	if err != nil {
		e.t.Fatalf("ConfirmPasskey: %v", err)
	}
	return codes
}

// withPasskey makes an active account of role with one passkey: the
// account, its authenticator and the session it enrolled with.
func (e *testEnv) withPasskey(email string, role kernel.Role) (accounts.User, *passkeystest.Authenticator, accounts.SignIn) {
	e.t.Helper()
	u, si := e.activeAs(email, role)
	a := e.authenticator()
	if codes := e.addPasskey(e.authenticate(si.Token), a); len(codes) != 10 {
		e.t.Fatalf("the first factor gave %d recovery codes", len(codes))
	}
	return u, a, si
}

// assertion is the authenticator's answer to a challenge's passkey
// options.
func (e *testEnv) assertion(a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) []byte {
	e.t.Helper()
	if len(c.PasskeyOptions) == 0 {
		e.t.Fatal("the challenge carries no passkey options")
	}
	r, err := a.Get(c.PasskeyOptions)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// tamper flips the last bit of one of a response's binary fields.
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

// P13, AUTH (second factor): a passkey is added by a real registration
// ceremony (pending until the browser's answer, then a confirmed factor
// with its recovery codes), and signs in as the second step: the
// challenge lists it and carries the request options, and the sign count
// and last use are stored.
func TestPasskeyEnrolmentThenSecondStep(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	u, si := env.activeAs("avain@example.fi", kernel.RoleAdmin)
	if !env.authenticate(si.Token).Actor.EnrolOnly {
		t.Fatal("an admin without a factor got a full session")
	}
	p := env.authenticate(si.Token)
	a := env.authenticator()
	en, err := env.svc.BeginPasskey(env.ctx, p, "security key", testMeta)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(en.Options, &opts); err != nil || opts.Challenge == "" {
		t.Fatalf("creation options %s: %v", en.Options, err)
	}
	// P9: the user handle is the account id, nothing personal.
	if id, _ := base64.RawURLEncoding.DecodeString(opts.User.ID); string(id) != u.ID {
		t.Errorf("user handle %q, want the account id", id)
	}
	if list, _ := env.svc.ListFactors(env.ctx, p); len(list) != 0 {
		t.Errorf("a pending passkey is listed: %+v", list)
	}
	response, err := a.Create(en.Options)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := env.svc.ConfirmPasskey(env.ctx, p, en.Factor.ID, response, testMeta)
	if err != nil || len(codes) != 10 {
		t.Fatalf("ConfirmPasskey = %d codes, %v", len(codes), err)
	}
	// The ceremony was used: the same answer again finds nothing.
	if _, err := env.svc.ConfirmPasskey(env.ctx, p, en.Factor.ID, response, testMeta); !errors.Is(err, kernel.ErrNotFound) {
		t.Errorf("a second confirmation: %v", err)
	}
	if p := env.authenticate(si.Token); p.Actor.EnrolOnly {
		t.Error("the enrol-only session stayed enrol-only")
	}
	if evs := env.eventsWith(u.ID, audit.ActionFactorAdded); len(evs) != 1 || evs[0].Reason != "passkey" {
		t.Errorf("factor.added events = %+v", evs)
	}
	f := env.aggregate(u.ID).Factors[0]
	if f.Type != accounts.FactorPasskey || !f.Confirmed || len(f.Ceremony) != 0 || string(f.Passkey.ID) != string(a.ID()) {
		t.Fatalf("stored factor = %+v", f)
	}

	env.clock.Advance(time.Minute)
	c := env.challenge("avain@example.fi")
	if !slices.Contains(c.Methods, accounts.MethodPasskey) || !slices.Contains(c.Methods, accounts.MethodRecovery) {
		t.Errorf("methods = %v", c.Methods)
	}
	signed, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{Passkey: env.assertion(a, c)}, testMeta)
	if err != nil || signed.Token == "" || signed.EnrolOnly {
		t.Fatalf("passkey second step = %+v, %v", signed, err)
	}
	f = env.aggregate(u.ID).Factors[0]
	if f.Passkey.SignCount != a.SignCount || !f.LastUsedAt.Equal(env.clock.Now()) {
		t.Errorf("after use: sign count %d (authenticator %d), last used %v", f.Passkey.SignCount, a.SignCount, f.LastUsedAt)
	}
	if n := len(env.aggregate(u.ID).Challenges); n != 0 {
		t.Errorf("%d challenges left after the sign-in", n)
	}
}

// P13, AUTH-3: every refused passkey is the same invalid_credentials and
// counts towards the lockout: a tampered assertion, an assertion made for
// another account's challenge, a replayed assertion, a cloned
// authenticator (its sign count went backwards; the audit trail names
// it).
func TestPasskeyAbuseIsRefusedAndCounted(t *testing.T) {
	t.Parallel()
	for name, spoil := range map[string]func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte){
		"tampered signature": func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte) {
			return c.Challenge, tamper(env.t, env.assertion(a, c), "signature")
		},
		"tampered authenticator data": func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte) {
			return c.Challenge, tamper(env.t, env.assertion(a, c), "authenticatorData")
		},
		"another account's challenge": func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte) {
			// The attacker holds the victim's password step and answers it
			// with an assertion made for their own account's challenge.
			_, mine, _ := env.withPasskey("hyokkaaja@example.fi", kernel.RoleAdmin)
			own := env.challenge("hyokkaaja@example.fi")
			return c.Challenge, env.assertion(mine, own)
		},
		"replayed assertion": func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte) {
			response := env.assertion(a, c)
			if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{Passkey: response}, testMeta); err != nil {
				env.t.Fatal(err)
			}
			next := env.challenge("uhri@example.fi")
			return next.Challenge, response
		},
		"cloned authenticator": func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte) {
			if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{Passkey: env.assertion(a, c)}, testMeta); err != nil {
				env.t.Fatal(err)
			}
			a.SignCount = 0 // a copy of the key, behind the original
			next := env.challenge("uhri@example.fi")
			return next.Challenge, env.assertion(a, next)
		},
		"a passkey and a code at once": func(env *testEnv, a *passkeystest.Authenticator, c *accounts.SecondFactorChallenge) (string, []byte) {
			return c.Challenge, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := passkeyEnv(t)
			u, a, _ := env.withPasskey("uhri@example.fi", kernel.RoleAdmin)
			a.SignCount = 5
			c := env.challenge("uhri@example.fi")
			challenge, response := spoil(env, a, c)
			proof := accounts.Proof{Passkey: response}
			if response == nil {
				proof = accounts.Proof{Passkey: env.assertion(a, c), TOTP: "123456"}
			}
			before := env.user(u.ID).FailedSignIns
			if _, err := env.svc.LoginSecondFactor(env.ctx, challenge, proof, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
				t.Fatalf("refused passkey = %v, want ErrInvalidCredentials", err)
			}
			if got := env.user(u.ID).FailedSignIns; got != before+1 {
				t.Errorf("failed logins %d, want %d", got, before+1)
			}
			// The audit trail tells a cloned passkey from a wrong answer.
			want := "wrong_second_factor"
			if name == "cloned authenticator" {
				want = "passkey_cloned"
			}
			if evs := env.eventsWith(u.ID, audit.ActionSignInFailed); len(evs) == 0 || evs[len(evs)-1].Reason != want {
				t.Errorf("sign-in failed events = %+v, want the last with reason %s", evs, want)
			}
		})
	}
}

// P13: a challenge's passkey ceremony is used once: after a refused
// passkey, the right one on the same challenge is refused too (the other
// methods stay).
func TestPasskeyCeremonyIsSingleUse(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	_, a, _ := env.withPasskey("kerta@example.fi", kernel.RolePrimaryUser)
	c := env.challenge("kerta@example.fi")
	good := env.assertion(a, c)
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{Passkey: tamper(t, good, "signature")}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if _, err := env.svc.LoginSecondFactor(env.ctx, c.Challenge, accounts.Proof{Passkey: good}, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Errorf("the ceremony answered twice: %v", err)
	}
}

// P13: a registration that does not answer its ceremony (another origin)
// adds nothing and uses the ceremony up; the last passkey cannot be
// removed while the role requires a factor; the export lists the passkey
// by type, name and dates only.
func TestPasskeyRegistrationRefusedLastKeptAndExported(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	u, a, si := env.withPasskey("vienti@example.fi", kernel.RolePrimaryUser)
	p := env.authenticate(si.Token)

	evil := env.authenticator()
	evil.Origin = "https://evil.test"
	en, err := env.svc.BeginPasskey(env.ctx, p, "phishing", testMeta)
	if err != nil {
		t.Fatal(err)
	}
	response, err := evil.Create(en.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.ConfirmPasskey(env.ctx, p, en.Factor.ID, response, testMeta); len(fieldErrors(t, err)) != 1 || fieldErrors(t, err)[0].Code != "invalid_passkey" {
		t.Errorf("a registration from another origin: %v", err)
	}
	if n := len(env.aggregate(u.ID).Factors); n != 1 {
		t.Errorf("%d factors after a refused registration, want 1", n)
	}

	list, _ := env.svc.ListFactors(env.ctx, p)
	if len(list) != 1 || list[0].Type != accounts.FactorPasskey {
		t.Fatalf("factors = %+v", list)
	}
	if err := env.svc.RemoveFactor(env.ctx, p, list[0].ID, testMeta); !errors.Is(err, accounts.ErrLastFactor) {
		t.Errorf("removing the last required passkey: %v", err)
	}

	x, err := env.svc.ExportSelf(env.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	raw := mustJSON(t, x.Factors)
	key := base64.RawURLEncoding.EncodeToString(env.aggregate(u.ID).Factors[0].Passkey.PublicKey)
	if len(x.Factors) != 1 || x.Factors[0].Type != accounts.FactorPasskey || strings.Contains(raw, key) ||
		strings.Contains(raw, base64.RawURLEncoding.EncodeToString(a.ID())) || strings.Contains(raw, "SignCount") {
		t.Errorf("export factors = %s", raw)
	}
}

// P13, AUTH (second factor): a person whose factor is a passkey renews
// the session's proof with the password and the passkey, against a
// ceremony kept for that session and used once: the same answer again
// is a wrong proof and counts.
func TestReauthenticateWithAPasskey(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	u, a, si := env.withPasskey("uudelleen@example.fi", kernel.RoleAdmin)
	env.clock.Advance(accounts.ReauthenticationWindow + time.Minute)
	p := env.authenticate(si.Token)
	if _, err := env.svc.BeginPasskey(env.ctx, p, "second key", testMeta); !errors.Is(err, accounts.ErrReauthenticationRequired) {
		t.Fatalf("a stale session added a passkey: %v", err)
	}
	options, err := env.svc.BeginPasskeyReauthentication(env.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.Reauthenticate(env.ctx, p, goodPassword, accounts.Proof{Passkey: answer}, testMeta); err != nil {
		t.Fatalf("Reauthenticate with a passkey: %v", err)
	}
	p = env.authenticate(si.Token)
	if _, err := env.svc.BeginPasskey(env.ctx, p, "second key", testMeta); err != nil {
		t.Errorf("after reauthentication: %v", err)
	}
	before := env.user(u.ID).FailedSignIns
	if err := env.svc.Reauthenticate(env.ctx, p, goodPassword, accounts.Proof{Passkey: answer}, testMeta); !errors.Is(err, accounts.ErrWrongPassword) {
		t.Errorf("a replayed passkey answer reauthenticated: %v", err)
	}
	if got := env.user(u.ID).FailedSignIns; got != before+1 {
		t.Errorf("failed sign-ins %d, want %d", got, before+1)
	}
	if n := len(env.aggregate(u.ID).Challenges); n != 0 {
		t.Errorf("%d challenges left", n)
	}
}
