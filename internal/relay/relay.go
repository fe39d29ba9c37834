// Package relay delivers what account changes leave in their outbox: audit
// events to the audit trail and notifications to the queue.
//
// How it is driven: every change that leaves outbox items wakes the relay
// for that account right after it commits (Changed), so delivery normally
// follows within milliseconds of the request. A change also marks its
// account pending before it commits; a periodic catch-up (Run) delivers
// the outbox of every account still marked, so nothing is lost when the
// process dies between commit and delivery, when the queue is down, or
// when the wake-up channel was full. Delivery is at least once: an item is
// removed from the outbox only after it was delivered, notifications carry
// a stable id (the queue's duplicate detection and the consumer's
// idempotency claim make a redelivery harmless), and the audit trail skips
// events it has just appended.
//
// Events that belong to no account (sign-ins with an unknown email) wait in
// one of audit.Shards unattributed outboxes (Unattributed), picked by
// the event's id, and join that shard's audit chain: a flood of them has no
// single hot partition, and recording one is a single write. These
// outboxes carry no pending mark; the catch-up visits all of them.
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// Item is one undelivered outbox entry: an audit event or a notification.
type Item struct {
	Owner        Owner
	Key          string // the store's handle for acknowledging it
	ETag         string
	Event        *audit.Event
	Notification *notify.Message
}

// Pending is one change's mark on an owner whose outbox may hold its
// items.
type Pending struct {
	Owner    Owner
	Key      string // the store's handle for clearing it
	ETag     string
	MarkedAt time.Time
}

// Committed is what a change committed in this process left: its outbox
// items and its mark.
type Committed struct {
	Items []Item
	Marks []Pending
	// Upkeep is the store's work that completes the changes once their
	// items are delivered (a new account's directory check and lifecycle
	// filing). A failure leaves the marks, and the catch-up settles.
	Upkeep []func(context.Context) error
}

// commitGrace is how long a mark stays after it was set even when the
// outbox looks empty: a change marks its account before its transaction
// commits, so a young mark may belong to a commit still in flight. Longer
// than any storage call with its retries.
const commitGrace = time.Minute

// Outbox is where account changes leave their items (internal/tablestore).
type Outbox interface {
	// PendingMarks lists an owner's marks.
	PendingMarks(ctx context.Context, o Owner) ([]Pending, error)
	// PendingAccounts lists up to limit marks in one shard.
	PendingAccounts(ctx context.Context, shard, limit int) ([]Pending, error)
	// OutboxItems lists an owner's undelivered items, oldest first.
	OutboxItems(ctx context.Context, o Owner) ([]Item, error)
	// Acknowledge removes delivered items.
	Acknowledge(ctx context.Context, o Owner, items []Item) error
	// ClearPending removes a mark unless it was set again since it was read.
	ClearPending(ctx context.Context, p Pending) error
	// TakeCommitted hands over what this process committed for an owner
	// since the last take (items and marks), so the delivery a change
	// wakes reads nothing; false when it holds none (then the relay reads
	// the outbox).
	TakeCommitted(ctx context.Context, o Owner) (Committed, bool)
}

// PendingShards is how many shards the pending marks are spread over.
const PendingShards = 16

// Owner is whose outbox it is: an account's, an organisation's, or one
// of the unattributed outboxes that take the events of no account
// (sign-ins with an unknown email), one per audit shard (audit.ShardOf).
// The unattributed ones carry no pending mark, so leaving an event in one
// is a single write: the catch-up visits each of them every time instead.
type Owner struct {
	Kind OwnerKind
	ID   string // the account or organisation id, or the shard ("00".."15")
}

// OwnerKind tells the kinds of outbox owner apart.
type OwnerKind int

// The outbox owners.
const (
	AccountOutbox OwnerKind = iota
	OrganizationOutbox
	UnattributedOutbox
)

// Account is an account's outbox.
func Account(id string) Owner { return Owner{Kind: AccountOutbox, ID: id} }

// Organization is an organisation's outbox.
func Organization(id string) Owner { return Owner{Kind: OrganizationOutbox, ID: id} }

// Unattributed is the unattributed outbox of one audit shard.
func Unattributed(shard string) Owner { return Owner{Kind: UnattributedOutbox, ID: shard} }

// Key is the owner's name where storage needs one string (a pending
// mark's row key): the account id as it is, "org:<id>" or
// "unattributed:<shard>". No account id contains a colon.
func (o Owner) Key() string {
	switch o.Kind {
	case OrganizationOutbox:
		return "org:" + o.ID
	case UnattributedOutbox:
		return "unattributed:" + o.ID
	}
	return o.ID
}

// OwnerFromKey reads a Key back.
func OwnerFromKey(key string) Owner {
	if id, ok := strings.CutPrefix(key, "org:"); ok {
		return Organization(id)
	}
	if shard, ok := strings.CutPrefix(key, "unattributed:"); ok {
		return Unattributed(shard)
	}
	return Account(key)
}

// AuditLog appends events to the tamper-evident audit trail.
type AuditLog interface {
	Append(ctx context.Context, events []audit.Event) error
}

// Publisher puts a notification on the queue.
type Publisher interface {
	Publish(ctx context.Context, m notify.Message) error
}

// Settler brings state derived from an owner (an account's directory
// entry, for one) in line after its outbox was delivered.
type Settler func(ctx context.Context, o Owner) error

// Relay moves outbox items to their destinations.
type Relay struct {
	outbox   Outbox
	audit    AuditLog
	queue    Publisher
	settle   Settler
	log      *slog.Logger
	interval time.Duration
	wake     chan Owner

	now func() time.Time

	mu       sync.Mutex
	inFlight map[Owner]bool
	again    map[Owner]bool // woken while in flight: run once more
	// gen counts each account's changes in this process; settledGen is
	// the latest of them whose request settled the account itself (see
	// Settling). A delivery skips its settle when the two agree, so the
	// upkeep runs once per change.
	gen        map[Owner]uint64
	settledGen map[Owner]uint64
}

// New returns a relay; catchUpInterval is how often Run looks for marked
// accounts, and 0 means Run only delivers what it is woken for (under the
// Functions host the OutboxDrain timer calls CatchUp instead, because an
// instance that scaled to zero runs no loop). settle may be nil.
func New(outbox Outbox, log AuditLog, queue Publisher, settle Settler, logger *slog.Logger, catchUpInterval time.Duration, now func() time.Time) *Relay {
	return &Relay{
		outbox: outbox, audit: log, queue: queue, settle: settle, log: logger, interval: catchUpInterval, now: now,
		wake: make(chan Owner, 1024), inFlight: map[Owner]bool{}, again: map[Owner]bool{},
		gen: map[Owner]uint64{}, settledGen: map[Owner]uint64{},
	}
}

// Changed asks for an outbox to be delivered soon. It never
// blocks: when the wake-up channel is full, the pending mark ensures the
// catch-up delivers it.
func (r *Relay) Changed(o Owner) {
	r.mu.Lock()
	r.gen[o]++ // this change is the relay's to settle
	r.mu.Unlock()
	r.wakeUp(o)
}

// Settling is Changed for a change whose request settles the account
// itself right after (read-your-writes). The request calls the returned
// func once that settle went through; a delivery that then reaches its
// own settle step with no later change in between skips it. Settle works
// from the account as stored, so the request's settle covers every
// earlier change too. If the request's settle fails, or comes too late,
// the delivery settles, as it does for Changed, for a catch-up and for
// Deliver.
func (r *Relay) Settling(o Owner) (settled func()) {
	r.mu.Lock()
	r.gen[o]++
	g := r.gen[o]
	r.mu.Unlock()
	r.wakeUp(o)
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gen[o] == g {
			r.settledGen[o] = g
		}
	}
}

func (r *Relay) wakeUp(o Owner) {
	select {
	case r.wake <- o:
	default:
	}
}

// settledByRequest reports whether the account's latest change was settled
// by its request, and forgets both counts: the account is settled either
// way once the caller is done (a late callback then finds no count).
func (r *Relay) settledByRequest(o Owner) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.gen[o]
	skip := ok && r.settledGen[o] == g
	delete(r.gen, o)
	delete(r.settledGen, o)
	return skip
}

// AppendNow appends an event to the audit trail synchronously, past any
// outbox, for a caller that must know it is there before going on (an
// erasure). A failure is logged and returned. The sign-in path never calls it: its events go through an
// outbox.
func (r *Relay) AppendNow(ctx context.Context, e audit.Event) error {
	if err := r.audit.Append(context.WithoutCancel(ctx), []audit.Event{e}); err != nil {
		r.log.Error("audit append failed", "event", e.ID, "action", string(e.Action), "error", err.Error())
		return err
	}
	return nil
}

// Run delivers woken accounts and runs the periodic catch-up until ctx
// ends. workers accounts are delivered at once.
func (r *Relay) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case o := <-r.wake:
					if err := r.Woken(ctx, o); err != nil && ctx.Err() == nil {
						r.log.Warn("outbox delivery deferred to catch-up", "owner", o.Key(), "error", err.Error())
					}
				}
			}
		}()
	}
	if r.interval <= 0 {
		<-ctx.Done()
		wg.Wait()
		return
	}
	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	for {
		if _, err := r.CatchUp(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("outbox catch-up incomplete", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-ticker.C:
		}
	}
}

// CatchUp delivers the outbox of every marked account and every
// unattributed outbox, and returns how many marked owners it visited. It
// returns the first error after trying them all.
func (r *Relay) CatchUp(ctx context.Context) (int, error) {
	var first error
	for shard := 0; shard < audit.Shards; shard++ {
		if err := r.deliver(ctx, Unattributed(fmt.Sprintf("%02d", shard)), nil, false); err != nil && first == nil {
			first = err
		}
	}
	visited := 0
	for shard := 0; shard < PendingShards; shard++ {
		marks, err := r.outbox.PendingAccounts(ctx, shard, 1000)
		if err != nil {
			return visited, err
		}
		// One delivery per owner, however many of its changes are marked.
		byOwner := map[Owner][]Pending{}
		var owners []Owner
		for _, p := range marks {
			if _, ok := byOwner[p.Owner]; !ok {
				owners = append(owners, p.Owner)
			}
			byOwner[p.Owner] = append(byOwner[p.Owner], p)
		}
		for _, o := range owners {
			visited++
			if err := r.deliver(ctx, o, byOwner[o], false); err != nil && first == nil {
				first = err
			}
		}
	}
	return visited, first
}

// Woken delivers one outbox for a wake-up (Changed or
// Settling). Run's workers call it; so does a caller that runs the
// relay's work itself (a test that counts it).
func (r *Relay) Woken(ctx context.Context, o Owner) error {
	return r.deliver(ctx, o, nil, true)
}

// Deliver delivers one outbox now.
func (r *Relay) Deliver(ctx context.Context, o Owner) error {
	return r.deliver(ctx, o, nil, false)
}

// deliver delivers an account's outbox; woken says a wake-up asked for it
// (see Settling).
func (r *Relay) deliver(ctx context.Context, o Owner, marks []Pending, woken bool) error {
	r.mu.Lock()
	if r.inFlight[o] {
		// The running delivery may have read the outbox before our items
		// landed: have it go round once more.
		r.again[o] = true
		r.mu.Unlock()
		return nil
	}
	r.inFlight[o] = true
	r.mu.Unlock()
	for {
		err := r.deliverOnce(ctx, o, marks, woken)
		r.mu.Lock()
		repeat := r.again[o] && err == nil
		delete(r.again, o)
		if !repeat {
			delete(r.inFlight, o)
		}
		r.mu.Unlock()
		if !repeat {
			return err
		}
		marks, woken = nil, true // a repeat runs for a wake-up
	}
}

// deliverOnce delivers o's outbox. A wake-up after a change in this
// process takes that change's items and marks from the store: nothing is
// read, and its marks are cleared once the items are delivered and the
// account settled, since no other change uses them. Otherwise (a
// catch-up, Deliver, a wake-up whose items another delivery took) it
// reads the marks and the outbox, and clears only marks older than
// commitGrace: a younger one may belong to a commit still in flight.
func (r *Relay) deliverOnce(ctx context.Context, o Owner, marks []Pending, woken bool) error {
	unattributed := o.Kind == UnattributedOutbox
	var items []Item
	var upkeep []func(context.Context) error
	handed := false
	if woken {
		var c Committed
		if c, handed = r.outbox.TakeCommitted(ctx, o); handed {
			items, marks, upkeep = c.Items, c.Marks, c.Upkeep
			if len(items) == 0 {
				// An earlier wake-up took this change's items, and decided
				// on settling after it had: nothing is left to do.
				return nil
			}
		}
	}
	if !handed {
		if marks == nil && !unattributed {
			var err error
			if marks, err = r.outbox.PendingMarks(ctx, o); err != nil {
				return err
			}
		}
		var err error
		if items, err = r.outbox.OutboxItems(ctx, o); err != nil {
			return err
		}
	}
	var events []audit.Event
	for _, it := range items {
		if it.Event != nil {
			events = append(events, *it.Event)
		}
	}
	if len(events) > 0 {
		if err := r.audit.Append(ctx, events); err != nil {
			return err
		}
	}
	delivered := make([]Item, 0, len(items))
	var publishErr error
	for _, it := range items {
		if it.Notification != nil {
			if err := r.queue.Publish(ctx, *it.Notification); err != nil {
				// Keep it and everything after it for the catch-up.
				publishErr = err
				break
			}
		}
		delivered = append(delivered, it)
	}
	// Events were appended even when a later notification failed.
	for _, it := range items[len(delivered):] {
		if it.Event != nil {
			delivered = append(delivered, it)
		}
	}
	if len(delivered) > 0 {
		if err := r.outbox.Acknowledge(ctx, o, delivered); err != nil {
			return err
		}
	}
	if publishErr != nil {
		return publishErr
	}
	for _, f := range upkeep {
		if err := f(ctx); err != nil {
			return err
		}
	}
	// Decided here, at the end, so a request that settles while its outbox
	// is delivered is seen.
	if r.settle != nil && !unattributed && !(woken && r.settledByRequest(o)) {
		if err := r.settle(ctx, o); err != nil {
			return err
		}
	}
	for _, m := range marks {
		if handed || r.now().Sub(m.MarkedAt) >= commitGrace {
			if err := r.outbox.ClearPending(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}
