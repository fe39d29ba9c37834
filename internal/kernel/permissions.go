package kernel

// Role determines what a person may see and do (P5).
type Role string

// The roles.
const (
	RoleAdmin       Role = "admin"
	RolePrimaryUser Role = "primary_user"
	RoleEditor      Role = "editor"
	RoleExpert      Role = "expert"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RolePrimaryUser, RoleEditor, RoleExpert:
		return true
	}
	return false
}

// Status is where an account is in its life.
type Status string

// The account states.
const (
	StatusInvited Status = "invited"
	StatusActive  Status = "active"
	StatusClosed  Status = "closed"
)

// Actor is what authorization knows about a caller: their account's id,
// role, organisation and status, and nothing else (no name, no email:
// audit events name the actor by id).
//
// EnrolOnly marks a caller whose session was made by a password alone,
// whose role requires a second factor they have not added: they have no
// permission at all until they add one (Allows).
type Actor struct {
	ID             string
	OrganizationID string
	Role           Role
	Status         Status
	EnrolOnly      bool
}

// Permission is one row of the permission matrix (DESIGN §4).
type Permission string

// The rows of the matrix.
const (
	PermSeeUsers        Permission = "see_users"
	PermInvite          Permission = "invite"
	PermChangeRole      Permission = "change_role"
	PermMove            Permission = "move_organization"
	PermEditName        Permission = "edit_name"
	PermClose           Permission = "close"
	PermRestore         Permission = "restore"
	PermResendInvite    Permission = "resend_invitation"
	PermManageOrgs      Permission = "organizations_create_delete"
	PermEditOrg         Permission = "organization_edit"
	PermSeeAuditEvents  Permission = "audit_events"
	PermSeeOrganization Permission = "see_organization"
	PermEndSessions     Permission = "end_sessions"
	PermResetFactors    Permission = "reset_second_factor"
)

// Scope is how far a permission reaches.
type Scope int

// The scopes, narrowest first.
const (
	ScopeNone   Scope = iota // not at all
	ScopeSelf                // only the caller's own account
	ScopeOwnOrg              // accounts (or the organisation) of the caller's home organisation
	ScopeAll                 // everyone
)

// Matrix is the permission matrix: role × permission → scope. It is the
// single source of truth; the domain services check it, and the generated
// authorization test walks it.
var Matrix = map[Permission]map[Role]Scope{
	PermSeeUsers:        {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg, RoleEditor: ScopeSelf, RoleExpert: ScopeSelf},
	PermInvite:          {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg},
	PermChangeRole:      {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg},
	PermMove:            {RoleAdmin: ScopeAll},
	PermEditName:        {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg, RoleEditor: ScopeSelf, RoleExpert: ScopeSelf},
	PermClose:           {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg, RoleEditor: ScopeSelf, RoleExpert: ScopeSelf},
	PermRestore:         {RoleAdmin: ScopeAll},
	PermResendInvite:    {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg},
	PermManageOrgs:      {RoleAdmin: ScopeAll},
	PermEditOrg:         {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg},
	PermSeeAuditEvents:  {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg},
	PermSeeOrganization: {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg, RoleEditor: ScopeOwnOrg, RoleExpert: ScopeOwnOrg},
	// Ending all of a person's sessions (SESS-3): like closing, everyone may
	// do it to themselves; a primary user never to an admin (see
	// accounts.Service.EndUserSessions).
	PermEndSessions: {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg, RoleEditor: ScopeSelf, RoleExpert: ScopeSelf},
	// Removing all of a person's second factors and recovery codes, so they
	// enrol again at their next sign-in: never an admin's by a primary user
	// (see accounts.Service.ResetSecondFactor); people remove their own
	// factors through /api/me.
	PermResetFactors: {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg},
}

// Allows reports whether actor may use perm on an account with id
// targetID in organisation targetOrg (targetID empty for actions on an
// organisation). Only active accounts have any permission, and an
// enrol-only caller none.
func Allows(actor Actor, perm Permission, targetID, targetOrg string) bool {
	if actor.Status != StatusActive || actor.EnrolOnly {
		return false
	}
	switch Matrix[perm][actor.Role] {
	case ScopeAll:
		return true
	case ScopeOwnOrg:
		return targetOrg != "" && targetOrg == actor.OrganizationID
	case ScopeSelf:
		return targetID != "" && targetID == actor.ID
	}
	return false
}
