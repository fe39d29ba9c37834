package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// SignIn reasons recorded in audit events (machine codes, never values).
const (
	reasonUnknownEmail  = "unknown_email"
	reasonWrongPassword = "wrong_password"
	reasonLocked        = "locked"
	reasonNotActive     = "not_active"
)

// Login signs a person in with email and password (P13). Every failure —
// unknown email, wrong password, locked, invited or closed account — is
// the same ErrInvalidCredentials and costs the same one password hash, so
// the answer tells an attacker nothing (no enumeration, no timing oracle).
// Repeated failures lock the account, for longer each time (lockout.go);
// the counters live in storage so every instance shares them.
func (s *Service) Login(ctx context.Context, email, password string, m kernel.Meta) (SignIn, error) {
	if _, ok := CanonicalEmail(email); !ok {
		s.hasher.VerifyDummy(ctx, password)
		return SignIn{}, ErrInvalidCredentials
	}
	userID, err := s.userIDByEmail(ctx, email)
	if errors.Is(err, kernel.ErrNotFound) {
		s.hasher.VerifyDummy(ctx, password)
		if err := s.recordUnknownEmail(ctx, m); err != nil {
			return SignIn{}, err
		}
		return SignIn{}, ErrInvalidCredentials
	}
	if err != nil {
		return SignIn{}, err
	}

	a := &loginAttempt{s: s, password: password, m: m}
	var result SignIn
	err = retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, userID)
		if errors.Is(err, kernel.ErrNotFound) {
			// The email claim outlived its account (erased mid-request).
			s.hasher.VerifyDummy(ctx, password)
			return ErrInvalidCredentials
		}
		if err != nil {
			return err
		}
		result, err = a.try(ctx, agg)
		return err
	})
	return result, err
}

// loginAttempt is one Login's state across the retries of its write, so
// the password is hashed once per attempt however often the account must
// be read again.
type loginAttempt struct {
	s        *Service
	password string
	m        kernel.Meta
	// hashed is set once a password hash was spent (verify or dummy).
	hashed bool
	// matched is the stored hash the password was found to match: a retry
	// after a conflict re-reads the account but verifies again only when
	// that hash changed, so concurrent sign-ins cost one hash each.
	// matchedNeedsRehash is what that verify said about it.
	matched            string
	matchedNeedsRehash bool
	// reason, when set, is recorded on the sign-in's success event (how
	// the person proved who they are, when not by the usual steps).
	reason string
}

// try signs in to the account as read, or refuses with
// ErrInvalidCredentials; ErrConflict when the write must be retried.
func (a *loginAttempt) try(ctx context.Context, agg Aggregate) (SignIn, error) {
	u := agg.User
	now := a.s.now().UTC()
	if u.Status != kernel.StatusActive || lockedAt(u, now) {
		return SignIn{}, a.refuse(ctx, u)
	}
	needsRehash, err := a.verify(ctx, u)
	if err != nil {
		return SignIn{}, err
	}
	if si, ok, err := a.passwordStep(ctx, agg, now, needsRehash); ok {
		return si, err
	}
	return a.signIn(ctx, agg, now, needsRehash, false)
}

// refuse records a sign-in to an account that is not active or is locked,
// spending the attempt's password hash if it has not been spent yet.
func (a *loginAttempt) refuse(ctx context.Context, u User) error {
	if !a.hashed {
		a.s.hasher.VerifyDummy(ctx, a.password)
	}
	a.hashed = true
	reason := reasonNotActive
	if u.Status == kernel.StatusActive {
		reason = reasonLocked
	}
	ev := a.s.event(audit.ActionSignInFailed, "", u, a.m)
	ev.Reason = reason
	if err := a.s.applyWithoutUpkeep(ctx, Change{UserID: u.ID, Events: []audit.Event{ev}}); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// verify checks the password against u's stored hash, unless an earlier
// read of the account already matched that same hash, and reports whether
// the hash needs renewing. A wrong password is counted and recorded
// (recordFailedSignIn) and is ErrInvalidCredentials.
func (a *loginAttempt) verify(ctx context.Context, u User) (needsRehash bool, err error) {
	if a.matched != "" && a.matched == u.PasswordHash {
		return a.matchedNeedsRehash, nil
	}
	ok, needsRehash, err := a.s.hasher.Verify(ctx, a.password, u.PasswordHash)
	a.hashed = true
	// A password longer than the hasher takes is a wrong password,
	// answered and counted like any other. A stored hash that cannot
	// be verified (its pepper version was removed too early, or it
	// is damaged) is answered the same way, so the response reveals
	// nothing; the person can still reset their password.
	var unverifiable []audit.Event
	switch {
	case err == nil, errors.Is(err, passwords.ErrTooLong):
	case errors.Is(err, passwords.ErrUnknownPepper), errors.Is(err, passwords.ErrMalformedHash):
		// Verify stopped before hashing: spend the hash anyway
		// so the answer takes as long as any other (AUTH-2).
		a.s.hasher.VerifyDummy(ctx, a.password)
		unverifiable = append(unverifiable, a.s.unverifiable(u, a.m))
	default:
		return false, err
	}
	if !ok {
		return false, a.s.recordFailedSignIn(ctx, u, a.m, unverifiable...)
	}
	a.matched, a.matchedNeedsRehash = u.PasswordHash, needsRehash
	return needsRehash, nil
}

// signIn commits the successful sign-in: a new session (enrol-only when
// enrolOnly), the lockout cleared, the hash renewed when needsRehash, the
// activity when due.
func (a *loginAttempt) signIn(ctx context.Context, agg Aggregate, now time.Time, needsRehash, enrolOnly bool) (SignIn, error) {
	ch := Change{UserID: agg.User.ID}
	if needsRehash {
		u := agg.User
		// A raised work factor or a rotated pepper reaches each stored
		// hash at that person's next sign-in.
		var err error
		if u.PasswordHash, err = a.s.hasher.Hash(ctx, a.password); err != nil {
			return SignIn{}, err
		}
		agg.User = u
	}
	return a.finish(ctx, agg, now, ch, enrolOnly)
}

// finish commits a successful sign-in from the account as read and what
// ch already holds (the proof's use, a renewed hash in agg.User): a new
// session, the lockout cleared, the activity when due.
func (a *loginAttempt) finish(ctx context.Context, agg Aggregate, now time.Time, ch Change, enrolOnly bool) (SignIn, error) {
	s, u := a.s, agg.User
	ch.Events = s.clearLockout(&u, now, a.m)
	// Activity is recorded at most once an ActivityInterval, like any
	// authenticated request's: only then does the directory entry (its
	// last activity) change.
	activity := now.Sub(u.LastActiveAt) >= s.opts.ActivityInterval
	if activity {
		u.LastActiveAt = now
	}
	token, sess, err := s.newSessionOf(agg, u, &ch, enrolOnly)
	if err != nil {
		return SignIn{}, err
	}
	// The account is written with the ETag it was read with, always:
	// a password change or reset that commits meanwhile ends every
	// session it sees, and this write failing is what stops a session
	// made with the old password from slipping in after it.
	ch.User = &u
	succeeded := s.event(audit.ActionSignInSucceeded, u.ID, u, a.m)
	succeeded.Reason = a.reason
	ch.Events = append(ch.Events, succeeded)
	apply := s.applyWithoutUpkeep
	if activity {
		// The directory's last activity follows with the relay's
		// delivery, from what this sign-in read.
		apply = func(ctx context.Context, ch Change) error { return s.applyThenSettle(ctx, agg, ch) }
	}
	if err := apply(ctx, ch); err != nil {
		return SignIn{}, err
	}
	return SignIn{Token: token, ExpiresAt: sess.ExpiresAt, User: u, EnrolOnly: enrolOnly}, nil
}

// recordFailedSignIn counts a wrong password (lockout.go) and records it
// with extra events in the account's change. It always ends in
// ErrInvalidCredentials unless the write itself fails.
func (s *Service) recordFailedSignIn(ctx context.Context, u User, m kernel.Meta, extra ...audit.Event) error {
	now := s.now().UTC()
	events := append(extra, s.expireLock(&u, now, m)...)
	ev := s.event(audit.ActionSignInFailed, "", u, m)
	ev.Reason = reasonWrongPassword
	events = append(events, ev)
	events = append(events, s.countFailure(&u, now, m)...)
	if err := s.applyWithoutUpkeep(ctx, Change{UserID: u.ID, User: &u, Events: events}); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// recordUnknownEmail records a sign-in with an email that belongs to no
// account. The event goes into the unattributed outbox of a shard drawn
// from its own id: one write on the request path, no partition that every
// such sign-in shares, and the relay delivers it like any other event.
// Nothing of the email is in it (P9, P10), not even which shard it maps to.
func (s *Service) recordUnknownEmail(ctx context.Context, m kernel.Meta) error {
	ev := s.event(audit.ActionSignInFailed, "", User{}, m)
	ev.Reason = reasonUnknownEmail
	ev.Shard = audit.ShardOf(ev.ID)
	if err := s.store.AddUnattributed(ctx, ev); err != nil {
		return err
	}
	s.relay.Changed(relay.Unattributed(ev.Shard))
	return nil
}

// Authenticate resolves a session token to its signed-in person. It
// returns ErrUnauthenticated for an unknown, expired or ended session and
// for an account that is no longer active. It reads storage once, the
// session by its key, when the session carries the account's access (see
// Actor) and the account's activity is not due: the Principal then has
// the Actor alone. Otherwise (a session older than its snapshot, or once an
// ActivityInterval) it reads the account too, as AuthenticateAccount does.
// It writes only when something is stale: the session's last use at most
// once a sessionTouchInterval (the idle timer), the person's last activity
// (which the inactivity rules depend on) at most once an ActivityInterval.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	userID, hash, ok := parseToken(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	sess, err := s.store.Session(ctx, userID, hash)
	if errors.Is(err, kernel.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now().UTC()
	if !s.sessionValid(sess, userID, hash, now) {
		return Principal{}, ErrUnauthenticated
	}
	if sess.Access == nil || now.Sub(sess.ActivityAt) >= s.opts.ActivityInterval {
		u, err := s.store.User(ctx, userID)
		if errors.Is(err, kernel.ErrNotFound) {
			return Principal{}, ErrUnauthenticated
		}
		if err != nil {
			return Principal{}, err
		}
		return s.authenticated(ctx, u, sess, hash, now)
	}
	access := *sess.Access
	access.EnrolOnly = sess.EnrolOnly
	if access.ID != sess.UserID || access.Status != kernel.StatusActive {
		return Principal{}, ErrUnauthenticated
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchInterval {
		next := sess
		next.LastSeenAt = now
		// A lost race only means another request touched it first, or
		// the session ended meanwhile; this request was authenticated
		// by what was stored when it came.
		if err := s.store.RecordActivity(ctx, &next, nil); err != nil && !errors.Is(err, kernel.ErrConflict) {
			return Principal{}, err
		}
	}
	return Principal{Actor: access, SessionHash: hash, VerifiedAt: sess.VerifiedAt}, nil
}

// AuthenticateAccount is Authenticate for a request that answers with the
// caller's account: it reads the session and the account, each by its
// key, at once, and the Principal carries the account as stored (Me).
func (s *Service) AuthenticateAccount(ctx context.Context, token string) (Principal, error) {
	userID, hash, ok := parseToken(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	u, sess, err := s.store.UserWithSession(ctx, userID, hash)
	if errors.Is(err, kernel.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now().UTC()
	if !s.sessionValid(sess, userID, hash, now) {
		return Principal{}, ErrUnauthenticated
	}
	return s.authenticated(ctx, u, sess, hash, now)
}

// sessionValid checks a session read by its key. The row was found by the
// hash, and is compared again in constant time, so nothing but an equal
// hash ever authenticates.
func (s *Service) sessionValid(sess Session, userID, hash string, now time.Time) bool {
	return sameHash(sess.Hash, hash) && sess.UserID == userID && !s.sessionExpired(sess, now)
}

// authenticated finishes an authentication that read the account: the
// account must be active; its last activity is recorded when due, and the
// session learns the account's access and last activity (a session older
// than its snapshot gets one here).
//
// Writing the snapshot from the account read is safe on the session's
// ETag: a change of access ends every session it saw, and a session it did
// not see was made after it read the account, which makes that change
// conflict. So if the session is still there, unchanged, the account read
// has the access that is stored.
func (s *Service) authenticated(ctx context.Context, u User, sess Session, hash string, now time.Time) (Principal, error) {
	if sess.UserID != u.ID || u.Status != kernel.StatusActive {
		return Principal{}, ErrUnauthenticated
	}
	var touchUser *User
	seen := u.LastActiveAt
	if now.Sub(u.LastActiveAt) >= s.opts.ActivityInterval {
		next := u
		next.LastActiveAt = now
		touchUser = &next
		seen = now
	}
	access := u.Actor()
	var touchSession *Session
	if now.Sub(sess.LastSeenAt) >= sessionTouchInterval || sess.Access == nil || *sess.Access != access ||
		now.Sub(sess.ActivityAt) >= s.opts.ActivityInterval {
		next := sess
		next.LastSeenAt = now
		next.Access = &access
		// Should the account's write lose a race, the activity goes
		// unrecorded for this session's next interval: the inactivity
		// rules count months.
		next.ActivityAt = seen
		touchSession = &next
	}
	if touchSession != nil || touchUser != nil {
		// A lost race here only means another request recorded the same
		// activity first, or changed the account; the request itself is
		// authenticated either way, with the account as it was read.
		err := s.store.RecordActivity(ctx, touchSession, touchUser)
		if err != nil && !errors.Is(err, kernel.ErrConflict) {
			return Principal{}, err
		}
		// Each write that went through left its row's new ETag; the
		// account is answered as stored (a conflict on it leaves it as
		// read, which is a stored version too).
		if touchUser != nil && touchUser.ETag != u.ETag {
			u = *touchUser
			s.settleBestEffort(ctx, u.ID) // the directory's last activity, at most hourly
		}
	}
	access.EnrolOnly = sess.EnrolOnly
	return Principal{Actor: access, SessionHash: hash, VerifiedAt: sess.VerifiedAt, account: &u}, nil
}

// Logout ends the caller's session. A session another request ended in
// the meantime is still a successful logout.
func (s *Service) Logout(ctx context.Context, p Principal, m kernel.Meta) error {
	events := []audit.Event{s.event(audit.ActionSignedOut, p.Actor.ID, subjectOf(p.Actor), m)}
	err := s.apply(ctx, Change{
		UserID:         p.Actor.ID,
		DeleteSessions: []Session{{UserID: p.Actor.ID, Hash: p.SessionHash}},
		Events:         events,
	})
	if errors.Is(err, kernel.ErrConflict) {
		return s.apply(ctx, Change{UserID: p.Actor.ID, Events: events})
	}
	return err
}

// unverifiable is the event for a stored hash the hasher cannot check; ops
// alert on its reason.
func (s *Service) unverifiable(u User, m kernel.Meta) audit.Event {
	ev := s.event(audit.ActionSignInFailed, "", u, m)
	ev.Reason = "unverifiable_hash"
	return ev
}

// EndAllSessions signs the caller out everywhere, this session included.
func (s *Service) EndAllSessions(ctx context.Context, p Principal, m kernel.Meta) error {
	return retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		return s.apply(ctx, Change{
			UserID:         p.Actor.ID,
			DeleteSessions: agg.Sessions,
			Events:         []audit.Event{s.event(audit.ActionSessionsEnded, p.Actor.ID, subjectOf(p.Actor), m)},
		})
	})
}
