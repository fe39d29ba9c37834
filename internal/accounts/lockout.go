package accounts

import (
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// The lockout (NIST SP 800-63B-4 §3.2.2). Wrong passwords inside
// Options.LockoutWindow count towards Options.LockoutThreshold; a failure
// older than the window no longer counts. Reaching the threshold locks the
// account for LockoutDuration, and every further lock before a success or a
// reset lasts twice as long as the one before, up to LockoutMaxDuration.
// hardLockFailures consecutive failures lock the account until a password
// reset, whatever the timing. A successful sign-in or password change ends
// the escalation; a completed password reset clears everything.
//
// A locked account answers like a wrong password and costs the same hash
// (the caller's business): the lock is visible only in the audit trail.

// hardLockFailures is NIST's ceiling on consecutive failed attempts: the
// account then stays locked until a password reset.
const hardLockFailures = 100

// Reason codes of account.locked and account.unlocked events.
const (
	lockTemporary   = "temporary"
	lockUntilReset  = "until_reset"
	unlockExpired   = "lock_expired"
	unlockResetDone = "password_reset"
)

// lockedAt reports whether the lockout keeps u from signing in at now.
func lockedAt(u User, now time.Time) bool {
	return u.LockedForReset || now.Before(u.LockedUntil)
}

// countFailure counts one wrong password against u at now (after
// expireLock), locking the account when the failure reaches the threshold
// or the ceiling, and returns the account.locked event when it does.
func (s *Service) countFailure(u *User, now time.Time, m kernel.Meta) []audit.Event {
	u.FailedSignIns++
	if u.FailedSignIns >= hardLockFailures {
		u.FailureTimes, u.LockedUntil, u.LockedForReset = nil, time.Time{}, true
		ev := s.event(audit.ActionAccountLocked, "", *u, m)
		ev.Reason = lockUntilReset
		return []audit.Event{ev}
	}
	kept := make([]time.Time, 0, len(u.FailureTimes)+1)
	for _, t := range u.FailureTimes {
		if s.opts.LockoutWindow <= 0 || now.Sub(t) < s.opts.LockoutWindow {
			kept = append(kept, t)
		}
	}
	kept = append(kept, now)
	if len(kept) < s.opts.LockoutThreshold {
		u.FailureTimes = kept
		return nil
	}
	u.FailureTimes = nil
	u.LockedUntil = now.Add(s.lockDuration(u.Lockouts))
	u.Lockouts++
	ev := s.event(audit.ActionAccountLocked, "", *u, m)
	ev.Reason = lockTemporary
	return []audit.Event{ev}
}

// lockDuration is how long the lock after previous earlier ones lasts:
// LockoutDuration doubled for each, at most LockoutMaxDuration (no
// escalation when that is unset).
func (s *Service) lockDuration(previous int) time.Duration {
	d, ceiling := s.opts.LockoutDuration, max(s.opts.LockoutMaxDuration, s.opts.LockoutDuration)
	for i := 0; i < previous && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// expireLock ends a temporary lock that has run out, returning its
// account.unlocked event (none when u was not locked that way), so every
// lock in the audit trail has its end.
func (s *Service) expireLock(u *User, now time.Time, m kernel.Meta) []audit.Event {
	if u.LockedUntil.IsZero() || now.Before(u.LockedUntil) {
		return nil
	}
	u.LockedUntil = time.Time{}
	ev := s.event(audit.ActionAccountUnlocked, "", *u, m)
	ev.Reason = unlockExpired
	return []audit.Event{ev}
}

// clearLockout forgets every failure after a successful sign-in or a
// password change, returning the account.unlocked event of a lock that had
// run out.
func (s *Service) clearLockout(u *User, now time.Time, m kernel.Meta) []audit.Event {
	events := s.expireLock(u, now, m)
	u.FailedSignIns, u.FailureTimes, u.Lockouts = 0, nil, 0
	return events
}

// resetLockout lifts every lock, the one until a reset included, when a
// password reset completes (REC-4), returning its account.unlocked event.
func (s *Service) resetLockout(u *User, now time.Time, m kernel.Meta) []audit.Event {
	events := s.expireLock(u, now, m)
	wasLocked := u.LockedForReset || !u.LockedUntil.IsZero()
	u.FailedSignIns, u.FailureTimes, u.Lockouts, u.LockedUntil, u.LockedForReset = 0, nil, 0, time.Time{}, false
	if !wasLocked {
		return events
	}
	ev := s.event(audit.ActionAccountUnlocked, u.ID, *u, m)
	ev.Reason = unlockResetDone
	return append(events, ev)
}
