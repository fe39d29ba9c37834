package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/passkeys"
	"github.com/palvelumanuaali/useradmin/internal/schedule"
)

// exampleFile is the project's own local.settings.example.json.
const exampleFile = "../../local.settings.example.json"

// hostSettings are the Functions host's own settings in the example file;
// the handler does not read them.
var hostSettings = map[string]bool{"FUNCTIONS_WORKER_RUNTIME": true, "AzureWebJobsStorage": true}

// exampleValues reads the example file's "Values", keeping their order.
func exampleValues(t *testing.T) (keys []string, values map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Values json.RawMessage }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("%s: %v", exampleFile, err)
	}
	if err := json.Unmarshal(file.Values, &values); err != nil {
		t.Fatalf("%s: Values must all be strings: %v", exampleFile, err)
	}
	dec := json.NewDecoder(bytes.NewReader(file.Values))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys, values
}

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// localEnv is the example file's values, as make run and the scripts use
// them.
func localEnv(t *testing.T) map[string]string {
	t.Helper()
	_, values := exampleValues(t)
	return values
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var cfgErr *config.Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("Load error = %v (%T), want *config.Error", err, err)
	}
	return cfgErr.Problems
}

// TestExampleSettingsLoad proves the documented local defaults start the
// handler: make run works on a fresh clone.
func TestExampleSettingsLoad(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(env(localEnv(t)))
	if err != nil {
		t.Fatalf("Load(example values): %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"table prefix", cfg.TablePrefix, "ua"},
		{"CORS origins", cfg.CORSOrigins, []string{"http://localhost:3000"}},
		{"functions mode", cfg.FunctionsEnv(), false},
		{"current pepper", cfg.LocalPepperCurrent, "local1"},
		{"SMTP port", cfg.Email.SMTPPort, 1025},
		{"SMTP security", cfg.Email.SMTPSecurity, "none"},
		{"session idle timeout", cfg.Accounts.SessionIdleTimeout, 30 * time.Minute},
		{"session absolute timeout", cfg.Accounts.SessionAbsoluteTimeout, 12 * time.Hour},
		{"invitation TTL", cfg.Accounts.InvitationTTL, 7 * 24 * time.Hour},
		{"password reset TTL", cfg.Accounts.PasswordResetTTL, 30 * time.Minute},
		{"lockout threshold", cfg.Accounts.LockoutThreshold, 10},
		{"lockout window", cfg.Accounts.LockoutWindow, time.Hour},
		{"lockout duration", cfg.Accounts.LockoutDuration, 15 * time.Minute},
		{"lockout max duration", cfg.Accounts.LockoutMaxDuration, 24 * time.Hour},
		{"activity interval", cfg.Accounts.ActivityInterval, time.Hour},
		{"hash concurrency", cfg.HashConcurrency, 4},
		{"max body bytes", cfg.MaxBodyBytes, int64(65536)},
		{"passkeys", cfg.Passkeys, passkeys.Config{RPID: "localhost", RPName: "Palvelumanuaali", Origins: []string{"http://localhost:3000"}}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if got, want := len(cfg.LocalPeppers["local1"]), 32; got < want {
		t.Errorf("local pepper is %d bytes, want at least %d", got, want)
	}
}

// TestSettingsAndExampleFileAgree keeps config.Settings and the example
// file in step: every setting is in the file with its documented local
// default, in the same order, and the file holds nothing else but the
// Functions host's own settings. Load reads exactly the listed settings
// (plus the port the Functions host sets).
func TestSettingsAndExampleFileAgree(t *testing.T) {
	t.Parallel()
	keys, values := exampleValues(t)

	var inFile []string
	for _, k := range keys {
		if !hostSettings[k] {
			inFile = append(inFile, k)
		}
	}
	var listed []string
	for _, s := range config.Settings {
		listed = append(listed, s.Name)
		v, ok := values[s.Name]
		if !ok {
			t.Errorf("setting %s is missing from %s", s.Name, exampleFile)
			continue
		}
		if v != s.LocalDefault {
			t.Errorf("setting %s: example file has %q, Settings documents %q", s.Name, v, s.LocalDefault)
		}
		if s.Doc == "" {
			t.Errorf("setting %s has no Doc", s.Name)
		}
	}
	if diff := cmp.Diff(listed, inFile); diff != "" {
		t.Errorf("settings in the example file differ from config.Settings (-Settings +file):\n%s", diff)
	}

	read := map[string]bool{}
	_, _ = config.Load(func(k string) string { read[k] = true; return "" })
	for _, name := range listed {
		if !read[name] {
			t.Errorf("setting %s is listed but Load never reads it", name)
		}
		delete(read, name)
	}
	delete(read, config.FunctionsPortVariable) // set by the Functions host, not by people
	for _, name := range config.SDKSettings {
		delete(read, name) // checked for unresolved Key Vault references only
	}
	for name := range read {
		t.Errorf("Load reads %s, which config.Settings does not list", name)
	}
}

// TestLoadWithNothingSetListsEveryProblemAtOnce: a deployment with no
// settings stops with one message naming everything that is missing, not
// one problem per restart.
func TestLoadWithNothingSetListsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, err := config.Load(env(nil))
	want := []string{
		"TABLES_CONNECTION_STRING or TABLES_ENDPOINT must be set",
		"APP_BASE_URL must be set",
		"KEY_VAULT_URL (Azure) or PASSWORD_PEPPERS (local) must be set",
		"KEY_VAULT_URL (Azure) or AUDIT_KEYS (local) must be set",
		"KEY_VAULT_URL (Azure) or MFA_KEYS (local) must be set",
		"SMTP_HOST must be set when EMAIL_PROVIDER=smtp",
		"EMAIL_FROM must be set",
	}
	if diff := cmp.Diff(want, problemsOf(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	for _, p := range want {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error text lacks %q:\n%s", p, err)
		}
	}
}

const (
	// testPepper is base64 of a 42-byte key with no '+', '/' or '=' in it,
	// so it also looks like a pepper version name.
	testPepper = "c2VjcmV0LXBlcHBlci12YWx1ZS10aGF0LW11c3Qtbm90LWxlYWsteHl6"
	// shortPepper is base64 of a 16-byte key: too short.
	shortPepper = "c2hvcnQtcGVwcGVyLWtleQ=="
)

// TestLoadRefusesInvalidSettings changes the working local settings one
// thing at a time; each mistake is named in the error, and nothing else is.
func TestLoadRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	azure := map[string]string{
		"TABLES_CONNECTION_STRING": "",
		"TABLES_ENDPOINT":          "https://uaprod.table.core.windows.net",
		"PASSWORD_PEPPERS":         "",
		"PASSWORD_PEPPER_CURRENT":  "",
		"AUDIT_KEYS":               "",
		"AUDIT_KEY_CURRENT":        "",
		"MFA_KEYS":                 "",
		"MFA_KEY_CURRENT":          "",
		"KEY_VAULT_URL":            "https://uaprod.vault.azure.net",
		"APP_BASE_URL":             "https://palvelumanuaali.fi",
		"SMTP_HOST":                "smtp.example.fi",
		"SMTP_PORT":                "587",
		"SMTP_SECURITY":            "starttls",
		// The passkeys follow APP_BASE_URL.
		"WEBAUTHN_RP_ID":   "",
		"WEBAUTHN_ORIGINS": "",
	}
	tests := []struct {
		name   string
		change map[string]string
		want   []string
	}{
		{"a duration without a unit is refused", map[string]string{"SESSION_IDLE_TIMEOUT": "30"},
			[]string{"SESSION_IDLE_TIMEOUT must be a positive duration such as 30m or 12h"}},
		{"a negative duration is refused", map[string]string{"LOCKOUT_DURATION": "-15m"},
			[]string{"LOCKOUT_DURATION must be a positive duration such as 30m or 12h"}},
		{"a zero duration is refused", map[string]string{"PASSWORD_RESET_TTL": "0s"},
			[]string{"PASSWORD_RESET_TTL must be a positive duration such as 30m or 12h"}},
		{"words are not a duration", map[string]string{"INVITATION_TTL": "seven days"},
			[]string{"INVITATION_TTL must be a positive duration such as 30m or 12h"}},
		{"several bad durations are all named", map[string]string{"ACTIVITY_INTERVAL": "x", "SESSION_ABSOLUTE_TIMEOUT": "y"},
			[]string{"SESSION_ABSOLUTE_TIMEOUT must be a positive duration such as 30m or 12h", "ACTIVITY_INTERVAL must be a positive duration such as 30m or 12h"}},
		{"an idle timeout longer than the absolute one is refused", map[string]string{"SESSION_IDLE_TIMEOUT": "13h"},
			[]string{"SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_TIMEOUT"}},
		// AUTH-3: the escalation's ceiling cannot be below the first lock.
		{"a lockout ceiling below the first lockout is refused", map[string]string{"LOCKOUT_DURATION": "2h", "LOCKOUT_MAX_DURATION": "1h"},
			[]string{"LOCKOUT_MAX_DURATION must be at least LOCKOUT_DURATION"}},
		{"a lockout threshold of 0 is refused", map[string]string{"LOCKOUT_THRESHOLD": "0"},
			[]string{"LOCKOUT_THRESHOLD must be a whole number from 3 to 100"}},
		{"a lockout threshold over NIST's 100 is refused", map[string]string{"LOCKOUT_THRESHOLD": "101"},
			[]string{"LOCKOUT_THRESHOLD must be a whole number from 3 to 100"}},
		{"a word for a number is refused", map[string]string{"LOCKOUT_THRESHOLD": "ten"},
			[]string{"LOCKOUT_THRESHOLD must be a whole number from 3 to 100"}},
		{"no hashing at all is refused", map[string]string{"HASH_CONCURRENCY": "0"},
			[]string{"HASH_CONCURRENCY must be a whole number from 1 to 64"}},
		{"a negative hash queue is refused", map[string]string{"HASH_QUEUE": "-1"},
			[]string{"HASH_QUEUE must be a whole number from 0 to 1024"}},
		{"a throttle that lets nothing through is refused", map[string]string{"THROTTLE_CLIENT_BURST": "0", "THROTTLE_GLOBAL_PER_MINUTE": "0"},
			[]string{"THROTTLE_CLIENT_BURST must be a whole number from 1 to 1000", "THROTTLE_GLOBAL_PER_MINUTE must be a whole number from 1 to 1000000"}},
		{"a tiny body limit is refused", map[string]string{"MAX_BODY_BYTES": "100"},
			[]string{"MAX_BODY_BYTES must be a whole number from 1024 to 1048576"}},
		{"a huge body limit is refused", map[string]string{"MAX_BODY_BYTES": "104857600"},
			[]string{"MAX_BODY_BYTES must be a whole number from 1024 to 1048576"}},
		{"a port past 65535 is refused", map[string]string{"SMTP_PORT": "70000"},
			[]string{"SMTP_PORT must be a whole number from 1 to 65535"}},
		{"UseDevelopmentStorage is refused", map[string]string{"TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"},
			[]string{"TABLES_CONNECTION_STRING: UseDevelopmentStorage=true is not supported; use the full Azurite connection string"}},
		{"a connection string without a table endpoint is refused", map[string]string{"TABLES_CONNECTION_STRING": "AccountName=devstoreaccount1;AccountKey=abc"},
			[]string{"TABLES_CONNECTION_STRING must contain TableEndpoint="}},
		{"both storage settings are refused", map[string]string{"TABLES_ENDPOINT": "https://uaprod.table.core.windows.net"},
			[]string{"set only one of TABLES_CONNECTION_STRING and TABLES_ENDPOINT"}},
		{"a plain-http table endpoint is refused", merge(azure, map[string]string{"TABLES_ENDPOINT": "http://uaprod.table.core.windows.net"}),
			[]string{"TABLES_ENDPOINT must be an https URL"}},
		{"a plain-http Key Vault is refused", merge(azure, map[string]string{"KEY_VAULT_URL": "http://uaprod.vault.azure.net"}),
			[]string{"KEY_VAULT_URL must be an https URL"}},
		{"a plain-http public base URL is refused", map[string]string{"APP_BASE_URL": "http://palvelumanuaali.fi"},
			[]string{"APP_BASE_URL must be an absolute https URL without query or fragment (http only for localhost)"}},
		{"a relative base URL is refused", map[string]string{"APP_BASE_URL": "palvelumanuaali.fi"},
			[]string{"APP_BASE_URL must be an absolute https URL without query or fragment (http only for localhost)"}},
		{"a base URL with a query is refused", map[string]string{"APP_BASE_URL": "https://palvelumanuaali.fi/?x=1"},
			[]string{"APP_BASE_URL must be an absolute https URL without query or fragment (http only for localhost)"}},
		{"a wildcard CORS origin is refused", map[string]string{"ALLOWED_ORIGINS": "*"},
			[]string{`ALLOWED_ORIGINS: "*" is not an origin (scheme://host[:port])`}},
		{"a CORS origin with a path is refused", map[string]string{"ALLOWED_ORIGINS": "http://localhost:3000,https://hallinta.example.fi/app"},
			[]string{`ALLOWED_ORIGINS: "https://hallinta.example.fi/app" is not an origin (scheme://host[:port])`}},
		{"an outbox drain schedule with five fields is refused", map[string]string{"OUTBOX_DRAIN_SCHEDULE": "*/5 * * * *"},
			[]string{"OUTBOX_DRAIN_SCHEDULE: " + scheduleError(t, "*/5 * * * *")}},
		{"a table prefix with a dash is refused", map[string]string{"TABLE_PREFIX": "ua-test"},
			[]string{"TABLE_PREFIX must be 1-20 letters or digits, starting with a letter"}},
		{"plain SMTP to a remote host is refused", map[string]string{"SMTP_HOST": "smtp.example.fi"},
			[]string{"SMTP_SECURITY=none is allowed only for a local mail catcher"}},
		{"an unknown SMTP security is refused", map[string]string{"SMTP_SECURITY": "ssl"},
			[]string{"SMTP_SECURITY must be none, starttls or tls"}},
		{"an unknown email provider is refused", map[string]string{"EMAIL_PROVIDER": "sendgrid"},
			[]string{"EMAIL_PROVIDER must be smtp or ses"}},
		{"SES without a region is refused", map[string]string{"EMAIL_PROVIDER": "ses"},
			[]string{"SES_REGION must be set when EMAIL_PROVIDER=ses"}},
		{"both Service Bus settings are refused", map[string]string{"ServiceBusConnection__fullyQualifiedNamespace": "ua.servicebus.windows.net", "SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://x/"},
			[]string{"set only one of ServiceBusConnection__fullyQualifiedNamespace and SERVICEBUS_CONNECTION_STRING"}},
		{"a Service Bus namespace must be a host name", map[string]string{"ServiceBusConnection__fullyQualifiedNamespace": "sb://ua/"},
			[]string{"ServiceBusConnection__fullyQualifiedNamespace must be a host name such as ua.servicebus.windows.net"}},
		{"local peppers against Azure storage are refused", map[string]string{"TABLES_CONNECTION_STRING": "", "TABLES_ENDPOINT": "https://uaprod.table.core.windows.net"},
			[]string{"PASSWORD_PEPPERS is for local runs only; in Azure the pepper comes from KEY_VAULT_URL",
				"AUDIT_KEYS is for local runs only; in Azure the audit chain key comes from KEY_VAULT_URL",
				"MFA_KEYS is for local runs only; in Azure the MFA key comes from KEY_VAULT_URL"}},
		{"Key Vault and local peppers together are refused", map[string]string{"KEY_VAULT_URL": "https://uaprod.vault.azure.net"},
			[]string{"set only one of KEY_VAULT_URL and PASSWORD_PEPPERS", "set only one of KEY_VAULT_URL and AUDIT_KEYS", "set only one of KEY_VAULT_URL and MFA_KEYS"}},
		// CONF-3: a known local audit key in Azure would let whoever can
		// write the table re-chain it.
		{"local audit keys beside Key Vault are refused", merge(azure, map[string]string{"AUDIT_KEYS": "local1:" + testPepper, "AUDIT_KEY_CURRENT": "local1"}),
			[]string{"set only one of KEY_VAULT_URL and AUDIT_KEYS"}},
		{"no audit key is refused", map[string]string{"AUDIT_KEYS": "", "AUDIT_KEY_CURRENT": ""},
			[]string{"KEY_VAULT_URL (Azure) or AUDIT_KEYS (local) must be set"}},
		{"a current audit key without a key is refused", map[string]string{"AUDIT_KEY_CURRENT": "local2"},
			[]string{"AUDIT_KEY_CURRENT must name one of the versions in AUDIT_KEYS"}},
		{"a short audit key is refused", map[string]string{"AUDIT_KEYS": "local1:" + shortPepper},
			[]string{"AUDIT_KEYS: entry 1: key must be base64 of at least 32 bytes",
				"AUDIT_KEY_CURRENT must name one of the versions in AUDIT_KEYS"}},
		{"a current pepper without a key is refused", map[string]string{"PASSWORD_PEPPER_CURRENT": "local2"},
			[]string{"PASSWORD_PEPPER_CURRENT must name one of the versions in PASSWORD_PEPPERS"}},
		{"a short pepper is refused", map[string]string{"PASSWORD_PEPPERS": "local1:" + shortPepper},
			[]string{"PASSWORD_PEPPERS: entry 1: key must be base64 of at least 32 bytes",
				"PASSWORD_PEPPER_CURRENT must name one of the versions in PASSWORD_PEPPERS"}},
		{"a pepper entry without a version is refused", map[string]string{"PASSWORD_PEPPERS": "local1:" + testPepper + "," + testPepper},
			[]string{"PASSWORD_PEPPERS: entry 2 is not version:base64key (version: letters, digits, dashes)"}},
		// Passkeys are bound to the origin: a page elsewhere, or over plain
		// http, could phish them.
		{"an http passkey origin outside localhost is refused", merge(azure, map[string]string{"WEBAUTHN_ORIGINS": "http://palvelumanuaali.fi"}),
			[]string{`WEBAUTHN settings: origin "http://palvelumanuaali.fi" must be https (http only for localhost)`}},
		{"a passkey origin off the relying party id is refused", merge(azure, map[string]string{"WEBAUTHN_RP_ID": "palvelumanuaali.fi", "WEBAUTHN_ORIGINS": "https://palvelumanuaali.fi.evil.example"}),
			[]string{`WEBAUTHN settings: origin "https://palvelumanuaali.fi.evil.example" is not on the relying party id "palvelumanuaali.fi" or a subdomain of it`}},
		{"a public suffix as the relying party id is refused", merge(azure, map[string]string{"WEBAUTHN_RP_ID": "fi"}),
			[]string{`WEBAUTHN settings: the relying party id "fi" is a public suffix: use the service's own domain`}},
		{"Azure settings load", azure, nil},
		{"Azure settings in Functions mode load", merge(azure, map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "41234"}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := merge(localEnv(t), tc.change)
			_, err := config.Load(env(e))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPasskeysFollowTheFrontend: left empty, the relying party is the
// frontend's host and origin, the page that runs the ceremonies.
func TestPasskeysFollowTheFrontend(t *testing.T) {
	t.Parallel()
	e := merge(localEnv(t), map[string]string{"APP_BASE_URL": "https://hallinta.example.fi/app", "WEBAUTHN_RP_ID": "", "WEBAUTHN_ORIGINS": ""})
	cfg, err := config.Load(env(e))
	if err != nil {
		t.Fatal(err)
	}
	want := passkeys.Config{RPID: "hallinta.example.fi", RPName: "Palvelumanuaali", Origins: []string{"https://hallinta.example.fi"}}
	if diff := cmp.Diff(want, cfg.Passkeys); diff != "" {
		t.Errorf("passkeys (-want +got):\n%s", diff)
	}
}

// TestLoadErrorsNeverShowSecrets: a configuration error goes to the
// process log and the deployment's output, so it must never repeat a
// pepper key, however it was mistyped, nor any other secret value (LOG-2).
func TestLoadErrorsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		peppers string
	}{
		{"a key and version the wrong way round", testPepper + ":local1"},
		{"a key without a version", testPepper},
		{"a key with a bad version", "local_1:" + testPepper},
		{"a key with a version too long", strings.Repeat("v", 65) + ":" + testPepper},
		{"a key that is not base64", "local1:" + testPepper + "!!"},
		{"a short key", "local1:" + testPepper[:20]},
		{"a good key beside a broken entry", "local1:" + testPepper + ",local2:" + testPepper + "%"},
		{"a key after an empty entry", ",local1:" + testPepper},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := merge(localEnv(t), map[string]string{
				"PASSWORD_PEPPERS":             tc.peppers,
				"PASSWORD_PEPPER_CURRENT":      "local9",
				"AUDIT_KEYS":                   tc.peppers, // the same parser: its problems must not show keys either
				"AUDIT_KEY_CURRENT":            "local9",
				"SMTP_PASSWORD":                "smtp-salasana-joka-ei-saa-nakya",
				"FUNCTIONS_CUSTOMHANDLER_PORT": "41234",
				"TABLES_ENDPOINT":              "https://uaprod.table.core.windows.net",
			})
			_, err := config.Load(env(e))
			if err == nil {
				t.Fatal("Load accepted broken settings")
			}
			text := err.Error()
			for what, secret := range map[string]string{
				"pepper key":               testPepper,
				"start of the pepper key":  testPepper[:16],
				"SMTP password":            "smtp-salasana-joka-ei-saa-nakya",
				"storage account key":      "AccountKey=",
				"storage connection value": e["TABLES_CONNECTION_STRING"],
			} {
				if strings.Contains(text, secret) {
					t.Errorf("the error shows the %s:\n%s", what, text)
				}
			}
		})
	}
}

func merge(base, change map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range change {
		out[k] = v
	}
	return out
}

func scheduleError(t *testing.T, expr string) string {
	t.Helper()
	_, err := schedule.Parse(expr)
	if err == nil {
		t.Fatalf("schedule %q parses", expr)
	}
	return err.Error()
}

// TestNoSettingUsesAPlatformName: the Functions platform owns every name
// under FUNCTIONS_, WEBSITE_, AzureWebJobs, CORS_, SCM_ and APPSETTING_.
// It writes some of them at start (CORS_ALLOWED_ORIGINS, as a JSON array)
// and an app setting of such a name is overwritten or breaks the host. So
// the handler's own settings live outside them, and Load reads no such
// name but the port the host hands its custom handler.
func TestNoSettingUsesAPlatformName(t *testing.T) {
	t.Parallel()
	for _, s := range config.Settings {
		if config.PlatformOwned(s.Name) {
			t.Errorf("setting %s uses a name the Functions platform owns", s.Name)
		}
	}
	for _, functionsMode := range []bool{false, true} {
		read := map[string]bool{}
		_, _ = config.Load(func(k string) string {
			read[k] = true
			if functionsMode && k == config.FunctionsPortVariable {
				return "41234"
			}
			return ""
		})
		for name := range read {
			if config.PlatformOwned(name) && name != config.FunctionsPortVariable {
				t.Errorf("functions mode %v: Load reads %s, a name the Functions platform owns", functionsMode, name)
			}
		}
	}

	owned := []string{"FUNCTIONS_EXTENSION_VERSION", "WEBSITE_SITE_NAME", "AzureWebJobsScriptRoot", "AzureWebJobsStorage",
		"CORS_ALLOWED_ORIGINS", "cors_support_credentials", "SCM_DO_BUILD_DURING_DEPLOYMENT", "APPSETTING_X"}
	for _, name := range owned {
		if !config.PlatformOwned(name) {
			t.Errorf("PlatformOwned(%q) = false, want true", name)
		}
	}
	ours := []string{"AzureWebJobsStorage__accountName", "ServiceBusConnection__fullyQualifiedNamespace", "ALLOWED_ORIGINS",
		"APPLICATIONINSIGHTS_CONNECTION_STRING", "TABLES_ENDPOINT"}
	for _, name := range ours {
		if config.PlatformOwned(name) {
			t.Errorf("PlatformOwned(%q) = true, want false", name)
		}
	}
}

// TestLoadUnderThePlatformsEnvironment starts the configuration with the
// variables Flex Consumption injects: CORS_ALLOWED_ORIGINS is a JSON
// array there. It must load, and the handler must leave CORS to the
// platform, whatever the array holds.
func TestLoadUnderThePlatformsEnvironment(t *testing.T) {
	t.Parallel()
	for _, origins := range []string{`["https://hallinta.example.fi"]`, `[]`, `["*"]`} {
		e := merge(localEnv(t), map[string]string{
			"FUNCTIONS_CUSTOMHANDLER_PORT": "41234",
			"CORS_ALLOWED_ORIGINS":         origins,
			"CORS_SUPPORT_CREDENTIALS":     "false",
			"WEBSITE_SITE_NAME":            "ua-prod",
			"FUNCTIONS_EXTENSION_VERSION":  "~4",
			// ALLOWED_ORIGINS is standalone-only; even if someone set it
			// in Azure, the platform's list is the one that answers.
			"ALLOWED_ORIGINS": "https://elsewhere.example.fi",
		})
		cfg, err := config.Load(env(e))
		if err != nil {
			t.Fatalf("CORS_ALLOWED_ORIGINS=%s: Load: %v", origins, err)
		}
		if len(cfg.CORSOrigins) != 0 {
			t.Errorf("CORS_ALLOWED_ORIGINS=%s: handler CORS origins = %v, want none under the host", origins, cfg.CORSOrigins)
		}
		if !cfg.FunctionsEnv() || cfg.FunctionsPort != "41234" {
			t.Errorf("functions mode = %v, port %q", cfg.FunctionsEnv(), cfg.FunctionsPort)
		}
	}
	// Standalone, the platform's variable means nothing to the handler.
	e := merge(localEnv(t), map[string]string{"CORS_ALLOWED_ORIGINS": `["https://hallinta.example.fi"]`})
	cfg, err := config.Load(env(e))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"http://localhost:3000"}, cfg.CORSOrigins); diff != "" {
		t.Errorf("standalone CORS origins (-want +got):\n%s", diff)
	}
}

// TestLoadRefusesUnresolvedKeyVaultReferences: when the platform cannot
// read a referenced secret, the app gets the reference text. The handler
// stops with a message naming the setting and what to check, and never
// uses the text as a password (nor repeats it).
func TestLoadRefusesUnresolvedKeyVaultReferences(t *testing.T) {
	t.Parallel()
	ref := "@Microsoft.KeyVault(SecretUri=https://uaprod.vault.azure.net/secrets/smtp-password/)"
	for _, name := range []string{"SMTP_PASSWORD", "AWS_SECRET_ACCESS_KEY", "EMAIL_FROM"} {
		e := merge(localEnv(t), map[string]string{name: ref})
		_, err := config.Load(env(e))
		if err == nil {
			t.Fatalf("%s: Load accepted an unresolved Key Vault reference", name)
		}
		problems := problemsOf(t, err)
		found := false
		for _, p := range problems {
			if strings.HasPrefix(p, name+" holds a Key Vault reference the platform could not resolve") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: problems %q do not name the unresolved reference", name, problems)
		}
		if strings.Contains(err.Error(), "uaprod.vault.azure.net") {
			t.Errorf("%s: the error repeats the reference:\n%s", name, err)
		}
	}
}
