package accounts

import (
	"context"
	"errors"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// InviteInput is what an inviter gives about a new person.
type InviteInput struct {
	Email          string
	FirstName      string
	LastName       string
	OrganizationID string
	Role           kernel.Role
	Locale         string

	// namesOptional lets ops bootstrap the first admin by email alone; the
	// admin adds their names through PATCH /api/me.
	namesOptional bool
}

// validate checks and cleans an invitation; every problem is reported.
func (in InviteInput) validate() (InviteInput, error) {
	v := &kernel.ValidationError{}
	email, err := ParseEmail(in.Email)
	var refused *EmailError
	if errors.As(err, &refused) {
		v.Add("email", refused.Code, "")
	}
	in.Email = email.Display
	in.FirstName = cleanName(v, "firstName", in.FirstName, !in.namesOptional)
	in.LastName = cleanName(v, "lastName", in.LastName, !in.namesOptional)
	if !validID(in.OrganizationID) {
		v.Add("organizationId", "invalid_id", "")
	}
	if !in.Role.Valid() {
		v.Add("role", "invalid_role", "")
	}
	if in.Locale == "" {
		in.Locale = Locales[0]
	}
	if !validLocale(in.Locale) {
		v.Add("locale", "invalid_locale", "")
	}
	return in, v.Err()
}

// Invite creates an account in state invited and queues its invitation
// email (P3); the person sets their own password through it (P2). actorID
// is the inviter, empty when ops bootstrap the first admin. Permission to
// invite is the caller's to check. ErrEmailTaken when the email belongs to
// another account; *ValidationError for bad input.
func (s *Service) Invite(ctx context.Context, actorID string, in InviteInput, m kernel.Meta) (User, error) {
	in, err := in.validate()
	if err != nil {
		return User{}, err
	}
	if err := s.legacyClaimTaken(ctx, in.Email); err != nil {
		return User{}, err
	}
	now := s.now().UTC()
	u := User{
		ID:             s.newID(),
		Email:          in.Email,
		FirstName:      in.FirstName,
		LastName:       in.LastName,
		OrganizationID: in.OrganizationID,
		Role:           in.Role,
		Status:         kernel.StatusInvited,
		Locale:         in.Locale,
		CreatedAt:      now,
		InvitedAt:      now,
		NeverAdmin:     in.Role != kernel.RoleAdmin,
	}
	ev := s.event(audit.ActionInvitationCreated, actorID, u, m)
	ev.Fields = []string{"email", "firstName", "lastName", "organizationId", "role", "locale"}
	n := s.notification(notify.KindInvitation, u)
	ch := Change{
		UserID:        u.ID,
		Events:        []audit.Event{ev},
		Notifications: []notify.Message{n},
	}
	s.queueLink(&ch, u, n)
	ch.FirstDue = s.PlanFor(Aggregate{User: u}, now).Due()
	if err := s.store.CreateUser(ctx, u, ch); err != nil {
		return User{}, err
	}
	// The store wrote the directory entry and leaves its check and the
	// lifecycle filing to the relay's delivery: nothing else to settle.
	s.relay.Settling(relay.Account(u.ID))()
	return u, nil
}

// BootstrapAdmin invites the first administrator into the service
// administration organisation. It refuses with ErrAdminExists once any
// admin is active. Run again for the same email while that admin is still
// invited, it re-sends the invitation (a new link; the old one dies) — the
// way out when the first email was lost.
func (s *Service) BootstrapAdmin(ctx context.Context, in InviteInput, m kernel.Meta) (User, error) {
	admins, _, err := s.store.ActiveAdmins(ctx)
	if err != nil {
		return User{}, err
	}
	if len(admins) > 0 {
		return User{}, ErrAdminExists
	}
	in.Role = kernel.RoleAdmin
	in.namesOptional = true
	u, err := s.Invite(ctx, "", in, m)
	if !errors.Is(err, ErrEmailTaken) {
		return u, err
	}
	id, err := s.userIDByEmail(ctx, in.Email)
	if err != nil {
		return User{}, err
	}
	agg, err := s.store.Aggregate(ctx, id)
	if err != nil {
		return User{}, err
	}
	if agg.User.Status != kernel.StatusInvited || agg.User.Role != kernel.RoleAdmin {
		return User{}, ErrEmailTaken
	}
	u = agg.User
	u.InvitedAt = s.now().UTC() // a new link starts a new expiry
	ev := s.event(audit.ActionInvitationCreated, "", u, m)
	ev.Reason = "resent"
	n := s.notification(notify.KindInvitation, u)
	ch := Change{
		UserID:        id,
		User:          &u,
		Events:        []audit.Event{ev},
		Notifications: []notify.Message{n},
	}
	s.queueLink(&ch, u, n)
	err = s.applySettled(ctx, agg, ch)
	return u, err
}
