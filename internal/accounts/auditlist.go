package accounts

import (
	"context"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// ListAuditEvents lists audit events for admins (all) and primary users
// (their organisation's only; asking for another is ErrForbidden).
func (s *Service) ListAuditEvents(ctx context.Context, actor kernel.Actor, q audit.Query) (audit.Page, error) {
	switch {
	case kernel.Allows(actor, kernel.PermSeeAuditEvents, "", q.OrganizationID) && q.OrganizationID != "":
	case kernel.Matrix[kernel.PermSeeAuditEvents][actor.Role] == kernel.ScopeAll && actor.Status == kernel.StatusActive:
	case kernel.Matrix[kernel.PermSeeAuditEvents][actor.Role] == kernel.ScopeOwnOrg && actor.Status == kernel.StatusActive && q.OrganizationID == "":
		q.OrganizationID = actor.OrganizationID
	default:
		return audit.Page{}, kernel.ErrForbidden
	}
	q.Now = s.now() // the service's clock, not the store's
	return s.store.Events(ctx, q)
}
