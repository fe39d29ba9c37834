package testenv

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// Clock is the injected time of a test: it moves only when the test says
// so, so "six months later" is a call, not a wait.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Relay is a recording stand-in for the outbox relay (accounts.Relay): it
// remembers which accounts were said to have outbox items and the events
// appended at once (AppendNow), and delivers nothing, so each account's
// outbox keeps every item for the test to read.
type Relay struct {
	mu       sync.Mutex
	changed  []string
	appended []audit.Event
}

// Changed records that an outbox has items (by its owner's Key: an
// account's is its id).
func (r *Relay) Changed(o relay.Owner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changed = append(r.changed, o.Key())
}

// Settling records that an outbox has items, like Changed.
func (r *Relay) Settling(o relay.Owner) func() { r.Changed(o); return func() {} }

// AppendNow keeps an event the service appended to the trail at once.
func (r *Relay) AppendNow(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.appended = append(r.appended, e)
	return nil
}

// ChangedIDs returns the accounts said to have outbox items, in order.
func (r *Relay) ChangedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changed)
}

// Appended returns the events given to AppendNow, in order.
func (r *Relay) Appended() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.appended)
}

// SyncBuffer collects output (logs) written from several goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
