package tablestore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

const rkAuditHead = "head"

// recentIDs is how many of a chain's latest event ids its head remembers,
// so a redelivered batch is recognised and not appended twice.
const recentIDs = 64

// auditHeadEntity is a chain's tip: the last sequence and hash, and the
// ids of the latest events.
type auditHeadEntity struct {
	PartitionKey string
	RowKey       string
	Seq          int64
	Hash         string
	RecentIDs    string // space-separated
}

type auditEntity struct {
	PartitionKey string
	RowKey       string
	EventID      string
	At           string
	Action       string
	ActorID      string
	SubjectID    string
	Organization string
	Fields       string // comma-separated field names
	Reason       string
	RequestID    string
	Shard        string
	Seq          int64
	PrevHash     string
	Hash         string
	KeyVersion   string // empty on a legacy (unkeyed) link
}

// auditRowKey orders a chain newest first (Table Storage reads in key
// order only): the key is the sequence subtracted from a constant.
func auditRowKey(seq int64) string { return fmt.Sprintf("%012d", 999_999_999_999-seq) }

func toAuditEntity(chain string, e audit.Event) auditEntity {
	return auditEntity{
		PartitionKey: chain, RowKey: auditRowKey(e.Seq), EventID: e.ID, At: formatTime(e.At),
		Action: string(e.Action), ActorID: e.ActorID, SubjectID: e.SubjectID, Organization: e.OrganizationID,
		Fields: strings.Join(e.Fields, ","), Reason: e.Reason, RequestID: e.RequestID,
		Shard: e.Shard, Seq: e.Seq, PrevHash: e.PrevHash, Hash: e.Hash, KeyVersion: e.KeyVersion,
	}
}

func (e auditEntity) event() audit.Event {
	var fields []string
	if e.Fields != "" {
		fields = strings.Split(e.Fields, ",")
	}
	return audit.Event{
		ID: e.EventID, At: parseTime(e.At), Action: audit.Action(e.Action), ActorID: e.ActorID,
		SubjectID: e.SubjectID, OrganizationID: e.Organization, Fields: fields, Reason: e.Reason,
		RequestID: e.RequestID, Shard: e.Shard, Seq: e.Seq, PrevHash: e.PrevHash, Hash: e.Hash, KeyVersion: e.KeyVersion,
	}
}

// Append implements relay.AuditLog. Events join their chain (see
// audit.ChainKey) in the order given, linked under the store's current
// audit key version. Each chain's append is one
// transaction that adds the events and moves the head with If-Match, so
// concurrent appenders (in this process or another) never fork a chain:
// the loser re-reads and retries. The store caches the heads it wrote, so
// an append to a chain it appended to last reads nothing first.
func (s *Store) Append(ctx context.Context, events []audit.Event) error {
	byChain := map[string][]audit.Event{}
	var order []string
	for _, e := range events {
		k := audit.ChainKey(e)
		if _, ok := byChain[k]; !ok {
			order = append(order, k)
		}
		byChain[k] = append(byChain[k], e)
	}
	for _, k := range order {
		chain := byChain[k]
		for start := 0; start < len(chain); start += maxTransaction - 1 {
			if err := s.appendGrouped(ctx, k, chain[start:min(start+maxTransaction-1, len(chain))]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Store) appendChain(ctx context.Context, chain string, events []audit.Event) error {
	for attempt := 0; ; attempt++ {
		err := s.tryAppend(ctx, chain, events)
		if !errors.Is(err, kernel.ErrConflict) || attempt >= 20 {
			return err
		}
		// Contended chain: back off with jitter so appenders spread out.
		delay := time.Duration(5+rand.IntN(20*(attempt+1))) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// tryAppend links events to the chain's head and commits them with the
// head in one transaction. The head comes from the store's cache when it
// has one (no read); the If-Match on the head makes a stale one fail the
// transaction (412, or 404 if retention removed the chain), and the retry
// reads the head afresh.
func (s *Store) tryAppend(ctx context.Context, chain string, events []audit.Event) error {
	cached, ok := s.heads.get(chain)
	if !ok {
		cached = cachedHead{head: auditHeadEntity{PartitionKey: chain, RowKey: rkAuditHead, Hash: audit.GenesisHash(chain)}}
		resp, err := s.audit.GetEntity(ctx, chain, rkAuditHead, nil)
		switch {
		case statusOf(err) == http.StatusNotFound:
		case err != nil:
			return classify(err)
		default:
			if err := json.Unmarshal(resp.Value, &cached.head); err != nil {
				return fmt.Errorf("decode audit head: %w", err)
			}
			cached.etag = resp.ETag
			s.heads.put(chain, cached)
		}
	}
	head, headETag := cached.head, cached.etag
	recent := strings.Fields(head.RecentIDs)
	var actions []aztables.TransactionAction
	var already []string
	for _, e := range events {
		if slices.Contains(recent, e.ID) {
			already = append(already, e.ID) // appended by an earlier delivery
			continue
		}
		linked := s.auditKeys.Link(e, head.Seq, head.Hash)
		head.Seq, head.Hash = linked.Seq, linked.Hash
		recent = append(recent, e.ID)
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(toAuditEntity(chain, linked))})
	}
	if len(already) > 0 {
		// The delivery that appended them may have died before it indexed
		// them, and nothing else would: index them again (idempotent).
		if err := s.reindex(ctx, chain, already); err != nil {
			return err
		}
	}
	if len(actions) == 0 {
		return nil
	}
	if len(recent) > recentIDs {
		recent = recent[len(recent)-recentIDs:]
	}
	head.RecentIDs = strings.Join(recent, " ")
	if headETag == "" {
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: mustJSON(head)})
	} else {
		actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateReplace, Entity: mustJSON(head), IfMatch: &headETag})
	}
	var raw *http.Response
	if _, err := s.audit.SubmitTransaction(runtime.WithCaptureResponse(ctx, &raw), actions, nil); err != nil {
		// Stale (another appender moved the head) or unknown (the
		// transaction may have committed): the next try reads the head.
		s.heads.drop(chain)
		return classifyTransaction(err)
	}
	// The head was the transaction's last operation; without its new ETag
	// the entry is dropped and the next append reads the head.
	s.heads.put(chain, cachedHead{head: head, etag: transactionETag(raw, len(actions)-1)})
	return s.indexEvents(ctx, chain, actions[:len(actions)-1])
}

// maxFilterComparisons keeps a filter within Table Storage's limit of 15
// comparisons (one goes to the partition).
const maxFilterComparisons = 14

// reindex writes the index copies of events already in a chain, by id.
func (s *Store) reindex(ctx context.Context, chain string, ids []string) error {
	for start := 0; start < len(ids); start += maxFilterComparisons {
		var ors []string
		for _, id := range ids[start:min(start+maxFilterComparisons, len(ids))] {
			ors = append(ors, "EventID eq "+quote(id))
		}
		var stored []aztables.TransactionAction
		filter := fmt.Sprintf("PartitionKey eq %s and (%s)", quote(chain), strings.Join(ors, " or "))
		if err := s.listPartition(ctx, s.audit, filter, func(_ rowMeta, raw []byte) error {
			stored = append(stored, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: append([]byte(nil), raw...)})
			return nil
		}); err != nil {
			return err
		}
		if err := s.indexEvents(ctx, chain, stored); err != nil {
			return err
		}
	}
	return nil
}

// Chain reads one whole chain in sequence order (for verification).
func (s *Store) Chain(ctx context.Context, chainKey string) ([]audit.Event, error) {
	var out []audit.Event
	filter := fmt.Sprintf("PartitionKey eq %s and RowKey lt %s", quote(chainKey), quote(rkAuditHead))
	err := s.listPartition(ctx, s.audit, filter, func(_ rowMeta, raw []byte) error {
		var e auditEntity
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		out = append(out, e.event())
		return nil
	})
	slices.SortFunc(out, func(a, b audit.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, err
}
