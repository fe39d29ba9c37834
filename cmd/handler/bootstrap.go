package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/relay"
)

// bootstrapAdmin invites the first administrator and sends the invitation
// at once, then exits. It refuses when an active admin exists.
func bootstrapAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bootstrap-admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the administrator's email address (required)")
	first := fs.String("first", "", "first name")
	last := fs.String("last", "", "last name")
	locale := fs.String("locale", "fi", "language of the invitation: fi, sv or en")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("bootstrap-admin: -email is required")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	// Logs go to stderr here: stdout is for the operator's answer.
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := build(ctx, cfg, log, time.Now, outsideParts{})
	if err != nil {
		return err
	}
	org, err := organizations.EnsureAdministration(ctx, a.store, a.now())
	if err != nil {
		return fmt.Errorf("service administration organisation: %w", err)
	}
	u, err := a.accounts.BootstrapAdmin(ctx, accounts.InviteInput{
		Email: *email, FirstName: *first, LastName: *last, OrganizationID: org.ID, Locale: *locale,
	}, kernel.Meta{RequestID: "bootstrap-admin"})
	var invalid *kernel.ValidationError
	switch {
	case errors.Is(err, accounts.ErrAdminExists):
		return errors.New("bootstrap-admin: refused: an active administrator already exists; invite further admins through the API")
	case errors.Is(err, accounts.ErrEmailTaken):
		return errors.New("bootstrap-admin: refused: that email belongs to an account that is not an invited admin")
	case errors.As(err, &invalid):
		msg := "bootstrap-admin: invalid input:"
		for _, f := range invalid.Fields {
			msg += fmt.Sprintf(" %s (%s)", f.Field, f.Code)
		}
		return errors.New(msg)
	case err != nil:
		return err
	}
	// Deliver now rather than waiting for a running server's catch-up.
	// Standalone the email is sent when this returns; with Service Bus the
	// message is on the queue and the SendNotification function sends it.
	if err := deliverNow(ctx, a, u.ID); err != nil {
		return fmt.Errorf("bootstrap-admin: the account exists but its invitation waits in its outbox for the catch-up: %w", err)
	}
	if !a.inProcess {
		fmt.Fprintf(stdout, "Invitation queued: administrator account %s in %q. The link is valid for %s.\n",
			u.ID, org.Name.FI, cfg.Accounts.InvitationTTL)
		return nil
	}
	fmt.Fprintf(stdout, "Invitation sent: administrator account %s in %q. The link is valid for %s.\n",
		u.ID, org.Name.FI, cfg.Accounts.InvitationTTL)
	return nil
}

// deliverNow delivers an account's outbox and, when a running server's
// catch-up is sending the same notification at this moment
// (delivery.ErrClaimed), waits for it to finish: the command reports the
// email sent only when it is. A claim outlives its send by at most
// delivery.SendTimeout, so the wait is bounded.
func deliverNow(ctx context.Context, a *app, userID string) error {
	deadline := time.Now().Add(2*delivery.SendTimeout + 5*time.Second)
	for {
		err := a.relay.Deliver(ctx, relay.Account(userID))
		if !errors.Is(err, delivery.ErrClaimed) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
