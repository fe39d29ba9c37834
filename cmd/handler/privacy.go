package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/privacy"
)

// privacyCommand runs "privacy record" (the record of processing, GDPR
// Art. 30, from internal/privacy's declaration and the live settings) and
// "privacy promises" (P1–P14 with the tests that prove them). It reads
// nothing but the settings.
func privacyCommand(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("privacy: missing subcommand\n%s", usage)
	}
	switch args[0] {
	case "record":
		return privacyRecord(args[1:], getenv, stdout, stderr)
	case "promises":
		for _, p := range privacy.Promises() {
			fmt.Fprintf(stdout, "%s  %s\n", p.ID, p.Text)
			for _, test := range p.Tests {
				fmt.Fprintf(stdout, "      %s\n", test)
			}
		}
		return nil
	}
	return fmt.Errorf("privacy: unknown subcommand %q\n%s", args[0], usage)
}

func privacyRecord(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("privacy record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "all", "fi | sv | en | all")
	format := fs.String("format", "md", "md | json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var langs []privacy.Lang
	switch *lang {
	case "all":
		langs = privacy.Langs
	case "fi", "sv", "en":
		langs = []privacy.Lang{privacy.Lang(*lang)}
	default:
		return fmt.Errorf("privacy record: -lang must be fi, sv, en or all")
	}
	if *format != "md" && *format != "json" {
		return fmt.Errorf("privacy record: -format must be md or json")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	settings := recordSettings(cfg)
	var docs []privacy.Document
	for _, l := range langs {
		docs = append(docs, privacy.Record(l, settings))
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if len(docs) == 1 {
			return enc.Encode(docs[0])
		}
		return enc.Encode(docs)
	}
	var parts []string
	for _, d := range docs {
		parts = append(parts, d.Markdown())
	}
	_, err = io.WriteString(stdout, strings.Join(parts, "\n---\n\n"))
	return err
}

// recordSettings are the settings the record names, from the loaded
// configuration.
func recordSettings(cfg config.Config) privacy.Settings {
	s := privacy.Settings{
		Controller:    cfg.Privacy.Controller,
		Contact:       cfg.Privacy.Contact,
		HostingRegion: cfg.Privacy.Region,
		EmailProvider: cfg.Email.Provider,
		Limits: privacy.Limits{
			InactivityMonths:       cfg.Accounts.InactivityMonths,
			WarningDays:            cfg.Accounts.WarningDays,
			ErasureDelay:           cfg.Accounts.RestoreWindow,
			AuditRetentionMonths:   cfg.Sweep.AuditRetentionMonths,
			DeliveryRetention:      cfg.Sweep.DeliveryRetention,
			SessionIdleTimeout:     cfg.Accounts.SessionIdleTimeout,
			SessionAbsoluteTimeout: cfg.Accounts.SessionAbsoluteTimeout,
			InvitationTTL:          cfg.Accounts.InvitationTTL,
			PasswordResetTTL:       cfg.Accounts.PasswordResetTTL,
			ChallengeTTL:           accounts.ChallengeTTL,
		},
	}
	switch cfg.Email.Provider {
	case "ses":
		s.EmailRegion = cfg.Email.SESRegion
	case "smtp":
		s.EmailRegion = cfg.Email.SMTPHost
	}
	return s
}
