package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/notify"
)

// MemoryQueue is the in-process queue of standalone mode. It stands where
// Service Bus stands in Azure and feeds the same Consumer.Receive with the
// same JSON body: a delivery that fails is retried with backoff up to
// maxAttempts times, like Service Bus up to its max delivery count.
type MemoryQueue struct {
	messages    chan notify.Message
	handle      func(context.Context, Delivery) error
	log         *slog.Logger
	maxAttempts int
	backoff     time.Duration
	wg          sync.WaitGroup
	pending     atomic.Int64 // published but not yet handled
}

// ErrQueueFull is returned by Publish when the queue is at capacity; the
// relay keeps the notification in the outbox and tries again later.
var ErrQueueFull = errors.New("notification queue full")

// NewMemoryQueue returns a queue that hands messages to handle.
func NewMemoryQueue(handle func(context.Context, Delivery) error, log *slog.Logger, capacity, maxAttempts int, backoff time.Duration) *MemoryQueue {
	return &MemoryQueue{messages: make(chan notify.Message, capacity), handle: handle, log: log, maxAttempts: maxAttempts, backoff: backoff}
}

// Publish implements relay.Publisher.
func (q *MemoryQueue) Publish(_ context.Context, m notify.Message) error {
	q.pending.Add(1)
	select {
	case q.messages <- m:
		return nil
	default:
		q.pending.Add(-1)
		return ErrQueueFull
	}
}

// Run consumes with workers goroutines until ctx ends, then lets messages
// already taken finish.
func (q *MemoryQueue) Run(ctx context.Context, workers int) {
	for i := 0; i < workers; i++ {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-q.messages:
					q.deliver(ctx, m)
					q.pending.Add(-1)
				}
			}
		}()
	}
	<-ctx.Done()
	q.wg.Wait()
}

// Drain waits until every published message has been handled, or limit
// passes. Commands that exit right after publishing use it.
func (q *MemoryQueue) Drain(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for q.pending.Load() > 0 {
		if time.Now().After(deadline) {
			return errors.New("queue not drained in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (q *MemoryQueue) deliver(ctx context.Context, m notify.Message) {
	body, err := json.Marshal(m)
	if err != nil {
		q.log.Error("notification not encodable", "message_id", m.ID, "error", err.Error())
		return
	}
	delay := q.backoff
	for attempt := 1; ; attempt++ {
		err := q.handle(context.WithoutCancel(ctx), Delivery{MessageID: m.ID, Body: body, DeliveryCount: attempt, MaxDeliveries: q.maxAttempts})
		if err == nil || attempt >= q.maxAttempts {
			return // done, or given up and recorded by the consumer
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}
