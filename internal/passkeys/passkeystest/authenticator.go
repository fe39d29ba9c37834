// Package passkeystest is a software authenticator: it answers the
// options a relying party sends to navigator.credentials.create and .get
// with the JSON a browser would send back, signed with a P-256 key of its
// own, so tests run the real WebAuthn ceremonies without a browser.
package passkeystest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator holds one passkey. Its exported fields are what a test
// changes to play a misbehaving or hostile client.
type Authenticator struct {
	// Origin is the page origin the browser puts in clientDataJSON.
	Origin string
	// RPID, when set, is hashed into the authenticator data instead of the
	// options' rp id (a passkey made for another site).
	RPID string
	// SignCount is the counter the next response carries; each response
	// adds one first. Tests set it back to play a cloned key; an
	// authenticator with Counterless set always answers 0.
	SignCount   uint32
	Counterless bool
	// UserVerified sets the UV flag (the person gave a PIN or a
	// fingerprint); Synced sets BE and BS.
	UserVerified bool
	Synced       bool

	key        *ecdsa.PrivateKey
	id         []byte
	userHandle []byte
}

// New returns an authenticator for pages on origin, with a fresh key and
// credential id.
func New(origin string) (*Authenticator, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &Authenticator{Origin: origin, UserVerified: true, key: key, id: id}, nil
}

// ID is the credential id.
func (a *Authenticator) ID() []byte { return a.id }

// b64 is base64url without padding, the encoding of every binary field in
// the WebAuthn JSON.
var b64 = base64.RawURLEncoding

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON an
// authenticator reads.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON an
// authenticator reads.
type requestOptions struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
}

// Create answers creation options with a RegistrationResponseJSON carrying
// a "none" attestation of a new credential.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeystest: creation options: %w", err)
	}
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil || len(handle) == 0 {
		return nil, errors.New("passkeystest: creation options: user.id is not base64url")
	}
	a.userHandle = handle
	cose, err := cbor.Marshal(map[int]any{
		1:  2,  // kty: EC2
		3:  -7, // alg: ES256
		-1: 1,  // crv: P-256
		-2: pad32(a.key.X.Bytes()),
		-3: pad32(a.key.Y.Bytes()),
	})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 0, 16+2+len(a.id)+len(cose))
	attested = append(attested, make([]byte, 16)...) // AAGUID: zero
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.id)))
	attested = append(attested, a.id...)
	attested = append(attested, cose...)
	authData := a.authData(o.RP.ID, 0x40, attested)
	object, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	client := a.clientData("webauthn.create", o.Challenge)
	return json.Marshal(map[string]any{
		"id":    b64.EncodeToString(a.id),
		"rawId": b64.EncodeToString(a.id),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(client),
			"attestationObject": b64.EncodeToString(object),
			"transports":        []string{"internal", "hybrid"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

// Get answers request options with an AuthenticationResponseJSON: the
// assertion signed with the credential's key.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeystest: request options: %w", err)
	}
	authData := a.authData(o.RPID, 0, nil)
	client := a.clientData("webauthn.get", o.Challenge)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, authData...), clientHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id":    b64.EncodeToString(a.id),
		"rawId": b64.EncodeToString(a.id),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(client),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.userHandle),
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

// authData is rpIdHash, flags (UP, and UV, BE, BS as set, plus extra),
// the sign count, then rest (the attested credential data on creation).
func (a *Authenticator) authData(optionsRPID string, extra byte, rest []byte) []byte {
	rpID := optionsRPID
	if a.RPID != "" {
		rpID = a.RPID
	}
	hash := sha256.Sum256([]byte(rpID))
	flags := 0x01 | extra // UP
	if a.UserVerified {
		flags |= 0x04
	}
	if a.Synced {
		flags |= 0x08 | 0x10
	}
	count := uint32(0)
	if !a.Counterless {
		a.SignCount++
		count = a.SignCount
	}
	out := append(hash[:], flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, rest...)
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	data, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return data
}

func pad32(b []byte) []byte {
	out := make([]byte, 32)
	copy(out[32-len(b):], b)
	return out
}
