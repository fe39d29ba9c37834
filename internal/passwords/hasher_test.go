package passwords_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// cheapParams keep argon2id fast in tests; TestHashDefaultParams covers the
// real parameters.
func cheapParams() passwords.Params {
	return passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newHasher(t testing.TB, peppers passwords.Peppers, params passwords.Params) *passwords.Hasher {
	t.Helper()
	h, err := passwords.NewHasher(peppers, params, 4, 64)
	if err != nil {
		t.Fatalf("NewHasher() = %v", err)
	}
	return h
}

func hash(t testing.TB, h *passwords.Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(context.Background(), password)
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	return encoded
}

func phcFormat() *regexp.Regexp {
	return regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=1,pv=[A-Za-z0-9-]+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
}

func TestHashDefaultParams(t *testing.T) {
	h := newHasher(t, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, passwords.DefaultParams())
	encoded := hash(t, h, "correct horse battery staple")
	m := phcFormat().FindStringSubmatch(encoded)
	if m == nil {
		t.Fatalf("Hash() = %q, want it to match %s", encoded, phcFormat())
	}
	if diff := cmp.Diff([]string{"19456", "2"}, m[1:]); diff != "" {
		t.Errorf("Hash() m and t mismatch (-want +got):\n%s", diff)
	}
	ok, needsRehash, err := h.Verify(context.Background(), "correct horse battery staple", encoded)
	if got, want := fmt.Sprint(ok, needsRehash, err), fmt.Sprint(true, false, nil); got != want {
		t.Errorf("Verify() = %s, want %s", got, want)
	}
}

func TestDefaultParams(t *testing.T) {
	want := passwords.Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if diff := cmp.Diff(want, passwords.DefaultParams()); diff != "" {
		t.Errorf("DefaultParams() mismatch (-want +got):\n%s", diff)
	}
}

func TestHashFormat(t *testing.T) {
	tests := []struct {
		name    string
		version string
	}{
		{name: "numeric version is encoded", version: "1"},
		{name: "Key Vault version id is encoded", version: "0123456789abcdef0123456789abcdef"},
		{name: "version with a dash is encoded", version: "2025-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHasher(t, passwords.Peppers{Current: tt.version, Keys: map[string][]byte{tt.version: key(1)}}, cheapParams())
			encoded := hash(t, h, "correct horse battery staple")
			if !phcFormat().MatchString(encoded) {
				t.Fatalf("Hash() = %q, want it to match %s", encoded, phcFormat())
			}
			if got, want := strings.Split(encoded, "$")[3], "m=64,t=1,p=1,pv="+tt.version; got != want {
				t.Errorf("Hash() parameters = %q, want %q", got, want)
			}
		})
	}
}

func TestHashSaltsEachHash(t *testing.T) {
	h := newHasher(t, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, cheapParams())
	first, second := hash(t, h, "correct horse battery staple"), hash(t, h, "correct horse battery staple")
	if first == second {
		t.Errorf("Hash() twice = %q both times, want different salts", first)
	}
	for _, encoded := range []string{first, second} {
		if ok, _, err := h.Verify(context.Background(), "correct horse battery staple", encoded); !ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v, want true, nil", encoded, ok, err)
		}
	}
}

func TestVerify(t *testing.T) {
	p100 := strings.Repeat("Kesäyö järvellä ", 6) + "abcd"
	if got, want := len([]rune(p100)), 100; got != want {
		t.Fatalf("test password has %d code points, want %d", got, want)
	}
	v1 := passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}
	v1Other := passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(9)}}
	v2 := passwords.Peppers{Current: "2", Keys: map[string][]byte{"1": key(1), "2": key(2)}}
	only2 := passwords.Peppers{Current: "2", Keys: map[string][]byte{"2": key(2)}}
	stronger := passwords.Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	longerTime := passwords.Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	longerSalt := passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}

	tests := []struct {
		name            string
		hashPeppers     passwords.Peppers
		hashParams      passwords.Params
		hashed          string
		verifyPeppers   passwords.Peppers
		verifyParams    passwords.Params
		password        string
		wantOK          bool
		wantNeedsRehash bool
		wantErr         error
	}{
		{name: "same password verifies", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: cheapParams(), password: "correct horse battery staple", wantOK: true},
		{name: "other password fails", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: cheapParams(), password: "correct horse battery stapler"},
		{name: "100 code point password verifies", hashPeppers: v1, hashParams: cheapParams(), hashed: p100, verifyPeppers: v1, verifyParams: cheapParams(), password: p100, wantOK: true},
		{name: "100 code point password plus x fails because nothing is truncated", hashPeppers: v1, hashParams: cheapParams(), hashed: p100, verifyPeppers: v1, verifyParams: cheapParams(), password: p100 + "x"},
		{name: "100 code point password fails against its extension", hashPeppers: v1, hashParams: cheapParams(), hashed: p100 + "x", verifyPeppers: v1, verifyParams: cheapParams(), password: p100},
		{name: "NFKC equivalent password verifies", hashPeppers: v1, hashParams: cheapParams(), hashed: "Kesäyö järvellä", verifyPeppers: v1, verifyParams: cheapParams(), password: "Kesa\u0308yo\u0308 ja\u0308rvella\u0308", wantOK: true},
		{name: "full-width password verifies as ASCII", hashPeppers: v1, hashParams: cheapParams(), hashed: "ｃｏｒｒｅｃｔ ｈｏｒｓｅ", verifyPeppers: v1, verifyParams: cheapParams(), password: "correct horse", wantOK: true},
		{name: "wrong pepper key fails", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1Other, verifyParams: cheapParams(), password: "correct horse battery staple"},
		{name: "old pepper version verifies and needs rehash", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v2, verifyParams: cheapParams(), password: "correct horse battery staple", wantOK: true, wantNeedsRehash: true},
		{name: "old pepper version with wrong password fails without rehash", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v2, verifyParams: cheapParams(), password: "wrong horse battery staple"},
		{name: "current pepper version needs no rehash", hashPeppers: v2, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v2, verifyParams: cheapParams(), password: "correct horse battery staple", wantOK: true},
		{name: "unknown pepper version is an error", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: only2, verifyParams: cheapParams(), password: "correct horse battery staple", wantErr: passwords.ErrUnknownPepper},
		{name: "less memory than current needs rehash", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: stronger, password: "correct horse battery staple", wantOK: true, wantNeedsRehash: true},
		{name: "fewer passes than current needs rehash", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: longerTime, password: "correct horse battery staple", wantOK: true, wantNeedsRehash: true},
		{name: "shorter salt than current needs rehash", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: longerSalt, password: "correct horse battery staple", wantOK: true, wantNeedsRehash: true},
		{name: "stronger than current needs no rehash", hashPeppers: v1, hashParams: stronger, hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: cheapParams(), password: "correct horse battery staple", wantOK: true},
		{name: "1 MiB password is too long", hashPeppers: v1, hashParams: cheapParams(), hashed: "correct horse battery staple", verifyPeppers: v1, verifyParams: cheapParams(), password: strings.Repeat("x", 1<<20), wantErr: passwords.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := hash(t, newHasher(t, tt.hashPeppers, tt.hashParams), tt.hashed)
			ok, needsRehash, err := newHasher(t, tt.verifyPeppers, tt.verifyParams).Verify(context.Background(), tt.password, encoded)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
			}
			if got, want := ok, tt.wantOK; got != want {
				t.Errorf("Verify() ok = %v, want %v", got, want)
			}
			if got, want := needsRehash, tt.wantNeedsRehash; got != want {
				t.Errorf("Verify() needsRehash = %v, want %v", got, want)
			}
		})
	}
}

func TestRehashMovesToCurrentPepper(t *testing.T) {
	old := newHasher(t, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, cheapParams())
	current := newHasher(t, passwords.Peppers{Current: "2", Keys: map[string][]byte{"1": key(1), "2": key(2)}}, cheapParams())
	const pw = "correct horse battery staple"
	ok, needsRehash, err := current.Verify(context.Background(), pw, hash(t, old, pw))
	if !ok || !needsRehash || err != nil {
		t.Fatalf("Verify(old hash) = %v, %v, %v, want true, true, nil", ok, needsRehash, err)
	}
	rehashed := hash(t, current, pw)
	if got, want := strings.Contains(rehashed, ",pv=2$"), true; got != want {
		t.Errorf("rehash %q names pepper version 2: %v, want %v", rehashed, got, want)
	}
	ok, needsRehash, err = current.Verify(context.Background(), pw, rehashed)
	if !ok || needsRehash || err != nil {
		t.Errorf("Verify(rehashed) = %v, %v, %v, want true, false, nil", ok, needsRehash, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const pw = "correct horse battery staple"
	h := newHasher(t, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, cheapParams())
	valid := hash(t, h, pw)
	fields := strings.Split(valid, "$")
	salt, sum := fields[4], fields[5]
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + sum }
	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty string is malformed", encoded: ""},
		{name: "plain text is malformed", encoded: pw},
		{name: "missing leading dollar is malformed", encoded: strings.TrimPrefix(valid, "$")},
		{name: "trailing dollar is malformed", encoded: valid + "$"},
		{name: "trailing newline is malformed", encoded: valid + "\n"},
		{name: "argon2i is malformed", encoded: strings.Replace(valid, "argon2id", "argon2i", 1)},
		{name: "bcrypt is malformed", encoded: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{name: "argon2 version 16 is malformed", encoded: strings.Replace(valid, "v=19", "v=16", 1)},
		{name: "missing version is malformed", encoded: strings.Replace(valid, "$v=19", "", 1)},
		{name: "missing pepper version is malformed", encoded: with("m=64,t=1,p=1")},
		{name: "empty pepper version is malformed", encoded: with("m=64,t=1,p=1,pv=")},
		{name: "pepper version with underscore is malformed", encoded: with("m=64,t=1,p=1,pv=a_b")},
		{name: "pepper version with dollar-free injection is malformed", encoded: with("m=64,t=1,p=1,pv=1,x=2")},
		{name: "reordered parameters are malformed", encoded: with("t=1,m=64,p=1,pv=1")},
		{name: "leading zero is malformed", encoded: with("m=064,t=1,p=1,pv=1")},
		{name: "plus sign is malformed", encoded: with("m=+64,t=1,p=1,pv=1")},
		{name: "negative value is malformed", encoded: with("m=64,t=-1,p=1,pv=1")},
		{name: "zero time is malformed", encoded: with("m=64,t=0,p=1,pv=1")},
		{name: "zero threads is malformed", encoded: with("m=64,t=1,p=0,pv=1")},
		{name: "memory below 8 KiB per lane is malformed", encoded: with("m=7,t=1,p=1,pv=1")},
		{name: "memory over the cap is malformed", encoded: with("m=4194304,t=1,p=1,pv=1")},
		{name: "memory over 32 bits is malformed", encoded: with("m=4294967296,t=1,p=1,pv=1")},
		{name: "time over the cap is malformed", encoded: with("m=64,t=1000,p=1,pv=1")},
		{name: "padded salt is malformed", encoded: "$argon2id$v=19$m=64,t=1,p=1,pv=1$" + salt + "==$" + sum},
		{name: "salt outside base64 is malformed", encoded: "$argon2id$v=19$m=64,t=1,p=1,pv=1$" + salt[:20] + "!!$" + sum},
		{name: "short salt is malformed", encoded: "$argon2id$v=19$m=64,t=1,p=1,pv=1$" + salt[:10] + "$" + sum},
		{name: "non-canonical salt bits are malformed", encoded: "$argon2id$v=19$m=64,t=1,p=1,pv=1$" + salt[:21] + "B$" + sum},
		{name: "short hash is malformed", encoded: "$argon2id$v=19$m=64,t=1,p=1,pv=1$" + salt + "$" + sum[:16]},
		{name: "empty hash is malformed", encoded: "$argon2id$v=19$m=64,t=1,p=1,pv=1$" + salt + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, needsRehash, err := h.Verify(context.Background(), pw, tt.encoded)
			if !errors.Is(err, passwords.ErrMalformedHash) {
				t.Fatalf("Verify() error = %v, want ErrMalformedHash", err)
			}
			if ok || needsRehash {
				t.Errorf("Verify() = %v, %v, want false, false", ok, needsRehash)
			}
			if msg := err.Error(); strings.Contains(msg, pw) || strings.Contains(msg, sum) || strings.Contains(msg, salt) {
				t.Errorf("Verify() error %q echoes password material", msg)
			}
		})
	}
	t.Run("the unmodified hash verifies", func(t *testing.T) {
		if ok, _, err := h.Verify(context.Background(), pw, with("m=64,t=1,p=1,pv=1")); !ok || err != nil {
			t.Errorf("Verify() = %v, %v, want true, nil", ok, err)
		}
	})
}

func TestHashTooLong(t *testing.T) {
	h := newHasher(t, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, cheapParams())
	tests := []struct {
		name     string
		password string
		wantErr  error
	}{
		{name: "1 MiB password is refused", password: strings.Repeat("x", 1<<20), wantErr: passwords.ErrTooLong},
		{name: "1025 bytes is refused", password: strings.Repeat("x", 1025), wantErr: passwords.ErrTooLong},
		{name: "1024 bytes is hashed", password: strings.Repeat("x", 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(context.Background(), tt.password)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Hash() error = %v, want %v", err, tt.wantErr)
			}
			if got, want := encoded != "", tt.wantErr == nil; got != want {
				t.Errorf("Hash() returned a hash: %v, want %v", got, want)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	h, err := passwords.NewHasher(passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, cheapParams(), 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	encoded := hash(t, h, "correct horse battery staple")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Run("Hash returns the context error", func(t *testing.T) {
		if _, err := h.Hash(ctx, "correct horse battery staple"); !errors.Is(err, context.Canceled) {
			t.Errorf("Hash() error = %v, want context.Canceled", err)
		}
	})
	t.Run("Verify returns the context error", func(t *testing.T) {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded); ok || !errors.Is(err, context.Canceled) {
			t.Errorf("Verify() = %v, %v, want false, context.Canceled", ok, err)
		}
	})
}

func TestNewHasherRejects(t *testing.T) {
	good := passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}
	tests := []struct {
		name          string
		peppers       passwords.Peppers
		params        passwords.Params
		maxConcurrent int
		maxQueued     int
	}{
		{name: "no current version is rejected", peppers: passwords.Peppers{Keys: map[string][]byte{"1": key(1)}}, params: cheapParams(), maxConcurrent: 1},
		{name: "current version without a key is rejected", peppers: passwords.Peppers{Current: "2", Keys: map[string][]byte{"1": key(1)}}, params: cheapParams(), maxConcurrent: 1},
		{name: "nil keys are rejected", peppers: passwords.Peppers{Current: "1"}, params: cheapParams(), maxConcurrent: 1},
		{name: "31-byte key is rejected", peppers: passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)[:31]}}, params: cheapParams(), maxConcurrent: 1},
		{name: "short old key is rejected", peppers: passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1), "0": []byte("short")}}, params: cheapParams(), maxConcurrent: 1},
		{name: "version with a dollar is rejected", peppers: passwords.Peppers{Current: "1$", Keys: map[string][]byte{"1$": key(1)}}, params: cheapParams(), maxConcurrent: 1},
		{name: "version with a comma is rejected", peppers: passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1), "a,b": key(2)}}, params: cheapParams(), maxConcurrent: 1},
		{name: "zero params are rejected", peppers: good, params: passwords.Params{}, maxConcurrent: 1},
		{name: "zero time is rejected", peppers: good, params: passwords.Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, maxConcurrent: 1},
		{name: "huge memory is rejected", peppers: good, params: passwords.Params{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, maxConcurrent: 1},
		{name: "8-byte salt is rejected", peppers: good, params: passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 32}, maxConcurrent: 1},
		{name: "8-byte key is rejected", peppers: good, params: passwords.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}, maxConcurrent: 1},
		{name: "zero concurrency is rejected", peppers: good, params: cheapParams(), maxConcurrent: 0},
		{name: "negative queue is rejected", peppers: good, params: cheapParams(), maxConcurrent: 1, maxQueued: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := passwords.NewHasher(tt.peppers, tt.params, tt.maxConcurrent, tt.maxQueued)
			if !errors.Is(err, passwords.ErrInvalidConfig) {
				t.Fatalf("NewHasher() error = %v, want ErrInvalidConfig", err)
			}
			if h != nil {
				t.Errorf("NewHasher() = %v, want nil", h)
			}
		})
	}
}

func TestNewHasherCopiesPeppers(t *testing.T) {
	keys := map[string][]byte{"1": key(1)}
	h := newHasher(t, passwords.Peppers{Current: "1", Keys: keys}, cheapParams())
	encoded := hash(t, h, "correct horse battery staple")
	keys["1"][0] ^= 0xff
	delete(keys, "1")
	if ok, _, err := h.Verify(context.Background(), "correct horse battery staple", encoded); !ok || err != nil {
		t.Errorf("Verify() after the caller changed its map = %v, %v, want true, nil", ok, err)
	}
}

func TestPeppersPrintsNoKeys(t *testing.T) {
	p := passwords.Peppers{Current: "2", Keys: map[string][]byte{"1": []byte("0123456789abcdefghijklmnopqrstuv"), "2": []byte("SECRETSECRETSECRETSECRETSECRET!!")}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		t.Run(verb+" shows versions only", func(t *testing.T) {
			got := fmt.Sprintf(verb, p)
			for _, k := range p.Keys {
				if strings.Contains(got, string(k)) || strings.Contains(got, fmt.Sprintf("%x", k)) || strings.Contains(got, fmt.Sprint(k)) {
					t.Errorf("Sprintf(%s) = %q, reveals a key", verb, got)
				}
			}
		})
	}
	if got, want := p.String(), `passwords.Peppers{Current: "2", Versions: ["1" "2"]}`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newHasher(t, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, cheapParams())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// VerifyDummy has no result; these only show it returns for every kind
	// of input, including ones Verify refuses.
	for _, tt := range []struct {
		name     string
		ctx      context.Context
		password string
	}{
		{name: "ordinary password returns", ctx: context.Background(), password: "correct horse battery staple"},
		{name: "empty password returns", ctx: context.Background(), password: ""},
		{name: "too long password returns", ctx: context.Background(), password: strings.Repeat("x", 1<<20)},
		{name: "cancelled context returns", ctx: ctx, password: "correct horse battery staple"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.VerifyDummy(tt.ctx, tt.password)
		})
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := newHasher(b, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, passwords.DefaultParams())
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := newHasher(b, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, passwords.DefaultParams())
	encoded := hash(b, h, "correct horse battery staple")
	ctx := context.Background()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded); !ok || err != nil {
			b.Fatalf("Verify() = %v, %v", ok, err)
		}
	}
}

func BenchmarkVerifyDummyDefault(b *testing.B) {
	h := newHasher(b, passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}, passwords.DefaultParams())
	ctx := context.Background()
	for b.Loop() {
		h.VerifyDummy(ctx, "correct horse battery staple")
	}
}
