package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
)

// Passkeys as a second factor (internal/passkeys runs the ceremonies). A
// passkey factor keeps its credential: the public key, its algorithm and
// counters, nothing secret. A ceremony is kept server-side, in the pending
// factor's row while a passkey is added and in the challenge's row during
// a sign-in, and is used once.

// RelyingParty runs the WebAuthn ceremonies (implemented by
// *passkeys.RelyingParty).
type RelyingParty interface {
	BeginRegistration(user passkeys.UserRef, existing []passkeys.Credential, now time.Time) (json.RawMessage, []byte, error)
	FinishRegistration(user passkeys.UserRef, state, response []byte, now time.Time) (passkeys.Credential, error)
	BeginLogin(user passkeys.UserRef, creds []passkeys.Credential, now time.Time) (json.RawMessage, []byte, error)
	FinishLogin(user passkeys.UserRef, creds []passkeys.Credential, state, response []byte, now time.Time) (passkeys.Use, error)
}

// userRef is the account as an authenticator knows it: the account id as
// the user handle (P9), the email as the name the person picks it by.
func userRef(u User) passkeys.UserRef { return passkeys.UserRef{ID: u.ID, Name: u.Email} }

// passkeyCredentials are the account's confirmed passkeys.
func passkeyCredentials(agg Aggregate) []passkeys.Credential {
	var out []passkeys.Credential
	for _, f := range confirmedFactors(agg) {
		if f.Type == FactorPasskey {
			out = append(out, f.Passkey)
		}
	}
	return out
}

// PasskeyEnrolment is a passkey being added: the pending factor and the
// PublicKeyCredentialCreationOptionsJSON for navigator.credentials.create.
type PasskeyEnrolment struct {
	Factor  FactorInfo
	Options json.RawMessage
}

// BeginPasskey starts adding a passkey: the pending factor keeps the
// ceremony (an earlier unconfirmed factor is replaced) and counts for
// nothing until ConfirmPasskey. kernel.ErrNotFound when the service has
// no relying party.
func (s *Service) BeginPasskey(ctx context.Context, p Principal, name string, m kernel.Meta) (PasskeyEnrolment, error) {
	if s.opts.Passkeys == nil {
		return PasskeyEnrolment{}, kernel.ErrNotFound
	}
	if err := s.recent(p); err != nil {
		return PasskeyEnrolment{}, err
	}
	name, err := validFactorName(name)
	if err != nil {
		return PasskeyEnrolment{}, err
	}
	var out PasskeyEnrolment
	err = retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		ch, err := replacePending(agg)
		if err != nil {
			return err
		}
		options, state, err := s.opts.Passkeys.BeginRegistration(userRef(agg.User), passkeyCredentials(agg), now)
		if err != nil {
			return err
		}
		f := Factor{UserID: p.Actor.ID, ID: s.newID(), Type: FactorPasskey, Name: name, CreatedAt: now, Ceremony: state}
		ch.PutFactors = []Factor{f}
		if err := s.apply(ctx, ch); err != nil {
			return err
		}
		out = PasskeyEnrolment{Factor: infoOf(f), Options: options}
		return nil
	})
	return out, err
}

// ConfirmPasskey finishes adding a passkey with the browser's
// RegistrationResponseJSON. The ceremony is used once: a response that
// does not answer it (or comes too late, or is a passkey the person
// already has) removes the pending factor and is a field error. The first
// factor of an account comes with its recovery codes, as for TOTP.
func (s *Service) ConfirmPasskey(ctx context.Context, p Principal, factorID string, response []byte, m kernel.Meta) ([]string, error) {
	if s.opts.Passkeys == nil {
		return nil, kernel.ErrNotFound
	}
	if err := s.recent(p); err != nil {
		return nil, err
	}
	var codes []string
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		i := slices.IndexFunc(agg.Factors, func(f Factor) bool {
			return f.ID == factorID && !f.Confirmed && f.Type == FactorPasskey && len(f.Ceremony) > 0
		})
		if i < 0 {
			return kernel.ErrNotFound
		}
		f := agg.Factors[i]
		cred, err := s.opts.Passkeys.FinishRegistration(userRef(agg.User), f.Ceremony, response, now)
		if err != nil {
			if err := s.apply(ctx, Change{UserID: p.Actor.ID, DeleteFactors: []Factor{f}}); err != nil {
				return err
			}
			v := &kernel.ValidationError{}
			v.Add("passkey", "invalid_passkey", "")
			return v
		}
		f.Confirmed, f.Passkey, f.Ceremony, f.LastUsedAt = true, cred, nil, now
		codes, err = s.confirmFactor(ctx, p, agg, f, now, m)
		return err
	})
	return codes, err
}

// provePasskey finishes the login ceremony with the browser's
// AuthenticationResponseJSON against the account's passkeys. It returns
// the passkey used, with its new sign count and last use. Every refusal (a
// response that does not answer the ceremony, an expired or absent
// ceremony, an unknown passkey, a sign count that did not go up:
// passkeys.ErrCloned) is the same failed second step to the client.
func (s *Service) provePasskey(agg Aggregate, response, ceremony []byte, now time.Time) (Factor, error) {
	creds := passkeyCredentials(agg)
	if s.opts.Passkeys == nil || len(ceremony) == 0 || len(creds) == 0 {
		return Factor{}, errNoProof
	}
	use, err := s.opts.Passkeys.FinishLogin(userRef(agg.User), creds, ceremony, response, now)
	if err != nil {
		return Factor{}, err
	}
	for _, f := range confirmedFactors(agg) {
		if f.Type == FactorPasskey && bytes.Equal(f.Passkey.ID, use.CredentialID) {
			f.Passkey.SignCount, f.Passkey.BackupState, f.LastUsedAt = use.SignCount, use.BackupState, now
			return f, nil
		}
	}
	return Factor{}, errNoProof
}

// reauthHash names the challenge row that keeps a session's passkey
// reauthentication ceremony. A sign-in's challenge is named by the hash
// of a random secret, which no one can make equal to this.
func reauthHash(sessionHash string) string { return hashSecret("reauth|" + sessionHash) }

func reauthChallenge(agg Aggregate, p Principal) (Challenge, bool) {
	want := reauthHash(p.SessionHash)
	for _, c := range agg.Challenges {
		if sameHash(c.Hash, want) {
			return c, true
		}
	}
	return Challenge{}, false
}

// BeginPasskeyReauthentication starts renewing the session's proof with a
// passkey: it answers the PublicKeyCredentialRequestOptionsJSON and keeps
// the ceremony, for this session only, until Reauthenticate (which uses
// it once) or ChallengeTTL. ErrNoSecondFactor when the account has no
// passkey; kernel.ErrNotFound when the service has no relying party.
func (s *Service) BeginPasskeyReauthentication(ctx context.Context, p Principal) (json.RawMessage, error) {
	if err := notEnrolOnly(p); err != nil {
		return nil, err
	}
	if s.opts.Passkeys == nil {
		return nil, kernel.ErrNotFound
	}
	var out json.RawMessage
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		creds := passkeyCredentials(agg)
		if len(creds) == 0 {
			return ErrNoSecondFactor
		}
		now := s.now().UTC()
		options, state, err := s.opts.Passkeys.BeginLogin(userRef(agg.User), creds, now)
		if err != nil {
			return err
		}
		c := Challenge{UserID: agg.User.ID, Hash: reauthHash(p.SessionHash), CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL),
			PasswordStamp: passwordStamp(agg.User.PasswordHash), Ceremony: state}
		ch := Change{UserID: agg.User.ID}
		if old, ok := reauthChallenge(agg, p); ok {
			c.ETag = old.ETag
			ch.UpdateChallenges = []Challenge{c}
		} else {
			ch.PutChallenges = []Challenge{c}
		}
		if err := s.applyWithoutUpkeep(ctx, ch); err != nil {
			return err
		}
		out = options
		return nil
	})
	return out, err
}
