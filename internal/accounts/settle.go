package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// Settle brings what is derived from an account in line with it: its
// directory entry, its lifecycle entry and its place in the admin
// registry. The relay calls it after delivering an account's outbox, so a
// crash between a change and its derived writes is repaired by the next
// catch-up. The lifecycle entry only ever moves earlier here (see
// Store.FileNoLaterThan); the sweep moves it later (refile).
func (s *Service) Settle(ctx context.Context, userID string) error {
	return s.settleAccount(ctx, userID, s.store.FileNoLaterThan)
}

// refile is Settle for the sweep, which visited the account from its
// lifecycle entry: the entry moves to the next step's day, later too.
func (s *Service) refile(ctx context.Context, userID string) error {
	return s.settleAccount(ctx, userID, s.store.SyncLifecycle)
}

func (s *Service) settleAccount(ctx context.Context, userID string, file func(ctx context.Context, userID string, due time.Time) error) error {
	u, err := s.store.SyncDirectoryOf(ctx, userID)
	if errors.Is(err, kernel.ErrNotFound) {
		if err := s.store.SyncLifecycle(ctx, userID, time.Time{}); err != nil {
			return err
		}
		return s.dropAdmin(ctx, userID)
	}
	if err != nil {
		return err
	}
	// The step depends on the account row alone (PlanFor).
	if err := file(ctx, userID, s.PlanFor(Aggregate{User: u}, s.now()).Due()); err != nil {
		return err
	}
	return s.syncRegistry(ctx, u)
}

// syncRegistry puts an active admin on the admin registry and takes
// anyone else off it; an account that never held the role is not read for.
func (s *Service) syncRegistry(ctx context.Context, u User) error {
	switch {
	case u.Role == kernel.RoleAdmin && u.Status == kernel.StatusActive && u.ErasingSince.IsZero():
		return s.addAdmin(ctx, u.ID)
	case u.NeverAdmin:
		return nil
	}
	return s.dropAdmin(ctx, u.ID)
}

// settleBestEffort runs Settle on the request path; a failure is left to the relay.
func (s *Service) settleBestEffort(ctx context.Context, userID string) {
	_ = s.Settle(ctx, userID)
}

// settleCommitted is Settle for a change just committed, without reading
// what the request knows: the account is ch.User at its new version, and
// the lifecycle entry moves only when the step comes earlier than the day
// the account was filed under (before.FiledFor).
func (s *Service) settleCommitted(ctx context.Context, before Aggregate, ch Change) error {
	if ch.User == nil {
		return s.Settle(ctx, ch.UserID)
	}
	u := *ch.User
	u.Version++ // as the store committed it
	if err := s.store.SyncDirectoryFor(ctx, u); err != nil {
		return err
	}
	if due := s.PlanFor(Aggregate{User: u}, s.now()).Due(); !due.IsZero() &&
		(before.FiledFor.IsZero() || due.UTC().Truncate(24*time.Hour).Before(before.FiledFor)) {
		if err := s.store.FileNoLaterThan(ctx, u.ID, due); err != nil {
			return err
		}
	}
	return s.syncRegistry(ctx, u)
}
