package handlers

import (
	"net/http"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// auditJSON is an audit event as the admin views read it: ids, the
// action, field names, never a person's name or email (P9).
type auditJSON struct {
	ID             string    `json:"id"`
	At             time.Time `json:"at"`
	Action         string    `json:"action"`
	ActorID        string    `json:"actorId,omitempty"`
	SubjectID      string    `json:"subjectId,omitempty"`
	OrganizationID string    `json:"organizationId,omitempty"`
	Fields         []string  `json:"fields,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	RequestID      string    `json:"requestId,omitempty"`
	Shard          string    `json:"shard,omitempty"`
	Seq            int64     `json:"seq"`
	PrevHash       string    `json:"prevHash"`
	Hash           string    `json:"hash"`
}

func toAuditJSON(e audit.Event) auditJSON {
	return auditJSON{ID: e.ID, At: e.At, Action: string(e.Action), ActorID: e.ActorID, SubjectID: e.SubjectID,
		OrganizationID: e.OrganizationID, Fields: e.Fields, Reason: e.Reason, RequestID: e.RequestID, Shard: e.Shard,
		Seq: e.Seq, PrevHash: e.PrevHash, Hash: e.Hash}
}

type auditListJSON struct {
	Items      []auditJSON `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

func (s *server) handleListAuditEvents() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		v := &kernel.ValidationError{}
		knownQuery(v, q, "organizationId", "actorId", "subjectId", "from", "to", "limit", "cursor")
		aq := audit.Query{
			OrganizationID: q.Get("organizationId"), ActorID: q.Get("actorId"), SubjectID: q.Get("subjectId"),
			From: queryTime(v, q, "from"), To: queryTime(v, q, "to"), Limit: queryLimit(v, q), Cursor: q.Get("cursor"),
		}
		for _, id := range []struct{ name, value string }{{"organizationId", aq.OrganizationID}, {"actorId", aq.ActorID}, {"subjectId", aq.SubjectID}} {
			if id.value != "" && !accounts.ValidID(id.value) {
				v.Fields = append(v.Fields, kernel.FieldError{Field: id.name, Code: "invalid_id"})
			}
		}
		if len(v.Fields) > 0 {
			return v
		}
		page, err := s.accounts.ListAuditEvents(r.Context(), principal(r.Context()).Actor, aq)
		if err != nil {
			return err
		}
		out := auditListJSON{Items: make([]auditJSON, 0, len(page.Events)), NextCursor: page.Next}
		for _, e := range page.Events {
			out.Items = append(out.Items, toAuditJSON(e))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}
