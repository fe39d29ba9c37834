package passkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// The errors a ceremony ends with. The library's own messages never leave
// this package: they can name what failed, which a client must not learn.
var (
	// ErrCeremonyExpired: the ceremony is older than its lifetime.
	ErrCeremonyExpired = errors.New("passkeys: ceremony expired")
	// ErrInvalidResponse: the response does not answer the ceremony (wrong
	// origin, relying party, challenge, user, signature, or malformed).
	ErrInvalidResponse = errors.New("passkeys: invalid response")
	// ErrUnknownCredential: the response is signed by a credential the
	// person has not registered.
	ErrUnknownCredential = errors.New("passkeys: unknown credential")
	// ErrCloned: the authenticator's sign count did not go up: a copy of the
	// key is in use elsewhere, or the response is a replay.
	ErrCloned = errors.New("passkeys: sign count did not increase")
	// ErrAlreadyRegistered: the new credential is one the person already
	// has.
	ErrAlreadyRegistered = errors.New("passkeys: credential already registered")
)

// UserRef is the account a ceremony is for.
type UserRef struct {
	// ID is the user handle: the account id, never the email or anything
	// else personal (P9), 1 to 64 bytes. The authenticator stores it and
	// gives it back in a discoverable login.
	ID string
	// Name is what the authenticator shows in its account picker. The
	// caller chooses it; the options go only to that person's browser,
	// but a synced passkey keeps it in their password manager.
	Name string
}

// Credential is a registered passkey, in plain fields the caller stores
// as they are.
type Credential struct {
	ID        []byte // the credential id the authenticator chose (at most 1023 bytes)
	PublicKey []byte // COSE_Key
	// Algorithm is the key's COSE algorithm (-7 ES256, -257 RS256, -8 EdDSA).
	Algorithm int64
	// SignCount is the authenticator's signature counter at the last use;
	// 0 when the authenticator keeps none (most synced passkeys).
	SignCount  uint32
	AAGUID     []byte   // the authenticator model (16 bytes; zero for "none" attestation from many)
	Transports []string // hints for the browser: usb, nfc, ble, internal, hybrid
	// UserVerified: the person was verified (PIN, biometrics) at
	// registration.
	UserVerified bool
	// BackupEligible: the passkey may be synced between devices (it never
	// changes); BackupState: it is synced now.
	BackupEligible bool
	BackupState    bool
	CreatedAt      time.Time
}

// Use is what a successful login tells the caller to store back on the
// credential it used.
type Use struct {
	CredentialID []byte
	SignCount    uint32
	BackupState  bool
	UserVerified bool // the person was verified in this login
}

// RelyingParty runs the ceremonies for one configuration. It keeps no
// state: the caller stores the ceremonies and credentials it returns.
type RelyingParty struct {
	wa  *webauthn.WebAuthn
	ttl time.Duration
}

// New returns the relying party for a configuration, or the
// configuration's problems (Config.Validate).
func New(c Config) (*RelyingParty, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  c.RPID,
		RPDisplayName:         c.RPName,
		RPOrigins:             c.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		// Expiry is checked here against the caller's clock, so the
		// library's wall-clock enforcement stays off.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: c.ttl(), TimeoutUVD: c.ttl()},
			Registration: webauthn.TimeoutConfig{Timeout: c.ttl(), TimeoutUVD: c.ttl()},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &RelyingParty{wa: wa, ttl: c.ttl()}, nil
}

// The kinds of ceremony; a ceremony finishes only as its own kind.
const (
	kindRegistration = "registration"
	kindLogin        = "login"
	kindDiscoverable = "discoverable"
)

// ceremony is the state kept between Begin and Finish.
type ceremony struct {
	Kind    string               `json:"kind"`
	User    string               `json:"user,omitempty"`
	Expires time.Time            `json:"expires"`
	Exclude [][]byte             `json:"exclude,omitempty"`
	Session webauthn.SessionData `json:"session"`
}

// algorithms are the keys accepted, in order of preference: ES256 (every
// platform authenticator), EdDSA, RS256 (Windows Hello).
var algorithms = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// BeginRegistration starts adding a passkey to an account that has the
// existing ones (the authenticator is asked not to create a second one).
// It returns the PublicKeyCredentialCreationOptionsJSON for the browser
// and the ceremony the caller keeps server-side until FinishRegistration,
// for Config.CeremonyTTL, and uses once. Its error is a configuration or
// randomness failure.
func (rp *RelyingParty) BeginRegistration(user UserRef, existing []Credential, now time.Time) (options json.RawMessage, state []byte, err error) {
	exclude := make([]protocol.CredentialDescriptor, 0, len(existing))
	ids := make([][]byte, 0, len(existing))
	for _, c := range existing {
		exclude = append(exclude, descriptor(c))
		ids = append(ids, c.ID)
	}
	creation, session, err := rp.wa.BeginRegistration(webUser{user, nil},
		webauthn.WithCredentialParameters(algorithms),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys: begin registration: %w", err)
	}
	return rp.begin(creation.Response, ceremony{Kind: kindRegistration, User: user.ID, Exclude: ids, Session: *session}, now)
}

// FinishRegistration checks the browser's RegistrationResponseJSON (what
// navigator.credentials.create resolved to, serialised with toJSON) against
// the ceremony, and returns the new credential for the caller to store.
// It returns ErrCeremonyExpired, ErrInvalidResponse or
// ErrAlreadyRegistered.
func (rp *RelyingParty) FinishRegistration(user UserRef, state, response []byte, now time.Time) (Credential, error) {
	c, err := rp.open(state, kindRegistration, user, now)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Credential{}, ErrInvalidResponse
	}
	made, err := rp.wa.CreateCredential(webUser{user, nil}, c.Session, parsed)
	if err != nil {
		return Credential{}, ErrInvalidResponse
	}
	for _, id := range c.Exclude {
		if bytes.Equal(id, made.ID) {
			return Credential{}, ErrAlreadyRegistered
		}
	}
	transports := make([]string, 0, len(made.Transport))
	for _, t := range made.Transport {
		transports = append(transports, string(t))
	}
	return Credential{
		ID:             made.ID,
		PublicKey:      made.PublicKey,
		Algorithm:      algorithm(made.PublicKey),
		SignCount:      made.Authenticator.SignCount,
		AAGUID:         made.Authenticator.AAGUID,
		Transports:     transports,
		UserVerified:   made.Flags.UserVerified,
		BackupEligible: made.Flags.BackupEligible,
		BackupState:    made.Flags.BackupState,
		CreatedAt:      now.UTC(),
	}, nil
}

// BeginLogin starts the second step of a sign-in: the browser may answer
// with any of the person's credentials (allowCredentials). It returns the
// PublicKeyCredentialRequestOptionsJSON and the ceremony to keep until
// FinishLogin. It returns ErrUnknownCredential when the person has none.
func (rp *RelyingParty) BeginLogin(user UserRef, creds []Credential, now time.Time) (options json.RawMessage, state []byte, err error) {
	if len(creds) == 0 {
		return nil, nil, ErrUnknownCredential
	}
	assertion, session, err := rp.wa.BeginLogin(webUser{user, creds})
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys: begin login: %w", err)
	}
	return rp.begin(assertion.Response, ceremony{Kind: kindLogin, User: user.ID, Session: *session}, now)
}

// FinishLogin checks the browser's AuthenticationResponseJSON against the
// ceremony and the person's credentials, and returns what to store back on
// the credential used. It returns ErrCeremonyExpired, ErrUnknownCredential,
// ErrInvalidResponse or ErrCloned.
func (rp *RelyingParty) FinishLogin(user UserRef, creds []Credential, state, response []byte, now time.Time) (Use, error) {
	c, err := rp.open(state, kindLogin, user, now)
	if err != nil {
		return Use{}, err
	}
	return rp.finishLogin(user, creds, c, response)
}

// BeginDiscoverableLogin starts a sign-in with a passkey alone: no account
// is named, the authenticator offers the passkeys it holds for this
// relying party, and the person must be verified on it (PIN or
// biometrics), so the passkey is two factors by itself. It returns the
// options and the ceremony to keep until FinishDiscoverableLogin.
func (rp *RelyingParty) BeginDiscoverableLogin(now time.Time) (options json.RawMessage, state []byte, err error) {
	assertion, session, err := rp.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys: begin discoverable login: %w", err)
	}
	return rp.begin(assertion.Response, ceremony{Kind: kindDiscoverable, Session: *session}, now)
}

// UserHandle reads the user handle (the account id) from a discoverable
// login's response, so the caller can load that account's credentials for
// FinishDiscoverableLogin. Nothing is verified yet. It returns
// ErrInvalidResponse when the response carries none.
func UserHandle(response []byte) (string, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil || len(parsed.Response.UserHandle) == 0 {
		return "", ErrInvalidResponse
	}
	return string(parsed.Response.UserHandle), nil
}

// FinishDiscoverableLogin checks a discoverable login's response against
// the ceremony and the credentials of the account its user handle names
// (UserHandle). It returns the errors of FinishLogin.
func (rp *RelyingParty) FinishDiscoverableLogin(user UserRef, creds []Credential, state, response []byte, now time.Time) (Use, error) {
	c, err := rp.open(state, kindDiscoverable, UserRef{}, now)
	if err != nil {
		return Use{}, err
	}
	handle, err := UserHandle(response)
	if err != nil {
		return Use{}, err
	}
	if handle != user.ID {
		return Use{}, ErrInvalidResponse
	}
	// The library checks the handle against the user it is given; the
	// ceremony named none.
	c.Session.UserID = []byte(user.ID)
	return rp.finishLogin(user, creds, c, response)
}

func (rp *RelyingParty) finishLogin(user UserRef, creds []Credential, c ceremony, response []byte) (Use, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Use{}, ErrInvalidResponse
	}
	if !slices.ContainsFunc(creds, func(c Credential) bool { return bytes.Equal(c.ID, parsed.RawID) }) {
		return Use{}, ErrUnknownCredential
	}
	if len(c.Session.AllowedCredentialIDs) > 0 && !slices.ContainsFunc(c.Session.AllowedCredentialIDs, func(id []byte) bool { return bytes.Equal(id, parsed.RawID) }) {
		return Use{}, ErrUnknownCredential
	}
	used, err := rp.wa.ValidateLogin(webUser{user, creds}, c.Session, parsed)
	if err != nil {
		return Use{}, ErrInvalidResponse
	}
	if used.Authenticator.CloneWarning {
		return Use{}, ErrCloned
	}
	return Use{
		CredentialID: used.ID,
		SignCount:    used.Authenticator.SignCount,
		BackupState:  parsed.Response.AuthenticatorData.Flags.HasBackupState(),
		UserVerified: parsed.Response.AuthenticatorData.Flags.HasUserVerified(),
	}, nil
}

// begin seals a ceremony and encodes the options for the browser.
func (rp *RelyingParty) begin(options any, c ceremony, now time.Time) (json.RawMessage, []byte, error) {
	c.Expires = now.Add(rp.ttl).UTC()
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys: options: %w", err)
	}
	state, err := json.Marshal(c)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys: ceremony: %w", err)
	}
	return opts, state, nil
}

// open decodes a ceremony and checks that it is the kind expected, for the
// user expected, and not expired.
func (rp *RelyingParty) open(state []byte, kind string, user UserRef, now time.Time) (ceremony, error) {
	var c ceremony
	if err := json.Unmarshal(state, &c); err != nil || c.Kind != kind || c.User != user.ID {
		return ceremony{}, ErrInvalidResponse
	}
	if !now.Before(c.Expires) {
		return ceremony{}, ErrCeremonyExpired
	}
	return c, nil
}

// algorithm reads a COSE key's algorithm (label 3); 0 when absent.
func algorithm(coseKey []byte) int64 {
	var key struct {
		Alg int64 `cbor:"3,keyasint"`
	}
	if err := cbor.Unmarshal(coseKey, &key); err != nil {
		return 0
	}
	return key.Alg
}

func descriptor(c Credential) protocol.CredentialDescriptor {
	d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: c.ID}
	for _, t := range c.Transports {
		d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
	}
	return d
}

// webUser is an account as the library sees it.
type webUser struct {
	ref   UserRef
	creds []Credential
}

func (u webUser) WebAuthnID() []byte          { return []byte(u.ref.ID) }
func (u webUser) WebAuthnName() string        { return u.ref.Name }
func (u webUser) WebAuthnDisplayName() string { return u.ref.Name }

func (u webUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.creds))
	for _, c := range u.creds {
		var transports []protocol.AuthenticatorTransport
		for _, t := range c.Transports {
			transports = append(transports, protocol.AuthenticatorTransport(t))
		}
		out = append(out, webauthn.Credential{
			ID:        c.ID,
			PublicKey: c.PublicKey,
			Transport: transports,
			Flags: webauthn.CredentialFlags{
				UserPresent:    true,
				UserVerified:   c.UserVerified,
				BackupEligible: c.BackupEligible,
				BackupState:    c.BackupState,
			},
			Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
			Attestation:   webauthn.CredentialAttestation{PublicKeyAlgorithm: c.Algorithm},
		})
	}
	return out
}
