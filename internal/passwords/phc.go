package passwords

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// phc is a decoded hash string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>,pv=<pepper version>$<salt>$<hash>
// with salt and hash in unpadded standard base64, as the PHC string format
// and the argon2 reference implementation use.
type phc struct {
	params Params // SaltLen and KeyLen are those of salt and hash
	pepper string
	salt   []byte
	hash   []byte
}

// b64 is a function rather than a package variable to keep the package free
// of mutable globals; Strict rejects non-zero padding bits so that a hash has
// exactly one spelling.
func b64() *base64.Encoding { return base64.RawStdEncoding.Strict() }

func encode(h phc) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d,pv=%s$%s$%s",
		argon2.Version, h.params.Memory, h.params.Time, h.params.Threads, h.pepper,
		b64().EncodeToString(h.salt), b64().EncodeToString(h.hash))
}

func malformed(what string) error {
	// Only the name of the faulty field goes in the message: the hash
	// itself is derived from a password and must not reach logs.
	return fmt.Errorf("%w: %s", ErrMalformedHash, what)
}

// parse accepts exactly the strings encode produces, within the limits
// NewHasher enforces, so every accepted hash is one Verify can safely run.
func parse(s string) (phc, error) {
	var h phc
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return h, malformed("wrong number of fields")
	}
	if fields[1] != "argon2id" {
		return h, malformed("algorithm is not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, malformed("unsupported argon2 version")
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 4 {
		return h, malformed("wrong number of parameters")
	}
	m, err := number(params[0], "m=", maxMemoryKiB)
	if err != nil {
		return h, err
	}
	t, err := number(params[1], "t=", maxTime)
	if err != nil {
		return h, err
	}
	p, err := number(params[2], "p=", 255)
	if err != nil {
		return h, err
	}
	if p < 1 || t < 1 || m < 8*p {
		return h, malformed("parameters out of range")
	}
	pv, ok := strings.CutPrefix(params[3], "pv=")
	if !ok || !validVersion(pv) {
		return h, malformed("bad pepper version")
	}
	salt, err := decodeB64(fields[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return h, malformed("bad salt")
	}
	hash, err := decodeB64(fields[5])
	if err != nil || len(hash) < minKeyLen || len(hash) > maxKeyLen {
		return h, malformed("bad hash")
	}
	h.params = Params{Memory: m, Time: t, Threads: uint8(p), SaltLen: uint32(len(salt)), KeyLen: uint32(len(hash))}
	h.pepper = pv
	h.salt = salt
	h.hash = hash
	return h, nil
}

// decodeB64 refuses line breaks and anything else outside the alphabet,
// which the base64 decoder would otherwise silently skip.
func decodeB64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, malformed("character outside base64")
		}
	}
	return b64().DecodeString(s)
}

// number parses "<prefix><decimal>" and insists on the canonical spelling
// (no sign, no leading zeros) so one hash has exactly one encoding.
func number(field, prefix string, limit uint32) (uint32, error) {
	name := strings.TrimSuffix(prefix, "=")
	digits, ok := strings.CutPrefix(field, prefix)
	if !ok {
		return 0, malformed("expected parameter " + name)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != digits || n > uint64(limit) {
		return 0, malformed("bad value for parameter " + name)
	}
	return uint32(n), nil
}
