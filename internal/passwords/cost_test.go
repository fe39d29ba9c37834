//go:build unix

package passwords_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// BenchmarkSignInHashCost is AUTH-2's measurement: the password work of a
// sign-in with an unknown email (VerifyDummy), a wrong password against a
// hash made with the production parameters, and a wrong password against an
// old cheap hash (4 MiB, one pass) must cost the same ns/op. It also
// reports the process's CPU time per op (cpu-ns/op), which a machine
// shared with other work disturbs far less than the wall clock.
//
//	go test -run '^$' -bench SignInHashCost -benchtime 200x ./internal/passwords/
func BenchmarkSignInHashCost(b *testing.B) {
	peppers := passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": key(1)}}
	prod := newHasher(b, peppers, passwords.DefaultParams())
	old := newHasher(b, peppers, passwords.Params{Memory: 4096, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	const right, wrong = "correct horse battery staple", "wrong horse battery staple"
	prodHash, oldHash := hash(b, prod, right), hash(b, old, right)
	ctx := context.Background()
	b.Run("unknown_email", func(b *testing.B) {
		start := cpuTime(b)
		for b.Loop() {
			prod.VerifyDummy(ctx, wrong)
		}
		reportCPU(b, start)
	})
	for _, c := range []struct{ name, encoded string }{
		{"wrong_password_production_hash", prodHash},
		{"wrong_password_old_cheap_hash", oldHash},
	} {
		b.Run(c.name, func(b *testing.B) {
			start := cpuTime(b)
			for b.Loop() {
				if ok, _, err := prod.Verify(ctx, wrong, c.encoded); ok || err != nil {
					b.Fatalf("Verify = %v, %v", ok, err)
				}
			}
			reportCPU(b, start)
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
