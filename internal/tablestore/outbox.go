package tablestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
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

// markPending records that an outbox may hold items. It is an upsert on
// purpose: the mark carries no data, and a newer write must win so that
// ClearPending (conditional) cannot remove a mark set after the relay
// read it.
func (s *Store) markPending(ctx context.Context, o relay.Owner) error {
	key := o.Key()
	e := pendingEntity{PartitionKey: pendingShard(key), RowKey: key, MarkedAt: formatTime(time.Now())}
	_, err := s.pending.UpsertEntity(ctx, mustJSON(e), &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	return classify(err)
}

// PendingMarker implements relay.Outbox.
func (s *Store) PendingMarker(ctx context.Context, o relay.Owner) (relay.Pending, bool, error) {
	key := o.Key()
	resp, err := s.pending.GetEntity(ctx, pendingShard(key), key, nil)
	if statusOf(err) == http.StatusNotFound {
		return relay.Pending{}, false, nil
	}
	if err != nil {
		return relay.Pending{}, false, classify(err)
	}
	var e pendingEntity
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		return relay.Pending{}, false, fmt.Errorf("decode pending mark: %w", err)
	}
	return relay.Pending{Owner: o, ETag: string(resp.ETag), MarkedAt: parseTime(e.MarkedAt)}, true, nil
}

// PendingAccounts implements relay.Outbox.
func (s *Store) PendingAccounts(ctx context.Context, shard, limit int) ([]relay.Pending, error) {
	var out []relay.Pending
	filter := "PartitionKey eq " + quote(fmt.Sprintf("%02d", shard))
	pager := s.pending.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() && len(out) < limit {
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
			out = append(out, relay.Pending{Owner: relay.OwnerFromKey(meta.RowKey), ETag: meta.ETag, MarkedAt: parseTime(e.MarkedAt)})
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
	table, pk := s.outboxOf(relay.Unattributed(e.Shard))
	a := outboxAction(pk, e.At, 0, e.ID, outboxKindEvent, e)
	_, err := table.AddEntity(ctx, a.Entity, nil)
	return classify(err)
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
		if err = classifyTransaction(err); errors.Is(err, accounts.ErrConflict) {
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
	key := p.Owner.Key()
	_, err := s.pending.DeleteEntity(ctx, pendingShard(key), key, &aztables.DeleteEntityOptions{IfMatch: &etag})
	switch statusOf(err) {
	case http.StatusNotFound, http.StatusPreconditionFailed:
		return nil
	}
	return classify(err)
}
