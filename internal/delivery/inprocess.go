package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// InProcess is the transport of standalone mode: it stands where Service
// Bus stands in Azure, between the relay and the same Consumer.Receive,
// with the same JSON body.
//
// What it must keep is what Service Bus keeps: a notification the relay
// handed over is not lost. Service Bus holds it in storage; a Go channel
// would hold it only in memory, and a crash between hand-off and send
// would lose it after the relay had removed it from the outbox. So
// Publish hands the notification to the consumer and returns only once
// the consumer is done with it: sent now, sent before, or given up on and
// recorded. A retryable failure returns the error, and the relay keeps the
// item in the outbox for its catch-up: the outbox is the durable queue.
//
// Deliveries of one notification are counted, as Service Bus counts them,
// so after maxDeliveries failures the consumer records the failure and the
// relay lets the item go. The count lives in memory: a restart counts
// again from one, which means more attempts, never fewer.
type InProcess struct {
	receive       func(context.Context, Delivery) error
	maxDeliveries int

	mu       sync.Mutex
	attempts map[string]int // notification id -> deliveries so far
}

// NewInProcess returns the standalone transport over receive
// (Consumer.Receive).
func NewInProcess(receive func(context.Context, Delivery) error, maxDeliveries int) *InProcess {
	return &InProcess{receive: receive, maxDeliveries: maxDeliveries, attempts: map[string]int{}}
}

// Publish implements relay.Publisher. It returns nil once the consumer is
// done with the notification, and the consumer's error when a later
// delivery may succeed.
func (q *InProcess) Publish(ctx context.Context, m notify.Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode notification %s: %w", m.ID, err)
	}
	q.mu.Lock()
	q.attempts[m.ID]++
	attempt := q.attempts[m.ID]
	q.mu.Unlock()

	err = q.receive(ctx, Delivery{MessageID: m.ID, Body: body, DeliveryCount: attempt, MaxDeliveries: q.maxDeliveries})
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case err == nil:
		delete(q.attempts, m.ID)
		return nil
	case ctx.Err() != nil:
		// Stopping: this delivery does not count; the next process tries.
		q.attempts[m.ID]--
		return err
	case q.maxDeliveries > 0 && attempt >= q.maxDeliveries && !errors.Is(err, ErrFailureNotRecorded):
		// The last allowed delivery, and the consumer recorded the failure
		// (retries_exhausted): let it go, as Service Bus dead-letters it.
		delete(q.attempts, m.ID)
		return nil
	default:
		return err // the relay keeps it; the catch-up delivers it again
	}
}
