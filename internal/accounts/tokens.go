package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// secretBytes is the random part of every session and link token: 256 bits,
// well above the 128 the design asks for.
const secretBytes = 32

// A token as handed out is "<userID>.<secret>". The user id (opaque, not
// personal) and the secret's hash are the keys of the account and its
// session, so the store reads both with point reads; only SHA-256 of the
// secret is stored, so a storage dump holds no usable token.
func newToken(userID string) (token, hash string, err error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return userID + "." + secret, hashSecret(secret), nil
}

// parseToken splits a token into the user id and the secret's hash. It
// returns false for anything not shaped like a token we issued.
func parseToken(token string) (userID, hash string, ok bool) {
	userID, secret, found := strings.Cut(token, ".")
	if !found || !validID(userID) || len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", false
	}
	return userID, hashSecret(secret), true
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// sameHash compares two hashes in constant time.
func sameHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// validID accepts the ids our id source makes: 1–64 lowercase letters,
// digits and dashes. Anything else never reaches storage.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// ValidID reports whether id has the shape of an id this system issues; the
// HTTP edge uses it to answer 404 without a storage call.
func ValidID(id string) bool { return validID(id) }
