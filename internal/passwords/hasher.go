// Package passwords holds the password policy (NIST SP 800-63B-4) and the
// password hashing (argon2id, OWASP parameters) with a versioned pepper.
//
// A pepper is a secret key kept outside the database (in Azure Key Vault, see
// internal/keyvault), so a stolen user table alone cannot be brute-forced.
// Every hash records the pepper version it was made with, so the pepper can
// be rotated without locking anyone out: new hashes use Peppers.Current, old
// ones still verify and Verify reports needsRehash so the caller can re-hash
// the password at the next successful sign-in.
//
// Nothing in this package logs, and no error it returns carries a password,
// a pepper key or anything derived from them.
package passwords

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// MaxBytes is the longest password, in UTF-8 bytes, that Hash, Verify and
// VerifyDummy accept. It bounds the normalisation and MAC work an
// unauthenticated caller can demand; argon2id itself only ever sees a
// fixed-size MAC.
const MaxBytes = 1024

// MinPepperLen is the shortest pepper key NewHasher accepts: a key shorter
// than the HMAC-SHA256 output would weaken the MAC.
const MinPepperLen = 32

// Limits on argon2id parameters, enforced both for new hashes and for stored
// ones, so a corrupted or planted hash cannot make Verify allocate gigabytes.
const (
	maxMemoryKiB  = 256 * 1024
	maxTime       = 64
	minSaltLen    = 16
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
	maxVersionLen = 64
)

var (
	// ErrTooLong is returned by Hash, Verify and VerifyDummy for a password
	// longer than MaxBytes.
	ErrTooLong = errors.New("passwords: password too long")
	// ErrUnknownPepper is returned by Verify when the hash names a pepper
	// version that the Hasher has no key for.
	ErrUnknownPepper = errors.New("passwords: unknown pepper version")
	// ErrMalformedHash is returned by Verify when the stored hash is not a
	// well-formed argon2id PHC string of this package's shape.
	ErrMalformedHash = errors.New("passwords: malformed password hash")
	// ErrBusy is returned by Admit, and by Hash and Verify called without
	// an admission, when maxConcurrent hashes run and maxQueued more
	// already wait: the caller answers "try again shortly" instead of
	// joining a queue that an attacker could grow without bound.
	ErrBusy = errors.New("passwords: too many password hashes waiting")
	// ErrInvalidConfig is returned by NewHasher and Peppers.Validate for
	// unusable peppers, parameters or concurrency limits.
	ErrInvalidConfig = errors.New("passwords: invalid configuration")
)

// Peppers holds the pepper keys by version; Current is the version new
// hashes use. Version ids may only contain [A-Za-z0-9-] because they are
// stored inside the PHC string; Key Vault's 32-hex-digit version ids fit.
type Peppers struct {
	Current string            // version id new hashes use
	Keys    map[string][]byte // version id -> key, at least MinPepperLen bytes
}

// Validate reports whether p can be used by a Hasher. It returns an error
// wrapping ErrInvalidConfig when Current is missing from Keys, a version id
// is empty, too long or has characters outside [A-Za-z0-9-], or a key is
// shorter than MinPepperLen. The error never contains key material.
func (p Peppers) Validate() error {
	if p.Current == "" {
		return fmt.Errorf("%w: no current pepper version", ErrInvalidConfig)
	}
	if _, ok := p.Keys[p.Current]; !ok {
		return fmt.Errorf("%w: current pepper version %q has no key", ErrInvalidConfig, p.Current)
	}
	for _, v := range slices.Sorted(maps.Keys(p.Keys)) {
		if !validVersion(v) {
			return fmt.Errorf("%w: pepper version id must be 1-%d characters of [A-Za-z0-9-]", ErrInvalidConfig, maxVersionLen)
		}
		if len(p.Keys[v]) < MinPepperLen {
			return fmt.Errorf("%w: pepper version %q is shorter than %d bytes", ErrInvalidConfig, v, MinPepperLen)
		}
	}
	return nil
}

// String keeps the keys out of logs when a Peppers value is printed.
func (p Peppers) String() string {
	return fmt.Sprintf("passwords.Peppers{Current: %q, Versions: %q}", p.Current, slices.Sorted(maps.Keys(p.Keys)))
}

// GoString keeps the keys out of %#v output too.
func (p Peppers) GoString() string { return p.String() }

func validVersion(v string) bool {
	if v == "" || len(v) > maxVersionLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams returns the OWASP Password Storage Cheat Sheet argon2id
// minimum: 19 MiB, two passes, one lane, a 16-byte salt and a 32-byte hash.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// shortfall returns the parameters of the extra argon2id run that brings
// a verify against a hash made with stored up to the work of one at p, and
// false when there is nothing (worth) adding. argon2id's work is memory ×
// passes; the extra run keeps p's passes and lanes and no more than its
// memory, so it stays within the memory a Hasher budgets per run.
func (p Params) shortfall(stored Params) (Params, bool) {
	want := uint64(p.Memory) * uint64(p.Time)
	done := uint64(stored.Memory) * uint64(stored.Time)
	if done >= want {
		return Params{}, false
	}
	memory := (want - done) / uint64(p.Time)
	if memory < 8*uint64(p.Threads) {
		return Params{}, false
	}
	return Params{Memory: uint32(memory), Time: p.Time, Threads: p.Threads, SaltLen: p.SaltLen, KeyLen: p.KeyLen}, true
}

func (p Params) validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("%w: argon2id threads must be at least 1", ErrInvalidConfig)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		// argon2 needs 8 KiB per lane; the upper bound keeps maxConcurrent
		// a meaningful memory cap.
		return fmt.Errorf("%w: argon2id memory must be between %d and %d KiB", ErrInvalidConfig, 8*uint32(p.Threads), maxMemoryKiB)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: argon2id time must be between 1 and %d", ErrInvalidConfig, maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length must be between %d and %d bytes", ErrInvalidConfig, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length must be between %d and %d bytes", ErrInvalidConfig, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords. It is safe for concurrent use; at
// most maxConcurrent argon2id runs happen at once, which bounds memory use
// to roughly Params.Memory × maxConcurrent (a stored hash with more memory
// than the current Params may use more, up to 256 MiB per run), and at
// most maxQueued more wait for a turn: beyond that the caller gets ErrBusy
// at once (PWD-2, PWD-5: a flood of sign-ins costs a bounded queue, not an
// ever-growing one).
//
// A place in line is an admission: Admit takes one for a whole request,
// and Hash, Verify and VerifyDummy take one per call when their ctx holds
// none. Requests that must not tell "busy" apart from other outcomes
// (sign-in, where VerifyDummy stands in for the hash of an unknown email
// and has no error to return) are admitted before anything is looked up,
// so a full queue answers every such request the same way.
type Hasher struct {
	peppers Peppers
	params  Params
	sem     chan struct{} // a token per running hash
	// admitted holds a token per admission: running or waiting for sem.
	admitted chan struct{}
	// dummySalt and dummyHash are fixed inputs for VerifyDummy: any constant
	// works, since only the work done matters.
	dummySalt []byte
	dummyHash []byte
	// whileHeld, when set by a test, runs while a semaphore slot is held so
	// the test can observe how many runs overlap.
	whileHeld func()
}

// NewHasher returns a Hasher that makes new hashes with peppers.Current and
// params, runs at most maxConcurrent argon2id computations at once and
// lets at most maxQueued more wait. It copies peppers, so later changes to
// the caller's map do not affect it. It returns an error wrapping
// ErrInvalidConfig when the peppers fail Peppers.Validate, params are out
// of range, maxConcurrent < 1 or maxQueued < 0.
func NewHasher(peppers Peppers, params Params, maxConcurrent, maxQueued int) (*Hasher, error) {
	if err := peppers.Validate(); err != nil {
		return nil, err
	}
	if err := params.validate(); err != nil {
		return nil, err
	}
	if maxConcurrent < 1 {
		return nil, fmt.Errorf("%w: maxConcurrent must be at least 1", ErrInvalidConfig)
	}
	if maxQueued < 0 {
		return nil, fmt.Errorf("%w: maxQueued must not be negative", ErrInvalidConfig)
	}
	keys := make(map[string][]byte, len(peppers.Keys))
	for v, k := range peppers.Keys {
		keys[v] = slices.Clone(k)
	}
	return &Hasher{
		peppers:   Peppers{Current: peppers.Current, Keys: keys},
		params:    params,
		sem:       make(chan struct{}, maxConcurrent),
		admitted:  make(chan struct{}, maxConcurrent+maxQueued),
		dummySalt: make([]byte, params.SaltLen),
		dummyHash: make([]byte, params.KeyLen),
	}, nil
}

// admissionKey marks a context that holds an admission, with the Hasher
// that gave it.
type admissionKey struct{}

// Admit takes a place in line for the hashes of one request, if one is
// free, and returns the context to pass to Hash, Verify and VerifyDummy
// and the function that gives the place back (call it once the request is
// done; calling it again does nothing). Hashes under the returned context
// wait for a turn however long the line, since the place was counted
// already. Admit returns ErrBusy, without waiting, when maxConcurrent +
// maxQueued places are taken.
func (h *Hasher) Admit(ctx context.Context) (context.Context, func(), error) {
	select {
	case h.admitted <- struct{}{}:
	default:
		return ctx, func() {}, ErrBusy
	}
	var once sync.Once
	return context.WithValue(ctx, admissionKey{}, h), func() { once.Do(func() { <-h.admitted }) }, nil
}

// Hash returns the PHC-encoded argon2id hash of password under the current
// pepper and parameters. It returns ErrTooLong for a password over MaxBytes
// (without hashing it), ErrBusy if ctx holds no admission and none is free
// (see Admit), and ctx.Err() if ctx ends before a hashing slot frees.
// Hash does not apply the Policy; callers check it first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxBytes {
		return "", ErrTooLong
	}
	salt := make([]byte, h.params.SaltLen)
	// crypto/rand.Read never fails on supported platforms (it aborts the
	// program instead), so there is no error to handle.
	_, _ = rand.Read(salt)
	key, err := h.derive(ctx, password, h.peppers.Keys[h.peppers.Current], salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(phc{params: h.params, pepper: h.peppers.Current, salt: salt, hash: key}), nil
}

// Verify reports whether password matches the encoded hash, and whether the
// caller should replace the hash with a fresh Hash of the same password
// because it was made with weaker parameters or an older pepper version.
// needsRehash is only ever true together with ok.
//
// It returns ErrTooLong for a password over MaxBytes, an error wrapping
// ErrMalformedHash for an unparsable hash, one wrapping ErrUnknownPepper when
// the hash's pepper version has no key, ErrBusy if ctx holds no admission
// and none is free (see Admit), and ctx.Err() if ctx ends before a hashing
// slot frees. ok is false whenever err is non-nil. A hash made with
// cheaper parameters than the current ones costs as much to verify as a
// current one (and as VerifyDummy), so its age is no timing oracle.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok bool, needsRehash bool, err error) {
	if len(password) > MaxBytes {
		return false, false, ErrTooLong
	}
	stored, err := parse(encoded)
	if err != nil {
		return false, false, err
	}
	pepper, found := h.peppers.Keys[stored.pepper]
	if !found {
		return false, false, fmt.Errorf("%w %q", ErrUnknownPepper, stored.pepper)
	}
	key, err := h.derive(ctx, password, pepper, stored.salt, stored.params)
	if err != nil {
		return false, false, err
	}
	if topUp, ok := h.params.shortfall(stored.params); ok {
		// A hash made with cheaper parameters would answer faster than
		// VerifyDummy does for an unknown email: spend the difference, so
		// that every Verify costs at least one at the current parameters.
		if _, err := h.derive(ctx, password, pepper, h.dummySalt, topUp); err != nil {
			return false, false, err
		}
	}
	if subtle.ConstantTimeCompare(key, stored.hash) != 1 {
		return false, false, nil
	}
	cur := h.params
	weaker := stored.params.Memory < cur.Memory ||
		stored.params.Time < cur.Time ||
		stored.params.Threads < cur.Threads ||
		stored.params.SaltLen < cur.SaltLen ||
		stored.params.KeyLen < cur.KeyLen
	return true, weaker || stored.pepper != h.peppers.Current, nil
}

// VerifyDummy does the work of one Verify against a hash made with the
// current pepper and parameters, and throws the result away. Call it when
// the account is unknown so that response time does not reveal which email
// addresses are registered. A password over MaxBytes, an ended ctx or a
// full line (ctx without an admission) make it return early, as Verify
// would; callers that need the timing to hold under load Admit first.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	if len(password) > MaxBytes {
		return
	}
	key, err := h.derive(ctx, password, h.peppers.Keys[h.peppers.Current], h.dummySalt, h.params)
	if err != nil {
		return
	}
	// Compare as Verify does so the two paths cost the same.
	subtle.ConstantTimeCompare(key, h.dummyHash)
}

// derive peppers the normalised password and runs argon2id on the MAC while
// holding a concurrency slot.
func (h *Hasher) derive(ctx context.Context, password string, pepper, salt []byte, p Params) ([]byte, error) {
	// Checked before the select because select picks at random when both a
	// free slot and a done ctx are ready, and a cancelled request should not
	// start 19 MiB of work.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if by, _ := ctx.Value(admissionKey{}).(*Hasher); by != h {
		release := func() {}
		var err error
		if ctx, release, err = h.Admit(ctx); err != nil {
			return nil, err
		}
		defer release()
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	if h.whileHeld != nil {
		h.whileHeld()
	}
	// NFKC so that the same password typed on different keyboards or
	// pasted from different sources (e.g. full-width digits, ligatures)
	// hashes the same, as NIST SP 800-63B asks.
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte(norm.NFKC.String(password)))
	return argon2.IDKey(mac.Sum(nil), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}
