package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// findToken returns the account's live token of the purpose whose hash
// matches, comparing in constant time.
func findToken(agg Aggregate, purpose Purpose, hash string, now time.Time) (Token, bool) {
	for _, t := range agg.Tokens {
		if t.Purpose == purpose && sameHash(t.Hash, hash) && now.Before(t.ExpiresAt) {
			return t, true
		}
	}
	return Token{}, false
}

func tokensOf(agg Aggregate, purpose Purpose) []Token {
	var out []Token
	for _, t := range agg.Tokens {
		if t.Purpose == purpose {
			out = append(out, t)
		}
	}
	return out
}

// hashNew hashes a password that passed the policy, turning an over-long
// input into a field error rather than an internal one.
func (s *Service) hashNew(ctx context.Context, field, password string) (string, error) {
	h, err := s.hasher.Hash(ctx, password)
	if errors.Is(err, passwords.ErrTooLong) {
		v := &kernel.ValidationError{}
		v.Add(field, "password_too_long", "")
		return "", v
	}
	return h, err
}

// redeem checks a link token against the account (live, of the purpose,
// account in the state the link serves) and the new password against the
// policy, and returns the account with the new password hashed in.
// ErrInvalidToken for any token problem, *ValidationError for the password.
func (s *Service) redeem(ctx context.Context, userID, hash string, purpose Purpose, want kernel.Status, password string) (Aggregate, User, time.Time, error) {
	agg, err := s.store.Aggregate(ctx, userID)
	if errors.Is(err, kernel.ErrNotFound) {
		return Aggregate{}, User{}, time.Time{}, ErrInvalidToken
	}
	if err != nil {
		return Aggregate{}, User{}, time.Time{}, err
	}
	now := s.now().UTC()
	if _, ok := findToken(agg, purpose, hash, now); !ok || agg.User.Status != want {
		return Aggregate{}, User{}, time.Time{}, ErrInvalidToken
	}
	u := agg.User
	if err := s.checkPassword("password", password, u); err != nil {
		return Aggregate{}, User{}, time.Time{}, err
	}
	if u.PasswordHash, err = s.hashNew(ctx, "password", password); err != nil {
		return Aggregate{}, User{}, time.Time{}, err
	}
	return agg, u, now, nil
}

// AcceptInvitation is the person's first sign-in (P2): they set their own
// password through the single-use link, accept the privacy notice (its
// version is recorded) and get a session. Role, organisation and email come
// from the stored account, never from the request. ErrInvalidToken for a
// used, replaced, expired or unknown link.
func (s *Service) AcceptInvitation(ctx context.Context, token, password string, acceptPrivacyNotice bool, m kernel.Meta) (SignIn, error) {
	if !acceptPrivacyNotice {
		v := &kernel.ValidationError{}
		v.Add("acceptPrivacyNotice", "required", "the privacy notice must be accepted")
		return SignIn{}, v
	}
	userID, hash, ok := parseToken(token)
	if !ok {
		return SignIn{}, ErrInvalidToken
	}
	var result SignIn
	err := retryConflicts(func() error {
		agg, u, now, err := s.redeem(ctx, userID, hash, PurposeInvitation, kernel.StatusInvited, password)
		if err != nil {
			return err
		}
		u.Status = kernel.StatusActive
		u.ActivatedAt = now
		u.LastActiveAt = now
		u.PrivacyNoticeVersion = s.opts.PrivacyNoticeVersion
		u.PrivacyNoticeAcceptedAt = now
		ch := Change{UserID: u.ID, User: &u, DeleteTokens: tokensOf(agg, PurposeInvitation)}
		// A role that requires a second factor gets an enrol-only session:
		// the password alone opens nothing else.
		enrolOnly := s.FactorRequired(u.Role) && len(confirmedFactors(agg)) == 0
		tok, sess, err := s.newSessionOf(agg, u, &ch, enrolOnly)
		if err != nil {
			return err
		}
		ch.Events = []audit.Event{s.event(audit.ActionInvitationAccepted, u.ID, u, m)}
		// Settled at once: the directory shows them active; an admin joins
		// the registry.
		if err := s.applySettled(ctx, agg, ch); err != nil {
			return err
		}
		result = SignIn{Token: tok, ExpiresAt: sess.ExpiresAt, User: u, EnrolOnly: enrolOnly}
		return nil
	})
	return result, err
}

// proveCurrentPassword checks the signed-in caller's password for a
// change that asks for it again: ErrWrongPassword when it is wrong
// (counted towards the lockout, like a failed sign-in) and while the
// account is locked: a stolen session must not be a way round the
// lockout to guess it.
func (s *Service) proveCurrentPassword(ctx context.Context, u User, password string, now time.Time, m kernel.Meta) error {
	if lockedAt(u, now) {
		s.hasher.VerifyDummy(ctx, password)
		return ErrWrongPassword
	}
	ok, _, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil && !errors.Is(err, passwords.ErrTooLong) {
		return err
	}
	if !ok {
		if err := s.recordFailedSignIn(ctx, u, m); !errors.Is(err, ErrInvalidCredentials) {
			return err
		}
		return ErrWrongPassword
	}
	return nil
}

// ChangePassword sets a new password for the signed-in caller, who must
// give the current one. Other sessions end; this one stays. The person is
// emailed a notice. ErrWrongPassword when the current password is wrong
// (counted towards the lockout, like a failed sign-in) and while the
// account is locked.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, m kernel.Meta) error {
	return retryConflicts(func() error {
		agg, err := s.store.Aggregate(ctx, p.Actor.ID)
		if err != nil {
			return err
		}
		u := agg.User
		now := s.now().UTC()
		if err := s.proveCurrentPassword(ctx, u, current, now, m); err != nil {
			return err
		}
		if err := s.checkPassword("newPassword", next, u); err != nil {
			return err
		}
		if u.PasswordHash, err = s.hashNew(ctx, "newPassword", next); err != nil {
			return err
		}
		// Knowing the current password ends the escalation, as a
		// successful sign-in does.
		events := s.clearLockout(&u, now, m)
		ch := Change{UserID: u.ID, User: &u}
		for _, sess := range agg.Sessions {
			if sess.Hash != p.SessionHash {
				ch.DeleteSessions = append(ch.DeleteSessions, sess)
			}
		}
		ev := s.event(audit.ActionPasswordChanged, u.ID, u, m)
		ev.Fields = []string{"password"}
		ch.Events = append(events, ev)
		ch.Notifications = []notify.Message{s.notification(notify.KindPasswordChanged, u)}
		return s.apply(ctx, ch)
	})
}

// RequestPasswordReset queues a reset email when the email belongs to an
// active account, and does nothing visible otherwise: the caller always
// gets the same answer. It does not change the account. At most
// resetRequestsPerHour emails go out per account and hour. Callers should
// run it detached from the request so its duration reveals nothing either.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, m kernel.Meta) error {
	if _, ok := CanonicalEmail(email); !ok {
		return nil
	}
	userID, err := s.userIDByEmail(ctx, email)
	if errors.Is(err, kernel.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	agg, err := s.store.Aggregate(ctx, userID)
	if errors.Is(err, kernel.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	u := agg.User
	if u.Status != kernel.StatusActive {
		return nil
	}
	now := s.now().UTC()
	limit := agg.ResetLimit
	if now.Sub(limit.WindowStart) >= time.Hour {
		limit.WindowStart, limit.Count = now, 0
	}
	if limit.Count >= resetRequestsPerHour {
		return nil
	}
	limit.UserID = u.ID
	limit.Count++
	n := s.notification(notify.KindPasswordReset, u)
	ch := Change{
		UserID:        u.ID,
		ResetLimit:    &limit,
		Events:        []audit.Event{s.event(audit.ActionPasswordResetRequest, "", u, m)},
		Notifications: []notify.Message{n},
	}
	s.queueLink(&ch, u, n)
	return s.apply(ctx, ch)
}

// CompletePasswordReset sets a new password through a reset link. It ends
// every session, clears the lockout, does not sign the person in, and
// emails a notice. ErrInvalidToken for a used, expired or unknown link.
func (s *Service) CompletePasswordReset(ctx context.Context, token, password string, m kernel.Meta) error {
	userID, hash, ok := parseToken(token)
	if !ok {
		return ErrInvalidToken
	}
	return retryConflicts(func() error {
		agg, u, _, err := s.redeem(ctx, userID, hash, PurposePasswordReset, kernel.StatusActive, password)
		if err != nil {
			return err
		}
		// REC-4: every lock ends, the one until a reset included.
		unlocked := s.resetLockout(&u, s.now().UTC(), m)
		ev := s.event(audit.ActionPasswordResetDone, u.ID, u, m)
		ev.Fields = []string{"password"}
		return s.apply(ctx, Change{
			UserID:         u.ID,
			User:           &u,
			DeleteSessions: agg.Sessions,
			DeleteTokens:   tokensOf(agg, PurposePasswordReset),
			Events:         append(unlocked, ev),
			Notifications:  []notify.Message{s.notification(notify.KindPasswordChanged, u)},
		})
	})
}

// IssueLinkToken mints the link token for an invitation or reset email at
// the moment it is sent, so the raw token exists only in that email. Older
// tokens of the same purpose die with it (a re-sent invitation kills the
// old link), and the minting is recorded in the audit trail (ids only).
// ErrNotFound when the account is gone or no longer in the state the link
// serves, so the email should not be sent.
func (s *Service) IssueLinkToken(ctx context.Context, userID string, purpose Purpose) (string, time.Duration, error) {
	agg, err := s.store.Aggregate(ctx, userID)
	if errors.Is(err, ErrErased) {
		return "", 0, kernel.ErrNotFound
	}
	if err != nil {
		return "", 0, err
	}
	return s.mintLink(ctx, agg, purpose, "")
}

// mintLink mints a link token for an account read as agg. requestID ties
// the audit event to what asked for it.
func (s *Service) mintLink(ctx context.Context, agg Aggregate, purpose Purpose, requestID string) (string, time.Duration, error) {
	want := kernel.StatusInvited
	if purpose == PurposePasswordReset {
		want = kernel.StatusActive
	}
	if agg.User.Status != want || !agg.User.ErasingSince.IsZero() || agg.User.InvitedElsewhere {
		return "", 0, kernel.ErrNotFound
	}
	token, ttl, tok, err := s.newLink(agg.User, purpose, s.now().UTC())
	if err != nil {
		return "", 0, err
	}
	ch := Change{
		UserID:       agg.User.ID,
		PutTokens:    []Token{tok},
		DeleteTokens: tokensOf(agg, purpose),
		Events:       []audit.Event{s.linkIssued(agg.User, purpose, requestID)},
	}
	if err := s.apply(ctx, ch); err != nil {
		return "", 0, err
	}
	return token, ttl, nil
}

// newLink makes a link token of purpose for u: the token for the email,
// how long it is valid, and the row that stores its hash.
func (s *Service) newLink(u User, purpose Purpose, now time.Time) (string, time.Duration, Token, error) {
	ttl := s.opts.InvitationTTL
	if purpose == PurposePasswordReset {
		ttl = s.opts.PasswordResetTTL
	}
	token, hash, err := newToken(u.ID)
	if err != nil {
		return "", 0, Token{}, err
	}
	return token, ttl, Token{UserID: u.ID, Purpose: purpose, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}, nil
}
