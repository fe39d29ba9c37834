package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/delivery"
	"github.com/palvelumanuaali/useradmin/internal/keyvault"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
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

// deferredRelay stands in for the relay until it exists: the account and
// organisation services wake it and append audit events through it, but
// the relay is built after them (its publisher may deliver straight to the
// consumer, which needs the account service). It is set once, before any
// request.
type deferredRelay struct{ r *relay.Relay }

func (d *deferredRelay) Changed(o relay.Owner)         { d.r.Changed(o) }
func (d *deferredRelay) Settling(o relay.Owner) func() { return d.r.Settling(o) }
func (d *deferredRelay) AppendNow(ctx context.Context, e audit.Event) error {
	return d.r.AppendNow(ctx, e)
}

// outsideParts replaces outside systems that have no local stand-in; the
// zero value uses the real ones.
type outsideParts struct {
	// secrets opens the Key Vault holding the pepper and the audit chain key.
	secrets func(vaultURL string) (keyvault.SecretClient, error)
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
	// The email provider first: a misconfiguration (an SES region outside
	// the EU/EEA) stops the start before anything else happens.
	sender, err := buildSender(ctx, cfg.Email)
	if err != nil {
		return nil, err
	}
	peppers, auditKeys, err := loadKeys(ctx, cfg, outside)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, auditKeys, now)
	if err != nil {
		return nil, err
	}
	hasher, err := passwords.NewHasher(peppers, passwords.DefaultParams(), cfg.HashConcurrency, cfg.HashQueue)
	if err != nil {
		return nil, err
	}
	if cfg.Accounts.MFAKeys, err = loadMFAKeys(ctx, cfg, outside); err != nil {
		return nil, err
	}
	if cfg.Accounts.Passkeys, err = buildPasskeys(cfg); err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, store: store, hasher: hasher, now: now}
	relayRef := &deferredRelay{}
	a.accounts = accounts.NewService(store, hasher, passwords.DefaultPolicy(), relayRef, now, newID, cfg.Accounts)
	a.orgs = organizations.NewService(store, relayRef, now, newID)
	if a.consumer, err = buildConsumer(cfg, store, a.accounts, sender, log, now); err != nil {
		return nil, err
	}
	if relayRef.r, a.inProcess, err = buildRelay(cfg, store, a.accounts, a.consumer, log, now); err != nil {
		return nil, err
	}
	a.relay = relayRef.r
	a.sweeper = lifecycle.New(store, a.accounts, store, time.Now)
	return a, nil
}

// buildSender opens the configured email provider.
func buildSender(ctx context.Context, cfg config.EmailConfig) (notify.Sender, error) {
	if cfg.Provider == "ses" {
		// ses.New refuses a region outside the EU/EEA (P12).
		return ses.New(ctx, ses.Config{Region: cfg.SESRegion, From: cfg.From, ConfigurationSet: cfg.SESConfigSet})
	}
	return smtp.New(smtp.Config{
		Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		Security: smtp.Security(cfg.SMTPSecurity), From: cfg.From,
	})
}

// buildConsumer is the notification consumer: it renders an email from
// the stored account and hands it to the sender.
func buildConsumer(cfg config.Config, store *tablestore.Store, svc *accounts.Service, sender notify.Sender, log *slog.Logger, now func() time.Time) (*delivery.Consumer, error) {
	links, err := notify.NewLinkBuilder(cfg.AppBaseURL)
	if err != nil {
		return nil, err
	}
	renderer, err := notify.NewRenderer()
	if err != nil {
		return nil, err
	}
	return delivery.NewConsumer(store, store, svc, links, renderer, sender, log, now), nil
}

// buildRelay is the relay from the outboxes to the notification transport.
// inProcess is true when that transport is the consumer itself.
func buildRelay(cfg config.Config, store *tablestore.Store, svc *accounts.Service, consumer *delivery.Consumer, log *slog.Logger, now func() time.Time) (r *relay.Relay, inProcess bool, err error) {
	publisher, inProcess, err := buildPublisher(cfg, consumer)
	if err != nil {
		return nil, false, err
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
	return relay.New(store, store, publisher, settle, log, interval, now), inProcess, nil
}

// buildPublisher is the notification transport: Service Bus when it is
// configured (Azure), the in-process transport otherwise (standalone).
// Both end in consumer.Receive.
func buildPublisher(cfg config.Config, consumer *delivery.Consumer) (p relay.Publisher, inProcess bool, err error) {
	if cfg.ServiceBusNamespace == "" && cfg.ServiceBusConnectionString == "" {
		return delivery.NewInProcess(consumer.Receive, cfg.NotificationMaxDeliveries), true, nil
	}
	p, err = servicebus.Open(servicebus.Config{
		Namespace: cfg.ServiceBusNamespace, ConnectionString: cfg.ServiceBusConnectionString, Queue: cfg.NotificationQueue,
	})
	return p, false, err
}

// loadKeys loads the pepper and the audit chain key versions: from Key
// Vault when KEY_VAULT_URL is set, from the local settings otherwise.
func loadKeys(ctx context.Context, cfg config.Config, outside outsideParts) (passwords.Peppers, audit.Keys, error) {
	peppers := passwords.Peppers{Current: cfg.LocalPepperCurrent, Keys: cfg.LocalPeppers}
	if cfg.KeyVaultURL != "" {
		client, err := openVault(cfg, outside)
		if err != nil {
			return passwords.Peppers{}, audit.Keys{}, err
		}
		if peppers, err = keyvault.LoadPeppers(ctx, client, cfg.PepperSecretName, time.Now()); err != nil {
			return passwords.Peppers{}, audit.Keys{}, err
		}
	}
	auditKeys, err := loadAuditKeys(ctx, cfg, outside)
	return peppers, auditKeys, err
}

// loadAuditKeys loads only the audit chain key versions (what audit verify
// needs): from Key Vault when KEY_VAULT_URL is set, locally otherwise.
func loadAuditKeys(ctx context.Context, cfg config.Config, outside outsideParts) (audit.Keys, error) {
	if cfg.KeyVaultURL == "" {
		return audit.Keys{Current: cfg.LocalAuditKeyCurrent, Versions: cfg.LocalAuditKeys}, nil
	}
	client, err := openVault(cfg, outside)
	if err != nil {
		return audit.Keys{}, err
	}
	return keyvault.LoadAuditKeys(ctx, client, cfg.AuditKeySecretName, time.Now())
}

// buildPasskeys is the WebAuthn relying party of cfg.Passkeys (config has
// checked it); nil, and no passkeys, while the base URL is not set.
func buildPasskeys(cfg config.Config) (accounts.RelyingParty, error) {
	if cfg.Passkeys.RPID == "" {
		return nil, nil
	}
	rp, err := passkeys.New(cfg.Passkeys)
	if err != nil {
		return nil, err
	}
	return rp, nil
}

// loadMFAKeys loads the MFA key versions (TOTP secrets, recovery codes):
// from Key Vault when KEY_VAULT_URL is set, locally otherwise.
func loadMFAKeys(ctx context.Context, cfg config.Config, outside outsideParts) (accounts.MFAKeys, error) {
	if cfg.KeyVaultURL == "" {
		k := accounts.MFAKeys{Current: cfg.LocalMFAKeyCurrent, Versions: cfg.LocalMFAKeys}
		return k, k.Validate()
	}
	client, err := openVault(cfg, outside)
	if err != nil {
		return accounts.MFAKeys{}, err
	}
	return keyvault.LoadMFAKeys(ctx, client, cfg.MFAKeySecretName, time.Now())
}

func openVault(cfg config.Config, outside outsideParts) (keyvault.SecretClient, error) {
	if outside.secrets != nil {
		return outside.secrets(cfg.KeyVaultURL)
	}
	return keyvault.Open(cfg.KeyVaultURL)
}

// openStore opens Table Storage with the audit chain keys. Against Azurite
// (or a developer's account) it creates the missing tables; in Azure the
// deployment made them (infra/modules/storage.bicep), so a cold start
// spends no calls on them. The store keeps time by the service's clock.
func openStore(ctx context.Context, cfg config.Config, auditKeys audit.Keys, now func() time.Time) (*tablestore.Store, error) {
	clock := tablestore.WithClock(now)
	if cfg.TablesConnectionString == "" {
		return tablestore.NewWithDefaultCredential(cfg.TablesEndpoint, cfg.TablePrefix, auditKeys, clock)
	}
	store, err := tablestore.NewFromConnectionString(cfg.TablesConnectionString, cfg.TablePrefix, auditKeys, clock)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureTables(ctx); err != nil {
		return nil, err
	}
	return store, nil
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
	opts := a.cfg.Sweep
	opts.DryRun, opts.Progress = dryRun, progress
	sum, err := a.sweeper.Run(ctx, now, opts)
	attrs := []any{"as_of", now.UTC().Format(time.RFC3339), "dry_run", dryRun, "warned", sum.Warned, "closed", sum.Closed,
		"erased", sum.Erased, "cleaned", sum.Cleaned, "unchanged", sum.Unchanged, "failed", sum.Failed,
		"audit_purged", sum.AuditPurged, "deliveries_purged", sum.DeliveriesPurged, "complete", sum.Complete}
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
