package accounts

import (
	"context"
	"sort"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// SessionInfo is one live session as its owner sees it: its id and its
// times. It has no field for the secret or its hash, so no caller of the
// service can hand either on by mistake. Nothing else is known about a
// session: no IP address, no user agent (P9).
type SessionInfo struct {
	ID            string
	CreatedAt     time.Time
	LastUsedAt    time.Time // kept to within sessionTouchInterval
	IdleExpiresAt time.Time // when it ends unless used again (never after ExpiresAt)
	ExpiresAt     time.Time // its absolute end
	Current       bool      // the session of the request that asked
}

// ListSessions lists the caller's live sessions, newest first (SESS-3).
//
// A session made before sessions had ids gets one here, written with the
// ETag it was read with, so the id shown is the id stored and can be used
// to end it. Sessions live at most the absolute timeout, so after that long
// no session without an id is left and this write never happens again.
func (s *Service) ListSessions(ctx context.Context, p Principal) ([]SessionInfo, error) {
	var out []SessionInfo
	err := retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		ch := Change{UserID: p.Actor.ID}
		out = out[:0]
		for _, sess := range agg.Sessions {
			if s.sessionExpired(sess, now) {
				continue
			}
			if sess.ID == "" {
				sess.ID = s.newID()
				ch.UpdateSessions = append(ch.UpdateSessions, sess)
			}
			out = append(out, SessionInfo{
				ID:            sess.ID,
				CreatedAt:     sess.CreatedAt,
				LastUsedAt:    sess.LastSeenAt,
				IdleExpiresAt: s.sessionEnd(sess),
				ExpiresAt:     sess.ExpiresAt,
				Current:       sameHash(sess.Hash, p.SessionHash),
			})
		}
		if len(ch.UpdateSessions) > 0 {
			return s.store.Apply(ctx, ch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// EndSession ends one of the caller's own sessions by its id; it may be
// the session of this very request. ErrNotFound for an id that names no
// live session of the caller: someone else's session is found nowhere,
// because only the caller's own account is read.
func (s *Service) EndSession(ctx context.Context, p Principal, sessionID string, m kernel.Meta) error {
	if !validID(sessionID) {
		return kernel.ErrNotFound
	}
	return retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		for _, sess := range agg.Sessions {
			if sess.ID != sessionID || s.sessionExpired(sess, now) {
				continue
			}
			return s.apply(ctx, Change{
				UserID:         p.Actor.ID,
				DeleteSessions: []Session{sess},
				Events:         []audit.Event{s.event(audit.ActionSessionEnded, p.Actor.ID, agg.User, m)},
			})
		}
		return kernel.ErrNotFound
	})
}

// EndUserSessions ends every session of the account id at once (SESS-3):
// its next request with any of them is unauthenticated. Admins may do it
// to anyone, primary users to the people of their own organisation but
// never to an admin (P5), and everyone to themselves. The person is not
// emailed: nothing about their account changed, they only sign in again,
// and the audit trail records who did it. ErrNotFound for an account the
// actor may not see (P10), ErrForbidden for one they see but may not act
// on.
func (s *Service) EndUserSessions(ctx context.Context, actor kernel.Actor, id string, m kernel.Meta) error {
	return retryConflicts(func() error {
		agg, err := s.visible(ctx, actor, id)
		if err != nil {
			return err
		}
		u := agg.User
		if !kernel.Allows(actor, kernel.PermEndSessions, u.ID, u.OrganizationID) || (actor.ID != u.ID && !grantable(actor, u.Role)) {
			return kernel.ErrForbidden
		}
		// A session that ends meanwhile (logout, expiry clean-up) makes
		// this a conflict, and the retry reads what is left.
		return s.apply(ctx, Change{
			UserID:         u.ID,
			DeleteSessions: agg.Sessions,
			Events:         []audit.Event{s.event(audit.ActionSessionsEnded, actor.ID, u, m)},
		})
	})
}
