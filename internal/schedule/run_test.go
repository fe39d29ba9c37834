package schedule_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/schedule"
)

// fakeClock is a clock that moves only when Run sleeps (by exactly the
// requested duration) or when a test moves it.
type fakeClock struct {
	now    time.Time
	sleeps int
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps++
	c.now = c.now.Add(d)
	return nil
}

// call is one job call as the job saw it.
type call struct {
	Scheduled, Now time.Time
}

func mustParse(t *testing.T, expr string) schedule.Schedule {
	t.Helper()
	s, err := schedule.Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		start time.Time
		// during runs inside the job and may move the clock.
		during func(c *fakeClock, n int)
		want   []call
	}{
		{
			name:  "daily sweep runs at 02:00 on three days, then Run returns on cancel",
			expr:  "0 0 2 * * *",
			start: utc(2026, 3, 10, 13, 45, 12),
			want: []call{
				{utc(2026, 3, 11, 2, 0, 0), utc(2026, 3, 11, 2, 0, 0)},
				{utc(2026, 3, 12, 2, 0, 0), utc(2026, 3, 12, 2, 0, 0)},
				{utc(2026, 3, 13, 2, 0, 0), utc(2026, 3, 13, 2, 0, 0)},
			},
		},
		{
			name:  "every 10 seconds runs on each instant",
			expr:  "*/10 * * * * *",
			start: utc(2026, 3, 10, 13, 45, 12),
			want: []call{
				{utc(2026, 3, 10, 13, 45, 20), utc(2026, 3, 10, 13, 45, 20)},
				{utc(2026, 3, 10, 13, 45, 30), utc(2026, 3, 10, 13, 45, 30)},
				{utc(2026, 3, 10, 13, 45, 40), utc(2026, 3, 10, 13, 45, 40)},
			},
		},
		{
			name:  "instants passed while the job runs are skipped, not run late",
			expr:  "0 */5 * * * *",
			start: utc(2026, 3, 10, 10, 0, 0),
			during: func(c *fakeClock, n int) {
				if n == 0 {
					c.now = c.now.Add(12 * time.Minute) // overruns 10:10 and 10:15
				}
			},
			want: []call{
				{utc(2026, 3, 10, 10, 5, 0), utc(2026, 3, 10, 10, 5, 0)},
				{utc(2026, 3, 10, 10, 20, 0), utc(2026, 3, 10, 10, 20, 0)},
				{utc(2026, 3, 10, 10, 25, 0), utc(2026, 3, 10, 10, 25, 0)},
			},
		},
		{
			name:  "a clock going backwards does not run an instant twice",
			expr:  "0 0 2 * * *",
			start: utc(2026, 3, 10, 13, 0, 0),
			during: func(c *fakeClock, n int) {
				if n == 0 {
					c.now = c.now.Add(-time.Hour)
				}
			},
			want: []call{
				{utc(2026, 3, 11, 2, 0, 0), utc(2026, 3, 11, 2, 0, 0)},
				{utc(2026, 3, 12, 2, 0, 0), utc(2026, 3, 12, 2, 0, 0)},
				{utc(2026, 3, 13, 2, 0, 0), utc(2026, 3, 13, 2, 0, 0)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: tt.start}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var got []call
			job := func(jobCtx context.Context, scheduled time.Time) {
				if jobCtx.Err() != nil {
					t.Errorf("job called with an ended context")
				}
				got = append(got, call{scheduled, clock.Now()})
				if tt.during != nil {
					tt.during(clock, len(got)-1)
				}
				if len(got) == len(tt.want) {
					cancel()
				}
			}

			// Run is called synchronously: if it did not return on cancel,
			// the test would hang (and go test's timeout would say so).
			schedule.Run(ctx, mustParse(t, tt.expr), clock.Now, clock.Sleep, job)

			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("job calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunSleepsInChunksOfAtMostAMinute(t *testing.T) {
	clock := &fakeClock{now: utc(2026, 3, 10, 13, 45, 12)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var longest time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		longest = max(longest, d)
		return clock.Sleep(ctx, d)
	}
	var got []time.Time
	schedule.Run(ctx, mustParse(t, "0 0 2 * * *"), clock.Now, sleep, func(_ context.Context, at time.Time) {
		got = append(got, at)
		cancel()
	})
	if diff := cmp.Diff([]time.Time{utc(2026, 3, 11, 2, 0, 0)}, got); diff != "" {
		t.Errorf("job calls (-want +got):\n%s", diff)
	}
	if got, want := longest, time.Minute; got != want {
		t.Errorf("longest sleep = %v, want %v", got, want)
	}
	// 12h14m48s to wait: 734 sleeps of a minute, the last one shorter.
	if got, want := clock.sleeps, 735; got != want {
		t.Errorf("sleeps = %d, want %d", got, want)
	}
}

func TestRunReturnsWhenCancelledWhileSleeping(t *testing.T) {
	clock := &fakeClock{now: utc(2026, 3, 10, 13, 45, 12)}
	ctx, cancel := context.WithCancel(t.Context())
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel() // the process is told to stop while waiting
		return clock.Sleep(ctx, d)
	}
	calls := 0
	schedule.Run(ctx, mustParse(t, "0 0 2 * * *"), clock.Now, sleep, func(context.Context, time.Time) { calls++ })
	if got, want := calls, 0; got != want {
		t.Errorf("job calls = %d, want %d", got, want)
	}
}

func TestRunReturnsAtOnceWhenCancelledBefore(t *testing.T) {
	clock := &fakeClock{now: utc(2026, 3, 10, 13, 45, 12)}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	schedule.Run(ctx, mustParse(t, "* * * * * *"), clock.Now, clock.Sleep, func(context.Context, time.Time) { calls++ })
	if got, want := calls, 0; got != want {
		t.Errorf("job calls = %d, want %d", got, want)
	}
	if got, want := clock.sleeps, 0; got != want {
		t.Errorf("sleeps = %d, want %d", got, want)
	}
}

func TestRunReturnsAtOnceForAScheduleThatNeverMatches(t *testing.T) {
	clock := &fakeClock{now: utc(2026, 3, 10, 13, 45, 12)}
	calls := 0
	schedule.Run(t.Context(), mustParse(t, "0 0 0 31 2 *"), clock.Now, clock.Sleep, func(context.Context, time.Time) { calls++ })
	if got, want := calls, 0; got != want {
		t.Errorf("job calls = %d, want %d", got, want)
	}
	if got, want := clock.sleeps, 0; got != want {
		t.Errorf("sleeps = %d, want %d", got, want)
	}
}

func TestSleep(t *testing.T) {
	t.Run("returns nil after a short wait", func(t *testing.T) {
		if err := schedule.Sleep(t.Context(), time.Millisecond); err != nil {
			t.Errorf("Sleep = %v, want nil", err)
		}
	})
	t.Run("returns nil at once for no wait", func(t *testing.T) {
		if err := schedule.Sleep(t.Context(), -time.Second); err != nil {
			t.Errorf("Sleep = %v, want nil", err)
		}
	})
	t.Run("returns Canceled early when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Millisecond, cancel)
		start := time.Now()
		err := schedule.Sleep(ctx, time.Hour)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep = %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("Sleep took %v after cancel, want it to return promptly", elapsed)
		}
	})
	t.Run("returns the context's error when it has already ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := schedule.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep = %v, want context.Canceled", err)
		}
	})
}
