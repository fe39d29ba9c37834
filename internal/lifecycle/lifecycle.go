// Package lifecycle runs the daily sweep that keeps the privacy notice's
// central promises: warn, close after six months of inactivity (P6), erase
// thirty days after closing (P7, the restore window of P8 ending), erase
// invitations never accepted, clean up expired sessions, tokens and
// delivery records, and drop audit events past their retention.
//
// # Design
//
// Candidates, not accounts: every account is filed in a lifecycle index
// under the UTC day its next step is due (internal/tablestore, kept in step
// whenever the account settles). The sweep reads only the days up to now,
// so its storage calls grow with the people due for something, not with
// the number of accounts; activity moves a person's entry forward.
//
// Safe however the platform runs it:
//   - idempotent: each step is recorded on the account (warnings carry the
//     closing time they announce), so a second run the same day finds
//     nothing due and sends nothing;
//   - resumable: it works in pages under a time budget well below the
//     function timeout; what it did not reach is still in the index and
//     the next run carries on; an erasure a crash interrupted is finished;
//   - concurrent-safe: every transition is a conditional write on the
//     account as read, so a person who signs in during the sweep wins;
//   - skew-proof: closing and erasing wait a safety margin past their time.
//
// The rules themselves live with the accounts (accounts.PlanFor).
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
)

// Position is where a sweep got to in the lifecycle index.
type Position struct {
	Day    string
	UserID string
}

// Index lists the accounts due by a day (internal/tablestore).
type Index interface {
	DueAccounts(ctx context.Context, upTo time.Time, after Position, limit int) ([]string, Position, error)
}

// Accounts applies one account's due step (accounts.Service).
type Accounts interface {
	ApplyLifecycle(ctx context.Context, userID string, now time.Time, dryRun bool) (accounts.Outcome, error)
}

// Retention drops what has outlived its keeping (internal/tablestore).
type Retention interface {
	// PurgeAuditBefore removes audit chains of months that ended before
	// cutoff, whole chains only, so what remains still verifies.
	PurgeAuditBefore(ctx context.Context, cutoff time.Time) (int, error)
	// PurgeDeliveriesBefore removes notification claims and failure records
	// older than cutoff.
	PurgeDeliveriesBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// Options tune one sweep.
type Options struct {
	DryRun               bool
	Budget               time.Duration // stop starting new work after this long
	PageSize             int
	AuditRetentionMonths int
	DeliveryRetention    time.Duration
	// Progress, when set, is called after every page with the running totals.
	Progress func(Summary)
}

// Summary is what a sweep did (or, dry, would do).
type Summary struct {
	Now              time.Time
	Warned           int
	Closed           int
	Erased           int
	Cleaned          int
	Unchanged        int
	Failed           int
	AuditPurged      int
	DeliveriesPurged int
	Complete         bool               // false when the budget ran out: the next run carries on
	Planned          []accounts.Outcome // dry run: what would happen to whom, by id
	FirstFailures    []string           // up to ten ids whose step failed
}

// Sweeper runs sweeps.
type Sweeper struct {
	index     Index
	accounts  Accounts
	retention Retention
	clock     func() time.Time
}

// New returns a Sweeper. clock measures its time budget: the wall clock
// in production (the budget is the host's timeout, real time), the test's
// own in tests.
func New(index Index, acc Accounts, retention Retention, clock func() time.Time) *Sweeper {
	return &Sweeper{index: index, accounts: acc, retention: retention, clock: clock}
}

// maxConsecutiveFailures stops a sweep that storage keeps failing: every
// account it touched is whole, and the next run starts where this stopped.
const maxConsecutiveFailures = 20

// ErrStorageFailing is returned when too many steps failed in a row.
var ErrStorageFailing = errors.New("lifecycle sweep stopped: storage keeps failing")

// Run sweeps as of now. It returns the summary and an error when it had to
// stop early because storage kept failing; individual failures are counted
// and the rest of the sweep goes on.
func (s *Sweeper) Run(ctx context.Context, now time.Time, opts Options) (Summary, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 200
	}
	started := s.clock()
	sum := Summary{Now: now}
	var after Position
	consecutive := 0
	for {
		if opts.Budget > 0 && s.clock().Sub(started) >= opts.Budget {
			return sum, nil
		}
		ids, last, err := s.index.DueAccounts(ctx, now, after, opts.PageSize)
		if err != nil {
			return sum, fmt.Errorf("read lifecycle index: %w", err)
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			out, err := s.accounts.ApplyLifecycle(ctx, id, now, opts.DryRun)
			if err != nil {
				sum.Failed++
				if len(sum.FirstFailures) < 10 {
					sum.FirstFailures = append(sum.FirstFailures, id)
				}
				if consecutive++; consecutive >= maxConsecutiveFailures {
					return sum, fmt.Errorf("%w: %v", ErrStorageFailing, err)
				}
				continue
			}
			consecutive = 0
			sum.count(out, opts.DryRun)
		}
		if opts.Progress != nil {
			opts.Progress(sum)
		}
		if len(ids) < opts.PageSize {
			break
		}
		after = last
	}
	if !opts.DryRun && s.retention != nil {
		cutoff := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -opts.AuditRetentionMonths, 0)
		n, err := s.retention.PurgeAuditBefore(ctx, cutoff)
		sum.AuditPurged = n
		if err != nil {
			return sum, fmt.Errorf("audit retention: %w", err)
		}
		if sum.DeliveriesPurged, err = s.retention.PurgeDeliveriesBefore(ctx, now.Add(-opts.DeliveryRetention)); err != nil {
			return sum, fmt.Errorf("delivery retention: %w", err)
		}
	}
	sum.Complete = true
	return sum, nil
}

func (sum *Summary) count(out accounts.Outcome, dry bool) {
	if !out.Done {
		sum.Unchanged++
		return
	}
	switch out.Step {
	case accounts.StepWarn:
		sum.Warned++
	case accounts.StepClose:
		sum.Closed++
	case accounts.StepErase:
		sum.Erased++
	case accounts.StepCleanup:
		sum.Cleaned++
	}
	if dry {
		sum.Planned = append(sum.Planned, out)
	}
}
