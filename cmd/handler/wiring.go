package main

import (
	"context"
	"fmt"
	"log/slog"
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

func (l *lateRelay) Changed(o relay.Owner)                           { l.r.Changed(o) }
func (l *lateRelay) Settling(o relay.Owner) func()                   { return l.r.Settling(o) }
func (l *lateRelay) Record(ctx context.Context, e audit.Event) error { return l.r.Record(ctx, e) }

// outsideParts replaces outside systems that have no local stand-in; the
// zero value uses the real ones.
type outsideParts struct {
	// secrets opens the Key Vault holding the pepper and the audit chain key.
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
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}

	// The email provider first: a misconfiguration (an SES region outside
	// the EU/EEA) stops the start before anything else happens.
	var sender notify.Sender
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

	peppers, auditKeys, err := loadKeys(ctx, cfg, cred, outside)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, cred, auditKeys)
	if err != nil {
		return nil, err
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
	settle := func(ctx context.Context, o relay.Owner) error {
		if o.Kind != relay.AccountOutbox {
			return nil // only accounts have derived state
		}
		return svc.Settle(ctx, o.ID)
	}
	interval := catchUpInterval
	if cfg.FunctionsEnv() {
		interval = 0
	}
	late.r = relay.New(store, store, publisher, settle, log, interval, now)

	sweeper := lifecycle.New(store, svc, store, time.Since)
	return &app{cfg: cfg, log: log, store: store, accounts: svc, orgs: orgs, hasher: hasher, relay: late.r, inProcess: inProcess, consumer: consumer,
		sweeper: sweeper, now: now}, nil
}

// credential is the Azure credential, when anything in Azure is configured:
// the managed identity in Azure, the developer's az login for ops commands.
func credential(cfg config.Config) (azcore.TokenCredential, error) {
	if cfg.TablesEndpoint == "" && cfg.KeyVaultURL == "" && cfg.ServiceBusNamespace == "" {
		return nil, nil
	}
	c, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	return c, nil
}

// loadKeys loads the pepper and the audit chain key versions: from Key
// Vault when KEY_VAULT_URL is set, from the local settings otherwise.
func loadKeys(ctx context.Context, cfg config.Config, cred azcore.TokenCredential, outside outsideParts) (passwords.Peppers, audit.Keys, error) {
	peppers := passwords.Peppers{Current: cfg.LocalPepperCurrent, Keys: cfg.LocalPeppers}
	if cfg.KeyVaultURL != "" {
		client, err := openVault(cfg, cred, outside)
		if err != nil {
			return passwords.Peppers{}, audit.Keys{}, err
		}
		if peppers, err = keyvault.LoadPeppers(ctx, client, cfg.PepperSecretName); err != nil {
			return passwords.Peppers{}, audit.Keys{}, err
		}
	}
	auditKeys, err := loadAuditKeys(ctx, cfg, cred, outside)
	return peppers, auditKeys, err
}

// loadAuditKeys loads only the audit chain key versions (what audit verify
// needs): from Key Vault when KEY_VAULT_URL is set, locally otherwise.
func loadAuditKeys(ctx context.Context, cfg config.Config, cred azcore.TokenCredential, outside outsideParts) (audit.Keys, error) {
	if cfg.KeyVaultURL == "" {
		return audit.Keys{Current: cfg.LocalAuditKeyCurrent, Versions: cfg.LocalAuditKeys}, nil
	}
	client, err := openVault(cfg, cred, outside)
	if err != nil {
		return audit.Keys{}, err
	}
	return keyvault.LoadAuditKeys(ctx, client, cfg.AuditKeySecretName)
}

func openVault(cfg config.Config, cred azcore.TokenCredential, outside outsideParts) (keyvault.SecretClient, error) {
	if outside.secrets != nil {
		return outside.secrets(cfg.KeyVaultURL, cred)
	}
	return keyvault.NewClient(cfg.KeyVaultURL, cred)
}

// openStore opens Table Storage with the audit chain keys. Against Azurite
// (or a developer's account) it creates the missing tables; in Azure the
// deployment made them (infra/modules/storage.bicep), so a cold start
// spends no calls on them.
func openStore(ctx context.Context, cfg config.Config, cred azcore.TokenCredential, auditKeys audit.Keys) (*tablestore.Store, error) {
	if cfg.TablesConnectionString == "" {
		return tablestore.NewWithCredential(cfg.TablesEndpoint, cred, cfg.TablePrefix, auditKeys)
	}
	store, err := tablestore.NewFromConnectionString(cfg.TablesConnectionString, cfg.TablePrefix, auditKeys)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureTables(ctx); err != nil {
		return nil, err
	}
	return store, nil
}

// accountOptions are the account rules from the configuration.
func accountOptions(cfg config.Config) accounts.Options {
	return accounts.Options{
		SessionIdleTimeout:     cfg.SessionIdleTimeout,
		SessionAbsoluteTimeout: cfg.SessionAbsoluteTimeout,
		InvitationTTL:          cfg.InvitationTTL,
		PasswordResetTTL:       cfg.PasswordResetTTL,
		LockoutThreshold:       cfg.LockoutThreshold,
		LockoutWindow:          cfg.LockoutWindow,
		LockoutDuration:        cfg.LockoutDuration,
		LockoutMaxDuration:     cfg.LockoutMaxDuration,
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
