package tablestore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// Audit indexes (table "auditidx") hold a copy of each event under the
// other keys it is looked up by, newest first:
//
//	PK = "u|<user id>"    the person's trail: events where they act or are acted on
//	PK = "d|<yyyy-mm-dd>" every event of a UTC day, for the admins' unfiltered view
//	RK = <inverted time>|<event id>
//
// The chains in "audit" stay the tamper-evident record; the indexes are
// for reading and are rebuilt from it if ever in doubt.
const (
	idxUserPrefix = "u|"
	idxDayPrefix  = "d|"
)

func indexRowKey(at time.Time, id string) string {
	return fmt.Sprintf("%019d|%s", math.MaxInt64-at.UnixNano(), id)
}

// indexEvents writes the index copies of events just appended to a chain.
// Upserts: a retried append writes the same rows again.
func (s *Store) indexEvents(ctx context.Context, chain string, added []aztables.TransactionAction) error {
	byPartition := map[string][]aztables.TransactionAction{}
	for _, a := range added {
		var e auditEntity
		if err := json.Unmarshal(a.Entity, &e); err != nil {
			return fmt.Errorf("decode audit entity: %w", err)
		}
		at := parseTime(e.At)
		keys := []string{idxDayPrefix + at.UTC().Format("2006-01-02")}
		for _, id := range []string{e.ActorID, e.SubjectID} {
			if id != "" && !strings.Contains(strings.Join(keys, " "), idxUserPrefix+id) {
				keys = append(keys, idxUserPrefix+id)
			}
		}
		for _, pk := range keys {
			copy := e
			copy.PartitionKey, copy.RowKey = pk, indexRowKey(at, e.EventID)
			byPartition[pk] = append(byPartition[pk], aztables.TransactionAction{
				ActionType: aztables.TransactionTypeInsertReplace, Entity: mustJSON(copy)})
		}
	}
	for _, actions := range byPartition {
		for start := 0; start < len(actions); start += maxTransaction {
			if _, err := s.auditIdx.SubmitTransaction(ctx, actions[start:min(start+maxTransaction, len(actions))], nil); err != nil {
				return classifyTransaction(err)
			}
		}
	}
	return nil
}

// auditCursor is where a listing stopped: the partition and the last row
// read in it, plus a digest of the query so it cannot be replayed with
// other filters.
type auditCursor struct {
	Query     string `json:"q"`
	Partition string `json:"p"`
	RowKey    string `json:"r"`
}

// maxCursorBytes bounds a decoded cursor: ours are a few hundred bytes.
const maxCursorBytes = 2048

func encodeAuditCursor(c auditCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeAuditCursor reads a cursor Events handed out for the query with
// this digest ("" is the first page). It returns
// kernel.ErrInvalidCursor for anything else.
func decodeAuditCursor(s, digest string) (auditCursor, error) {
	var c auditCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > maxCursorBytes || json.Unmarshal(b, &c) != nil || c.Query != digest {
		return auditCursor{}, kernel.ErrInvalidCursor
	}
	return c, nil
}

// Events implements accounts.Store: audit events newest first. The query
// picks the partitions: a person's index, an organisation's monthly
// chains, or (unfiltered) the daily index; how far back it reads is the
// query's Span (the domain's policy).
func (s *Store) Events(ctx context.Context, q audit.Query) (audit.Page, error) {
	if q.Limit <= 0 || q.Limit > audit.MaxPageSize {
		q.Limit = audit.DefaultPageSize
	}
	if q.Now.IsZero() {
		q.Now = s.now() // the clock the store was given (WithClock)
	}
	from, to := q.Span()
	digest := hashKey(fmt.Sprint(q.OrganizationID, "|", q.ActorID, "|", q.SubjectID, "|", q.UserID, "|", q.From.UnixNano(), "|", q.To.UnixNano()))
	cur, err := decodeAuditCursor(q.Cursor, digest)
	if err != nil {
		return audit.Page{}, err
	}

	table, partitions := s.auditIdx, []string(nil)
	var clauses []string
	switch {
	case q.UserID != "":
		partitions = []string{idxUserPrefix + q.UserID}
	case q.ActorID != "" || q.SubjectID != "":
		id := q.ActorID
		if id == "" {
			id = q.SubjectID
		}
		partitions = []string{idxUserPrefix + id}
	case q.OrganizationID != "":
		table = s.audit
		for m := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC); !m.Before(time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)); m = m.AddDate(0, -1, 0) {
			partitions = append(partitions, q.OrganizationID+"|"+m.Format("2006-01"))
		}
		clauses = append(clauses, "RowKey lt "+quote(rkAuditHead))
	default:
		for d := to.UTC().Truncate(24 * time.Hour); !d.Before(from.UTC().Truncate(24 * time.Hour)); d = d.AddDate(0, 0, -1) {
			partitions = append(partitions, idxDayPrefix+d.Format("2006-01-02"))
		}
	}
	if q.ActorID != "" {
		clauses = append(clauses, "ActorID eq "+quote(q.ActorID))
	}
	if q.SubjectID != "" {
		clauses = append(clauses, "SubjectID eq "+quote(q.SubjectID))
	}
	if q.OrganizationID != "" && table == s.auditIdx {
		clauses = append(clauses, "Organization eq "+quote(q.OrganizationID))
	}
	if !q.From.IsZero() {
		clauses = append(clauses, "At ge "+quote(formatTime(q.From)))
	}
	clauses = append(clauses, "At lt "+quote(formatTime(to)))

	var page audit.Page
	resumed := cur.Partition == ""
	for _, pk := range partitions {
		if !resumed {
			if pk != cur.Partition {
				continue
			}
			resumed = true
		}
		filter := append([]string{"PartitionKey eq " + quote(pk)}, clauses...)
		if pk == cur.Partition {
			filter = append(filter, "RowKey gt "+quote(cur.RowKey))
		}
		f := strings.Join(filter, " and ")
		top := int32(q.Limit - len(page.Events))
		pager := table.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &f, Top: &top})
		for pager.More() {
			resp, err := pager.NextPage(ctx)
			if err != nil {
				return audit.Page{}, classify(err)
			}
			for _, raw := range resp.Entities {
				var e auditEntity
				if err := json.Unmarshal(raw, &e); err != nil {
					return audit.Page{}, fmt.Errorf("decode audit event: %w", err)
				}
				page.Events = append(page.Events, e.event())
				if len(page.Events) == q.Limit {
					page.Next = encodeAuditCursor(auditCursor{Query: digest, Partition: pk, RowKey: e.RowKey})
					return page, nil
				}
			}
		}
	}
	if !resumed {
		return audit.Page{}, kernel.ErrInvalidCursor
	}
	return page, nil
}
