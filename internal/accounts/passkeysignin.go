package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
)

// Sign-in with a passkey alone (a discoverable credential, no password).
// The ceremony starts before anyone is named, so it is kept outside every
// account: in a ceremony row named by the hash of an opaque single-use
// token (Store.PutPasskeyCeremony). The passkey, with the person verified
// on the authenticator (PIN or biometrics), proves possession and the
// person at once: it counts as both factors, and the session is the one a
// completed second step makes.

// PasskeyCeremony is a passkey sign-in's ceremony kept server-side until
// it is used once or expires. It names no one: the hash of its token, its
// times and the WebAuthn ceremony.
type PasskeyCeremony struct {
	Hash      string
	CreatedAt time.Time
	ExpiresAt time.Time
	Ceremony  []byte
}

// PasskeyCeremonyTTL is how long a passkey sign-in's ceremony lives: the
// second step's time (the record of processing says so).
const PasskeyCeremonyTTL = ChallengeTTL

// reasonPasskeySignIn is the reason a sign-in with a passkey alone is
// audited with.
const reasonPasskeySignIn = "passkey_sign_in"

// DiscoverableRelyingParty runs the passkey-only sign-in's ceremonies
// (implemented by *passkeys.RelyingParty).
type DiscoverableRelyingParty interface {
	BeginDiscoverableLogin(now time.Time) (json.RawMessage, []byte, error)
	FinishDiscoverableLogin(user passkeys.UserRef, creds []passkeys.Credential, state, response []byte, now time.Time) (passkeys.Use, error)
}

// PasskeySignIn is the start of a passkey sign-in: the opaque challenge
// to send back and the PublicKeyCredentialRequestOptionsJSON for
// navigator.credentials.get (no allowCredentials).
type PasskeySignIn struct {
	Challenge string
	ExpiresAt time.Time
	Options   json.RawMessage
}

func (s *Service) discoverable() (DiscoverableRelyingParty, bool) {
	rp, ok := s.opts.Passkeys.(DiscoverableRelyingParty)
	return rp, ok && s.opts.Passkeys != nil
}

// BeginPasskeySignIn starts a sign-in with a passkey alone.
// kernel.ErrNotFound when the service has no relying party.
func (s *Service) BeginPasskeySignIn(ctx context.Context) (PasskeySignIn, error) {
	rp, ok := s.discoverable()
	if !ok {
		return PasskeySignIn{}, kernel.ErrNotFound
	}
	now := s.now().UTC()
	options, state, err := rp.BeginDiscoverableLogin(now)
	if err != nil {
		return PasskeySignIn{}, err
	}
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return PasskeySignIn{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	c := PasskeyCeremony{Hash: hashSecret("passkey|" + token), CreatedAt: now, ExpiresAt: now.Add(PasskeyCeremonyTTL), Ceremony: state}
	if err := s.store.PutPasskeyCeremony(ctx, c, now); err != nil {
		return PasskeySignIn{}, err
	}
	return PasskeySignIn{Challenge: token, ExpiresAt: c.ExpiresAt, Options: options}, nil
}

// passkeyChallengeHash is the hash naming a passkey sign-in's ceremony,
// or false for anything not shaped like a token BeginPasskeySignIn made.
func passkeyChallengeHash(token string) (string, bool) {
	if len(token) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(token); err != nil {
		return "", false
	}
	return hashSecret("passkey|" + token), true
}

// LoginPasskey signs in with a passkey alone: the challenge
// BeginPasskeySignIn gave and the browser's AuthenticationResponseJSON.
// The ceremony is taken (used) first, whatever follows. The account is the
// one the response's user handle names; it must be active and not locked,
// the passkey one of its confirmed passkey factors, and the person
// verified on the authenticator. It answers as a completed second step
// does. Every failure is ErrInvalidCredentials; one that names an account
// counts towards its lockout (AUTH-3), and a passkey whose sign count did
// not go up is audited as a possible clone.
func (s *Service) LoginPasskey(ctx context.Context, challenge string, response []byte, m kernel.Meta) (SignIn, error) {
	rp, ok := s.discoverable()
	if !ok {
		return SignIn{}, ErrInvalidCredentials
	}
	// The ceremony goes first: a challenge is used once, even by a
	// response that names no account.
	var cer PasskeyCeremony
	taken := false
	if hash, ok := passkeyChallengeHash(challenge); ok {
		c, err := s.store.TakePasskeyCeremony(ctx, hash)
		switch {
		case err == nil:
			cer, taken = c, true
		case !errors.Is(err, kernel.ErrNotFound):
			return SignIn{}, err
		}
	}
	userID, err := passkeys.UserHandle(response)
	if err != nil || !validID(userID) {
		return SignIn{}, ErrInvalidCredentials
	}
	var result SignIn
	err = retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, userID)
		if errors.Is(err, kernel.ErrNotFound) {
			return ErrInvalidCredentials
		}
		if err != nil {
			return err
		}
		now := s.now().UTC()
		u := agg.User
		if u.Status != kernel.StatusActive || lockedAt(u, now) {
			a := &loginAttempt{s: s, m: m, hashed: true}
			return a.refuse(ctx, u)
		}
		var why error = errNoProof
		if taken && now.Before(cer.ExpiresAt) {
			why = nil
		}
		var f Factor
		if why == nil {
			f, why = s.provePasskeyAlone(rp, agg, response, cer.Ceremony, now)
		}
		if why != nil {
			return s.recordFailedFactor(ctx, u, m, failureReason(why), Change{UserID: u.ID})
		}
		a := &loginAttempt{s: s, m: m, reason: reasonPasskeySignIn}
		result, err = a.finish(ctx, agg, now, Change{UserID: u.ID, UpdateFactors: []Factor{f}}, false)
		return err
	})
	return result, err
}

// provePasskeyAlone finishes a discoverable login against the account's
// confirmed passkeys, requiring the person verified, and returns the
// passkey used with its new sign count and last use.
func (s *Service) provePasskeyAlone(rp DiscoverableRelyingParty, agg Aggregate, response, ceremony []byte, now time.Time) (Factor, error) {
	creds := passkeyCredentials(agg)
	if len(creds) == 0 || len(ceremony) == 0 {
		return Factor{}, errNoProof
	}
	use, err := rp.FinishDiscoverableLogin(userRef(agg.User), creds, ceremony, response, now)
	if err != nil {
		return Factor{}, err
	}
	if !use.UserVerified {
		return Factor{}, errNoProof
	}
	for _, f := range confirmedFactors(agg) {
		if f.Type == FactorPasskey && bytes.Equal(f.Passkey.ID, use.CredentialID) {
			f.Passkey.SignCount, f.Passkey.BackupState, f.LastUsedAt = use.SignCount, use.BackupState, now
			return f, nil
		}
	}
	return Factor{}, errNoProof
}
