package accounts

import (
	"context"
	"errors"
	"slices"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// removeAdmin takes an admin off the registry unless they are the last
// one (ErrLastAdmin). It runs before the change that demotes or closes
// them, on the registry's ETag, so two such changes cannot both pass.
func (s *Service) removeAdmin(ctx context.Context, id string) error {
	return s.updateRegistry(ctx, func(ids []string) ([]string, error) {
		if !slices.Contains(ids, id) {
			return nil, nil
		}
		if len(ids) == 1 {
			return nil, ErrLastAdmin
		}
		return slices.DeleteFunc(slices.Clone(ids), func(x string) bool { return x == id }), nil
	})
}

// dropAdmin takes someone off the registry without the last-admin guard:
// only for accounts that are no longer active admins.
func (s *Service) dropAdmin(ctx context.Context, id string) error {
	return s.updateRegistry(ctx, func(ids []string) ([]string, error) {
		if !slices.Contains(ids, id) {
			return nil, nil
		}
		return slices.DeleteFunc(slices.Clone(ids), func(x string) bool { return x == id }), nil
	})
}

func (s *Service) addAdmin(ctx context.Context, id string) error {
	return s.updateRegistry(ctx, func(ids []string) ([]string, error) {
		if slices.Contains(ids, id) {
			return nil, nil
		}
		return append(slices.Clone(ids), id), nil
	})
}

// applyLosingAdmin commits ch with applySettled. When the change demotes
// or closes an active admin (losing), the admin leaves the registry first
// (ErrLastAdmin if they are the last one), and the registry is put back in
// line with the account should the change fail to commit.
func (s *Service) applyLosingAdmin(ctx context.Context, agg Aggregate, ch Change, losing bool) error {
	if !losing {
		return s.applySettled(ctx, agg, ch)
	}
	if err := s.removeAdmin(ctx, ch.UserID); err != nil {
		return err
	}
	if err := s.applySettled(ctx, agg, ch); err != nil {
		s.restoreAdmin(ctx, ch.UserID)
		return err
	}
	return nil
}

// restoreAdmin puts the registry back in line with an account whose
// demotion or closing failed to commit. The account as stored now
// decides, not the attempt: the commit usually failed because another
// change to the same account got there first, and if that change demoted
// or closed them, adding them back would leave a phantom admin that lets
// the last real one go. A failure here is repaired by the account's next Settle.
func (s *Service) restoreAdmin(ctx context.Context, id string) {
	s.settleBestEffort(context.WithoutCancel(ctx), id)
}

// updateRegistry applies f to the registry on its ETag, retrying when
// another change got there first. f returns nil ids for "no change".
func (s *Service) updateRegistry(ctx context.Context, f func([]string) ([]string, error)) error {
	for attempt := 0; attempt < 20; attempt++ {
		ids, etag, err := s.store.ActiveAdmins(ctx)
		if err != nil {
			return err
		}
		next, err := f(ids)
		if err != nil || next == nil {
			return err
		}
		err = s.store.SetActiveAdmins(ctx, next, etag)
		if !errors.Is(err, kernel.ErrConflict) {
			return err
		}
	}
	return kernel.ErrConflict
}
