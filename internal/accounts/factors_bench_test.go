package accounts_test

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// BenchmarkSecondStep measures the second step of a two-step sign-in
// against Azurite: one partition read, opening the sealed secret, the
// TOTP check and the one transaction that makes the session (the password
// step before it is not timed).
//
//	go test -run '^$' -bench SecondStep -benchtime 200x ./internal/accounts/
func BenchmarkSecondStep(b *testing.B) {
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(b), testenv.UniqueName(b), testenv.AuditKeys())
	if err != nil {
		b.Fatal(err)
	}
	if err := store.EnsureTables(b.Context()); err != nil {
		b.Fatal(err)
	}
	opts := defaultOptions()
	opts.SecondFactorRoles = []kernel.Role{kernel.RoleAdmin}
	opts.MFAKeys = testMFAKeys("m1")
	opts.LockoutThreshold = 1 << 20
	h, err := passwords.NewHasher(testPeppers("v1"), cheapParams, 4, 64)
	if err != nil {
		b.Fatal(err)
	}
	clock, ids := testenv.NewClock(t0), &idSource{}
	svc := accounts.NewService(store, h, passwords.DefaultPolicy(), &testenv.Relay{}, clock.Now, ids.New, opts)
	ctx := b.Context()
	in := inviteInput("bench@example.fi")
	in.Role = kernel.RoleAdmin
	u, err := svc.Invite(ctx, "admin-1", in, testMeta)
	if err != nil {
		b.Fatal(err)
	}
	link, _, err := svc.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
	if err != nil {
		b.Fatal(err)
	}
	si, err := svc.AcceptInvitation(ctx, link, goodPassword, true, testMeta)
	if err != nil {
		b.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, si.Token)
	if err != nil {
		b.Fatal(err)
	}
	en, err := svc.BeginTOTP(ctx, p, "phone", testMeta)
	if err != nil {
		b.Fatal(err)
	}
	code := func() string {
		c, err := totp.GenerateCode(en.Secret, clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	if _, err := svc.ConfirmTOTP(ctx, p, en.Factor.ID, code(), testMeta); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		// A new step each time (a code works once), and sessions past
		// their idle time so the account never holds more than a few.
		clock.Advance(31 * time.Minute)
		first, err := svc.Login(ctx, "bench@example.fi", goodPassword, testMeta)
		if err != nil || first.SecondFactor == nil {
			b.Fatalf("password step: %+v, %v", first, err)
		}
		c := code()
		b.StartTimer()
		if _, err := svc.LoginSecondFactor(ctx, first.SecondFactor.Challenge, accounts.Proof{TOTP: c}, testMeta); err != nil {
			b.Fatal(err)
		}
	}
}
