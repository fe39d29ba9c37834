// Package config reads the handler's settings from the environment and
// validates them all at once, so a misconfigured deployment stops at start
// with one message naming every problem instead of failing later, one
// setting at a time.
//
// local.settings.example.json lists every setting with its local default;
// a test keeps that file and this package in step.
package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/schedule"
)

// Config is the validated configuration.
type Config struct {
	// Storage: exactly one of TablesConnectionString (Azurite) and
	// TablesEndpoint (Azure, keyless through DefaultAzureCredential).
	TablesConnectionString string
	TablesEndpoint         string
	TablePrefix            string

	AppBaseURL string
	// CORSOrigins are the browser origins the handler answers CORS for, in
	// standalone mode only. Under the Functions host the platform answers
	// CORS from the Function App's siteConfig.cors, so the handler adds
	// nothing there and this is empty.
	CORSOrigins []string
	ListenAddr  string // standalone mode
	// FunctionsPort is the port the Functions host told us to listen on;
	// empty when we run standalone.
	FunctionsPort string

	// Pepper: from Key Vault (KeyVaultURL + PepperSecretName) or, locally,
	// from LocalPeppers (version -> key) with LocalPepperCurrent.
	KeyVaultURL        string
	PepperSecretName   string
	LocalPeppers       map[string][]byte
	LocalPepperCurrent string

	// Audit chain key: from Key Vault (KeyVaultURL + AuditKeySecretName)
	// or, locally, from LocalAuditKeys (version -> key) with
	// LocalAuditKeyCurrent, exactly like the pepper.
	AuditKeySecretName   string
	LocalAuditKeys       map[string][]byte
	LocalAuditKeyCurrent string

	// MFA key (seals TOTP secrets, keys recovery-code hashes): from Key
	// Vault (KeyVaultURL + MFAKeySecretName) or, locally, from LocalMFAKeys
	// with LocalMFAKeyCurrent, exactly like the pepper.
	MFAKeySecretName   string
	LocalMFAKeys       map[string][]byte
	LocalMFAKeyCurrent string

	Email EmailConfig

	// Notifications go through Service Bus when a namespace (keyless) or a
	// developer's connection string is set; otherwise through the
	// in-process transport (standalone).
	ServiceBusNamespace        string
	ServiceBusConnectionString string
	NotificationQueue          string
	NotificationMaxDeliveries  int

	// Accounts are the account rules: sessions, links, lockout, the
	// lifecycle's inactivity and restore window (P6, P7).
	Accounts        accounts.Options
	HashConcurrency int
	// HashQueue is how many password hashes may wait for a turn while
	// HashConcurrency run; a request past that gets 503 busy at once.
	HashQueue int
	// Throttle limits the unauthenticated endpoints that cost a password
	// hash or an email (AUTH-4).
	Throttle ThrottleConfig

	// The lifecycle sweep (P6, P7): its NCRONTAB schedule (UTC) and its
	// limits (Budget, AuditRetentionMonths, DeliveryRetention; each run
	// sets DryRun and Progress itself).
	LifecycleSchedule string
	Sweep             lifecycle.Options
	// OutboxDrainSchedule is the OutboxDrain timer's NCRONTAB schedule
	// (Azure); standalone mode drains in-process instead.
	OutboxDrainSchedule string
	MaxBodyBytes        int64

	// Privacy is what the record of processing names beside the code's
	// declaration (internal/privacy); empty values print as placeholders.
	Privacy PrivacyConfig
	// Passkeys is the WebAuthn relying party: its id, name and the
	// frontend origins allowed to run the ceremonies.
	Passkeys passkeys.Config
}

// PrivacyConfig are the record of processing's settings.
type PrivacyConfig struct {
	Controller string // PRIVACY_CONTROLLER
	Contact    string // PRIVACY_CONTACT
	Region     string // AZURE_REGION: where the data is stored
}

// ThrottleConfig are the request limits on sign-in, the password-reset
// request and completion, and invitation acceptance: for each endpoint a
// token bucket per client address and one shared by all clients, in this
// instance's memory.
type ThrottleConfig struct {
	ClientPerMinute int // requests a client may make per minute, sustained
	ClientBurst     int // requests a client may make at once
	GlobalPerMinute int // requests all clients together may make per minute
	GlobalBurst     int
	// MaxClients caps the client addresses remembered per endpoint; the
	// least recently seen is forgotten first.
	MaxClients int
}

// EmailConfig selects and configures the email provider.
type EmailConfig struct {
	Provider     string // smtp | ses
	SESRegion    string
	SESConfigSet string
	From         string
	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPSecurity string // none | starttls | tls
}

// Setting describes one environment variable: its name, its local default
// (what local.settings.example.json shows) and whether it is secret.
type Setting struct {
	Name         string
	LocalDefault string
	Doc          string
}

// Settings lists every variable Load reads, in the order the example file
// shows them.
var Settings = []Setting{
	{"TABLES_CONNECTION_STRING", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;", "Azurite only; in Azure set TABLES_ENDPOINT instead"},
	{"TABLES_ENDPOINT", "", "https://<account>.table.core.windows.net (managed identity)"},
	{"TABLE_PREFIX", "ua", "prefix of every table name (letters and digits)"},
	{"APP_BASE_URL", "http://localhost:3000", "frontend base URL; every email link starts with it"},
	{"ALLOWED_ORIGINS", "http://localhost:3000", "standalone mode only: comma-separated browser origins allowed to call the API; in Azure the platform's CORS (siteConfig.cors) answers"},
	{"LISTEN_ADDR", "127.0.0.1:7071", "standalone mode listen address"},
	{"KEY_VAULT_URL", "", "https://<vault>.vault.azure.net (Azure); leave empty locally"},
	{"PEPPER_SECRET_NAME", "password-pepper", "Key Vault secret holding the password pepper versions"},
	{"PASSWORD_PEPPERS", "local1:bG9jYWwtZGV2ZWxvcG1lbnQtcGVwcGVyLW5vdC1mb3ItcHJvZHVjdGlvbg==", "local only: version:base64key pairs, comma-separated"},
	{"PASSWORD_PEPPER_CURRENT", "local1", "local only: the version new hashes use"},
	{"AUDIT_KEY_SECRET_NAME", "audit-chain-key", "Key Vault secret holding the audit chain key versions (HMAC of every audit link)"},
	{"AUDIT_KEYS", "local1:bG9jYWwtZGV2ZWxvcG1lbnQtYXVkaXQta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg==", "local only: audit chain keys as version:base64key pairs, comma-separated"},
	{"AUDIT_KEY_CURRENT", "local1", "local only: the audit key version new links use"},
	{"MFA_KEY_SECRET_NAME", "mfa-key", "Key Vault secret holding the MFA key versions (seals TOTP secrets, keys recovery codes)"},
	{"MFA_KEYS", "local1:bG9jYWwtZGV2ZWxvcG1lbnQtbWZhLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24=", "local only: MFA keys as version:base64key pairs (32 bytes), comma-separated"},
	{"MFA_KEY_CURRENT", "local1", "local only: the MFA key version new secrets use"},
	{"MFA_REQUIRED_FOR_ALL", "false", "true: editors and experts must have a second factor too (admins and primary users always must)"},
	{"EMAIL_PROVIDER", "smtp", "smtp | ses"},
	{"SES_REGION", "", "Amazon SES region; EU/EEA regions only (P12)"},
	{"SES_CONFIGURATION_SET", "", "optional SES configuration set"},
	{"EMAIL_FROM", "Palvelumanuaali <no-reply@palvelumanuaali.localhost>", "sender address"},
	{"SMTP_HOST", "127.0.0.1", "SMTP relay host"},
	{"SMTP_PORT", "1025", "SMTP relay port"},
	{"SMTP_USERNAME", "", "SMTP user (optional)"},
	{"SMTP_PASSWORD", "", "SMTP password (optional; from Key Vault reference in Azure)"},
	{"SMTP_SECURITY", "none", "none (local catcher only) | starttls | tls"},
	{"ServiceBusConnection__fullyQualifiedNamespace", "", "<namespace>.servicebus.windows.net: Service Bus (keyless); empty locally = in-process delivery"},
	{"SERVICEBUS_CONNECTION_STRING", "", "a developer's own namespace only; deployments are keyless"},
	{"NOTIFICATION_QUEUE", "notifications", "the notification queue's name"},
	{"NOTIFICATION_MAX_DELIVERIES", "10", "the queue's max delivery count (the last delivery records a failure)"},
	{"SESSION_IDLE_TIMEOUT", "30m", "session idle timeout"},
	{"SESSION_ABSOLUTE_TIMEOUT", "12h", "session absolute lifetime"},
	{"INVITATION_TTL", "168h", "how long an invitation link works"},
	{"PASSWORD_RESET_TTL", "30m", "how long a password-reset link works"},
	{"LOCKOUT_THRESHOLD", "10", "failed sign-ins within LOCKOUT_WINDOW before a lockout"},
	{"LOCKOUT_WINDOW", "1h", "a failed sign-in older than this no longer counts towards LOCKOUT_THRESHOLD"},
	{"LOCKOUT_DURATION", "15m", "how long the first lockout lasts; each further one before a successful sign-in lasts twice as long"},
	{"LOCKOUT_MAX_DURATION", "24h", "the longest a lockout lasts (100 failures in a row lock until a password reset)"},
	{"ACTIVITY_INTERVAL", "1h", "lastActiveAt is recorded at most this often"},
	{"PRIVACY_NOTICE_VERSION", "2026-01", "version of the privacy notice people accept"},
	{"ERASURE_DELAY", "720h", "a closed account is erased (and can be restored until then) this long after closing"},
	{"LIFECYCLE_SCHEDULE", "0 0 2 * * *", "NCRONTAB (6 fields, UTC) of the daily lifecycle sweep"},
	{"OUTBOX_DRAIN_SCHEDULE", "0 */5 * * * *", "NCRONTAB (6 fields, UTC) of the OutboxDrain timer (Azure): delivers what a crash left in an outbox"},
	{"INACTIVITY_MONTHS", "6", "an account is closed this many calendar months after its last activity"},
	{"WARNING_DAYS", "30,7", "inactivity warnings this many days before closing"},
	{"SAFETY_MARGIN", "1h", "closing and erasing wait this long past their time (clock skew)"},
	{"SWEEP_BUDGET", "8m", "a sweep stops starting new work after this long (below the function timeout)"},
	{"AUDIT_RETENTION_MONTHS", "24", "audit events are kept this many months"},
	{"DELIVERY_RETENTION", "720h", "notification delivery records are kept this long"},
	{"HASH_CONCURRENCY", "4", "password hashes run at once (each takes about 19 MiB)"},
	{"HASH_QUEUE", "32", "password hashes that may wait for a turn; past that the request gets 503 busy"},
	{"THROTTLE_CLIENT_PER_MINUTE", "60", "sign-in, password-reset and invitation-accept requests per client address and minute, per endpoint and instance (a municipality's staff may share one address)"},
	{"THROTTLE_CLIENT_BURST", "20", "of those, how many a client may send at once"},
	{"THROTTLE_GLOBAL_PER_MINUTE", "300", "the same endpoints' requests per minute from all clients together, per endpoint and instance"},
	{"THROTTLE_GLOBAL_BURST", "50", "of those, how many may come at once"},
	{"THROTTLE_MAX_CLIENTS", "10000", "client addresses remembered per endpoint (least recently seen forgotten first)"},
	{"MAX_BODY_BYTES", "65536", "largest accepted request body"},
	{"PRIVACY_CONTROLLER", "", "the record of processing's controller (name and address); a placeholder is printed while unset"},
	{"PRIVACY_CONTACT", "", "the record of processing's contact (data protection officer); a placeholder is printed while unset"},
	{"AZURE_REGION", "", "the Azure region the data is stored in, for the record of processing (the deployment sets it)"},
	{"WEBAUTHN_RP_ID", "localhost", "passkeys' relying party id: the frontend's domain or a registrable suffix of it (changing it later orphans every passkey); empty = APP_BASE_URL's host"},
	{"WEBAUTHN_RP_NAME", "Palvelumanuaali", "the name authenticators show next to a passkey"},
	{"WEBAUTHN_ORIGINS", "http://localhost:3000", "comma-separated frontend origins that run the passkey ceremonies (https; http only for localhost); empty = APP_BASE_URL's origin"},
}

// FunctionsPortVariable is the variable the Functions host sets on the
// custom handler's process: the port to listen on. It is the only name
// from the platform's namespaces the handler reads (see PlatformOwned).
const FunctionsPortVariable = "FUNCTIONS_CUSTOMHANDLER_PORT"

// FunctionTimeout is host.json's functionTimeout: the longest an
// invocation may run. The host waits this plus a minute for the answer.
const FunctionTimeout = 10 * time.Minute

// PlatformOwned reports whether an environment variable's name belongs to
// the Azure Functions platform (the host and App Service write or read
// these): an app setting of such a name is overwritten, or breaks the
// host. The app's own settings live outside these prefixes, except the
// ones the platform defines for an app to set: AzureWebJobsStorage__*
// (identity-based host storage).
func PlatformOwned(name string) bool {
	if strings.HasPrefix(name, "AzureWebJobsStorage__") {
		return false
	}
	for _, prefix := range []string{"FUNCTIONS_", "WEBSITE_", "AzureWebJobs", "CORS_", "SCM_", "APPSETTING_"} {
		if strings.HasPrefix(strings.ToUpper(name), strings.ToUpper(prefix)) {
			return true
		}
	}
	return false
}

// keyVaultReferencePrefix starts an App Service Key Vault reference. The
// platform replaces it with the secret; when it cannot (the secret is
// missing, or the app's identity may not read it) the app gets the
// reference text itself.
const keyVaultReferencePrefix = "@Microsoft.KeyVault("

// SDKSettings are read from the environment by an SDK (Amazon SES's
// credentials), not by Load; Load only refuses them while they hold an
// unresolved Key Vault reference.
var SDKSettings = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

// Load reads and validates the configuration. The error lists every
// problem found, one per line.
func Load(getenv func(string) string) (Config, error) {
	p := &parser{getenv: getenv}
	c := Config{
		AppBaseURL:                p.str("APP_BASE_URL"),
		ListenAddr:                p.strDefault("LISTEN_ADDR", "127.0.0.1:7071"),
		FunctionsPort:             p.str(FunctionsPortVariable),
		HashConcurrency:           p.intDefault("HASH_CONCURRENCY", 4, 1, 64),
		HashQueue:                 p.intDefault("HASH_QUEUE", 32, 0, 1024),
		MaxBodyBytes:              int64(p.intDefault("MAX_BODY_BYTES", 64<<10, 1<<10, 1<<20)),
		NotificationQueue:         p.strDefault("NOTIFICATION_QUEUE", "notifications"),
		NotificationMaxDeliveries: p.intDefault("NOTIFICATION_MAX_DELIVERIES", 10, 1, 100),
	}
	// First, because a setting that still holds a reference explains the
	// problems its value causes below.
	p.unresolvedKeyVaultReferences()
	p.loadStorage(&c)
	p.loadEdge(&c)
	p.loadSecrets(&c)
	p.loadEmail(&c)
	p.loadServiceBus(&c)
	p.loadAccounts(&c)
	p.loadLifecycle(&c)
	p.loadThrottle(&c)
	c.Privacy = PrivacyConfig{Controller: p.str("PRIVACY_CONTROLLER"), Contact: p.str("PRIVACY_CONTACT"), Region: p.str("AZURE_REGION")}
	p.loadPasskeys(&c)
	if len(p.problems) > 0 {
		return Config{}, &Error{Problems: p.problems}
	}
	return c, nil
}

// loadStorage reads Table Storage's settings: exactly one of a connection
// string (Azurite) and an endpoint (Azure).
func (p *parser) loadStorage(c *Config) {
	c.TablesConnectionString = p.str("TABLES_CONNECTION_STRING")
	c.TablesEndpoint = p.str("TABLES_ENDPOINT")
	c.TablePrefix = p.strDefault("TABLE_PREFIX", "ua")
	switch {
	case c.TablesConnectionString == "" && c.TablesEndpoint == "":
		p.fail("TABLES_CONNECTION_STRING or TABLES_ENDPOINT must be set")
	case c.TablesConnectionString != "" && c.TablesEndpoint != "":
		p.fail("set only one of TABLES_CONNECTION_STRING and TABLES_ENDPOINT")
	case c.TablesConnectionString != "":
		if strings.Contains(c.TablesConnectionString, "UseDevelopmentStorage") {
			p.fail("TABLES_CONNECTION_STRING: UseDevelopmentStorage=true is not supported; use the full Azurite connection string")
		} else if !strings.Contains(c.TablesConnectionString, "TableEndpoint=") {
			p.fail("TABLES_CONNECTION_STRING must contain TableEndpoint=")
		}
	case c.TablesEndpoint != "":
		p.httpsURL("TABLES_ENDPOINT", c.TablesEndpoint)
	}
	if !tablePrefixPattern.MatchString(c.TablePrefix) {
		p.fail("TABLE_PREFIX must be 1-20 letters or digits, starting with a letter")
	}
}

// loadEdge checks the frontend's base URL and reads the CORS origins.
func (p *parser) loadEdge(c *Config) {
	if !c.FunctionsEnv() {
		// Under the host the platform owns CORS; reading an origin list
		// there would only let the two layers disagree.
		c.CORSOrigins = p.list("ALLOWED_ORIGINS")
	}
	if c.AppBaseURL == "" {
		p.fail("APP_BASE_URL must be set")
	} else if u, err := url.Parse(c.AppBaseURL); err != nil || !u.IsAbs() || u.RawQuery != "" || u.Fragment != "" ||
		!(u.Scheme == "https" || (u.Scheme == "http" && isLocalHost(u.Hostname()))) {
		p.fail("APP_BASE_URL must be an absolute https URL without query or fragment (http only for localhost)")
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || o == "*" {
			p.fail(fmt.Sprintf("ALLOWED_ORIGINS: %q is not an origin (scheme://host[:port])", o))
		}
	}
}

// loadSecrets reads where the pepper and the audit chain key come from:
// Key Vault, or the local lists of versions.
func (p *parser) loadSecrets(c *Config) {
	c.KeyVaultURL = p.str("KEY_VAULT_URL")
	c.PepperSecretName = p.strDefault("PEPPER_SECRET_NAME", "password-pepper")
	c.LocalPepperCurrent = p.str("PASSWORD_PEPPER_CURRENT")
	c.AuditKeySecretName = p.strDefault("AUDIT_KEY_SECRET_NAME", "audit-chain-key")
	c.LocalAuditKeyCurrent = p.str("AUDIT_KEY_CURRENT")
	c.LocalPeppers = p.peppers("PASSWORD_PEPPERS")
	c.LocalAuditKeys = p.peppers("AUDIT_KEYS")
	c.MFAKeySecretName = p.strDefault("MFA_KEY_SECRET_NAME", "mfa-key")
	c.LocalMFAKeyCurrent = p.str("MFA_KEY_CURRENT")
	c.LocalMFAKeys = p.peppers("MFA_KEYS")
	if c.KeyVaultURL != "" {
		p.httpsURL("KEY_VAULT_URL", c.KeyVaultURL)
	}
	p.versionedSecret(*c, "PASSWORD_PEPPERS", "PASSWORD_PEPPER_CURRENT", c.LocalPeppers, c.LocalPepperCurrent, "the pepper")
	p.versionedSecret(*c, "AUDIT_KEYS", "AUDIT_KEY_CURRENT", c.LocalAuditKeys, c.LocalAuditKeyCurrent, "the audit chain key")
	p.versionedSecret(*c, "MFA_KEYS", "MFA_KEY_CURRENT", c.LocalMFAKeys, c.LocalMFAKeyCurrent, "the MFA key")
}

// loadEmail reads the email provider and its settings.
func (p *parser) loadEmail(c *Config) {
	e := EmailConfig{
		Provider:     p.strDefault("EMAIL_PROVIDER", "smtp"),
		From:         p.str("EMAIL_FROM"),
		SMTPHost:     p.str("SMTP_HOST"),
		SMTPPort:     p.intDefault("SMTP_PORT", 587, 1, 65535),
		SMTPUsername: p.str("SMTP_USERNAME"),
		SMTPPassword: p.str("SMTP_PASSWORD"),
		SMTPSecurity: p.strDefault("SMTP_SECURITY", "starttls"),
		SESRegion:    p.str("SES_REGION"),
		SESConfigSet: p.str("SES_CONFIGURATION_SET"),
	}
	switch e.Provider {
	case "smtp":
		if e.SMTPHost == "" {
			p.fail("SMTP_HOST must be set when EMAIL_PROVIDER=smtp")
		}
		switch e.SMTPSecurity {
		case "none", "starttls", "tls":
		default:
			p.fail("SMTP_SECURITY must be none, starttls or tls")
		}
		if e.SMTPSecurity == "none" && !isLocalHost(e.SMTPHost) {
			p.fail("SMTP_SECURITY=none is allowed only for a local mail catcher")
		}
	case "ses":
		if e.SESRegion == "" {
			p.fail("SES_REGION must be set when EMAIL_PROVIDER=ses")
		}
	default:
		p.fail("EMAIL_PROVIDER must be smtp or ses")
	}
	if e.From == "" {
		p.fail("EMAIL_FROM must be set")
	}
	c.Email = e
}

// loadServiceBus reads how notifications reach Service Bus, if they do.
// It runs after loadStorage, whose endpoint it checks against.
func (p *parser) loadServiceBus(c *Config) {
	c.ServiceBusNamespace = p.str("ServiceBusConnection__fullyQualifiedNamespace")
	c.ServiceBusConnectionString = p.str("SERVICEBUS_CONNECTION_STRING")
	if c.ServiceBusNamespace != "" && c.ServiceBusConnectionString != "" {
		p.fail("set only one of ServiceBusConnection__fullyQualifiedNamespace and SERVICEBUS_CONNECTION_STRING")
	}
	if c.ServiceBusConnectionString != "" && c.TablesEndpoint != "" {
		p.fail("SERVICEBUS_CONNECTION_STRING is for a developer's own namespace; in Azure use ServiceBusConnection__fullyQualifiedNamespace (keyless)")
	}
	if ns := c.ServiceBusNamespace; ns != "" && (strings.Contains(ns, "/") || !strings.Contains(ns, ".")) {
		p.fail("ServiceBusConnection__fullyQualifiedNamespace must be a host name such as ua.servicebus.windows.net")
	}
}

// loadAccounts reads the account rules (accounts.Options).
func (p *parser) loadAccounts(c *Config) {
	c.Accounts = accounts.Options{
		SessionIdleTimeout:     p.duration("SESSION_IDLE_TIMEOUT", 30*time.Minute),
		SessionAbsoluteTimeout: p.duration("SESSION_ABSOLUTE_TIMEOUT", 12*time.Hour),
		InvitationTTL:          p.duration("INVITATION_TTL", 7*24*time.Hour),
		PasswordResetTTL:       p.duration("PASSWORD_RESET_TTL", 30*time.Minute),
		LockoutThreshold:       p.intDefault("LOCKOUT_THRESHOLD", 10, 3, 100),
		LockoutWindow:          p.duration("LOCKOUT_WINDOW", time.Hour),
		LockoutDuration:        p.duration("LOCKOUT_DURATION", 15*time.Minute),
		LockoutMaxDuration:     p.duration("LOCKOUT_MAX_DURATION", 24*time.Hour),
		ActivityInterval:       p.duration("ACTIVITY_INTERVAL", time.Hour),
		PrivacyNoticeVersion:   p.strDefault("PRIVACY_NOTICE_VERSION", "2026-01"),
		// The setting keeps its published name; the domain calls it the
		// restore window.
		RestoreWindow:    p.duration("ERASURE_DELAY", 30*24*time.Hour),
		InactivityMonths: p.intDefault("INACTIVITY_MONTHS", 6, 1, 120),
		WarningDays:      p.days("WARNING_DAYS", []int{30, 7}),
		SafetyMargin:     p.duration("SAFETY_MARGIN", time.Hour),
		// A second factor is required of the roles that hold the keys;
		// MFA_REQUIRED_FOR_ALL extends it to everyone.
		SecondFactorRoles: []kernel.Role{kernel.RoleAdmin, kernel.RolePrimaryUser},
	}
	if p.boolDefault("MFA_REQUIRED_FOR_ALL", false) {
		c.Accounts.SecondFactorRoles = append(c.Accounts.SecondFactorRoles, kernel.RoleEditor, kernel.RoleExpert)
	}
	a := c.Accounts
	if a.SessionIdleTimeout > a.SessionAbsoluteTimeout {
		p.fail("SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_TIMEOUT")
	}
	if a.LockoutMaxDuration < a.LockoutDuration {
		p.fail("LOCKOUT_MAX_DURATION must be at least LOCKOUT_DURATION")
	}
}

// loadLifecycle reads the sweep's and the outbox drain's schedules and the
// sweep's limits.
func (p *parser) loadLifecycle(c *Config) {
	c.LifecycleSchedule = p.strDefault("LIFECYCLE_SCHEDULE", "0 0 2 * * *")
	c.OutboxDrainSchedule = p.strDefault("OUTBOX_DRAIN_SCHEDULE", "0 */5 * * * *")
	c.Sweep = lifecycle.Options{
		Budget:               p.duration("SWEEP_BUDGET", 8*time.Minute),
		AuditRetentionMonths: p.intDefault("AUDIT_RETENTION_MONTHS", 24, 1, 120),
		DeliveryRetention:    p.duration("DELIVERY_RETENTION", 30*24*time.Hour),
	}
	if _, err := schedule.Parse(c.LifecycleSchedule); err != nil {
		p.fail("LIFECYCLE_SCHEDULE: " + err.Error())
	}
	if _, err := schedule.Parse(c.OutboxDrainSchedule); err != nil {
		p.fail("OUTBOX_DRAIN_SCHEDULE: " + err.Error())
	}
	if c.Sweep.Budget >= FunctionTimeout {
		p.fail(fmt.Sprintf("SWEEP_BUDGET must stay below the function timeout (%s)", FunctionTimeout))
	}
}

// loadThrottle reads the request limits (AUTH-4).
func (p *parser) loadThrottle(c *Config) {
	c.Throttle = ThrottleConfig{
		ClientPerMinute: p.intDefault("THROTTLE_CLIENT_PER_MINUTE", 60, 1, 10000),
		ClientBurst:     p.intDefault("THROTTLE_CLIENT_BURST", 20, 1, 1000),
		GlobalPerMinute: p.intDefault("THROTTLE_GLOBAL_PER_MINUTE", 300, 1, 1000000),
		GlobalBurst:     p.intDefault("THROTTLE_GLOBAL_BURST", 50, 1, 100000),
		MaxClients:      p.intDefault("THROTTLE_MAX_CLIENTS", 10000, 100, 1000000),
	}
}

// loadPasskeys reads the WebAuthn relying party. Left empty, the id and
// the origin are APP_BASE_URL's: the frontend runs the ceremonies.
func (p *parser) loadPasskeys(c *Config) {
	c.Passkeys = passkeys.Config{
		RPID:    p.str("WEBAUTHN_RP_ID"),
		RPName:  p.strDefault("WEBAUTHN_RP_NAME", "Palvelumanuaali"),
		Origins: p.list("WEBAUTHN_ORIGINS"),
	}
	if u, err := url.Parse(c.AppBaseURL); err == nil && u.Host != "" {
		if c.Passkeys.RPID == "" {
			c.Passkeys.RPID = u.Hostname()
		}
		if len(c.Passkeys.Origins) == 0 {
			c.Passkeys.Origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	if c.AppBaseURL == "" {
		// Nothing to check the passkeys against; APP_BASE_URL's own
		// problem says what to fix.
		return
	}
	if err := c.Passkeys.Validate(); err != nil {
		for _, problem := range strings.Split(err.Error(), "\n") {
			p.fail("WEBAUTHN settings: " + problem)
		}
	}
}

// FunctionsEnv reports whether the Functions host started us (it set the
// port to listen on).
func (c Config) FunctionsEnv() bool { return c.FunctionsPort != "" }

// Error lists every configuration problem.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

var tablePrefixPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,19}$`)

func isLocalHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasSuffix(h, ".localhost")
}

type parser struct {
	getenv   func(string) string
	problems []string
}

func (p *parser) fail(msg string) { p.problems = append(p.problems, msg) }

// versionedSecret checks a secret that comes from Key Vault in Azure and
// from a local list of versions otherwise (the pepper, the audit chain
// key). A local one is refused against Azure storage: it would put a
// known key in front of real data. Whether the list is set is checked,
// not whether it parsed, so a mistyped value is reported as such.
func (p *parser) versionedSecret(c Config, listName, currentName string, keys map[string][]byte, current, what string) {
	set := p.str(listName) != ""
	switch {
	case c.KeyVaultURL != "" && set:
		p.fail("set only one of KEY_VAULT_URL and " + listName)
	case c.KeyVaultURL != "":
	case !set:
		p.fail("KEY_VAULT_URL (Azure) or " + listName + " (local) must be set")
	default:
		if c.TablesEndpoint != "" && c.TablesConnectionString == "" {
			p.fail(listName + " is for local runs only; in Azure " + what + " comes from KEY_VAULT_URL")
		}
		if _, ok := keys[current]; !ok {
			p.fail(currentName + " must name one of the versions in " + listName)
		}
	}
}

// unresolvedKeyVaultReferences refuses any setting that still holds a Key
// Vault reference: using its text as a password or key would fail later
// and less clearly. The message names the setting, never its value.
func (p *parser) unresolvedKeyVaultReferences() {
	names := make([]string, 0, len(Settings)+len(SDKSettings))
	for _, s := range Settings {
		names = append(names, s.Name)
	}
	for _, name := range append(names, SDKSettings...) {
		if strings.HasPrefix(strings.TrimSpace(p.getenv(name)), keyVaultReferencePrefix) {
			p.fail(name + " holds a Key Vault reference the platform could not resolve: check that the secret exists and " +
				"is enabled and that the app's identity has Key Vault Secrets User on the vault, then change any app " +
				"setting or restart the app so the platform reads it again")
		}
	}
}

func (p *parser) str(name string) string { return strings.TrimSpace(p.getenv(name)) }

func (p *parser) strDefault(name, def string) string {
	if v := p.str(name); v != "" {
		return v
	}
	return def
}

func (p *parser) list(name string) []string {
	var out []string
	for _, part := range strings.Split(p.str(name), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (p *parser) boolDefault(name string, def bool) bool {
	switch p.str(name) {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(name + " must be true or false")
	return def
}

func (p *parser) intDefault(name string, def, min, max int) int {
	v := p.str(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail(fmt.Sprintf("%s must be a whole number from %d to %d", name, min, max))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(fmt.Sprintf("%s must be a positive duration such as 30m or 12h", name))
		return def
	}
	return d
}

// days parses a comma-separated list of whole days ("30,7").
func (p *parser) days(name string, def []int) []int {
	raw := p.str(name)
	if raw == "" {
		return def
	}
	var out []int
	for _, part := range strings.Split(raw, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > 180 {
			p.fail(name + " must be whole days from 1 to 180, comma-separated, such as 30,7")
			return def
		}
		out = append(out, n)
	}
	return out
}

func (p *parser) httpsURL(name, v string) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		p.fail(name + " must be an https URL")
	}
}

// peppers parses "version:base64,version:base64" (the pepper's and the
// audit chain key's local versions). Problems name an entry
// by its position, never by its text: a key typed where the version goes
// looks like a version, and key values never appear in a problem message.
func (p *parser) peppers(name string) map[string][]byte {
	raw := p.str(name)
	if raw == "" {
		return nil
	}
	out := map[string][]byte{}
	for i, pair := range strings.Split(raw, ",") {
		version, value, ok := strings.Cut(strings.TrimSpace(pair), ":")
		key, err := base64.StdEncoding.DecodeString(value)
		switch {
		case !ok || !pepperVersionPattern.MatchString(version):
			p.fail(fmt.Sprintf("%s: entry %d is not version:base64key (version: letters, digits, dashes)", name, i+1))
		case err != nil || len(key) < 32:
			p.fail(fmt.Sprintf("%s: entry %d: key must be base64 of at least 32 bytes", name, i+1))
		default:
			out[version] = key
		}
	}
	return out
}

var pepperVersionPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
