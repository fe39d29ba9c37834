package accounts

import (
	"context"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// Export is everything held about a person (P14), apart from their
// organisation, which the caller adds.
type Export struct {
	At       time.Time
	User     User
	Sessions []Session
	// Factors are the second factors (confirmed ones), without secrets;
	// RecoveryCodes how many unused recovery codes are held.
	Factors       []FactorInfo
	RecoveryCodes int
	Events        []audit.Event
}

// maxExportEvents bounds the audit events one export carries.
const maxExportEvents = 10_000

// ExportSelf gathers the signed-in person's data: their account, their
// sessions (times only) and every audit event where they are the actor or
// the subject.
func (s *Service) ExportSelf(ctx context.Context, p Principal) (Export, error) {
	agg, err := s.store.Aggregate(ctx, p.Actor.ID)
	if err != nil {
		return Export{}, err
	}
	out := Export{At: s.now().UTC(), User: agg.User, Sessions: agg.Sessions, RecoveryCodes: len(agg.RecoveryCodes)}
	for _, f := range confirmedFactors(agg) {
		out.Factors = append(out.Factors, infoOf(f))
	}
	q := audit.Query{UserID: p.Actor.ID, Limit: audit.MaxPageSize}
	for len(out.Events) < maxExportEvents {
		page, err := s.store.Events(ctx, q)
		if err != nil {
			return Export{}, err
		}
		out.Events = append(out.Events, page.Events...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return out, nil
}
