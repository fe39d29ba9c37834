package tablestore

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// committed remembers the outbox items this process has just committed,
// per owner, until the relay's wake-up for them takes them: the delivery
// that follows a change then needs neither the pending mark nor a query of
// the outbox (two storage calls per change). It is only a shortcut: items
// it does not hold (another instance's, a crash's, ones it had no room
// for) stay in storage under their pending mark for the catch-up.
type committed struct {
	mu    sync.Mutex
	items map[relay.Owner]*heldItems
}

// heldItems is what one owner's changes left, and how many of their
// wake-ups have not come yet: a wake-up whose items an earlier one took
// gets an empty hand, not a miss, so it reads nothing either.
type heldItems struct {
	relay.Committed
	wakes int
}

// maxCommittedOwners bounds the memory a burst of wake-ups that never ran
// could hold; past it, new items are only in storage.
const maxCommittedOwners = 4096

// add records a committed change's items and its mark (none for an
// unattributed outbox: Key "").
func (c *committed) add(o relay.Owner, items []relay.Item, mark relay.Pending) {
	if len(items) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[relay.Owner]*heldItems{}
	}
	held, ok := c.items[o]
	if !ok {
		if len(c.items) >= maxCommittedOwners {
			return
		}
		held = &heldItems{}
		c.items[o] = held
	}
	held.Items = append(held.Items, items...)
	if mark.Key != "" {
		held.Marks = append(held.Marks, mark)
	}
	held.wakes++
}

// addUpkeep hands the relay work that completes o's change just
// committed, to run once its items are delivered; false when no wake-up
// holds a place for it (the caller runs it itself).
func (c *committed) addUpkeep(o relay.Owner, f func(context.Context) error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	held, ok := c.items[o]
	if !ok || len(held.Items) == 0 {
		return false
	}
	held.Upkeep = append(held.Upkeep, f)
	return true
}

// AfterDelivery implements accounts.Store: f runs in the relay's delivery
// of the change just committed for the account, after its items went
// out; false when no wake-up holds a place for it.
func (s *Store) AfterDelivery(userID string, f func(context.Context) error) bool {
	return s.committed.addUpkeep(relay.Account(userID), f)
}

// changeID names a change by its first outbox item (an event or
// notification id: unique).
func changeID(items []relay.Item) string {
	if e := items[0].Event; e != nil {
		return e.ID
	}
	return items[0].Notification.ID
}

// outboxRows are the rows that put a change's events and notifications in
// its owner's outbox (partition pk), and the same as the relay's items.
// The index keeps a change's items in the order the domain listed them
// (they share one timestamp).
func outboxRows(o relay.Owner, pk string, events []audit.Event, notes []notify.Message) ([]aztables.TransactionAction, []relay.Item) {
	var actions []aztables.TransactionAction
	var items []relay.Item
	for i := range events {
		e := &events[i]
		a := outboxAction(pk, e.At, i, e.ID, outboxKindEvent, *e)
		actions = append(actions, a)
		items = append(items, committedItem(o, a, e, nil))
	}
	for i := range notes {
		n := &notes[i]
		a := outboxAction(pk, n.CreatedAt, len(events)+i, n.ID, outboxKindNotification, *n)
		actions = append(actions, a)
		items = append(items, committedItem(o, a, nil, n))
	}
	return actions, items
}

// committedItem is an outbox row as the relay's item. Outbox rows are
// written once and deleted once, so acknowledging one needs no version.
func committedItem(o relay.Owner, a aztables.TransactionAction, e *audit.Event, n *notify.Message) relay.Item {
	var meta rowMeta
	_ = json.Unmarshal(a.Entity, &meta)
	return relay.Item{Owner: o, Key: meta.RowKey, ETag: string(azcore.ETagAny), Event: e, Notification: n}
}

// TakeCommitted implements relay.Outbox: the items this process committed
// for o since the last take, with their changes' marks (empty when an
// earlier wake-up took them), or false when it holds none.
func (s *Store) TakeCommitted(_ context.Context, o relay.Owner) (relay.Committed, bool) {
	c := &s.committed
	c.mu.Lock()
	defer c.mu.Unlock()
	held, ok := c.items[o]
	if !ok {
		return relay.Committed{}, false
	}
	taken := held.Committed
	held.Committed = relay.Committed{}
	if held.wakes--; held.wakes <= 0 {
		delete(c.items, o)
	}
	return taken, true
}
