package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the record of processing's golden files in testdata")

// recordEnv are a deployment's settings, as the record reads them: the
// printed record must not depend on the machine.
func recordEnv(overrides map[string]string) func(string) string {
	env := map[string]string{
		"TABLES_ENDPOINT": "https://uaexample.table.core.windows.net",
		"KEY_VAULT_URL":   "https://ua-example.vault.azure.net",
		"ServiceBusConnection__fullyQualifiedNamespace": "ua-example.servicebus.windows.net",
		"APP_BASE_URL":                 "https://palvelumanuaali.example.fi",
		"EMAIL_PROVIDER":               "ses",
		"SES_REGION":                   "eu-north-1",
		"EMAIL_FROM":                   "Palvelumanuaali <no-reply@palvelumanuaali.example.fi>",
		"AZURE_REGION":                 "swedencentral",
		"PRIVACY_CONTROLLER":           "Esimerkkivirasto, PL 1, 00001 Helsinki",
		"PRIVACY_CONTACT":              "tietosuoja@example.fi",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "1",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func printRecord(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"handler", "privacy", "record"}, args...), getenv, &out, &errOut); err != nil {
		t.Fatalf("privacy record %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// P9: the record of processing, in each language and as JSON, is the
// golden file in testdata (go test ./cmd/handler -run TestPrivacyRecord
// -update rewrites them after a change to internal/privacy).
func TestPrivacyRecordGolden(t *testing.T) {
	for _, c := range []struct{ file, lang, format string }{
		{"privacy-record.fi.md", "fi", "md"},
		{"privacy-record.sv.md", "sv", "md"},
		{"privacy-record.en.md", "en", "md"},
		{"privacy-record.json", "all", "json"},
	} {
		got := printRecord(t, recordEnv(nil), "-lang", c.lang, "-format", c.format)
		path := filepath.Join("testdata", c.file)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs from what the handler prints: run go test ./cmd/handler -run TestPrivacyRecord -update and review the diff", path)
		}
	}
}

// The record's periods are the live settings', and what is unset shows as
// a placeholder, never as an empty line.
func TestPrivacyRecordReadsTheLiveSettings(t *testing.T) {
	got := printRecord(t, recordEnv(map[string]string{
		"INACTIVITY_MONTHS": "9", "ERASURE_DELAY": "1080h", "AUDIT_RETENTION_MONTHS": "36", "DELIVERY_RETENTION": "240h",
		"PRIVACY_CONTROLLER": "", "PRIVACY_CONTACT": "",
	}), "-lang", "en")
	for _, want := range []string{
		"closed after 9 months without activity", "erased 45 days after closing", "36 months", "10 days (DELIVERY_RETENTION)",
		"[not set: PRIVACY_CONTROLLER]", "[not set: PRIVACY_CONTACT]", "Amazon SES: eu-north-1", "Azure: swedencentral",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the record does not say %q", want)
		}
	}
}

func TestPrivacyRecordRefusesUnknownFlags(t *testing.T) {
	for _, args := range [][]string{{"-lang", "de"}, {"-format", "pdf"}, {"-lang", "fi;rm"}} {
		err := run(context.Background(), append([]string{"handler", "privacy", "record"}, args...), recordEnv(nil), io.Discard, io.Discard)
		if err == nil {
			t.Errorf("privacy record %v: no error", args)
		}
	}
}

// P9: the promises command lists every promise with its tests.
func TestPrivacyPromisesListsEveryPromise(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"handler", "privacy", "promises"}, recordEnv(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"P1 ", "P9 ", "P14 ", "internal/tablestore: TestEveryStoredPropertyIsDeclared"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("privacy promises does not list %q", want)
		}
	}
}
