package accounts

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// The second factor's secrets (AUTH rows of the checklist; NIST SP
// 800-63B-4 §3.1.4 and §3.1.2 for look-up secrets).
//
// A TOTP secret is stored sealed with AES-256-GCM under the current
// version of the MFA key, the account id and factor id as additional data,
// so a sealed secret copied onto another account or factor does not open.
// The stored form is "<key version>:<base64 nonce||ciphertext>"; every
// version the key has kept opens what it sealed, so the key rotates like
// the pepper (README, "Second factor").
//
// Recovery codes are random (50 bits each from crypto/rand), so they need
// no slow hash: each is stored as HMAC-SHA256 under the MFA key's current
// version ("<version>:<hex>"). The MFA key rather than the pepper: the
// codes belong to the second factor, and a dump of the users table opens
// neither the TOTP secrets nor the codes without the one Key Vault secret.

// MFAKeys are the versions of the key that seals TOTP secrets and keys
// recovery-code hashes. Current seals and keys new ones.
type MFAKeys struct {
	Current  string
	Versions map[string][]byte
}

// MFAKeyLen is the length of an MFA key: AES-256.
const MFAKeyLen = 32

// Validate reports whether the keys can be used.
func (k MFAKeys) Validate() error {
	if _, ok := k.Versions[k.Current]; !ok {
		return errors.New("mfa keys: the current version is not among the versions")
	}
	for v, key := range k.Versions {
		if len(key) < MFAKeyLen || v == "" || strings.Contains(v, ":") {
			return fmt.Errorf("mfa keys: version %q: want a name without ':' and at least %d bytes", v, MFAKeyLen)
		}
	}
	return nil
}

var errUnsealable = errors.New("second factor: stored secret cannot be opened")

// totpPeriod and the skew are RFC 6238's defaults: 30-second steps, a code
// accepted one step either side of now.
const (
	totpPeriod = 30
	totpSkew   = 1
	totpDigits = otp.DigitsSix
	totpIssuer = "Palvelumanuaali"
)

func sealAD(userID, factorID string) []byte { return []byte("totp|" + userID + "|" + factorID) }

func (k MFAKeys) seal(secret, userID, factorID string) (string, error) {
	key := k.Versions[k.Current]
	aead, err := newGCM(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(secret), sealAD(userID, factorID))
	return k.Current + ":" + base64.RawStdEncoding.EncodeToString(out), nil
}

func (k MFAKeys) open(sealed, userID, factorID string) (string, error) {
	version, body, ok := strings.Cut(sealed, ":")
	key, known := k.Versions[version]
	if !ok || !known {
		return "", errUnsealable
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return "", errUnsealable
	}
	aead, err := newGCM(key)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errUnsealable
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], sealAD(userID, factorID))
	if err != nil {
		return "", errUnsealable
	}
	return string(plain), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	sealing, err := subkey(key, "totp-seal")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealing)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// subkey derives one purpose's key from an MFA key version (HKDF-SHA256),
// so sealing TOTP secrets and keying recovery codes never share key bytes.
func subkey(key []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, key, nil, "palvelumanuaali mfa v1 "+purpose, MFAKeyLen)
}

// newTOTP makes a TOTP secret for an account: the base32 secret and its
// otpauth:// URI (for the QR code).
func newTOTP(accountName string) (secret, uri string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: accountName, Period: totpPeriod,
		SecretSize: 20, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader})
	if err != nil {
		return "", "", err
	}
	return key.Secret(), key.URL(), nil
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchTOTP finds the step within the skew whose code is code, later than
// lastStep (a code is accepted once: its step and earlier ones are refused
// afterwards). Every candidate is computed and compared in constant time.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	var found int64
	ok := false
	current := totpStep(now)
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}

// recoveryCodeCount codes are made at a time, each of recoveryCodeChars
// base32 characters (50 bits), shown in two groups of five.
const (
	recoveryCodeCount = 10
	recoveryCodeChars = 10
)

var recoveryAlphabet = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCodes makes a fresh set: the codes to show once, and their
// keyed hashes to store.
func (k MFAKeys) newRecoveryCodes() (codes, hashes []string, err error) {
	for range recoveryCodeCount {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, err
		}
		raw := strings.ToLower(recoveryAlphabet.EncodeToString(b))[:recoveryCodeChars]
		codes = append(codes, raw[:5]+"-"+raw[5:])
		hashes = append(hashes, k.recoveryHash(k.Current, raw))
	}
	return codes, hashes, nil
}

// normalRecoveryCode folds what a person typed to the code's characters:
// case, spaces and the dash do not matter.
func normalRecoveryCode(s string) (string, bool) {
	s = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(s))
	if len(s) != recoveryCodeChars {
		return "", false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return "", false
		}
	}
	return s, true
}

func (k MFAKeys) recoveryHash(version, code string) string {
	key, err := subkey(k.Versions[version], "recovery-code")
	if err != nil {
		return "" // an unknown version: matches nothing
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("recovery|" + code))
	return version + ":" + hex.EncodeToString(m.Sum(nil))
}

// matchRecovery finds the stored code that code is, comparing every one in
// constant time.
func (k MFAKeys) matchRecovery(stored []RecoveryCode, typed string) (RecoveryCode, bool) {
	code, ok := normalRecoveryCode(typed)
	var found RecoveryCode
	match := false
	for _, c := range stored {
		version, _, _ := strings.Cut(c.Hash, ":")
		if _, known := k.Versions[version]; !known || !ok {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(k.recoveryHash(version, code)), []byte(c.Hash)) == 1 && !match {
			found, match = c, true
		}
	}
	return found, match
}
