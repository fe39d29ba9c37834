package accounts

import (
	"encoding/json"
	"time"

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
