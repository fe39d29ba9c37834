package accounts

import (
	"context"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// ProfilePatch is what a person may change about themselves (P14
// rectification): their names and language. Nil fields stay as they are.
type ProfilePatch struct {
	FirstName *string
	LastName  *string
	Locale    *string
}

// UpdateProfile applies a patch to the caller's own account. ifMatch, when
// not empty, is the PublicETag the caller last saw (ErrPreconditionFailed if
// it moved on). *ValidationError for bad input.
func (s *Service) UpdateProfile(ctx context.Context, p Principal, patch ProfilePatch, ifMatch string, m kernel.Meta) (User, error) {
	var result User
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		u := agg.User
		if ifMatch != "" && ifMatch != kernel.PublicETag(u.ETag) {
			return kernel.ErrPreconditionFailed
		}
		v := &kernel.ValidationError{}
		fields := applyNames(v, &u, patch.FirstName, patch.LastName)
		if patch.Locale != nil {
			switch {
			case !validLocale(*patch.Locale):
				v.Add("locale", "invalid_locale", "")
			case *patch.Locale != u.Locale:
				u.Locale = *patch.Locale
				fields = append(fields, "locale")
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		if len(fields) == 0 {
			result = u
			return nil
		}
		ev := s.event(audit.ActionProfileUpdated, u.ID, u, m)
		ev.Fields = fields
		// Settled at once: the directory shows the new name.
		if err := s.applySettled(ctx, agg, Change{UserID: u.ID, User: &u, Events: []audit.Event{ev}}); err != nil {
			return err
		}
		fresh, err := s.store.Aggregate(ctx, u.ID)
		if err != nil {
			return err
		}
		result = fresh.User
		return nil
	})
	return result, err
}

// Me returns the caller's own account as stored, with its ETag: the one
// authentication read (or wrote), with no further read; one point read
// when authentication read the session alone.
func (s *Service) Me(ctx context.Context, p Principal) (User, error) {
	if p.account != nil {
		return *p.account, nil
	}
	return s.store.User(ctx, p.Actor.ID)
}
