package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/notify"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

var (
	builtOnce    sync.Once
	builtHandler string
	buildErr     error
)

// handlerBinary builds the handler once per test binary, as make package
// builds it for the host (static, trimmed paths).
func handlerBinary(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "handler-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtHandler = filepath.Join(dir, "handler")
		cmd := exec.Command("go", "build", "-trimpath", "-o", builtHandler, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtHandler
}

// bicepAppSettings lists the app settings infra/modules/functionapp.bicep
// gives the Function App, by name.
func bicepAppSettings(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "infra/modules/functionapp.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`\{\s*name:\s*'([A-Za-z0-9_]+)'\s*,\s*value:`).FindAllSubmatch(raw, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) < 20 {
		t.Fatalf("found only %d app settings in functionapp.bicep: %v", len(names), names)
	}
	return names
}

// hostEnvironment is the process environment the Functions host gives the
// handler on Flex Consumption: every app setting the Bicep sets, pointed
// at the local stand-ins, plus what the platform injects. storage is the
// Azurite connection string standing in for the account.
func hostEnvironment(t *testing.T, mail testenv.Mailbox, storage string, port int) []string {
	t.Helper()
	var example struct{ Values map[string]string }
	readJSON(t, filepath.Join(repoRoot(t), "local.settings.example.json"), &example)
	local := map[string]string{
		// Azurite stands in for the storage account, a local pepper for Key
		// Vault, the in-process transport for Service Bus (no emulator here),
		// MailDev for the SMTP relay.
		"TABLES_ENDPOINT":          "",
		"TABLES_CONNECTION_STRING": storage,
		"TABLE_PREFIX":             testenv.UniqueName(t),
		"KEY_VAULT_URL":            "",
		"PASSWORD_PEPPERS":         "v1:dGVzdC1wZXBwZXItdGVzdC1wZXBwZXItdGVzdC1wZXBwZXI=",
		"PASSWORD_PEPPER_CURRENT":  "v1",
		"AUDIT_KEYS":               "v1:dGVzdC1hdWRpdC1rZXktdGVzdC1hdWRpdC1rZXktdGVzdC1hdWRpdC1rZXk=",
		"AUDIT_KEY_CURRENT":        "v1",
		"MFA_KEYS":                 "v1:dGVzdC1tZmEta2V5LXRlc3QtbWZhLWtleS10ZXN0LW1mYS1rZXk=",
		"MFA_KEY_CURRENT":          "v1",
		"ServiceBusConnection__fullyQualifiedNamespace": "",
		"SMTP_HOST":             mail.SMTPHost,
		"SMTP_PORT":             strconv.Itoa(mail.SMTPPort),
		"SMTP_SECURITY":         "none",
		"SMTP_PASSWORD":         "",
		"AWS_ACCESS_KEY_ID":     "",
		"AWS_SECRET_ACCESS_KEY": "",
		// Azure-only settings the handler does not read.
		"AzureWebJobsStorage__accountName":          "uaprodst",
		"APPLICATIONINSIGHTS_CONNECTION_STRING":     "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://swedencentral-0.in.applicationinsights.azure.com/",
		"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
	}
	env := map[string]string{}
	for _, name := range bicepAppSettings(t) {
		v, ok := local[name]
		if !ok {
			if v, ok = example.Values[name]; !ok {
				t.Fatalf("app setting %s: the Bicep sets it, but neither local.settings.example.json nor this test knows a local value", name)
			}
		}
		env[name] = v
	}
	for k, v := range local {
		if _, ok := env[k]; !ok && k != "TABLES_ENDPOINT" && k != "KEY_VAULT_URL" {
			env[k] = v
		}
	}
	// What the platform and the host set (azure-functions-host:
	// HostAssignmentContext writes CORS_* from siteConfig.cors as JSON;
	// HttpWorkerProcess sets the custom-handler variables).
	for k, v := range map[string]string{
		"CORS_ALLOWED_ORIGINS":              `["https://hallinta.palvelumanuaali.fi"]`,
		"CORS_SUPPORT_CREDENTIALS":          "false",
		"WEBSITE_SITE_NAME":                 "ua-prod-func",
		"WEBSITE_HOSTNAME":                  "ua-prod-func.azurewebsites.net",
		"WEBSITE_INSTANCE_ID":               "5d1b2c3a4e5f60718293a4b5c6d7e8f9",
		"FUNCTIONS_EXTENSION_VERSION":       "~4",
		"FUNCTIONS_WORKER_RUNTIME":          "custom",
		"AzureWebJobsScriptRoot":            "/home/site/wwwroot",
		"FUNCTIONS_CUSTOMHANDLER_PORT":      strconv.Itoa(port),
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID": "0b7c2d9e-1f3a-4b5c-8d6e-7f8091a2b3c4",
		"FUNCTIONS_HTTPWORKER_PORT":         strconv.Itoa(port),
		"FUNCTIONS_APP_ROOT_PATH":           "/home/site/wwwroot",
	} {
		env[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// hostCall is one request the host sends.
type hostCall struct {
	name   string
	method string
	path   string
	body   []byte
}

func (c hostCall) do(base string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, bytes.NewReader(c.body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", "Azure-Functions-Host/4.1040.300.0")
	req.Header.Set("X-Azure-Functions-HostVersion", "4.1040.300.0")
	req.Header.Set("X-Azure-Functions-InvocationId", "6c1b5a0e-2f3d-4e5a-9b6c-7d8e9f0a1b2c")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// timerPayload is the host's timer invocation of function (the shape of
// a real capture); pastDue says the host was down at the scheduled time.
func timerPayload(t *testing.T, function string, pastDue bool) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"Data": map[string]any{"timer": map[string]any{
			"Schedule":       map[string]any{"AdjustForDST": true},
			"ScheduleStatus": map[string]any{"Last": "2026-11-29T02:00:00+00:00", "Next": "2026-11-30T02:00:00+00:00", "LastUpdated": "2026-11-29T02:00:00.1+00:00"},
			"IsPastDue":      pastDue,
		}},
		"Metadata": map[string]any{"sys": map[string]any{"MethodName": function, "UtcNow": time.Now().UTC().Format(time.RFC3339Nano), "RandGuid": "2f6a8b1c-0d4e-4f5a-9b8c-7d6e5f4a3b2c"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunsAsTheFunctionsHostStartsIt starts the built binary the way the
// Functions host on Flex Consumption does: `handler serve` with the port
// variable, every app setting the Bicep sets and what the platform
// injects (CORS_ALLOWED_ORIGINS as a JSON array among them). It polls
// GET / every 25 ms like the host and, at the first answer, sends at once
// what a cold start carries: a timer invocation of each timer, a Service
// Bus invocation and a proxied API request. Storage answers slowly, so
// they arrive while the handler is still wiring. Each must succeed.
func TestRunsAsTheFunctionsHostStartsIt(t *testing.T) {
	bin := handlerBinary(t)
	mail := testenv.MailDev(t)
	port := testenv.FreePort(t)
	storage := testenv.SlowAzuriteConnectionString(t, 150*time.Millisecond)

	cmd := exec.Command(bin, "serve")
	cmd.Dir = repoRoot(t)
	cmd.Env = hostEnvironment(t, mail, storage, port)
	stdout, stderr := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	probe := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second) // the host's initialisation limit
	for {
		resp, err := probe.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the handler exited before it answered: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to GET / within 30 s\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		time.Sleep(25 * time.Millisecond)
	}
	early := !strings.Contains(stdout.String(), `"msg":"ready"`)

	message, _ := json.Marshal(notify.Message{ID: "4f9e2c1a-7b3d-4e5f-8a6b-9c0d1e2f3a4b", Kind: notify.KindPasswordChanged,
		UserID: "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e", CreatedAt: time.Now().UTC()})
	calls := []hostCall{
		{"LifecycleSweep timer", http.MethodPost, "/LifecycleSweep", timerPayload(t, "LifecycleSweep", false)},
		{"OutboxDrain timer", http.MethodPost, "/OutboxDrain", timerPayload(t, "OutboxDrain", false)},
		{"SendNotification (Service Bus)", http.MethodPost, "/SendNotification", hostPayload(t, "4f9e2c1a-7b3d-4e5f-8a6b-9c0d1e2f3a4b", message, 1)},
		{"proxied GET /api/health", http.MethodGet, "/api/health", nil},
	}
	var wg sync.WaitGroup
	results := make([]string, len(calls))
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := c.do(base)
			switch {
			case err != nil:
				results[i] = fmt.Sprintf("%s: %v", c.name, err)
			case status < 200 || status > 299:
				results[i] = fmt.Sprintf("%s: %d %s", c.name, status, body)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
	if !early {
		t.Error("wiring had finished before the first probe: this run did not test early requests (slow the storage more)")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the handler exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("the handler did not stop within 20 s of SIGTERM")
	}
	// The host logs the handler's stderr as errors: a healthy start and
	// stop writes nothing there.
	if s := stderr.String(); s != "" {
		t.Errorf("stderr is not empty:\n%s", s)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout)
	}
}
