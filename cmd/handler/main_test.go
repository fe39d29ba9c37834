package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// stack is one running handler with its own tables, driven over HTTP the
// way the frontend drives it.
type stack struct {
	baseURL string
	env     map[string]string
	mail    testenv.Mailbox
	logs    *testenv.SyncBuffer
}

func testEnv(t testing.TB, mail testenv.Mailbox) map[string]string {
	auditKeys, auditKeyCurrent := testenv.AuditKeysSetting()
	return map[string]string{
		"AUDIT_KEYS":               auditKeys,
		"AUDIT_KEY_CURRENT":        auditKeyCurrent,
		"MFA_KEYS":                 "v1:dGVzdC1tZmEta2V5LXRlc3QtbWZhLWtleS10ZXN0LW1mYS1rZXk=",
		"MFA_KEY_CURRENT":          "v1",
		"TABLES_CONNECTION_STRING": testenv.AzuriteConnectionString(t),
		"TABLE_PREFIX":             testenv.UniqueName(t),
		"APP_BASE_URL":             "http://localhost:3000",
		"ALLOWED_ORIGINS":          "http://localhost:3000",
		"LISTEN_ADDR":              "127.0.0.1:0",
		"PASSWORD_PEPPERS":         "v1:" + "dGVzdC1wZXBwZXItdGVzdC1wZXBwZXItdGVzdC1wZXBwZXI=",
		"PASSWORD_PEPPER_CURRENT":  "v1",
		"EMAIL_FROM":               "Palvelumanuaali <no-reply@palvelumanuaali.localhost>",
		"SMTP_HOST":                mail.SMTPHost,
		"SMTP_PORT":                strconv.Itoa(mail.SMTPPort),
		"SMTP_SECURITY":            "none",
	}
}

// startStack runs run() on a free port and waits until it is ready.
func startStack(t *testing.T) *stack { return startStackWith(t, nil) }

// startFunctionsStack runs run() as the Functions host starts it
// (FUNCTIONS_CUSTOMHANDLER_PORT set), where the trigger endpoints exist.
func startFunctionsStack(t *testing.T, overrides map[string]string) *stack {
	t.Helper()
	env := map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": strconv.Itoa(testenv.FreePort(t))}
	for k, v := range overrides {
		env[k] = v
	}
	return startStackWith(t, env)
}

// startStackWith is startStack with some settings overridden.
func startStackWith(t *testing.T, overrides map[string]string) *stack {
	t.Helper()
	mail := testenv.MailDev(t)
	env := testEnv(t, mail)
	for k, v := range overrides {
		env[k] = v
	}
	return launch(t, env, mail, func(ctx context.Context, stdout io.Writer) error {
		return run(ctx, []string{"handler", "serve"}, func(k string) string { return env[k] }, stdout, io.Discard)
	})
}

// launch runs start (run() or serveWith) until the test ends and returns
// once it logged "ready".
func launch(t *testing.T, env map[string]string, mail testenv.Mailbox, start func(ctx context.Context, stdout io.Writer) error) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- start(ctx, io.MultiWriter(pw, logs))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "ready" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return &stack{baseURL: "http://" + a, env: env, mail: mail, logs: logs}
	case err := <-done:
		t.Fatalf("run exited before ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("handler not ready in 20 s")
	}
	return nil
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (s *stack) do(t *testing.T, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.baseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// bootstrap runs the ops command against the stack's storage.
func (s *stack) bootstrap(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"handler", "bootstrap-admin"}, args...),
		func(k string) string { return s.env[k] }, &out, io.Discard)
	return out.String(), err
}

var linkToken = regexp.MustCompile(`https?://[^\s"<>]+[?&]token=([^\s"<>&]+)`)

// tokenFromEmail waits for the n-th email to addr and returns the link
// token in it.
func (s *stack) tokenFromEmail(t *testing.T, addr string, n int) string {
	t.Helper()
	// The n-th email that carries a link: notices without one (a factor
	// added, an access change) may come in between.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var links []string
		for _, e := range s.mail.Emails(t, addr) {
			if m := linkToken.FindStringSubmatch(e.Text); m != nil {
				links = append(links, m[1])
			}
		}
		if len(links) >= n {
			tok, err := url.QueryUnescape(links[n-1])
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d emails with a link for %s, want %d", len(links), addr, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const (
	strongPassword = "kolme iloista kirahvia laulaa"
	newPassword    = "seitsemän unista karhua talvella"
)

// TestNewcomerJourney is the foundation's end-to-end path, as the frontend
// and ops drive it: bootstrap an admin, accept the invitation from the
// email, sign in, read and correct the profile, sign out.
func TestNewcomerJourney(t *testing.T) {
	s := startStack(t)
	addr := fmt.Sprintf("admin-%s@example.fi", testenv.UniqueName(t))

	// Typed in mixed case: shown and mailed as typed, signed in with any case.
	typed := "Admin-" + strings.TrimPrefix(addr, "admin-")
	out, err := s.bootstrap(t, "-email", typed, "-first", "Aino", "-last", "Admin", "-locale", "sv")
	if err != nil {
		t.Fatalf("bootstrap-admin: %v", err)
	}
	if strings.Contains(strings.ToLower(out), addr) {
		t.Errorf("bootstrap output repeats the email address: %q", out)
	}

	// P2: the person sets their own password through the invitation link.
	emails := s.mail.WaitForEmails(t, typed, 1, 10*time.Second)
	if len(emails) != 1 {
		t.Fatalf("invitation emails: %d, want 1\n%s", len(emails), s.logs.String())
	}
	if !strings.Contains(emails[0].Subject, "Servicemanualen") {
		t.Errorf("invitation not in the recipient's language (sv): subject %q", emails[0].Subject)
	}
	token := s.tokenFromEmail(t, typed, 1)

	r := s.do(t, "POST", "/api/auth/invitations/accept", "", map[string]any{"token": token, "password": strongPassword, "acceptPrivacyNotice": true})
	if r.status != http.StatusOK {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	var accepted struct {
		Token     string
		ExpiresAt time.Time
		User      struct{ ID, Email, Role, Status, OrganizationID string }
	}
	r.decode(t, &accepted)
	if accepted.User.Status != "active" || accepted.User.Role != "admin" || accepted.User.OrganizationID != "service-administration" {
		t.Fatalf("accepted user = %+v", accepted.User)
	}
	// P1: the email is the username, case-insensitively.
	if accepted.User.Email != typed {
		t.Fatalf("email = %q, want %q as typed", accepted.User.Email, typed)
	}

	// The link is single-use.
	r = s.do(t, "POST", "/api/auth/invitations/accept", "", map[string]any{"token": token, "password": strongPassword, "acceptPrivacyNotice": true})
	if r.status != http.StatusBadRequest {
		t.Fatalf("second accept: %d, want 400", r.status)
	}

	// Once an admin is active, bootstrap refuses.
	if _, err := s.bootstrap(t, "-email", "other@example.fi"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second bootstrap: %v, want a refusal", err)
	}

	// An admin adds an authenticator app before anything else (issue 13).
	_, recoveryCodes := s.enrolTOTP(t, accepted.Token)

	// P13: sign-in with the personal credentials, in two steps.
	r = s.signInWithRecoveryCode(t, strings.ToUpper(addr), strongPassword, recoveryCodes[0])
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	var login struct{ Token string }
	r.decode(t, &login)

	r = s.do(t, "GET", "/api/me", login.Token, nil)
	if r.status != http.StatusOK || r.header.Get("ETag") == "" {
		t.Fatalf("me: %d %s (ETag %q)", r.status, r.body, r.header.Get("ETag"))
	}
	etag := r.header.Get("ETag")

	r = s.do(t, "PATCH", "/api/me", login.Token, map[string]any{"firstName": "Aino-Maria"}, "If-Match", etag)
	if r.status != http.StatusOK {
		t.Fatalf("patch me: %d %s", r.status, r.body)
	}
	// A stale ETag is refused.
	r = s.do(t, "PATCH", "/api/me", login.Token, map[string]any{"lastName": "X"}, "If-Match", etag)
	if r.status != http.StatusPreconditionFailed {
		t.Fatalf("stale patch: %d, want 412", r.status)
	}

	// A forgotten password: the answer is the same 202 whatever the email,
	// the link arrives by email, completing it ends every session and does
	// not sign in, and a notice follows.
	for _, email := range []string{addr, "nobody@example.fi"} {
		r = s.do(t, "POST", "/api/auth/password-resets", "", map[string]any{"email": email})
		if r.status != http.StatusAccepted || string(r.body) != `{"status":"accepted"}`+"\n" {
			t.Fatalf("reset request for %s: %d %s", email, r.status, r.body)
		}
	}
	resetToken := s.tokenFromEmail(t, typed, 2)
	r = s.do(t, "POST", "/api/auth/password-resets/complete", "", map[string]any{"token": resetToken, "password": newPassword})
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("reset complete: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/api/me", login.Token, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("session after reset: %d, want 401", r.status)
	}
	// The invitation, the notice of the factor added, the reset, and now
	// the password-changed notice.
	notice := s.mail.WaitForEmails(t, typed, 4, 10*time.Second)
	if len(notice) != 4 || linkToken.MatchString(notice[3].Text) {
		t.Fatalf("password-changed notice: %d emails; the notice must carry no link token", len(notice))
	}
	if r := s.do(t, "POST", "/api/auth/login", "", map[string]any{"email": addr, "password": strongPassword}); r.status != http.StatusUnauthorized {
		t.Fatalf("old password after reset: %d, want 401", r.status)
	}
	r = s.signInWithRecoveryCode(t, addr, newPassword, recoveryCodes[1])
	if r.status != http.StatusOK {
		t.Fatalf("login with the new password: %d %s", r.status, r.body)
	}
	r.decode(t, &login)

	r = s.do(t, "POST", "/api/auth/logout", login.Token, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("logout: %d", r.status)
	}
	if r := s.do(t, "GET", "/api/me", login.Token, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d, want 401", r.status)
	}

	// P9, P10: no log line carries the email, the password or a token.
	logs := s.logs.String()
	for _, secret := range []string{addr, typed, strings.ToUpper(addr), strongPassword, newPassword, token, resetToken, login.Token, accepted.Token, "Aino"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain personal data or a secret: %q", secret)
		}
	}
}
