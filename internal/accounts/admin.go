package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// Reasons an account was closed.
const (
	ClosedRemoved    = "removed"    // by an admin or primary user (P4)
	ClosedSelf       = "self"       // the person's own erasure request (P14)
	ClosedInactivity = "inactivity" // by the lifecycle rules (P6)
)

// visible reads an account and checks the actor may see it. Anything the
// actor may not see is ErrNotFound, exactly like an id that does not exist
// (P10: no enumeration).
func (s *Service) visible(ctx context.Context, actor kernel.Actor, id string) (Aggregate, error) {
	if !validID(id) {
		return Aggregate{}, kernel.ErrNotFound
	}
	agg, err := s.store.Aggregate(ctx, id)
	if err != nil {
		return Aggregate{}, err
	}
	if !kernel.Allows(actor, kernel.PermSeeUsers, agg.User.ID, agg.User.OrganizationID) {
		return Aggregate{}, kernel.ErrNotFound
	}
	return agg, nil
}

// GetUser returns an account the actor may see, read with one point read
// of the account alone (visible reads all that is stored beside it, which
// a read does not need). ErrNotFound otherwise, as visible answers.
func (s *Service) GetUser(ctx context.Context, actor kernel.Actor, id string) (User, error) {
	if !validID(id) {
		return User{}, kernel.ErrNotFound
	}
	u, err := s.store.User(ctx, id)
	if err != nil {
		return User{}, err
	}
	if !kernel.Allows(actor, kernel.PermSeeUsers, u.ID, u.OrganizationID) {
		return User{}, kernel.ErrNotFound
	}
	return u, nil
}

// InviteAs is an invitation by a signed-in person (P3): admins into any
// organisation with any role, primary users into their own organisation
// as primary_user, editor or expert. ErrForbidden otherwise.
//
// An email that already has an account is ErrEmailTaken only when the
// actor may see that account. Otherwise the actor gets a real invitation
// record that behaves like any other until it expires (it is listed, read,
// edited, re-sent, closed), so no answer and no later read tells the two
// cases apart (P10). It holds no claim on the address and is never mailed
// a link: the person who has the account is told instead that another
// organisation wants them, and an admin can move them (see
// User.InvitedElsewhere).
func (s *Service) InviteAs(ctx context.Context, actor kernel.Actor, in InviteInput, m kernel.Meta) (User, error) {
	in, err := in.validate()
	if err != nil {
		return User{}, err
	}
	if !kernel.Allows(actor, kernel.PermInvite, "", in.OrganizationID) || !grantable(actor, in.Role) {
		return User{}, kernel.ErrForbidden
	}
	if err := s.checkOrganization(ctx, in.OrganizationID); err != nil {
		return User{}, err
	}
	u, err := s.Invite(ctx, actor.ID, in, m)
	if !errors.Is(err, ErrEmailTaken) {
		return u, err
	}
	existingID, err := s.userIDByEmail(ctx, in.Email)
	if err != nil {
		if errors.Is(err, kernel.ErrNotFound) {
			return User{}, ErrEmailTaken // released in between: as if taken
		}
		return User{}, err
	}
	existing, err := s.store.User(ctx, existingID) // one point read: only its organisation matters
	if err != nil && !errors.Is(err, kernel.ErrNotFound) {
		return User{}, err
	}
	if err == nil && kernel.Allows(actor, kernel.PermSeeUsers, existing.ID, existing.OrganizationID) {
		return User{}, ErrEmailTaken
	}
	return s.inviteElsewhere(ctx, actor.ID, in, existingID, m)
}

// inviteElsewhere records an invitation for an address whose account the
// inviter may not see, and tells that account's owner by email. A second
// such invitation in the same organisation is ErrEmailTaken, as a second
// invitation of any address is.
func (s *Service) inviteElsewhere(ctx context.Context, actorID string, in InviteInput, ownerID string, m kernel.Meta) (User, error) {
	now := s.now().UTC()
	u := User{
		ID: s.newID(), Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
		OrganizationID: in.OrganizationID, Role: in.Role, Status: kernel.StatusInvited, Locale: in.Locale,
		CreatedAt: now, InvitedAt: now, InvitedElsewhere: true, NeverAdmin: in.Role != kernel.RoleAdmin,
	}
	ev := s.event(audit.ActionInvitationCreated, actorID, u, m)
	ev.Fields = []string{"email", "firstName", "lastName", "organizationId", "role", "locale"}
	ch := Change{UserID: u.ID, Events: []audit.Event{ev}, Notifications: []notify.Message{s.elsewhereNotice(ownerID, u)}}
	ch.FirstDue = s.PlanFor(Aggregate{User: u}, now).Due()
	if err := s.store.CreateUser(ctx, u, ch); err != nil {
		return User{}, err
	}
	s.relay.Settling(relay.Account(u.ID))() // as for Invite
	return u, nil
}

// elsewhereNotice is the email to an account's owner that organisation
// u.OrganizationID invited their address.
func (s *Service) elsewhereNotice(ownerID string, u User) notify.Message {
	msg := s.notification(notify.KindInvitedElsewhere, User{ID: ownerID})
	msg.OrganizationID = u.OrganizationID
	return msg
}

func (s *Service) checkOrganization(ctx context.Context, id string) error {
	ok, err := s.store.OrganizationExists(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		v := &kernel.ValidationError{}
		v.Add("organizationId", "unknown_organization", "")
		return v
	}
	return nil
}

// UserPatch is what may change about someone else's account. Nil fields
// stay as they are.
type UserPatch struct {
	FirstName      *string
	LastName       *string
	Role           *kernel.Role
	OrganizationID *string
}

// UpdateUser changes names, role or home organisation under the
// permission matrix: nobody changes their own role, a primary user never
// grants or removes admin, only admins move people between organisations,
// and the last active admin cannot be demoted (ErrLastAdmin). A role or
// organisation change ends the person's sessions and emails them (P5).
// ifMatch is the ETag the caller saw (ErrPreconditionFailed when it moved
// on). ErrNotFound outside what the actor may see, ErrForbidden for what
// the matrix refuses, *ValidationError for bad input.
func (s *Service) UpdateUser(ctx context.Context, actor kernel.Actor, id string, patch UserPatch, ifMatch string, m kernel.Meta) (User, error) {
	var result User
	err := retryConflicts(func() error {
		agg, err := s.visible(ctx, actor, id)
		if err != nil {
			return err
		}
		before := agg.User
		if ifMatch != "" && ifMatch != kernel.PublicETag(before.ETag) {
			return kernel.ErrPreconditionFailed
		}
		if before.Status == kernel.StatusClosed {
			return ErrClosed // restore it first; a closed account waits for erasure as it was
		}
		u, fields, err := s.applyPatch(ctx, actor, before, patch)
		if err != nil || len(fields) == 0 {
			result = before
			return err
		}
		if before.InvitedElsewhere && u.OrganizationID != before.OrganizationID {
			// Only admins move people, and they see the account the
			// address belongs to: that account is the one to move.
			v := &kernel.ValidationError{}
			v.Add("organizationId", "invited_elsewhere", "this invitation's address has an account in another organisation; move that account instead")
			return v
		}
		accessChanged := u.Role != before.Role || u.OrganizationID != before.OrganizationID
		ch := Change{UserID: u.ID, User: &u}
		if accessChanged {
			ch.DeleteSessions = agg.Sessions
			msg := s.notification(notify.KindAccessChanged, u)
			msg.Role, msg.OrganizationID = string(u.Role), u.OrganizationID
			ch.Notifications = []notify.Message{msg}
		}
		ev := s.event(audit.ActionUserUpdated, actor.ID, u, m)
		ev.Fields = fields
		ch.Events = []audit.Event{ev}
		if u.OrganizationID != before.OrganizationID {
			// The organisation it left sees the move in its own trail too.
			left := s.event(audit.ActionUserMovedOut, actor.ID, before, m)
			left.Fields = []string{"organizationId"}
			ch.Events = append(ch.Events, left)
		}

		demoted := before.Role == kernel.RoleAdmin && u.Role != kernel.RoleAdmin && before.Status == kernel.StatusActive
		if err := s.applyLosingAdmin(ctx, agg, ch, demoted); err != nil { // settle joins a new admin to the registry
			return err
		}
		fresh, err := s.store.Aggregate(ctx, u.ID)
		if err != nil {
			return err
		}
		result = fresh.User
		return nil
	})
	if errors.Is(err, kernel.ErrConflict) && ifMatch != "" {
		return User{}, kernel.ErrPreconditionFailed
	}
	return result, err
}

// applyPatch checks each requested change against the matrix and returns
// the changed account and the names of the fields that changed.
func (s *Service) applyPatch(ctx context.Context, actor kernel.Actor, u User, patch UserPatch) (User, []string, error) {
	v := &kernel.ValidationError{}
	var fields []string
	if patch.FirstName != nil || patch.LastName != nil {
		if !kernel.Allows(actor, kernel.PermEditName, u.ID, u.OrganizationID) || (actor.ID != u.ID && !grantable(actor, u.Role)) {
			return User{}, nil, kernel.ErrForbidden
		}
		fields = applyNames(v, &u, patch.FirstName, patch.LastName)
	}
	if patch.Role != nil && *patch.Role != u.Role {
		switch {
		case !patch.Role.Valid():
			v.Add("role", "invalid_role", "")
		case actor.ID == u.ID,
			!kernel.Allows(actor, kernel.PermChangeRole, u.ID, u.OrganizationID),
			!grantable(actor, *patch.Role), !grantable(actor, u.Role):
			return User{}, nil, kernel.ErrForbidden
		default:
			u.Role = *patch.Role
			fields = append(fields, "role")
		}
	}
	if patch.OrganizationID != nil && *patch.OrganizationID != u.OrganizationID {
		if !kernel.Allows(actor, kernel.PermMove, u.ID, u.OrganizationID) {
			return User{}, nil, kernel.ErrForbidden
		}
		if !validID(*patch.OrganizationID) {
			v.Add("organizationId", "invalid_id", "")
		} else if err := s.checkOrganization(ctx, *patch.OrganizationID); err != nil {
			return User{}, nil, err
		} else {
			u.OrganizationID = *patch.OrganizationID
			fields = append(fields, "organizationId")
		}
	}
	if err := v.Err(); err != nil {
		return User{}, nil, err
	}
	return u, fields, nil
}

// CloseUser closes an account (P4): reason removed, or self when the actor
// closes their own (the erasure request, P14). Sessions and link tokens
// end at once, the person is emailed when the data will be erased, and the
// account can be restored until then (P8). Closing a closed account
// changes nothing. ErrLastAdmin for the last active admin.
func (s *Service) CloseUser(ctx context.Context, actor kernel.Actor, id string, m kernel.Meta) error {
	return retryConflicts(func() error {
		agg, err := s.visible(ctx, actor, id)
		if err != nil {
			return err
		}
		u := agg.User
		// Closing an admin removes an admin, which only admins may do (P5).
		if !kernel.Allows(actor, kernel.PermClose, u.ID, u.OrganizationID) || (actor.ID != u.ID && !grantable(actor, u.Role)) {
			return kernel.ErrForbidden
		}
		if u.Status == kernel.StatusClosed {
			return nil
		}
		reason := ClosedRemoved
		if actor.ID == u.ID {
			reason = ClosedSelf
		}
		return s.close(ctx, agg, actor.ID, reason, m)
	})
}

// close commits the closing of an account; shared by removal, the
// person's own request and the lifecycle rules.
func (s *Service) close(ctx context.Context, agg Aggregate, actorID, reason string, m kernel.Meta) error {
	before := agg.User
	u := before
	now := s.now().UTC()
	u.Status, u.ClosedAt, u.ClosedReason = kernel.StatusClosed, now, reason
	// A lock until a password reset outlives closing and restoring: only a
	// reset ends it.
	u.FailedSignIns, u.FailureTimes, u.Lockouts, u.LockedUntil = 0, nil, 0, time.Time{}
	ev := s.event(audit.ActionUserClosed, actorID, u, m)
	ev.Reason = reason
	msg := s.notification(notify.KindAccountClosed, u)
	msg.DueAt = s.ErasureDueAt(u)
	ch := Change{UserID: u.ID, User: &u, DeleteSessions: agg.Sessions, DeleteTokens: agg.Tokens,
		Events: []audit.Event{ev}, Notifications: []notify.Message{msg}}
	wasAdmin := before.Role == kernel.RoleAdmin && before.Status == kernel.StatusActive
	return s.applyLosingAdmin(ctx, agg, ch, wasAdmin)
}

// CloseSelf is the signed-in person's erasure request (P14, DELETE /me).
func (s *Service) CloseSelf(ctx context.Context, p Principal, m kernel.Meta) error {
	return s.CloseUser(ctx, p.Actor, p.Actor.ID, m)
}

// RestoreUser reopens a closed account within the restore window (P8):
// admins only, no new password needed. ErrNotClosed for an account that
// is not closed, ErrRestoreWindow once the window has passed (the data is
// due for erasure and a new account must be created).
func (s *Service) RestoreUser(ctx context.Context, actor kernel.Actor, id string, m kernel.Meta) (User, error) {
	var result User
	err := retryConflicts(func() error {
		agg, err := s.visible(ctx, actor, id)
		if errors.Is(err, ErrErased) && kernel.Matrix[kernel.PermRestore][actor.Role] == kernel.ScopeAll && actor.Status == kernel.StatusActive {
			return ErrRestoreWindow // erased (P7): a new account must be created (P8)
		}
		if err != nil {
			return err
		}
		u := agg.User
		if !kernel.Allows(actor, kernel.PermRestore, u.ID, u.OrganizationID) {
			return kernel.ErrForbidden
		}
		if !u.ErasingSince.IsZero() {
			return ErrRestoreWindow
		}
		if u.Status != kernel.StatusClosed {
			return ErrNotClosed
		}
		now := s.now().UTC()
		if !now.Before(s.ErasureDueAt(u)) {
			return ErrRestoreWindow
		}
		u.Status = kernel.StatusActive
		if u.ActivatedAt.IsZero() {
			u.Status = kernel.StatusInvited // never set a password: a new invitation is needed
			u.InvitedAt = now               // and its new link starts a new expiry
		}
		u.ClosedAt, u.ClosedReason = time.Time{}, ""
		// Restoring starts the inactivity clock again; otherwise an account
		// closed for inactivity would be closed again at the next sweep.
		u.LastActiveAt = now
		ch := Change{UserID: u.ID, User: &u,
			Events:        []audit.Event{s.event(audit.ActionUserRestored, actor.ID, u, m)},
			Notifications: []notify.Message{s.notification(notify.KindAccountRestored, u)}}
		if u.Status == kernel.StatusInvited {
			n := s.notification(notify.KindInvitation, u)
			ch.Notifications = append(ch.Notifications, n)
			s.queueLink(&ch, u, n)
		}
		if err := s.applySettled(ctx, agg, ch); err != nil { // settle joins a restored admin to the registry
			return err
		}
		fresh, err := s.store.Aggregate(ctx, u.ID)
		result = fresh.User
		return err
	})
	return result, err
}

// ResendInvitation sends a new invitation link; the old link dies when the
// new one is minted. ErrNotInvited for an account that is not waiting for
// its first sign-in.
func (s *Service) ResendInvitation(ctx context.Context, actor kernel.Actor, id string, m kernel.Meta) error {
	agg, err := s.visible(ctx, actor, id)
	if err != nil {
		return err
	}
	u := agg.User
	if !kernel.Allows(actor, kernel.PermResendInvite, u.ID, u.OrganizationID) || !grantable(actor, u.Role) {
		return kernel.ErrForbidden
	}
	if u.Status != kernel.StatusInvited {
		return ErrNotInvited
	}
	ev := s.event(audit.ActionInvitationCreated, actor.ID, u, m)
	ev.Reason = "resent"
	// A new invitation starts a new expiry, and with it a new erasure date
	// for an invitation never accepted.
	u.InvitedAt = s.now().UTC()
	notice := s.notification(notify.KindInvitation, u)
	if u.InvitedElsewhere {
		// Answered like any re-send; the account's owner, if the address
		// still has one, is told again instead.
		ownerID, err := s.userIDByEmail(ctx, u.Email)
		if err != nil && !errors.Is(err, kernel.ErrNotFound) {
			return err
		}
		notice = s.elsewhereNotice(ownerID, u)
		if ownerID == "" {
			notice.UserID = u.ID // nobody to tell: the consumer skips it
		}
	}
	ch := Change{UserID: u.ID, User: &u, Events: []audit.Event{ev}, Notifications: []notify.Message{notice}}
	s.queueLink(&ch, u, notice)
	return s.applySettled(ctx, agg, ch)
}
