package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
)

// auditCommand runs "audit verify": it checks every chain in the audit
// table against the audit chain keys (Key Vault, or AUDIT_KEYS locally)
// and prints, for each broken chain, its first broken link: chain key,
// sequence number, event id and problem, ids and numbers only. It returns
// an error (the process exits non-zero) when any chain is broken. It only
// reads: no table is created or changed.
func auditCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, outside outsideParts) error {
	if len(args) == 0 || args[0] != "verify" {
		return fmt.Errorf("audit: unknown or missing subcommand\n%s", usage)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	legacyUntil := fs.String("legacy-until", "", "last month (YYYY-MM, UTC) whose chains may start with unkeyed links made before the audit key; default: any month")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *legacyUntil != "" {
		if _, err := time.Parse("2006-01", *legacyUntil); err != nil {
			return errors.New("audit verify: -legacy-until must be a month such as 2026-05")
		}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	keys, err := loadAuditKeys(ctx, cfg, outside)
	if err != nil {
		return err
	}
	var store *tablestore.Store
	if cfg.TablesConnectionString != "" {
		store, err = tablestore.NewFromConnectionString(cfg.TablesConnectionString, cfg.TablePrefix, keys)
	} else {
		store, err = tablestore.NewWithDefaultCredential(cfg.TablesEndpoint, cfg.TablePrefix, keys)
	}
	if err != nil {
		return err
	}
	sum, err := store.VerifyAuditChains(ctx, audit.VerifyOptions{LegacyUntil: *legacyUntil}, func(b audit.Break) {
		fmt.Fprintf(stdout, "BROKEN %s\n", b)
	})
	fmt.Fprintf(stdout, "Audit chains: %d checked, %d events, %d legacy (unkeyed) links, %d broken (key versions loaded: %d, current %s)\n",
		sum.Chains, sum.Events, sum.Legacy, sum.Broken, len(keys.Versions), keys.Current)
	if err != nil {
		return fmt.Errorf("audit verify: stopped after %d chains: %w", sum.Chains, err)
	}
	if sum.Broken > 0 {
		return fmt.Errorf("audit verify: %d broken chain(s)", sum.Broken)
	}
	return nil
}
