package accounts

import "github.com/palvelumanuaali/useradmin/internal/kernel"

// The permission matrix is kernel.Matrix; which roles a caller may hand out
// is the accounts' own rule.

// RolesPrimaryUserGrants are the roles a primary user may give or take
// away: never admin (P5).
var RolesPrimaryUserGrants = []kernel.Role{kernel.RolePrimaryUser, kernel.RoleEditor, kernel.RoleExpert}

// grantable reports whether actor may give (or take away) role.
func grantable(actor kernel.Actor, role kernel.Role) bool {
	if actor.Role == kernel.RoleAdmin {
		return true
	}
	if actor.Role != kernel.RolePrimaryUser {
		return false
	}
	for _, r := range RolesPrimaryUserGrants {
		if r == role {
			return true
		}
	}
	return false
}
