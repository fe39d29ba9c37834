package accounts_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// lock makes email's account locked by threshold wrong passwords.
func (e *testEnv) lock(email string) {
	e.t.Helper()
	for i := 0; i < e.opts.LockoutThreshold; i++ {
		if _, err := e.svc.Login(e.ctx, email, thirdPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			e.t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
}

// P13: people sign in with their own email and password, and get a
// session token of the form <userID>.<secret>.
func TestLoginSucceedsWithEmailAndPassword(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	alice, _ := env.activeUser("alice@example.fi")
	env.clock.Advance(time.Hour)
	now := env.clock.Now()

	in, err := env.svc.Login(env.ctx, " Alice@Example.FI", goodPassword, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := strings.Cut(in.Token, ".")
	if !ok || id != alice.ID {
		t.Fatalf("token %q is not <userID>.<secret> for %s", in.Token, alice.ID)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) < 16 {
		t.Errorf("secret has %d random bytes (%v), want at least 16 (128 bits)", len(raw), err)
	}
	if got, want := in.ExpiresAt, now.Add(env.opts.SessionAbsoluteTimeout); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v (now + absolute timeout)", got, want)
	}
	if got, want := in.User.ID, alice.ID; got != want {
		t.Errorf("signed in as %q, want %q", got, want)
	}
	if got := env.authenticate(in.Token).Actor.ID; got != alice.ID {
		t.Errorf("token authenticates %q, want %q", got, alice.ID)
	}

	stored := env.aggregate(alice.ID)
	if got, want := stored.User.LastActiveAt, now; !got.Equal(want) {
		t.Errorf("LastActiveAt = %v, want %v (sign-in is activity)", got, want)
	}
	var found bool
	for _, s := range stored.Sessions {
		// Only a hash of the secret is stored, never the token.
		if strings.Contains(s.Hash, secret) || strings.Contains(s.Hash, in.Token) {
			t.Errorf("session row holds the raw secret")
		}
		if s.CreatedAt.Equal(now) {
			found = true
			if !s.ExpiresAt.Equal(in.ExpiresAt) || !s.LastSeenAt.Equal(now) {
				t.Errorf("stored session = %+v, want expiry %v and last seen %v", s, in.ExpiresAt, now)
			}
		}
	}
	if !found {
		t.Errorf("no session stored for the sign-in")
	}
	succeeded := env.eventsWith(alice.ID, audit.ActionSignInSucceeded)
	if len(succeeded) != 1 || succeeded[0].ActorID != alice.ID || succeeded[0].SubjectID != alice.ID {
		t.Errorf("sign_in.succeeded events = %+v, want one by and about %s", succeeded, alice.ID)
	}
}

// P13, P10: every failed sign-in gets the very same answer and costs the
// same single password hash, so neither the answer nor its timing tells
// whether an email is registered, the account is locked, invited or closed.
func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	alice, _ := env.activeUser("alice@example.fi")
	bob := env.invite("bob@example.fi")
	carol, _ := env.activeUser("carol@example.fi")
	env.lock("carol@example.fi")
	dave, _ := env.activeUser("dave@example.fi")
	env.setStatus(dave.ID, kernel.StatusClosed)
	tooLong := strings.Repeat("x", passwords.MaxBytes+1)

	tests := []struct {
		name        string
		email, pass string
		wantHashing hashCounts
		subject     string // whose outbox gets the failure event; "" for an unattributed one
		wantReason  string // "" when no event is expected
	}{
		{"wrong password", "alice@example.fi", otherPassword, hashCounts{Verify: 1}, alice.ID, "wrong_password"},
		{"empty password", "alice@example.fi", "", hashCounts{Verify: 1}, alice.ID, "wrong_password"},
		{"password longer than the hasher takes", "alice@example.fi", tooLong, hashCounts{Verify: 1}, alice.ID, "wrong_password"},
		{"unknown email", "nobody@example.fi", goodPassword, hashCounts{VerifyDummy: 1}, "", "unknown_email"},
		{"unknown email with an over-long password", "nobody@example.fi", tooLong, hashCounts{VerifyDummy: 1}, "", "unknown_email"},
		{"malformed email", "nobody at example", goodPassword, hashCounts{VerifyDummy: 1}, "", ""},
		{"invited account", "bob@example.fi", goodPassword, hashCounts{VerifyDummy: 1}, bob.ID, "not_active"},
		{"locked account with the right password", "carol@example.fi", goodPassword, hashCounts{VerifyDummy: 1}, carol.ID, "locked"},
		{"closed account with the right password", "dave@example.fi", goodPassword, hashCounts{VerifyDummy: 1}, dave.ID, "not_active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.hasher.reset()
			before := len(env.unattributed())
			in, err := env.svc.Login(env.ctx, tt.email, tt.pass, testMeta)
			// Identical, not merely wrapping: the edge must not be able to
			// answer differently either.
			if err != accounts.ErrInvalidCredentials {
				t.Fatalf("Login = %v, want exactly ErrInvalidCredentials", err)
			}
			if in.Token != "" {
				t.Errorf("failed sign-in returned a token")
			}
			if diff := cmp.Diff(tt.wantHashing, env.hasher.counts()); diff != "" {
				t.Errorf("hashing work (-want +got):\n%s", diff)
			}
			if tt.wantReason == "" {
				return
			}
			var last audit.Event
			if tt.subject == "" {
				rec := env.unattributed()
				if len(rec) != before+1 {
					t.Fatalf("%d unattributed events in the outboxes, want 1", len(rec)-before)
				}
				last = latest(rec)
			} else {
				failed := env.eventsWith(tt.subject, audit.ActionSignInFailed)
				if len(failed) == 0 {
					t.Fatal("no sign_in.failed event in the account's outbox")
				}
				last = failed[len(failed)-1]
			}
			if last.Action != audit.ActionSignInFailed || last.Reason != tt.wantReason || last.SubjectID != tt.subject || last.ActorID != "" {
				t.Errorf("failure event = %+v, want sign_in.failed about %q with reason %q and no actor", last, tt.subject, tt.wantReason)
			}
			// P9: the email typed is never recorded.
			if js := mustJSON(t, last); strings.Contains(js, "example.fi") {
				t.Errorf("failure event holds the email: %s", js)
			}
		})
	}
	t.Run("the right password still works for alice", func(t *testing.T) {
		if in := env.login("alice@example.fi", goodPassword); in.User.ID != alice.ID {
			t.Errorf("signed in as %q", in.User.ID)
		}
	})
}

func TestLockout(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	t.Run("threshold wrong passwords lock out the right one until the lock ends", func(t *testing.T) {
		u, _ := env.activeUser("locked@example.fi")
		for i := 1; i < env.opts.LockoutThreshold; i++ {
			if _, err := env.svc.Login(env.ctx, "locked@example.fi", thirdPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
				t.Fatal(err)
			}
		}
		if got, want := env.user(u.ID).FailedSignIns, env.opts.LockoutThreshold-1; got != want {
			t.Fatalf("FailedSignIns = %d, want %d", got, want)
		}
		if got := env.eventsWith(u.ID, audit.ActionAccountLocked); len(got) != 0 {
			t.Fatalf("locked before the threshold: %+v", got)
		}
		lockedAt := env.clock.Now()
		if _, err := env.svc.Login(env.ctx, "locked@example.fi", thirdPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		stored := env.user(u.ID)
		if got, want := stored.LockedUntil, lockedAt.Add(env.opts.LockoutDuration); !got.Equal(want) {
			t.Errorf("LockedUntil = %v, want %v", got, want)
		}
		locked := env.eventsWith(u.ID, audit.ActionAccountLocked)
		if len(locked) != 1 || locked[0].SubjectID != u.ID {
			t.Fatalf("account.locked events = %+v, want one about %s", locked, u.ID)
		}

		if _, err := env.svc.Login(env.ctx, "locked@example.fi", goodPassword, testMeta); err != accounts.ErrInvalidCredentials {
			t.Fatalf("right password while locked: %v, want ErrInvalidCredentials", err)
		}
		env.clock.Advance(env.opts.LockoutDuration - time.Second)
		if _, err := env.svc.Login(env.ctx, "locked@example.fi", goodPassword, testMeta); err != accounts.ErrInvalidCredentials {
			t.Fatalf("right password a second before the lock ends: %v, want ErrInvalidCredentials", err)
		}
		env.clock.Advance(time.Second)
		env.login("locked@example.fi", goodPassword)
		after := env.user(u.ID)
		if after.FailedSignIns != 0 || !after.LockedUntil.IsZero() {
			t.Errorf("after sign-in FailedSignIns = %d, LockedUntil = %v; want cleared", after.FailedSignIns, after.LockedUntil)
		}
	})

	t.Run("a completed password reset clears the lock at once", func(t *testing.T) {
		u, _ := env.activeUser("reset@example.fi")
		env.lock("reset@example.fi")
		if err := env.svc.CompletePasswordReset(env.ctx, env.linkToken(u.ID, accounts.PurposePasswordReset), otherPassword, testMeta); err != nil {
			t.Fatal(err)
		}
		if in := env.login("reset@example.fi", otherPassword); in.User.ID != u.ID {
			t.Errorf("signed in as %q", in.User.ID)
		}
	})

	t.Run("a successful sign-in resets the count", func(t *testing.T) {
		u, _ := env.activeUser("forgetful@example.fi")
		for round := 0; round < 2; round++ {
			for i := 1; i < env.opts.LockoutThreshold; i++ {
				if _, err := env.svc.Login(env.ctx, "forgetful@example.fi", thirdPassword, testMeta); !errors.Is(err, accounts.ErrInvalidCredentials) {
					t.Fatal(err)
				}
			}
			env.login("forgetful@example.fi", goodPassword)
		}
		if got := env.eventsWith(u.ID, audit.ActionAccountLocked); len(got) != 0 {
			t.Errorf("locked although no run of failures reached the threshold: %+v", got)
		}
	})
}

// Two wrong passwords at the same moment both count: the second write sees
// the first one's ETag move, re-reads and counts on top of it.
func TestConcurrentWrongPasswordsBothCount(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("alice@example.fi")

	// The first two Verify calls wait for each other, so both logins have
	// read the same version of the account before either writes.
	var arrived sync.WaitGroup
	arrived.Add(2)
	var calls atomic.Int64
	env.hasher.beforeVerify = func() {
		if calls.Add(1) <= 2 {
			arrived.Done()
			arrived.Wait()
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = env.svc.Login(env.ctx, "alice@example.fi", otherPassword, testMeta)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Errorf("login %d = %v, want ErrInvalidCredentials", i, err)
		}
	}
	if got, want := env.user(u.ID).FailedSignIns, 2; got != want {
		t.Errorf("FailedSignIns = %d, want %d", got, want)
	}
	if got, want := len(env.eventsWith(u.ID, audit.ActionSignInFailed)), 2; got != want {
		t.Errorf("%d sign_in.failed events, want %d (a lost write must leave no event)", got, want)
	}
	if got := calls.Load(); got < 3 {
		t.Errorf("Verify ran %d times, want a re-read after the conflict (3)", got)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.activeUser("alice@example.fi")

	t.Run("31 minutes without requests end it", func(t *testing.T) {
		in := env.login("alice@example.fi", goodPassword)
		env.clock.Advance(31 * time.Minute)
		if err := env.authErr(in.Token); !errors.Is(err, accounts.ErrUnauthenticated) {
			t.Errorf("Authenticate = %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("a request within 30 minutes restarts the idle timer", func(t *testing.T) {
		in := env.login("alice@example.fi", goodPassword)
		env.clock.Advance(29 * time.Minute)
		env.authenticate(in.Token)
		env.clock.Advance(29 * time.Minute)
		env.authenticate(in.Token)
		env.clock.Advance(31 * time.Minute)
		if err := env.authErr(in.Token); !errors.Is(err, accounts.ErrUnauthenticated) {
			t.Errorf("Authenticate = %v, want ErrUnauthenticated", err)
		}
	})
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.activeUser("alice@example.fi")
	in := env.login("alice@example.fi", goodPassword)
	start := env.clock.Now()
	// Activity every five minutes keeps the session alive...
	for env.clock.Now().Add(5 * time.Minute).Before(start.Add(env.opts.SessionAbsoluteTimeout)) {
		env.clock.Advance(5 * time.Minute)
		if err := env.authErr(in.Token); err != nil {
			t.Fatalf("at %v: %v", env.clock.Now().Sub(start), err)
		}
	}
	env.clock.Advance(start.Add(env.opts.SessionAbsoluteTimeout - time.Second).Sub(env.clock.Now()))
	if err := env.authErr(in.Token); err != nil {
		t.Fatalf("a second before the absolute timeout: %v", err)
	}
	// ...but not past the absolute timeout.
	env.clock.Advance(2 * time.Second)
	if err := env.authErr(in.Token); !errors.Is(err, accounts.ErrUnauthenticated) {
		t.Errorf("12 h + 1 s after sign-in: %v, want ErrUnauthenticated", err)
	}
}

func TestLogoutEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("alice@example.fi")
	laptop := env.login("alice@example.fi", goodPassword)
	phone := env.login("alice@example.fi", goodPassword)

	if err := env.svc.Logout(env.ctx, env.authenticate(laptop.Token), testMeta); err != nil {
		t.Fatal(err)
	}
	if err := env.authErr(laptop.Token); !errors.Is(err, accounts.ErrUnauthenticated) {
		t.Errorf("logged-out token: %v, want ErrUnauthenticated", err)
	}
	if err := env.authErr(phone.Token); err != nil {
		t.Errorf("other session: %v, want still signed in", err)
	}
	if got := env.eventsWith(u.ID, audit.ActionSignedOut); len(got) != 1 || got[0].ActorID != u.ID {
		t.Errorf("sign_out events = %+v, want one by %s", got, u.ID)
	}
}

func TestEndAllSessions(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, accepted := env.activeUser("alice@example.fi")
	tokens := []string{accepted.Token}
	for i := 0; i < 3; i++ {
		tokens = append(tokens, env.login("alice@example.fi", goodPassword).Token)
	}
	if err := env.svc.EndAllSessions(env.ctx, env.authenticate(tokens[1]), testMeta); err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		if err := env.authErr(tok); !errors.Is(err, accounts.ErrUnauthenticated) {
			t.Errorf("session %d: %v, want ErrUnauthenticated", i, err)
		}
	}
	if got := env.aggregate(u.ID).Sessions; len(got) != 0 {
		t.Errorf("%d sessions left in storage, want 0", len(got))
	}
	if got := env.eventsWith(u.ID, audit.ActionSessionsEnded); len(got) != 1 {
		t.Errorf("%d sessions.ended events, want 1", len(got))
	}
	env.login("alice@example.fi", goodPassword) // signing in again works
}

func TestMaxSessionsEndsTheOldest(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u := env.invite("alice@example.fi")
	first, err := env.svc.AcceptInvitation(env.ctx, env.linkToken(u.ID, accounts.PurposeInvitation), goodPassword, true, testMeta)
	if err != nil {
		t.Fatal(err)
	}
	tokens := []string{first.Token}
	for len(tokens) < accounts.MaxSessions+1 {
		env.clock.Advance(time.Second)
		tokens = append(tokens, env.login("alice@example.fi", goodPassword).Token)
	}
	if got, want := len(env.aggregate(u.ID).Sessions), accounts.MaxSessions; got != want {
		t.Errorf("%d sessions stored, want %d", got, want)
	}
	if err := env.authErr(tokens[0]); !errors.Is(err, accounts.ErrUnauthenticated) {
		t.Errorf("oldest session: %v, want ErrUnauthenticated", err)
	}
	for i, tok := range tokens[1:] {
		if err := env.authErr(tok); err != nil {
			t.Errorf("session %d: %v, want signed in", i+1, err)
		}
	}
}

func TestExpiredSessionsAreRemovedAtTheNextSignIn(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("alice@example.fi")
	env.login("alice@example.fi", goodPassword)
	env.clock.Advance(env.opts.SessionIdleTimeout)
	env.login("alice@example.fi", goodPassword)
	if got, want := len(env.aggregate(u.ID).Sessions), 1; got != want {
		t.Errorf("%d sessions stored, want %d (expired ones swept)", got, want)
	}
}

func TestAuthenticateRefusesMalformedAndTamperedTokens(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	alice, in := env.activeUser("alice@example.fi")
	bob, _ := env.activeUser("bob@example.fi")
	id, secret, _ := strings.Cut(in.Token, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"no dot", id + secret},
		{"only the id", id + "."},
		{"only the secret", "." + secret},
		{"one secret character changed", id + "." + flip(secret)},
		{"secret one character short", id + "." + secret[1:]},
		{"secret one character long", in.Token + "A"},
		{"secret with a character outside base64url", id + "." + secret[:len(secret)-1] + "!"},
		{"a third part", in.Token + ".x"},
		{"another account's id", bob.ID + "." + secret},
		{"an unknown account id", "id-99999999." + secret},
		{"id in upper case", strings.ToUpper(id) + "." + secret},
		{"id with a quote", id + "'." + secret},
		{"Bearer prefix left on", "Bearer " + in.Token},
		{"surrounding space", " " + in.Token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := env.authErr(tt.token); !errors.Is(err, accounts.ErrUnauthenticated) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", tt.token, err)
			}
		})
	}
	if got := env.authenticate(in.Token).Actor.ID; got != alice.ID {
		t.Errorf("the real token authenticates %q, want %q", got, alice.ID)
	}
}

// An authentication that reads the account refuses one no longer active,
// even should its status change without ending its sessions (behind the
// service's back here; every path of the service ends them, see
// TestEveryAccessChangeEndsTheSessionsItsSnapshotsDescribe, and the
// session alone is then refused).
func TestAuthenticateRefusesAccountsNoLongerActive(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, status := range []kernel.Status{kernel.StatusClosed, kernel.StatusInvited} {
		t.Run(string(status), func(t *testing.T) {
			u, in := env.activeUser(string(status) + "@example.fi")
			env.authenticate(in.Token)
			env.setStatus(u.ID, status)
			if _, err := env.svc.AuthenticateAccount(env.ctx, in.Token); !errors.Is(err, accounts.ErrUnauthenticated) {
				t.Errorf("AuthenticateAccount for a %s account = %v, want ErrUnauthenticated", status, err)
			}
		})
	}
}

// Activity (P6's clock) is recorded at most once per ActivityInterval, and
// a session's idle timer at most once a minute, so busy people do not turn
// every request into a write.
func TestAuthenticateRecordsActivityAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// Accepting the invitation signs in and is activity.
	u, in := env.activeUser("alice@example.fi")
	signedIn := env.clock.Now()
	before := env.user(u.ID)
	if !before.LastActiveAt.Equal(signedIn) {
		t.Fatalf("LastActiveAt = %v after accepting, want %v", before.LastActiveAt, signedIn)
	}

	env.authenticate(in.Token) // same instant: nothing to write
	if got := env.aggregate(u.ID); got.User.ETag != before.ETag {
		t.Errorf("a request right after sign-in rewrote the account")
	}

	for _, step := range []time.Duration{20 * time.Minute, 20 * time.Minute, 19*time.Minute + 59*time.Second} {
		env.clock.Advance(step)
		env.authenticate(in.Token)
		got := env.user(u.ID)
		if !got.LastActiveAt.Equal(signedIn) || got.ETag != before.ETag {
			t.Fatalf("%v after sign-in: LastActiveAt = %v (ETag moved: %v), want %v unchanged",
				env.clock.Now().Sub(signedIn), got.LastActiveAt, got.ETag != before.ETag, signedIn)
		}
	}
	env.clock.Advance(time.Second)
	env.authenticate(in.Token)
	if got, want := env.user(u.ID).LastActiveAt, signedIn.Add(env.opts.ActivityInterval); !got.Equal(want) {
		t.Errorf("an interval after sign-in: LastActiveAt = %v, want %v", got, want)
	}

	t.Run("session idle timer is written at most once a minute", func(t *testing.T) {
		session := func() accounts.Session {
			for _, s := range env.aggregate(u.ID).Sessions {
				if s.CreatedAt.Equal(signedIn) {
					return s
				}
			}
			t.Fatal("session not found")
			return accounts.Session{}
		}
		s1 := session()
		env.clock.Advance(30 * time.Second)
		env.authenticate(in.Token)
		if s2 := session(); s2.ETag != s1.ETag {
			t.Errorf("session rewritten 30 s after the last write")
		}
		env.clock.Advance(30 * time.Second)
		env.authenticate(in.Token)
		if s3 := session(); !s3.LastSeenAt.Equal(env.clock.Now()) {
			t.Errorf("LastSeenAt = %v a minute later, want %v", s3.LastSeenAt, env.clock.Now())
		}
	})
}

// One person signing in on two devices at the same moment gets two
// sessions, and the sign-in that loses the write race does not pay for a
// second password hash.
func TestConcurrentSignInsOfOnePersonBothSucceed(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	u, _ := env.activeUser("alice@example.fi")
	env.clock.Advance(time.Minute)

	var arrived sync.WaitGroup
	arrived.Add(2)
	env.hasher.beforeVerify = func() {
		arrived.Done()
		arrived.Wait()
	}
	env.hasher.reset()
	var wg sync.WaitGroup
	tokens := make([]string, 2)
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			var in accounts.SignIn
			in, errs[i] = env.svc.Login(env.ctx, "alice@example.fi", goodPassword, testMeta)
			tokens[i] = in.Token
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if err := env.authErr(tokens[i]); err != nil {
			t.Errorf("session %d: %v", i, err)
		}
	}
	if got, want := env.hasher.counts(), (hashCounts{Verify: 2}); got != want {
		t.Errorf("hashing work = %+v, want %+v", got, want)
	}
	if got, want := len(env.aggregate(u.ID).Sessions), 3; got != want {
		t.Errorf("%d sessions, want %d (invitation's and two sign-ins)", got, want)
	}
}
