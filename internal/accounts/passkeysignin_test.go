package accounts_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/passkeys/passkeystest"
)

// passkeyAlone begins a passkey sign-in and answers it with a.
func (e *testEnv) passkeyAlone(a *passkeystest.Authenticator) (string, []byte) {
	e.t.Helper()
	start, err := e.svc.BeginPasskeySignIn(e.ctx)
	if err != nil {
		e.t.Fatalf("BeginPasskeySignIn: %v", err)
	}
	var opts map[string]any
	if err := json.Unmarshal(start.Options, &opts); err != nil {
		e.t.Fatal(err)
	}
	if _, named := opts["allowCredentials"]; named || opts["userVerification"] != "required" {
		e.t.Fatalf("passkey sign-in options %s: want no allowCredentials and user verification required", start.Options)
	}
	r, err := a.Get(start.Options)
	if err != nil {
		e.t.Fatal(err)
	}
	return start.Challenge, r
}

// withHandle replaces a response's user handle.
func withHandle(t *testing.T, response []byte, handle string) []byte {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(response, &r); err != nil {
		t.Fatal(err)
	}
	r["response"].(map[string]any)["userHandle"] = base64.RawURLEncoding.EncodeToString([]byte(handle))
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// P13, AUTH (passkey alone): the test authenticator keeps a resident
// credential with the account id as its user handle; a passkey with the
// person verified signs in without a password, as a completed second step
// does, and stores its sign count and last use; the audit names it.
func TestPasskeyAloneSignsIn(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	u, a, _ := env.withPasskey("yksin@example.fi", kernel.RoleAdmin)
	challenge, response := env.passkeyAlone(a)
	if handle, err := passkeys.UserHandle(response); err != nil || handle != u.ID {
		t.Fatalf("the authenticator's user handle = %q (%v), want the account id", handle, err)
	}
	env.clock.Advance(time.Minute)
	si, err := env.svc.LoginPasskey(env.ctx, challenge, response, testMeta)
	if err != nil {
		t.Fatalf("LoginPasskey: %v", err)
	}
	if si.Token == "" || si.EnrolOnly || si.SecondFactor != nil || si.User.ID != u.ID {
		t.Fatalf("sign-in = %+v, want a full session for the account", si)
	}
	p := env.authenticate(si.Token)
	if p.Actor.ID != u.ID {
		t.Errorf("session of %s, want %s", p.Actor.ID, u.ID)
	}
	for _, f := range env.aggregate(u.ID).Factors {
		if f.Type == accounts.FactorPasskey && (f.Passkey.SignCount != a.SignCount || !f.LastUsedAt.Equal(env.clock.Now())) {
			t.Errorf("passkey after use: count %d last use %v, want %d at %v", f.Passkey.SignCount, f.LastUsedAt, a.SignCount, env.clock.Now())
		}
	}
	evs := env.eventsWith(u.ID, audit.ActionSignInSucceeded)
	if len(evs) == 0 || evs[len(evs)-1].Reason != "passkey_sign_in" {
		t.Errorf("sign-in events %+v, want the last with reason passkey_sign_in", evs)
	}
}

// P13, AUTH-3 (passkey alone, abuse): a replayed or expired challenge, an
// assertion claiming another account's handle, the passkey of a closed
// account and a passkey without the person verified are each refused as
// the same ErrInvalidCredentials, and each counts towards the lockout of
// the account the handle names (a closed one is only refused).
func TestPasskeyAloneAbuseIsRefused(t *testing.T) {
	t.Parallel()
	for name, spoil := range map[string]func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte){
		"replayed challenge": func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte) {
			// Two fresh assertions of the same challenge (the sign count
			// goes up): the second is refused for the challenge alone.
			start, err := env.svc.BeginPasskeySignIn(env.ctx)
			if err != nil {
				env.t.Fatal(err)
			}
			first, err := a.Get(start.Options)
			if err != nil {
				env.t.Fatal(err)
			}
			second, err := a.Get(start.Options)
			if err != nil {
				env.t.Fatal(err)
			}
			if _, err := env.svc.LoginPasskey(env.ctx, start.Challenge, first, testMeta); err != nil {
				env.t.Fatal(err)
			}
			return start.Challenge, second
		},
		"expired challenge": func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte) {
			challenge, response := env.passkeyAlone(a)
			env.clock.Advance(accounts.PasskeyCeremonyTTL)
			return challenge, response
		},
		"another account's handle": func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte) {
			_, mine, _ := env.withPasskey("hyokkaaja@example.fi", kernel.RoleAdmin)
			challenge, response := env.passkeyAlone(mine)
			return challenge, withHandle(env.t, response, victim.ID)
		},
		"closed account": func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte) {
			env.setStatus(victim.ID, kernel.StatusClosed)
			return env.passkeyAlone(a)
		},
		"person not verified": func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte) {
			a.UserVerified = false
			return env.passkeyAlone(a)
		},
		"tampered signature": func(env *testEnv, victim accounts.User, a *passkeystest.Authenticator) (string, []byte) {
			challenge, response := env.passkeyAlone(a)
			return challenge, tamper(env.t, response, "signature")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := passkeyEnv(t)
			u, a, _ := env.withPasskey("uhri@example.fi", kernel.RolePrimaryUser)
			challenge, response := spoil(env, u, a)
			before := env.user(u.ID).FailedSignIns
			si, err := env.svc.LoginPasskey(env.ctx, challenge, response, testMeta)
			if !errors.Is(err, accounts.ErrInvalidCredentials) || si.Token != "" {
				t.Fatalf("LoginPasskey = %+v, %v; want ErrInvalidCredentials", si, err)
			}
			want := before + 1
			if name == "closed account" {
				want = before
			}
			if got := env.user(u.ID).FailedSignIns; got != want {
				t.Errorf("failed sign-ins %d, want %d", got, want)
			}
			if evs := env.eventsWith(u.ID, audit.ActionSignInFailed); len(evs) == 0 {
				t.Error("the refusal was not audited")
			}
		})
	}
}

// P13: a passkey whose sign count did not go up signs no one in and is
// audited as a possible clone.
func TestPasskeyAloneClonedIsAudited(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	u, a, _ := env.withPasskey("klooni@example.fi", kernel.RoleAdmin)
	a.SignCount = 5
	challenge, response := env.passkeyAlone(a)
	if _, err := env.svc.LoginPasskey(env.ctx, challenge, response, testMeta); err != nil {
		t.Fatal(err)
	}
	a.SignCount = 0
	challenge, response = env.passkeyAlone(a)
	if _, err := env.svc.LoginPasskey(env.ctx, challenge, response, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Fatalf("cloned passkey = %v, want ErrInvalidCredentials", err)
	}
	if evs := env.eventsWith(u.ID, audit.ActionSignInFailed); len(evs) == 0 || evs[len(evs)-1].Reason != "passkey_cloned" {
		t.Errorf("sign-in failed events %+v, want the last with reason passkey_cloned", evs)
	}
}

// AUTH: a challenge token that is not one, and an unknown handle, are
// refused without touching any account.
func TestPasskeyAloneMalformedIsRefused(t *testing.T) {
	t.Parallel()
	env := passkeyEnv(t)
	_, a, _ := env.withPasskey("muoto@example.fi", kernel.RoleAdmin)
	challenge, response := env.passkeyAlone(a)
	for name, c := range map[string][2][]byte{
		"bad token":      {[]byte("x"), response},
		"unknown handle": {[]byte(challenge), withHandle(t, response, "no-such-account")},
		"odd handle":     {[]byte(challenge), withHandle(t, response, "$passkey|0")},
		"no response":    {[]byte(challenge), []byte("{}")},
	} {
		if _, err := env.svc.LoginPasskey(env.ctx, string(c[0]), c[1], testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Errorf("%s: %v, want ErrInvalidCredentials", name, err)
		}
	}
}
