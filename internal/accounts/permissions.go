package accounts

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
// single source of truth; the service checks it, and the generated
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
	// EndUserSessions).
	PermEndSessions: {RoleAdmin: ScopeAll, RolePrimaryUser: ScopeOwnOrg, RoleEditor: ScopeSelf, RoleExpert: ScopeSelf},
}

// RolesPrimaryUserGrants are the roles a primary user may give or take
// away: never admin (P5).
var RolesPrimaryUserGrants = []Role{RolePrimaryUser, RoleEditor, RoleExpert}

// Allows reports whether actor may use perm on an account with id
// targetID in organisation targetOrg (targetID empty for actions on an
// organisation). Only active accounts have any permission.
func Allows(actor Actor, perm Permission, targetID, targetOrg string) bool {
	if actor.Status != StatusActive {
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

// grantable reports whether actor may give (or take away) role.
func grantable(actor Actor, role Role) bool {
	if actor.Role == RoleAdmin {
		return true
	}
	if actor.Role != RolePrimaryUser {
		return false
	}
	for _, r := range RolesPrimaryUserGrants {
		if r == role {
			return true
		}
	}
	return false
}
