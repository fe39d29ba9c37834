package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets/fake"

	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/keyvault"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// BenchmarkStartToReady measures run() from its call to the "listening"
// line (the moment the Functions host's readiness probe gets an answer)
// and to "ready" (wired: tables ensured, API served). Target: ≤ 20 ms to
// listening. Tables already exist, as on every start but the first.
func BenchmarkStartToReady(b *testing.B) {
	env := testEnv(b, testenv.MailDev(b))
	getenv := func(k string) string { return env[k] }
	var listening, ready time.Duration
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- run(ctx, []string{"handler"}, getenv, pw, io.Discard); pw.Close() }()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg string }
			_ = json.Unmarshal(sc.Bytes(), &line)
			if line.Msg == "listening" {
				listening += time.Since(start)
			}
			if line.Msg == "ready" {
				ready += time.Since(start)
				break
			}
		}
		cancel()
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(listening.Microseconds())/float64(b.N)/1000, "ms-to-listening")
	b.ReportMetric(float64(ready.Microseconds())/float64(b.N)/1000, "ms-to-ready")
}

// slowVault is a Key Vault whose every secret (the pepper, the audit chain
// key) has one version, and that takes delay to answer each call: a cold
// Key Vault, or one far away.
func slowVault(delay time.Duration) func(string) (keyvault.SecretClient, error) {
	const url = "https://bench-vault.vault.azure.net"
	created := time.Now().Add(-time.Hour).Truncate(time.Second)
	id := azsecrets.ID(url + "/secrets/password-pepper/0123456789abcdef0123456789abcdef")
	value := "YmVuY2gtcGVwcGVyLWJlbmNoLXBlcHBlci1iZW5jaC1wZXBwZXI="
	enabled := true
	srv := fake.Server{
		NewListSecretPropertiesVersionsPager: func(string, *azsecrets.ListSecretPropertiesVersionsOptions) (resp azfake.PagerResponder[azsecrets.ListSecretPropertiesVersionsResponse]) {
			time.Sleep(delay)
			resp.AddPage(http.StatusOK, azsecrets.ListSecretPropertiesVersionsResponse{SecretPropertiesListResult: azsecrets.SecretPropertiesListResult{
				Value: []*azsecrets.SecretProperties{{ID: &id, Attributes: &azsecrets.SecretAttributes{Enabled: &enabled, Created: &created}}},
			}}, nil)
			return resp
		},
		GetSecret: func(ctx context.Context, _, _ string, _ *azsecrets.GetSecretOptions) (resp azfake.Responder[azsecrets.GetSecretResponse], errResp azfake.ErrorResponder) {
			time.Sleep(delay)
			resp.SetResponse(http.StatusOK, azsecrets.GetSecretResponse{Secret: azsecrets.Secret{ID: &id, Value: &value}}, nil)
			return resp, errResp
		},
	}
	return func(string) (keyvault.SecretClient, error) {
		return azsecrets.NewClient(url, &azfake.TokenCredential{}, &azsecrets.ClientOptions{
			ClientOptions: azcore.ClientOptions{Transport: fake.NewServerTransport(&srv)},
		})
	}
}

// BenchmarkStartToReadySlowKeyVault starts the handler as the Functions
// host does while Key Vault takes 300 ms a call, and sends the first
// request the moment the port answers, as the host sends the invocation
// that woke the app. It reports the time to listening, to ready, and the
// first request's latency; early-503 counts first requests refused
// (must be 0: they wait for wiring instead).
func BenchmarkStartToReadySlowKeyVault(b *testing.B) {
	mail := testenv.MailDev(b)
	env := testEnv(b, mail)
	env["KEY_VAULT_URL"], env["PASSWORD_PEPPERS"], env["PASSWORD_PEPPER_CURRENT"] = "https://bench-vault.vault.azure.net", "", ""
	env["AUDIT_KEYS"], env["AUDIT_KEY_CURRENT"] = "", ""
	env["MFA_KEYS"], env["MFA_KEY_CURRENT"] = "", ""
	opts := defaultServeOptions()
	opts.outside.secrets = slowVault(300 * time.Millisecond)
	var listening, ready, firstAnswer time.Duration
	refused := 0
	for i := 0; i < b.N; i++ {
		port := testenv.FreePort(b)
		env[config.FunctionsPortVariable] = strconv.Itoa(port)
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		logs := &testenv.SyncBuffer{}
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), opts) }()
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		for {
			resp, err := http.Get(base + "/")
			if err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(time.Millisecond)
		}
		listening += time.Since(start)
		resp, err := http.Get(base + "/api/health")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		firstAnswer += time.Since(start)
		if resp.StatusCode != http.StatusOK {
			refused++
		}
		for !strings.Contains(logs.String(), `"msg":"ready"`) {
			time.Sleep(time.Millisecond)
		}
		ready += time.Since(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(listening.Microseconds())/float64(b.N)/1000, "ms-to-listening")
	b.ReportMetric(float64(ready.Microseconds())/float64(b.N)/1000, "ms-to-ready")
	b.ReportMetric(float64(firstAnswer.Microseconds())/float64(b.N)/1000, "ms-first-answer")
	b.ReportMetric(float64(refused), "early-503")
}
