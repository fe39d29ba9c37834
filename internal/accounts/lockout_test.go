package accounts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// fail signs in to email with a wrong password n times.
func (e *testEnv) fail(email string, n int) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		if _, err := e.svc.Login(e.ctx, email, thirdPassword, testMeta); err != accounts.ErrInvalidCredentials {
			e.t.Fatalf("wrong password %d: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
}

// signsIn reports whether the right password gets in now.
func (e *testEnv) signsIn(email string) bool {
	e.t.Helper()
	_, err := e.svc.Login(e.ctx, email, goodPassword, testMeta)
	if err != nil && err != accounts.ErrInvalidCredentials {
		e.t.Fatalf("Login: %v", err)
	}
	return err == nil
}

// reasons lists the reason codes of the account's outbox events with action.
func (e *testEnv) reasons(userID string, action audit.Action) []string {
	e.t.Helper()
	var out []string
	for _, ev := range e.eventsWith(userID, action) {
		if ev.SubjectID != userID || ev.ActorID != "" && ev.ActorID != userID {
			e.t.Errorf("%s event names %q/%q, want the account's id only", action, ev.ActorID, ev.SubjectID)
		}
		out = append(out, ev.Reason)
	}
	return out
}

// AUTH-3 (NIST SP 800-63B-4 §3.2.2): a failure older than LOCKOUT_WINDOW no
// longer counts towards the threshold; failures inside it still do.
func TestLockoutForgetsFailuresOutsideTheWindow(t *testing.T) {
	t.Parallel()
	env := newEnv(t) // threshold 5, window 1 h
	u, _ := env.activeUser("slow@example.fi")

	env.fail("slow@example.fi", 3)
	env.clock.Advance(40 * time.Minute)
	env.fail("slow@example.fi", 1)
	env.clock.Advance(25 * time.Minute) // the first three are now older than the window
	env.fail("slow@example.fi", 3)
	if got := env.user(u.ID); !got.LockedUntil.IsZero() || len(got.FailureTimes) != 4 {
		t.Fatalf("LockedUntil = %v with %d failures in the window; want unlocked with 4", got.LockedUntil, len(got.FailureTimes))
	}
	env.fail("slow@example.fi", 1) // the fifth inside the window
	if got, want := env.user(u.ID).LockedUntil, env.clock.Now().Add(env.opts.LockoutDuration); !got.Equal(want) {
		t.Fatalf("LockedUntil = %v, want %v", got, want)
	}
	if env.signsIn("slow@example.fi") {
		t.Error("the right password got in while locked")
	}
}

// AUTH-3: every lock before a successful sign-in lasts twice as long as
// the one before, up to LOCKOUT_MAX_DURATION; a successful sign-in starts
// again from LOCKOUT_DURATION. Each lock and its end are audit events that
// hold ids and reason codes only (LOG-1).
func TestLockoutEscalates(t *testing.T) {
	t.Parallel()
	env := newEnv(t) // 15 min, doubling up to 1 h
	u, _ := env.activeUser("target@example.fi")

	lockFor := func() time.Duration {
		t.Helper()
		env.fail("target@example.fi", env.opts.LockoutThreshold)
		return env.user(u.ID).LockedUntil.Sub(env.clock.Now())
	}
	var got []time.Duration
	for range 4 {
		d := lockFor()
		got = append(got, d)
		env.clock.Advance(d - time.Second)
		if env.signsIn("target@example.fi") {
			t.Fatalf("the right password got in a second before the %s lock ended", d)
		}
		env.clock.Advance(time.Second)
	}
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lock durations (-want +got):\n%s", diff)
	}

	if !env.signsIn("target@example.fi") {
		t.Fatal("the right password did not get in after the lock ended")
	}
	if got, want := lockFor(), env.opts.LockoutDuration; got != want {
		t.Errorf("lock after a successful sign-in = %s, want %s (escalation ended)", got, want)
	}

	if diff := cmp.Diff([]string{"temporary", "temporary", "temporary", "temporary", "temporary"}, env.reasons(u.ID, audit.ActionAccountLocked)); diff != "" {
		t.Errorf("account.locked reasons (-want +got):\n%s", diff)
	}
	// The first three ended at the next wrong password, the fourth at the
	// successful sign-in; the fifth still holds.
	if diff := cmp.Diff([]string{"lock_expired", "lock_expired", "lock_expired", "lock_expired"}, env.reasons(u.ID, audit.ActionAccountUnlocked)); diff != "" {
		t.Errorf("account.unlocked reasons (-want +got):\n%s", diff)
	}
}

// AUTH-3, REC-4, AUTH-2: after 100 consecutive failures the account stays
// locked however long one waits, answers the right password like a wrong
// one at the cost of one hash, and only a completed password reset opens
// it again, clearing every count.
func TestHundredFailuresLockUntilReset(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("besieged@example.fi")

	for failures := 0; failures < 100; failures++ {
		if locked := env.user(u.ID).LockedUntil; env.clock.Now().Before(locked) {
			env.clock.Set(locked) // wait out each temporary lock
		}
		env.fail("besieged@example.fi", 1)
	}
	stored := env.user(u.ID)
	if !stored.LockedForReset || stored.FailedSignIns != 100 {
		t.Fatalf("after 100 failures LockedForReset = %v, FailedSignIns = %d", stored.LockedForReset, stored.FailedSignIns)
	}
	reasons := env.reasons(u.ID, audit.ActionAccountLocked)
	if len(reasons) == 0 || reasons[len(reasons)-1] != "until_reset" {
		t.Fatalf("account.locked reasons %v, want the last one until_reset", reasons)
	}

	env.clock.Advance(365 * 24 * time.Hour)
	env.hasher.reset()
	if _, err := env.svc.Login(env.ctx, "besieged@example.fi", goodPassword, testMeta); err != accounts.ErrInvalidCredentials {
		t.Fatalf("right password a year later: %v, want exactly ErrInvalidCredentials", err)
	}
	if diff := cmp.Diff(hashCounts{VerifyDummy: 1}, env.hasher.counts()); diff != "" {
		t.Errorf("hashing work of the locked sign-in (-want +got):\n%s", diff)
	}
	p := accounts.Principal{Actor: env.user(u.ID).Actor()}
	if err := env.svc.ChangePassword(env.ctx, p, goodPassword, otherPassword, testMeta); !errors.Is(err, accounts.ErrWrongPassword) {
		t.Errorf("ChangePassword while locked until a reset = %v, want ErrWrongPassword", err)
	}

	if err := env.svc.RequestPasswordReset(env.ctx, "besieged@example.fi", testMeta); err != nil {
		t.Fatal(err)
	}
	if err := env.svc.CompletePasswordReset(env.ctx, env.linkToken(u.ID, accounts.PurposePasswordReset), otherPassword, testMeta); err != nil {
		t.Fatal(err)
	}
	after := env.user(u.ID)
	if after.LockedForReset || after.FailedSignIns != 0 || after.Lockouts != 0 || len(after.FailureTimes) != 0 || !after.LockedUntil.IsZero() {
		t.Errorf("after the reset: %+v, want every lockout count cleared", after)
	}
	if got := env.reasons(u.ID, audit.ActionAccountUnlocked); len(got) == 0 || got[len(got)-1] != "password_reset" {
		t.Errorf("account.unlocked reasons %v, want the last one password_reset", got)
	}
	if in := env.login("besieged@example.fi", otherPassword); in.User.ID != u.ID {
		t.Errorf("signed in as %q", in.User.ID)
	}
}
