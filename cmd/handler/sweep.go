package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
)

// sweepCommand runs one lifecycle sweep as of a given time against the
// configured storage (Azurite, or Azure with DefaultAzureCredential) and
// prints a summary; with -dry-run it prints what would happen to whom, by
// id, and changes nothing.
func sweepCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nowFlag := fs.String("now", "", "the time to sweep as of, RFC 3339 (default: now)")
	dryRun := fs.Bool("dry-run", false, "report what would happen, change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	now := time.Now().UTC()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return errors.New("sweep: -now must be an RFC 3339 time such as 2027-05-22T02:00:00Z")
		}
		now = t.UTC()
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cfg.TablesEndpoint != "" && !*dryRun && now.After(time.Now().Add(time.Minute)) {
		// Against real people's accounts a sweep "as of" the future would
		// close and erase them early; only a dry run may look ahead there.
		return errors.New("sweep: -now in the future against Azure storage needs -dry-run")
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := build(ctx, cfg, log, func() time.Time { return now }, outsideParts{})
	if err != nil {
		return err
	}
	progress := func(s lifecycle.Summary) {
		fmt.Fprintf(stderr, "… warned %d, closed %d, erased %d, cleaned %d, unchanged %d, failed %d\n",
			s.Warned, s.Closed, s.Erased, s.Cleaned, s.Unchanged, s.Failed)
	}
	sum, sweepErr := a.sweep(ctx, now, *dryRun, progress)
	if !*dryRun {
		// Deliver what the sweep left in outboxes before exiting: standalone
		// the emails are sent by the time this returns; with Service Bus
		// they are on the queue. Whatever fails stays in its outbox for the
		// running system's catch-up.
		if _, err := a.relay.CatchUp(ctx); err != nil {
			fmt.Fprintf(stderr, "some notifications stay in their outbox for the running system: %v\n", err)
		}
	}
	mode := "Sweep"
	if *dryRun {
		mode = "Dry run (nothing changed)"
		for _, p := range sum.Planned {
			fmt.Fprintf(stdout, "would %s %s\n", p.Step, p.UserID)
		}
	}
	fmt.Fprintf(stdout, "%s as of %s: %s\n", mode, now.Format(time.RFC3339), summaryLine(sum))
	return sweepErr
}

// summaryLine is a sweep summary in one line, counts only.
func summaryLine(s lifecycle.Summary) string {
	line := fmt.Sprintf("warned %d, closed %d, erased %d, cleaned %d, unchanged %d, failed %d, audit events purged %d, delivery records purged %d",
		s.Warned, s.Closed, s.Erased, s.Cleaned, s.Unchanged, s.Failed, s.AuditPurged, s.DeliveriesPurged)
	if !s.Complete {
		line += " (incomplete: the next run carries on)"
	}
	return line
}
