package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/keyvault"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/servicebus"
	"github.com/palvelumanuaali/useradmin/internal/ses"
	"github.com/palvelumanuaali/useradmin/internal/smtp"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
)

// app is every long-lived part, wired once.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	store    *tablestore.Store
	accounts *accounts.Service
	orgs     *organizations.Service
	hasher   *passwords.Hasher
	relay    *relay.Relay
	// inProcess is true when notifications go straight to the consumer
	// (standalone): a relay delivery then returns once they are sent.
	inProcess bool
	consumer  *delivery.Consumer
	sweeper   *lifecycle.Sweeper
	now       func() time.Time
}

func newID() string { return uuid.NewString() }

// lateRelay lets the account service and the relay refer to each other:
// the service wakes the relay, and the relay is built after the service's
// consumer (which the queue needs). It is set once, before any request.
type lateRelay struct{ r *relay.Relay }

func (l *lateRelay) Changed(userID string)                           { l.r.Changed(userID) }
func (l *lateRelay) Record(ctx context.Context, e audit.Event) error { return l.r.Record(ctx, e) }

// outsideParts replaces outside systems that have no local stand-in; the
// zero value uses the real ones.
type outsideParts struct {
	// secrets opens the Key Vault holding the pepper.
	secrets func(vaultURL string, cred azcore.TokenCredential) (keyvault.SecretClient, error)
}

// catchUpInterval is how often the relay looks for outboxes a crash or an
// outage left behind, in standalone mode. Under the Functions host the
// OutboxDrain timer does it (OUTBOX_DRAIN_SCHEDULE), because an app that
// scaled to zero runs no loop.
const catchUpInterval = 30 * time.Second

// build wires the application. It makes network calls (Key Vault; table
// creation against the emulator), so serve runs it after it already
// listens.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time, outside outsideParts) (*app, error) {
	var cred azcore.TokenCredential
	if cfg.TablesEndpoint != "" || cfg.KeyVaultURL != "" || cfg.ServiceBusNamespace != "" {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		cred = c
	}

	// The email provider first: a misconfiguration (an SES region outside
	// the EU/EEA) stops the start before anything else happens.
	var sender notify.Sender
	var err error
	switch cfg.Email.Provider {
	case "ses":
		// ses.New refuses a region outside the EU/EEA (P12).
		sender, err = ses.New(ctx, ses.Config{Region: cfg.Email.SESRegion, From: cfg.Email.From, ConfigurationSet: cfg.Email.SESConfigSet})
	default:
		sender, err = smtp.New(smtp.Config{
			Host: cfg.Email.SMTPHost, Port: cfg.Email.SMTPPort, Username: cfg.Email.SMTPUsername, Password: cfg.Email.SMTPPassword,
			Security: smtp.Security(cfg.Email.SMTPSecurity), From: cfg.Email.From,
		})
	}
	if err != nil {
		return nil, err
	}

	var store *tablestore.Store
	if cfg.TablesConnectionString != "" {
		store, err = tablestore.NewFromConnectionString(cfg.TablesConnectionString, cfg.TablePrefix)
	} else {
		store, err = tablestore.NewWithCredential(cfg.TablesEndpoint, cred, cfg.TablePrefix)
	}
	if err != nil {
		return nil, err
	}
	if cfg.TablesConnectionString != "" {
		// Azurite, or a developer's account: create what is missing. In
		// Azure the deployment made the tables (infra/modules/storage.bicep),
		// so a cold start spends no calls on them.
		if err := store.EnsureTables(ctx); err != nil {
			return nil, err
		}
	}

	peppers := passwords.Peppers{Current: cfg.LocalPepperCurrent, Keys: cfg.LocalPeppers}
	if cfg.KeyVaultURL != "" {
		openVault := outside.secrets
		if openVault == nil {
			openVault = func(vaultURL string, cred azcore.TokenCredential) (keyvault.SecretClient, error) {
				return keyvault.NewClient(vaultURL, cred)
			}
		}
		client, err := openVault(cfg.KeyVaultURL, cred)
		if err != nil {
			return nil, err
		}
		if peppers, err = keyvault.LoadPeppers(ctx, client, cfg.PepperSecretName); err != nil {
			return nil, err
		}
	}
	hasher, err := passwords.NewHasher(peppers, passwords.DefaultParams(), cfg.HashConcurrency, cfg.HashQueue)
	if err != nil {
		return nil, err
	}

	links, err := notify.NewLinkBuilder(cfg.AppBaseURL)
	if err != nil {
		return nil, err
	}
	renderer, err := notify.NewRenderer()
	if err != nil {
		return nil, err
	}
	late := &lateRelay{}
	svc := accounts.NewService(store, hasher, passwords.DefaultPolicy(), late, now, newID, accountOptions(cfg))
	orgs := organizations.NewService(store, late, now, newID)
	consumer := delivery.NewConsumer(store, store, svc, links, renderer, sender, log, now)
	// Notifications ride Service Bus when it is configured (Azure); the
	// in-process transport otherwise (standalone). Both end in consumer.Receive.
	var publisher relay.Publisher
	inProcess := false
	switch {
	case cfg.ServiceBusNamespace != "" || cfg.ServiceBusConnectionString != "":
		var client *azservicebus.Client
		if cfg.ServiceBusNamespace != "" {
			client, err = servicebus.NewClient(cfg.ServiceBusNamespace, cred)
		} else {
			client, err = servicebus.NewClientFromConnectionString(cfg.ServiceBusConnectionString)
		}
		if err != nil {
			return nil, err
		}
		if publisher, err = servicebus.NewPublisher(client, cfg.NotificationQueue); err != nil {
			return nil, err
		}
	default:
		publisher, inProcess = delivery.NewInProcess(consumer.Receive, cfg.NotificationMaxDeliveries), true
	}
	settle := func(ctx context.Context, owner string) error {
		if strings.HasPrefix(owner, organizations.OutboxOwner("")) {
			return nil // organisations derive nothing
		}
		return svc.Settle(ctx, owner)
	}
	interval := catchUpInterval
	if cfg.FunctionsEnv {
		interval = 0
	}
	late.r = relay.New(store, store, publisher, settle, log, interval, now)

	sweeper := lifecycle.New(store, svc, store, time.Since)
	return &app{cfg: cfg, log: log, store: store, accounts: svc, orgs: orgs, hasher: hasher, relay: late.r, inProcess: inProcess, consumer: consumer,
		sweeper: sweeper, now: now}, nil
}

// accountOptions are the account rules from the configuration.
func accountOptions(cfg config.Config) accounts.Options {
	return accounts.Options{
		SessionIdleTimeout:     cfg.SessionIdleTimeout,
		SessionAbsoluteTimeout: cfg.SessionAbsoluteTimeout,
		InvitationTTL:          cfg.InvitationTTL,
		PasswordResetTTL:       cfg.PasswordResetTTL,
		LockoutThreshold:       cfg.LockoutThreshold,
		LockoutDuration:        cfg.LockoutDuration,
		ActivityInterval:       cfg.ActivityInterval,
		PrivacyNoticeVersion:   cfg.PrivacyNoticeVersion,
		RestoreWindow:          cfg.ErasureDelay,
		InactivityMonths:       cfg.InactivityMonths,
		WarningDays:            cfg.WarningDays,
		SafetyMargin:           cfg.SafetyMargin,
	}
}

// drainOutbox delivers every outbox a crash or an outage left behind: the
// OutboxDrain timer function.
func (a *app) drainOutbox(ctx context.Context) (string, error) {
	visited, err := a.relay.CatchUp(ctx)
	if err != nil {
		a.log.Error("outbox drain incomplete", "accounts", visited, "error", err.Error())
	} else if visited > 0 {
		a.log.Info("outbox drained", "accounts", visited)
	}
	return fmt.Sprintf("outbox drain: %d marked accounts visited", visited), err
}

// sweep runs one lifecycle sweep as of now and logs its summary (ids only).
// It is what the timer function, the standalone schedule and the ops
// command share.
func (a *app) sweep(ctx context.Context, now time.Time, dryRun bool, progress func(lifecycle.Summary)) (lifecycle.Summary, error) {
	sum, err := a.sweeper.Run(ctx, now, lifecycle.Options{
		DryRun: dryRun, Budget: a.cfg.SweepBudget, AuditRetentionMonths: a.cfg.AuditRetentionMonths,
		DeliveryRetention: a.cfg.DeliveryRetention, Progress: progress,
	})
	attrs := []any{"as_of", now.UTC().Format(time.RFC3339), "dry_run", dryRun, "warned", sum.Warned, "closed", sum.Closed,
		"erased", sum.Erased, "cleaned", sum.Cleaned, "unchanged", sum.Unchanged, "failed", sum.Failed,
		"audit_purged", sum.AuditPurged, "deliveries_purged", sum.ClaimsPurged, "complete", sum.Complete}
	switch {
	case err != nil:
		a.log.Error("lifecycle sweep failed", append(attrs, "error", err.Error())...)
	case sum.Failed > 0:
		a.log.Error("lifecycle sweep failed for some accounts", append(attrs, "first_failures", sum.FirstFailures)...)
	default:
		a.log.Info("lifecycle sweep", attrs...)
	}
	return sum, err
}
