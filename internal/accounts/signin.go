package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
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
// Repeated failures lock the account for a while; the counter lives in
// storage so every instance shares it.
func (s *Service) Login(ctx context.Context, email, password string, m Meta) (SignIn, error) {
	canonical, ok := CanonicalEmail(email)
	if !ok {
		s.hasher.VerifyDummy(ctx, password)
		return SignIn{}, ErrInvalidCredentials
	}
	userID, err := s.store.UserIDByEmail(ctx, canonical)
	if errors.Is(err, ErrNotFound) {
		s.hasher.VerifyDummy(ctx, password)
		s.recordUnattributed(ctx, audit.ActionSignInFailed, reasonUnknownEmail, m)
		return SignIn{}, ErrInvalidCredentials
	}
	if err != nil {
		return SignIn{}, err
	}

	var result SignIn
	verified := false // verify once even if the write must be retried
	err = retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, userID)
		if errors.Is(err, ErrNotFound) {
			// The email claim outlived its account (erased mid-request).
			s.hasher.VerifyDummy(ctx, password)
			return ErrInvalidCredentials
		}
		if err != nil {
			return err
		}
		u := agg.User
		now := s.now().UTC()
		if u.Status != StatusActive || now.Before(u.LockedUntil) {
			if !verified {
				s.hasher.VerifyDummy(ctx, password)
			}
			verified = true
			reason := reasonNotActive
			if u.Status == StatusActive {
				reason = reasonLocked
			}
			ev := s.event(audit.ActionSignInFailed, "", u, m)
			ev.Reason = reason
			if err := s.apply(ctx, Change{UserID: u.ID, Events: []audit.Event{ev}}); err != nil {
				return err
			}
			return ErrInvalidCredentials
		}

		ok, needsRehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
		verified = true
		if err != nil && !errors.Is(err, ErrInvalidCredentials) {
			return err
		}
		if !ok {
			return s.recordFailedSignIn(ctx, u, m)
		}

		ch := Change{UserID: u.ID}
		// The account record is written only when something on it must
		// change, so one person signing in on several devices at once does
		// not contend for it.
		touch := u.FailedSignIns != 0 || !u.LockedUntil.IsZero() || needsRehash ||
			now.Sub(u.LastActiveAt) >= s.opts.ActivityInterval
		if needsRehash {
			// A raised work factor or a rotated pepper reaches each stored
			// hash at that person's next sign-in.
			if u.PasswordHash, err = s.hasher.Hash(ctx, password); err != nil {
				return err
			}
		}
		u.FailedSignIns = 0
		u.LockedUntil = time.Time{}
		token, sess, err := s.newSession(agg, &ch)
		if err != nil {
			return err
		}
		if touch {
			u.LastActiveAt = now
			ch.User = &u
		}
		ch.Events = append(ch.Events, s.event(audit.ActionSignInSucceeded, u.ID, u, m))
		if err := s.apply(ctx, ch); err != nil {
			return err
		}
		result = SignIn{Token: token, ExpiresAt: sess.ExpiresAt, User: u}
		return nil
	})
	return result, err
}

// recordFailedSignIn counts a wrong password and locks the account once the
// threshold is reached. It always ends in ErrInvalidCredentials unless the
// write itself fails.
func (s *Service) recordFailedSignIn(ctx context.Context, u User, m Meta) error {
	now := s.now().UTC()
	u.FailedSignIns++
	ev := s.event(audit.ActionSignInFailed, "", u, m)
	ev.Reason = reasonWrongPassword
	ch := Change{UserID: u.ID, User: &u, Events: []audit.Event{ev}}
	if u.FailedSignIns >= s.opts.LockoutThreshold {
		u.FailedSignIns = 0
		u.LockedUntil = now.Add(s.opts.LockoutDuration)
		ch.Events = append(ch.Events, s.event(audit.ActionAccountLocked, "", u, m))
	}
	if err := s.apply(ctx, ch); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// recordUnattributed writes an event that belongs to no account, such as
// a sign-in with an unknown email. The email itself is never recorded.
func (s *Service) recordUnattributed(ctx context.Context, action audit.Action, reason string, m Meta) {
	ev := s.event(action, "", User{}, m)
	ev.Reason = reason
	s.relay.Record(ctx, ev)
}

// Authenticate resolves a session token to its signed-in person. It
// returns ErrUnauthenticated for an unknown, expired or ended session and
// for an account that is no longer active. It reads storage once; at most
// once a minute per session it also writes, to keep the idle timer and the
// person's last activity (which the inactivity rules depend on) current.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	userID, hash, ok := parseToken(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	u, sess, err := s.store.UserWithSession(ctx, userID, hash)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now().UTC()
	if !sameHash(sess.Hash, hash) || s.sessionExpired(sess, now) || u.Status != StatusActive {
		return Principal{}, ErrUnauthenticated
	}
	touchSession := now.Sub(sess.LastSeenAt) >= sessionTouchInterval
	touchUser := now.Sub(u.LastActiveAt) >= s.opts.ActivityInterval
	if touchSession || touchUser {
		ch := Change{UserID: u.ID}
		sess.LastSeenAt = now
		ch.UpdateSessions = []Session{sess}
		if touchUser {
			u.LastActiveAt = now
			ch.User = &u
		}
		// A lost race here only means another request recorded the same
		// activity first; the request itself is authenticated either way.
		if err := s.store.Apply(ctx, ch); err != nil && !errors.Is(err, ErrConflict) {
			return Principal{}, err
		}
	}
	return Principal{User: u, SessionHash: hash}, nil
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, p Principal, m Meta) error {
	return s.apply(ctx, Change{
		UserID:         p.User.ID,
		DeleteSessions: []Session{{UserID: p.User.ID, Hash: p.SessionHash}},
		Events:         []audit.Event{s.event(audit.ActionSignedOut, p.User.ID, p.User, m)},
	})
}

// EndAllSessions signs the caller out everywhere, this session included.
func (s *Service) EndAllSessions(ctx context.Context, p Principal, m Meta) error {
	return retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.User.ID)
		if err != nil {
			return err
		}
		return s.apply(ctx, Change{
			UserID:         p.User.ID,
			DeleteSessions: agg.Sessions,
			Events:         []audit.Event{s.event(audit.ActionSessionsEnded, p.User.ID, p.User, m)},
		})
	})
}
