package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// startServeWith runs serveWith in Functions mode with the given limits.
func startServeWith(t *testing.T, overrides map[string]string, opts serveOptions) *stack {
	t.Helper()
	mail := testenv.MailDev(t)
	env := testEnv(t, mail)
	env[config.FunctionsPortVariable] = strconv.Itoa(testenv.FreePort(t))
	for k, v := range overrides {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return launch(t, env, mail, func(ctx context.Context, stdout io.Writer) error {
		return serveWith(ctx, cfg, slog.New(slog.NewJSONHandler(stdout, nil)), opts)
	})
}

// An invocation may run as long as the function timeout: the host waits
// that long (plus a minute) for its answer. A sweep and a drain slower
// than the server's write timeout, which bounds API answers, still answer.
// Storage is slowed rather than the sweep: nothing in the code under test
// knows it is being tested. The limits are shortened so the test takes a
// second, not minutes.
func TestLongInvocationsAnswerPastTheWriteTimeout(t *testing.T) {
	opts := defaultServeOptions()
	opts.writeTimeout = 100 * time.Millisecond
	opts.invocationTimeout = 30 * time.Second
	s := startServeWith(t, map[string]string{
		"TABLES_CONNECTION_STRING": testenv.SlowAzuriteConnectionString(t, 150*time.Millisecond),
	}, opts)

	for _, function := range []string{"LifecycleSweep", "OutboxDrain"} {
		t.Run(function, func(t *testing.T) {
			start := time.Now()
			status, body, err := hostCall{function, http.MethodPost, "/" + function, timerPayload(t, function, false)}.do(s.baseURL)
			took := time.Since(start)
			if err != nil || status != http.StatusOK {
				t.Fatalf("after %s: status %d, error %v, body %s", took, status, err, body)
			}
			if took < 2*opts.writeTimeout {
				t.Fatalf("the invocation took %s, not beyond the %s write timeout: the test proves nothing", took, opts.writeTimeout)
			}
			var answer struct{ Logs []string }
			if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer.Logs) == 0 {
				t.Fatalf("answer %s: want the protocol's JSON with a summary", body)
			}
		})
	}
}

// P11: a crash between commit and delivery leaves an outbox item and its
// pending mark. Under the host no loop runs while the app is scaled to
// zero, so the OutboxDrain timer delivers it: the email arrives once, and
// a second drain sends nothing more.
func TestOutboxDrainDeliversWhatACrashLeft(t *testing.T) {
	s := startFunctionsStack(t, nil)
	// The "crashed" process: it commits the invitation and its outbox, and
	// never delivers.
	crashed := s.undeliveredAccounts(t)
	addr := "drain-" + testenv.UniqueName(t) + "@example.fi"
	if _, err := crashed.Invite(context.Background(), "", accounts.InviteInput{Email: addr, FirstName: "Aino", LastName: "Ahonen",
		OrganizationID: "org-drain", Role: kernel.RoleEditor, Locale: "fi"}, kernel.Meta{}); err != nil {
		t.Fatal(err)
	}
	if got := s.mail.Emails(t, addr); len(got) != 0 {
		t.Fatalf("%d emails before the drain: the planted item was delivered by something else", len(got))
	}

	status, body, err := hostCall{"OutboxDrain", http.MethodPost, "/OutboxDrain", timerPayload(t, "OutboxDrain", false)}.do(s.baseURL)
	if err != nil || status != http.StatusOK {
		t.Fatalf("OutboxDrain: %d %v %s", status, err, body)
	}
	if !strings.Contains(body, "1 marked accounts visited") {
		t.Errorf("OutboxDrain answer %s: want one marked account visited", body)
	}
	token := s.tokenFromEmail(t, addr, 1)

	// Drained twice: nothing more is sent.
	if status, body, err := (hostCall{"OutboxDrain", http.MethodPost, "/OutboxDrain", timerPayload(t, "OutboxDrain", false)}).do(s.baseURL); err != nil || status != http.StatusOK {
		t.Fatalf("second OutboxDrain: %d %v %s", status, err, body)
	}
	time.Sleep(500 * time.Millisecond)
	if got := s.mail.Emails(t, addr); len(got) != 1 {
		t.Fatalf("%d emails after two drains, want exactly 1", len(got))
	}
	// And the link in it works: the invitation is accepted with it.
	resp := s.do(t, http.MethodPost, "/api/auth/invitations/accept", "", map[string]any{
		"token": token, "password": "a long passphrase nobody guesses", "acceptPrivacyNotice": true})
	if resp.status != http.StatusOK && resp.status != http.StatusNoContent && resp.status != http.StatusCreated {
		t.Fatalf("accept with the drained invitation's link: %d %s", resp.status, resp.body)
	}
}

// Under the host the platform answers CORS from siteConfig.cors: the
// handler sets no Access-Control-Allow-Origin of its own, whatever
// CORS_ALLOWED_ORIGINS the platform injected, so the two layers never
// disagree. The platform's policy exposes no response headers, so the
// handler exposes the ones the frontend reads.
func TestUnderTheHostThePlatformAnswersCORS(t *testing.T) {
	s := startFunctionsStack(t, map[string]string{"CORS_ALLOWED_ORIGINS": `["https://hallinta.palvelumanuaali.fi"]`})
	for _, origin := range []string{"https://hallinta.palvelumanuaali.fi", "http://localhost:3000", "https://evil.example"} {
		r := s.do(t, http.MethodGet, "/api/health", "", nil, "Origin", origin)
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Origin %s: the handler set Access-Control-Allow-Origin %q; the platform owns it", origin, got)
		}
		if got := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "ETag") {
			t.Errorf("Origin %s: Access-Control-Expose-Headers %q, want ETag among them", origin, got)
		}
	}
}
