package accounts

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// The lifecycle rules (P6, P7, P8), applied by the daily sweep
// (internal/lifecycle) one account at a time:
//
//   - an active account is closed InactivityMonths calendar months after
//     its last activity, reason inactivity; warnings go out WarningDays
//     before (30 and 7 by default), each once per period of inactivity;
//     any activity moves the whole schedule, so a warned person who signs
//     in is never closed;
//   - the account is never closed sooner than the smallest warning period
//     after its last warning, so a sweep that ran late cannot close
//     someone who was warned only yesterday;
//   - a closed account (any reason) is erased RestoreWindow after closing;
//   - an invitation never accepted is erased RestoreWindow after it expired;
//   - expired sessions and link tokens are removed.
//
// Closing and erasing wait an extra SafetyMargin past their time, so clock
// skew between instances can never act early; warnings need no margin.

// Step is the next thing the lifecycle does to an account.
type Step string

// The steps.
const (
	StepNone    Step = ""
	StepWarn    Step = "warn"
	StepClose   Step = "close"
	StepErase   Step = "erase"
	StepCleanup Step = "cleanup"
)

// Plan is an account's next lifecycle step and when it is due, and when
// its earliest session or link token expires (housekeeping, done on the
// side of whatever else is due).
type Plan struct {
	Step        Step
	At          time.Time
	WarningDays int // for StepWarn: which warning
	CleanupAt   time.Time
}

// Due is when the account next needs the sweep: its next step. Expired
// sessions and link tokens are inert (every use checks expiry), so their
// cleanup does not pull the sweep forward, which would refile the account
// on nearly every sign-in: they are removed when the sweep comes for the
// step, when the person next signs in (newSession), and with the account
// at its erasure.
func (p Plan) Due() time.Time { return p.At }

// nominalClose is InactivityMonths calendar months after the last activity.
func (s *Service) nominalClose(u User) time.Time {
	last := u.LastActiveAt
	if last.IsZero() {
		last = u.ActivatedAt
	}
	if last.IsZero() {
		last = u.CreatedAt
	}
	return last.AddDate(0, s.opts.InactivityMonths, 0)
}

// closeAt is when inactivity closes an active account: the nominal time,
// or later when the final warning went out late.
func (s *Service) closeAt(u User) time.Time {
	at := s.nominalClose(u)
	if len(s.opts.WarningDays) > 0 && u.WarnedFor.Equal(at) && !u.WarnedAt.IsZero() {
		// Never sooner than the final warning's notice after it went out.
		final := slices.Min(s.opts.WarningDays)
		if minimum := u.WarnedAt.AddDate(0, 0, final); minimum.After(at) {
			at = minimum
		}
	}
	return at
}

// invitationExpiry is when an invited account's invitation stops working.
func (s *Service) invitationExpiry(u User) time.Time {
	from := u.InvitedAt
	if from.IsZero() {
		from = u.CreatedAt
	}
	return from.Add(s.opts.InvitationTTL)
}

// PlanFor computes an account's next lifecycle step as of now. The result
// is pure: the sweep calls it to decide, Settle to index the account under
// the day it is due.
func (s *Service) PlanFor(agg Aggregate, now time.Time) Plan {
	u := agg.User
	var p Plan
	consider := func(step Step, at time.Time, days int) {
		if p.Step == StepNone || at.Before(p.At) {
			p = Plan{Step: step, At: at, WarningDays: days}
		}
	}
	switch {
	case !u.ErasingSince.IsZero():
		consider(StepErase, u.ErasingSince, 0) // finish an erasure a crash interrupted
	case u.Status == kernel.StatusActive:
		nominal := s.nominalClose(u)
		var pending []int // warnings not yet sent for this period of inactivity
		for _, days := range s.opts.WarningDays {
			if !(u.WarnedFor.Equal(nominal) && u.WarnedDays != 0 && u.WarnedDays <= days) {
				pending = append(pending, days)
			}
		}
		if len(pending) == 0 {
			consider(StepClose, s.closeAt(u).Add(s.opts.SafetyMargin), 0)
			break
		}
		// Due when the earliest pending warning is; when several are due
		// (a sweep ran late), only the most urgent goes out.
		first := slices.Max(pending)
		level := first
		for _, days := range pending {
			if days < level && !now.Before(nominal.AddDate(0, 0, -days)) {
				level = days
			}
		}
		consider(StepWarn, nominal.AddDate(0, 0, -first), level)
	case u.Status == kernel.StatusClosed:
		consider(StepErase, u.ClosedAt.Add(s.opts.RestoreWindow).Add(s.opts.SafetyMargin), 0)
	case u.Status == kernel.StatusInvited:
		consider(StepErase, s.invitationExpiry(u).Add(s.opts.RestoreWindow).Add(s.opts.SafetyMargin), 0)
	}
	earliest := func(t time.Time) {
		if p.CleanupAt.IsZero() || t.Before(p.CleanupAt) {
			p.CleanupAt = t
		}
	}
	for _, sess := range agg.Sessions {
		earliest(s.sessionEnd(sess))
	}
	for _, t := range agg.Tokens {
		earliest(t.ExpiresAt)
	}
	return p
}

func (s *Service) sessionEnd(sess Session) time.Time {
	idle := sess.LastSeenAt.Add(s.opts.SessionIdleTimeout)
	if idle.Before(sess.ExpiresAt) {
		return idle
	}
	return sess.ExpiresAt
}

// Outcome is what one lifecycle step did.
type Outcome struct {
	UserID string
	Step   Step
	Done   bool // false: nothing was due (already done, or activity moved the schedule)
}

// ApplyLifecycle runs an account's lifecycle step if it is due at now.
// Every transition is a conditional write on the account as read, so a
// person who signs in while the sweep runs wins (the sweep's write fails
// and the next sweep re-plans). With dryRun it only reports what it would
// do. It settles the account afterwards, which files it under its next
// due day.
func (s *Service) ApplyLifecycle(ctx context.Context, userID string, now time.Time, dryRun bool) (Outcome, error) {
	out := Outcome{UserID: userID}
	agg, err := s.store.Aggregate(ctx, userID)
	if errors.Is(err, kernel.ErrNotFound) || errors.Is(err, ErrErased) {
		if dryRun {
			return out, nil
		}
		return out, s.refile(ctx, userID) // already gone: drop stale index entries
	}
	if err != nil {
		return Outcome{}, err
	}
	plan := s.PlanFor(agg, now)
	cleanupDue := !plan.CleanupAt.IsZero() && !now.Before(plan.CleanupAt)
	stepDue := plan.stepDue(now)
	switch {
	case stepDue:
		out.Step, out.Done = plan.Step, true
	case cleanupDue:
		out.Step, out.Done = StepCleanup, true
	}
	if dryRun {
		return out, nil
	}
	if !out.Done {
		return out, s.refile(ctx, userID)
	}
	if cleanupDue && plan.Step != StepErase {
		if agg, plan, err = s.cleanupFirst(ctx, userID, agg, plan, now, stepDue); err != nil {
			return Outcome{}, err
		}
		if stepDue && !plan.stepDue(now) {
			stepDue, out.Step = false, StepCleanup
		}
	}
	if stepDue {
		if out.Done, err = s.runStep(ctx, agg, plan, now); err != nil {
			return Outcome{}, err
		}
		if plan.Step == StepErase && out.Done {
			return out, nil
		}
	}
	if err := s.refile(ctx, userID); err != nil {
		return Outcome{}, err
	}
	return out, nil
}

// stepDue reports whether the plan's step is due at now.
func (p Plan) stepDue(now time.Time) bool {
	return p.Step != StepNone && !now.Before(p.At)
}

// cleanupFirst runs a due cleanup before the step. When the step is due
// too, it reads the account again and plans anew from what is stored now:
// a sign-in in between moved the schedule, and the step must follow it.
// A cleanup that lost a race is left to the next sweep.
func (s *Service) cleanupFirst(ctx context.Context, userID string, agg Aggregate, plan Plan, now time.Time, stepDue bool) (Aggregate, Plan, error) {
	if err := s.cleanup(ctx, agg, now); err != nil && !errors.Is(err, kernel.ErrConflict) {
		return Aggregate{}, Plan{}, err
	}
	if !stepDue {
		return agg, plan, nil
	}
	agg, err := s.store.Aggregate(ctx, userID)
	if err != nil {
		return Aggregate{}, Plan{}, err
	}
	return agg, s.PlanFor(agg, now), nil
}

// runStep runs the plan's due step on the account as read. done is false
// when the step did not happen and the next sweep plans again: the account
// changed under it, or it is the last active admin.
func (s *Service) runStep(ctx context.Context, agg Aggregate, plan Plan, now time.Time) (done bool, err error) {
	m := kernel.Meta{RequestID: "lifecycle-" + now.UTC().Format("20060102")}
	switch plan.Step {
	case StepWarn:
		err = s.warn(ctx, agg, plan, m)
	case StepClose:
		err = s.close(ctx, agg, "", ClosedInactivity, m)
		if errors.Is(err, ErrLastAdmin) {
			// The last active admin is never closed automatically; the
			// warnings have gone out and ops see it in the summary.
			return false, nil
		}
	case StepErase:
		err = s.erase(ctx, agg, m)
	}
	if errors.Is(err, kernel.ErrConflict) {
		// The account changed under us (a sign-in, an admin): the next
		// sweep plans from its new state.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

func (s *Service) warn(ctx context.Context, agg Aggregate, plan Plan, m kernel.Meta) error {
	u := agg.User
	u.WarnedFor, u.WarnedDays, u.WarnedAt = s.nominalClose(u), plan.WarningDays, s.now().UTC()
	ev := s.event(audit.ActionInactivityWarned, "", u, m)
	ev.Reason = warningReason(plan.WarningDays)
	msg := s.notification(notify.KindInactivityWarning, u)
	msg.DueAt = s.closeAt(u)
	return s.apply(ctx, Change{UserID: u.ID, User: &u, Events: []audit.Event{ev}, Notifications: []notify.Message{msg}})
}

func warningReason(days int) string {
	b := []byte("days_")
	if days == 0 {
		return string(append(b, '0'))
	}
	var digits []byte
	for ; days > 0; days /= 10 {
		digits = append([]byte{byte('0' + days%10)}, digits...)
	}
	return string(append(b, digits...))
}

// cleanup removes expired sessions and link tokens.
func (s *Service) cleanup(ctx context.Context, agg Aggregate, now time.Time) error {
	ch := Change{UserID: agg.User.ID}
	for _, sess := range agg.Sessions {
		if !now.Before(s.sessionEnd(sess)) {
			ch.DeleteSessions = append(ch.DeleteSessions, sess)
		}
	}
	for _, t := range agg.Tokens {
		if !now.Before(t.ExpiresAt) {
			ch.DeleteTokens = append(ch.DeleteTokens, t)
		}
	}
	if len(ch.DeleteSessions)+len(ch.DeleteTokens) == 0 {
		return nil
	}
	return s.store.Apply(ctx, ch)
}

// erase removes everything held about a person (P7): their account, its
// sessions, tokens and outbox, their email claim, directory and lifecycle
// entries. Audit events keep only the opaque id. Two phases: the account is
// first marked as erasing (it can no longer sign in or be restored), then
// removed; a crash between them is finished by the next sweep.
func (s *Service) erase(ctx context.Context, agg Aggregate, m kernel.Meta) error {
	u := agg.User
	if u.ErasingSince.IsZero() {
		u.ErasingSince = s.now().UTC()
		u.Status = kernel.StatusClosed
		if err := s.store.Apply(ctx, Change{UserID: u.ID, User: &u, DeleteSessions: agg.Sessions, DeleteTokens: agg.Tokens}); err != nil {
			return err
		}
	}
	if err := s.dropAdmin(ctx, u.ID); err != nil {
		return err
	}
	ev := s.event(audit.ActionUserErased, "", User{ID: u.ID, OrganizationID: u.OrganizationID}, m)
	// Recorded before the data goes: without its event there is no erasure
	// (the account stays due and the next sweep tries again).
	if err := s.relay.AppendNow(ctx, ev); err != nil {
		return err
	}
	return s.store.EraseAccount(ctx, u.ID, ClaimAddress(u))
}
