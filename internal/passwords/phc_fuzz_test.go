package passwords

import (
	"errors"
	"testing"
)

// FuzzParsePHC feeds stored hash strings to the PHC parser. It accepts
// exactly what encode writes: an accepted string encodes back to itself
// byte for byte (one hash, one spelling), with parameters Verify can run
// within the limits; anything else is ErrMalformedHash.
func FuzzParsePHC(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parse(%q): %v, want ErrMalformedHash", s, err)
			}
			return
		}
		if got := encode(h); got != s {
			t.Fatalf("parse(%q) encodes back as %q", s, got)
		}
		p := h.params
		if p.Memory > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) ||
			p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen || p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen || !validVersion(h.pepper) {
			t.Fatalf("parse(%q) accepted out-of-range parameters %+v", s, p)
		}
	})
}
