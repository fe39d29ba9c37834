package schedule

import (
	"context"
	"time"
)

// maxWait caps one sleep of Run. Timers run on the monotonic clock, which
// stands still while a machine is suspended; waking up at least once a
// minute to compare with the wall clock keeps a laptop in standalone mode
// from running the sweep hours late.
const maxWait = time.Minute

// Run calls job at every instant of s until ctx ends, passing the
// scheduled instant (UTC). now reads the clock and sleep waits (it must
// return ctx.Err() early when ctx ends); pass time.Now and Sleep, or fakes
// in tests.
//
// Jobs never overlap: Run waits for job to return and then looks for the
// next instant strictly after now(), so instants that passed while job was
// running are skipped, not caught up. Nothing is retried: what job does
// with its errors is its own business (in Azure a failed timer run is not
// retried either). An instant is never run twice, even if the clock goes
// backwards. Run does not call job at start-up (the function.json has
// runOnStartup false) and, unlike Azure's storage-backed schedule monitor,
// does not catch up a run missed while the process was down.
//
// Run returns when ctx ends or sleep returns an error, and at once if s
// never matches (s.Next returns the zero time); callers that want to log
// that should check s.Next(now()).IsZero() before calling Run.
func Run(ctx context.Context, s Schedule, now func() time.Time, sleep func(context.Context, time.Duration) error, job func(ctx context.Context, scheduled time.Time)) {
	var last time.Time // the last instant run
	for ctx.Err() == nil {
		from := now()
		if from.Before(last) {
			from = last
		}
		at := s.Next(from)
		if at.IsZero() {
			return
		}
		for wait := at.Sub(from); wait > 0; wait = at.Sub(now()) {
			if err := sleep(ctx, min(wait, maxWait)); err != nil {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		job(ctx, at)
		last = at
	}
}

// Sleep waits for d or until ctx ends, whichever comes first. It returns
// nil after a full wait and ctx.Err() (context.Canceled or
// context.DeadlineExceeded) when ctx ended first, including when it had
// ended before the call.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
