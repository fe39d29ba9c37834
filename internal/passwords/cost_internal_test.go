package passwords

import (
	"bytes"
	"context"
	"testing"
)

// AUTH-2: verifying against a hash made with cheaper parameters tops the
// work (memory × passes) up to one run at the current parameters, without
// a run that needs more memory than the current ones.
func TestShortfallTopsUpToTheCurrentWork(t *testing.T) {
	cur := DefaultParams()
	tests := []struct {
		name   string
		stored Params
		want   bool
	}{
		{"a much cheaper hash", Params{Memory: 4096, Time: 1, Threads: 1}, true},
		{"fewer passes", Params{Memory: cur.Memory, Time: 1, Threads: 1}, true},
		{"less memory, more passes, less work", Params{Memory: 7168, Time: 5, Threads: 1}, true},
		{"the current parameters", cur, false},
		{"a dearer hash", Params{Memory: 65536, Time: 3, Threads: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topUp, ok := cur.shortfall(tt.stored)
			if ok != tt.want {
				t.Fatalf("shortfall ok = %v, want %v", ok, tt.want)
			}
			if !ok {
				return
			}
			want := uint64(cur.Memory) * uint64(cur.Time)
			got := uint64(tt.stored.Memory)*uint64(tt.stored.Time) + uint64(topUp.Memory)*uint64(topUp.Time)
			if got > want || want-got >= uint64(cur.Time) {
				t.Errorf("work after the top-up = %d, want %d", got, want)
			}
			if topUp.Memory > cur.Memory || topUp.validate() != nil {
				t.Errorf("top-up %+v: more memory than the current %d KiB, or invalid", topUp, cur.Memory)
			}
		})
	}
}

// AUTH-2: a wrong password against an old cheap hash runs argon2id a second
// time (the top-up); one against a current hash runs it once.
func TestVerifyOfCheapHashRunsTheTopUp(t *testing.T) {
	peppers := Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{1}, 32)}}
	old, err := NewHasher(peppers, Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := NewHasher(peppers, Params{Memory: 256, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	oldHash, _ := old.Hash(ctx, "correct horse battery staple")
	curHash, _ := cur.Hash(ctx, "correct horse battery staple")
	for _, tt := range []struct {
		name    string
		encoded string
		want    int
	}{{"old cheap hash", oldHash, 2}, {"current hash", curHash, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			cur.whileHeld = func() { runs++ }
			if ok, _, err := cur.Verify(ctx, "wrong horse battery staple", tt.encoded); ok || err != nil {
				t.Fatalf("Verify = %v, %v; want a mismatch", ok, err)
			}
			if runs != tt.want {
				t.Errorf("argon2id runs = %d, want %d", runs, tt.want)
			}
		})
	}
}
