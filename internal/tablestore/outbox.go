package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

type pendingEntity struct {
	PartitionKey string
	RowKey       string
	MarkedAt     string
}

// pendingShard spreads marks over relay.PendingShards partitions so no
// single partition takes every change's mark. key is the owner's Key.
func pendingShard(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return fmt.Sprintf("%02d", h.Sum32()%relay.PendingShards)
}

// A pending mark is one row per change that left outbox items: PK =
// pendingShard(owner), RK = owner.Key() + "|" + the change's first item
// id. Each change has its own mark, so the delivery that change woke can
// remove it once done without touching a mark another change (another
// instance, a commit still in flight) depends on. Marks from before this
// layout are one row per owner, RK = owner.Key(); they are read and
// cleared the same way.
const markSeparator = "|"

func markRowKey(o relay.Owner, changeID string) string { return o.Key() + markSeparator + changeID }

// ownerOfMark reads the owner back from a mark's row key (ids never hold
// the separator).
func ownerOfMark(rowKey string) relay.Owner {
	if i := strings.LastIndex(rowKey, markSeparator); i > 0 {
		rowKey = rowKey[:i]
	}
	return relay.OwnerFromKey(rowKey)
}

// markPending records, before the change commits, that o's outbox is about
// to hold the change's items; changeID names the change (its first item's
// id, unique).
func (s *Store) markPending(ctx context.Context, o relay.Owner, changeID string) (relay.Pending, error) {
	now := s.now()
	e := pendingEntity{PartitionKey: pendingShard(o.Key()), RowKey: markRowKey(o, changeID), MarkedAt: formatTime(now)}
	resp, err := s.pending.UpsertEntity(ctx, mustJSON(e), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		return relay.Pending{}, classify(err)
	}
	return relay.Pending{Owner: o, Key: e.RowKey, ETag: string(resp.ETag), MarkedAt: now}, nil
}

// PendingMarks implements relay.Outbox: one range read of the owner's
// marks in its shard.
func (s *Store) PendingMarks(ctx context.Context, o relay.Owner) ([]relay.Pending, error) {
	key := o.Key()
	filter := fmt.Sprintf("PartitionKey eq %s and (RowKey eq %s or (RowKey ge %s and RowKey lt %s))",
		quote(pendingShard(key)), quote(key), quote(key+markSeparator), quote(key+"}"))
	return s.pendingMarks(ctx, filter, 0)
}

// PendingAccounts implements relay.Outbox.
func (s *Store) PendingAccounts(ctx context.Context, shard, limit int) ([]relay.Pending, error) {
	return s.pendingMarks(ctx, "PartitionKey eq "+quote(fmt.Sprintf("%02d", shard)), limit)
}

// pendingMarks lists the marks a filter selects, up to limit (0: all).
func (s *Store) pendingMarks(ctx context.Context, filter string, limit int) ([]relay.Pending, error) {
	var out []relay.Pending
	pager := s.pending.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() && (limit == 0 || len(out) < limit) {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(err)
		}
		for _, raw := range page.Entities {
			var meta rowMeta
			var e pendingEntity
			if err := errors.Join(json.Unmarshal(raw, &meta), json.Unmarshal(raw, &e)); err != nil {
				return nil, fmt.Errorf("decode pending mark: %w", err)
			}
			out = append(out, relay.Pending{Owner: ownerOfMark(meta.RowKey), Key: meta.RowKey, ETag: meta.ETag, MarkedAt: parseTime(e.MarkedAt)})
		}
	}
	return out, nil
}

// outboxOf finds where an outbox owner keeps its outbox: an account's in
// its users partition, an organisation's in its orgs partition, an
// unattributed shard's in the users partition "$unattributed|<shard>" (no
// account id starts with "$").
func (s *Store) outboxOf(o relay.Owner) (*aztables.Client, string) {
	switch o.Kind {
	case relay.OrganizationOutbox:
		return s.orgs, o.ID
	case relay.UnattributedOutbox:
		return s.users, "$unattributed|" + o.ID
	}
	return s.users, o.ID
}

// AddUnattributed implements accounts.Store: the event goes into its
// shard's unattributed outbox (relay.Unattributed) in one insert, with
// no pending mark; the relay's catch-up visits every such outbox.
func (s *Store) AddUnattributed(ctx context.Context, e audit.Event) error {
	if e.Shard == "" {
		return errors.New("tablestore: unattributed event without a shard")
	}
	owner := relay.Unattributed(e.Shard)
	table, pk := s.outboxOf(owner)
	rows, items := outboxRows(owner, pk, []audit.Event{e}, nil)
	if _, err := table.AddEntity(ctx, rows[0].Entity, nil); err != nil {
		return classify(err)
	}
	s.committed.add(owner, items, relay.Pending{})
	return nil
}

// OutboxItems implements relay.Outbox.
func (s *Store) OutboxItems(ctx context.Context, owner relay.Owner) ([]relay.Item, error) {
	table, pk := s.outboxOf(owner)
	filter := fmt.Sprintf("PartitionKey eq %s and RowKey ge %s and RowKey lt %s",
		quote(pk), quote(rkOutboxPrefix), quote(rkOutboxPrefix[:len(rkOutboxPrefix)-1]+"}"))
	var items []relay.Item
	err := s.listPartition(ctx, table, filter, func(meta rowMeta, raw []byte) error {
		var e outboxEntity
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		ev, msg, err := e.decode()
		if err != nil {
			return err
		}
		items = append(items, relay.Item{Owner: owner, Key: meta.RowKey, ETag: meta.ETag, Event: ev, Notification: msg})
		return nil
	})
	return items, err
}

// Acknowledge implements relay.Outbox: delivered items leave the outbox in
// one transaction per hundred. When another relay removed some of them
// first (a catch-up racing a wake-up), the rest are removed one by one and
// the ones already gone are fine.
func (s *Store) Acknowledge(ctx context.Context, owner relay.Owner, items []relay.Item) error {
	table, pk := s.outboxOf(owner)
	for start := 0; start < len(items); start += maxTransaction {
		batch := items[start:min(start+maxTransaction, len(items))]
		actions := make([]aztables.TransactionAction, 0, len(batch))
		for _, it := range batch {
			etag := azcore.ETag(it.ETag)
			a := remove(pk, it.Key)
			a.IfMatch = &etag
			actions = append(actions, a)
		}
		_, err := table.SubmitTransaction(ctx, actions, nil)
		if err = classifyTransaction(err); errors.Is(err, kernel.ErrConflict) {
			err = s.acknowledgeEach(ctx, table, pk, batch)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) acknowledgeEach(ctx context.Context, table *aztables.Client, pk string, items []relay.Item) error {
	for _, it := range items {
		etag := azcore.ETag(it.ETag)
		_, err := table.DeleteEntity(ctx, pk, it.Key, &aztables.DeleteEntityOptions{IfMatch: &etag})
		switch statusOf(err) {
		case http.StatusNotFound, http.StatusPreconditionFailed:
			continue
		}
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// ClearPending implements relay.Outbox. A mark that changed or vanished
// since it was read stays as it is.
func (s *Store) ClearPending(ctx context.Context, p relay.Pending) error {
	etag := azcore.ETag(p.ETag)
	_, err := s.pending.DeleteEntity(ctx, pendingShard(p.Owner.Key()), p.Key, &aztables.DeleteEntityOptions{IfMatch: &etag})
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusPreconditionFailed:
		return nil
	}
	return classify(err)
}
