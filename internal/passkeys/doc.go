// Package passkeys runs the WebAuthn ceremonies for the account service:
// adding a passkey to an account, the passkey as the second step of a
// sign-in, and a sign-in with a passkey alone. It keeps nothing: Begin
// returns the options for the browser and a ceremony the caller stores
// server-side; Finish checks the browser's answer against that ceremony
// and returns what the caller stores (a Credential, or the Use of one).
// No type of the WebAuthn library leaves the package, and its error
// messages do not either: a ceremony ends with one of the few Err values.
//
// # The caller's part
//
//   - A ceremony is single use and lives Config.CeremonyTTL: store it
//     keyed by the sign-in challenge or the session, and take it out
//     (delete it, with its ETag) before calling Finish, so a second answer
//     finds nothing. Finish refuses an expired one itself.
//   - A credential id is unique across all accounts: store it so that a
//     second account cannot register the same id.
//   - After FinishLogin, store Use.SignCount and Use.BackupState on the
//     credential. ErrCloned means the counter did not go up: treat the
//     sign-in as failed, and the passkey as suspect.
//   - Every error counts as a failed sign-in, and the client is told only
//     that the second step failed.
//
// # The frontend's flow
//
// Every binary value in this JSON (challenge, user.id, credential ids,
// clientDataJSON, attestationObject, authenticatorData, signature,
// userHandle) is base64url without padding, as WebAuthn Level 3's JSON
// forms define it.
//
// Adding a passkey:
//
//  1. The frontend asks the API to begin; the API answers with the
//     PublicKeyCredentialCreationOptionsJSON: challenge, rp {id, name},
//     user {id (the account id, nothing personal), name, displayName},
//     pubKeyCredParams (ES256 -7, EdDSA -8, RS256 -257), timeout (ms),
//     excludeCredentials (the passkeys the person already has),
//     authenticatorSelection {residentKey: "preferred",
//     userVerification: "preferred"}, attestation "none".
//  2. The frontend calls
//     navigator.credentials.create({publicKey:
//     PublicKeyCredential.parseCreationOptionsFromJSON(options)}).
//  3. It sends the result's toJSON() back: the RegistrationResponseJSON
//     {id, rawId, type: "public-key", response {clientDataJSON,
//     attestationObject, transports}, clientExtensionResults,
//     authenticatorAttachment}. The API finishes the ceremony and stores
//     the passkey.
//
// The second step of a sign-in:
//
//  1. The password step answers that a second factor is needed; the
//     frontend asks the API to begin a passkey login and gets the
//     PublicKeyCredentialRequestOptionsJSON: challenge, rpId, timeout,
//     allowCredentials [{type: "public-key", id, transports}] (the
//     person's passkeys), userVerification "preferred".
//  2. The frontend calls navigator.credentials.get({publicKey:
//     PublicKeyCredential.parseRequestOptionsFromJSON(options)}).
//  3. It sends the result's toJSON() back: the AuthenticationResponseJSON
//     {id, rawId, type, response {clientDataJSON, authenticatorData,
//     signature, userHandle}, clientExtensionResults}. The API finishes
//     the ceremony and answers with the session.
//
// A sign-in with a passkey alone is the same, except that the options
// have no allowCredentials and require user verification (the PIN or
// fingerprint on the authenticator makes the passkey two factors), the
// frontend may pass mediation: "conditional" to offer passkeys in the
// username field's autofill, and the response's userHandle names the
// account.
//
// Browsers without parseCreationOptionsFromJSON decode the base64url
// fields to ArrayBuffers themselves, and encode the response's the same
// way.
//
// The software authenticator in passkeystest plays the browser and the
// authenticator in tests.
package passkeys
