package tablestore

import (
	"context"
	"sync"

	"github.com/palvelumanuaali/useradmin/internal/audit"
)

// appendGroups is the group commit of audit appends: appends to one chain
// that arrive while another is in flight wait, and the one in flight then
// appends them all in one transaction (up to maxTransaction-1 events with
// the head). A chain is one organisation's month, so under load every
// delivery of an organisation contends for its head: without grouping
// each pays its own transaction, index batches and If-Match retries; with
// it, a burst pays about one of each. It groups within this process only;
// instances still meet at the head's If-Match.
type appendGroups struct {
	mu     sync.Mutex
	chains map[string]*appendQueue
}

// appendQueue is one chain's waiting appends, and whether a leader is
// appending them.
type appendQueue struct {
	waiting []*queuedAppend
	leading bool
}

type queuedAppend struct {
	events []audit.Event
	done   chan error
}

// appendGrouped appends events (at most maxTransaction-1) to chain,
// together with whatever else is queued for it.
func (s *Store) appendGrouped(ctx context.Context, chain string, events []audit.Event) error {
	g := &s.appends
	mine := &queuedAppend{events: events, done: make(chan error, 1)}
	g.mu.Lock()
	if g.chains == nil {
		g.chains = map[string]*appendQueue{}
	}
	q := g.chains[chain]
	if q == nil {
		q = &appendQueue{}
		g.chains[chain] = q
	}
	q.waiting = append(q.waiting, mine)
	if q.leading {
		g.mu.Unlock()
		select {
		case err := <-mine.done:
			return err
		case <-ctx.Done():
			// The leader may still append them; a redelivery then finds
			// them in the head's recent ids.
			return ctx.Err()
		}
	}
	q.leading = true
	g.mu.Unlock()

	// Leader: the others' appends must not fail because this caller's
	// context ends.
	lead := context.WithoutCancel(ctx)
	for {
		batch, all := g.next(chain, q)
		if batch == nil {
			break
		}
		err := s.appendChain(lead, chain, all)
		for _, a := range batch {
			a.done <- err
		}
	}
	return <-mine.done
}

// next takes the queued appends that fit one transaction, or ends the
// leadership when none is left.
func (g *appendGroups) next(chain string, q *appendQueue) ([]*queuedAppend, []audit.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*queuedAppend
	var all []audit.Event
	for len(q.waiting) > 0 {
		a := q.waiting[0]
		if len(batch) > 0 && len(all)+len(a.events) > maxTransaction-1 {
			break
		}
		batch, all = append(batch, a), append(all, a.events...)
		q.waiting = q.waiting[1:]
	}
	if batch == nil {
		q.leading = false
		delete(g.chains, chain)
	}
	return batch, all
}
