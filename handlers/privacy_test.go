package handlers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// internals are words that only storage, hashing or the SDK use; no
// response may contain them (AUTHZ-6, LOG-4).
var internals = []string{"argon2", "PartitionKey", "RowKey", "odata", "pepper", "passwordHash", "PasswordHash",
	"failedSignIns", "lockedUntil", "sessionHash", "datetime"}

// userFields is everything the API tells about a person (P9: names,
// email, home organisation, and what the account's life needs).
var userFields = []string{"createdAt", "email", "firstName", "id", "lastActiveAt", "lastName", "locale", "organizationId", "role", "status"}

func objectKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestAFullFlowDisclosesNothing walks a person's journey through the API
// and checks everything it produced. Responses show only the allowlisted
// account fields and no storage, hashing or credential internals (P9,
// AUTHZ-6). The log holds ids only: no email, name, password or token
// (P10, LOG-2), every line is one JSON record, and every line carries the
// request id that the client saw.
func TestAFullFlowDisclosesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, invitation := h.invite(t)
	const newPassword = "seitsemän sinistä siiliä soittaa"

	var responses []response
	call := func(rq request, wantStatus int) response {
		t.Helper()
		r := h.do(t, rq)
		if r.status != wantStatus {
			t.Fatalf("%s %s: status %d, want %d; body %s", rq.method, rq.path, r.status, wantStatus, r.body)
		}
		responses = append(responses, r)
		return r
	}

	accepted := call(request{method: "POST", path: "/api/auth/invitations/accept", body: map[string]any{
		"token": invitation, "password": strongPassword, "acceptPrivacyNotice": true}}, http.StatusOK)
	var first struct {
		Token string
		User  json.RawMessage
	}
	accepted.decode(t, &first)
	login := call(request{method: "POST", path: "/api/auth/login", body: map[string]string{
		"email": strings.ToUpper(p.email), "password": strongPassword}}, http.StatusOK)
	var second struct {
		Token string
		User  json.RawMessage
	}
	login.decode(t, &second)
	me := call(request{method: "GET", path: "/api/me", token: second.Token}, http.StatusOK)
	patched := call(request{method: "PATCH", path: "/api/me", token: second.Token,
		body: map[string]string{"lastName": "Kirahvinen-Siilinen"}, header: map[string]string{"If-Match": me.header.Get("ETag")}}, http.StatusOK)
	call(request{method: "PUT", path: "/api/me/password", token: second.Token, body: map[string]string{
		"currentPassword": strongPassword, "newPassword": newPassword}}, http.StatusNoContent)
	call(request{method: "PUT", path: "/api/me/password", token: second.Token, body: map[string]string{
		"currentPassword": "ei ollenkaan oikea salasana", "newPassword": newPassword}}, http.StatusForbidden)
	call(request{method: "POST", path: "/api/auth/password-resets", body: map[string]string{"email": p.email}}, http.StatusAccepted)
	call(request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": p.email, "password": strongPassword}}, http.StatusUnauthorized)
	call(request{method: "POST", path: "/api/auth/login", body: map[string]string{
		"email": "x\n{\"level\":\"ERROR\",\"msg\":\"forged\"}@kunta.example.fi", "password": newPassword}}, http.StatusUnauthorized)
	call(request{method: "POST", path: "/api/auth/password-resets/complete", body: map[string]string{
		"token": invitation, "password": newPassword}}, http.StatusBadRequest)
	call(request{method: "POST", path: "/api/auth/logout", token: second.Token}, http.StatusNoContent)
	call(request{method: "GET", path: "/api/me", token: second.Token}, http.StatusUnauthorized)

	t.Run("accounts show only the allowlisted fields", func(t *testing.T) {
		var patchedUser json.RawMessage = patched.body
		for name, raw := range map[string]json.RawMessage{"accept": first.User, "login": second.User, "me": me.body, "patch": patchedUser} {
			if diff := cmp.Diff(userFields, objectKeys(t, raw)); diff != "" {
				t.Errorf("%s: user fields (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("responses contain no internals", func(t *testing.T) {
		for _, r := range responses {
			for _, word := range internals {
				if strings.Contains(string(r.body), word) {
					t.Errorf("response %d %s contains %q", r.status, r.body, word)
				}
				for name, values := range r.header {
					for _, v := range values {
						if strings.Contains(v, word) {
							t.Errorf("header %s: %q contains %q", name, v, word)
						}
					}
				}
			}
		}
	})

	logs := h.logs.String()
	t.Run("the log holds no personal data or secrets", func(t *testing.T) {
		secrets := map[string]string{
			"email":                 p.email,
			"email as typed":        strings.ToUpper(p.email),
			"email local part":      strings.Split(p.email, "@")[0],
			"first name":            p.firstName,
			"last name":             p.lastName,
			"new last name":         "Kirahvinen-Siilinen",
			"password":              strongPassword,
			"new password":          newPassword,
			"invitation token":      invitation,
			"first session token":   first.Token,
			"second session token":  second.Token,
			"session token secret":  second.Token[strings.Index(second.Token, ".")+1:],
			"a password hash":       "$argon2id$",
			"an account key":        "AccountKey=",
			"the Azurite key":       testenv.AzuriteAccountKey,
			"a forged log property": `"msg":"forged"`,
		}
		for what, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("the log contains the %s", what)
			}
		}
	})

	t.Run("every log line is one JSON record with the client's request id", func(t *testing.T) {
		seen := map[string]bool{}
		for _, r := range responses {
			seen[r.header.Get("X-Request-ID")] = true
		}
		logged := map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(logs))
		lines := 0
		for sc.Scan() {
			lines++
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Errorf("log line is not JSON: %s", sc.Bytes())
				continue
			}
			id, _ := line["request_id"].(string)
			if id == "" {
				t.Errorf("log line without request_id: %s", sc.Bytes())
				continue
			}
			if !seen[id] {
				t.Errorf("log line's request_id %q was never given to a client: %s", id, sc.Bytes())
			}
			if line["msg"] == "request" {
				logged[id] = true
			}
		}
		if lines == 0 {
			t.Fatal("nothing was logged")
		}
		for id := range seen {
			if !logged[id] {
				t.Errorf("request %s has no access-log line", id)
			}
		}
	})
}

// unreachableStore is a store whose Table endpoint refuses connections.
func unreachableStore(t *testing.T) *tablestore.Store {
	t.Helper()
	store, err := tablestore.NewFromConnectionString("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="+
		testenv.AzuriteAccountKey+";TableEndpoint=http://127.0.0.1:1/devstoreaccount1;", "unreachable", testenv.AuditKeys())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// TestStorageOutageFailsClosedAndGeneric covers FI-1, FI-8, LOG-4 and
// LOG-5: with storage out of reach, sign-in and authenticated requests
// are refused with 503 and Retry-After (never let through), health says
// unavailable, and no SDK, storage or Go internals reach the client.
func TestStorageOutageFailsClosedAndGeneric(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{store: unreachableStore(t)})
	const wellFormedToken = "00000000-0000-0000-0000-000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

	leaks := []string{"azure", "Azure", "RequestId", "x-ms-", ".go:", "goroutine", "127.0.0.1", "devstoreaccount1",
		"dial", "connection refused", "table storage", "storage unavailable"}
	tests := []struct {
		name string
		rq   request
	}{
		{"me is unavailable", request{method: "GET", path: "/api/me", token: wellFormedToken}},
		{"login is unavailable", request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": "joku@kunta.example.fi", "password": strongPassword}}},
		{"accepting an invitation is unavailable", request{method: "POST", path: "/api/auth/invitations/accept", body: map[string]any{
			"token": wellFormedToken, "password": strongPassword, "acceptPrivacyNotice": true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.do(t, tc.rq)
			if got, want := r.status, http.StatusServiceUnavailable; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			if got, want := r.problem(t).Code, "unavailable"; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			for _, word := range leaks {
				if strings.Contains(string(r.body), word) {
					t.Errorf("body contains %q: %s", word, r.body)
				}
			}
		})
	}
	t.Run("health is unavailable", func(t *testing.T) {
		t.Parallel()
		r := h.do(t, request{method: "GET", path: "/api/health"})
		if got, want := r.status, http.StatusServiceUnavailable; got != want {
			t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
		}
		if got, want := string(r.body), `{"status":"unavailable"}`+"\n"; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})
	t.Cleanup(func() {
		// LOG-2: the log may say what failed, never with the account key.
		if logs := h.logs.String(); strings.Contains(logs, testenv.AzuriteAccountKey) || strings.Contains(logs, "AccountKey") {
			t.Errorf("the log contains the storage account key")
		}
	})
}

// TestHealthIsOKWhenStorageAnswers is the other half of the health check.
func TestHealthIsOKWhenStorageAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	r := h.do(t, request{method: "GET", path: "/api/health"})
	if got, want := r.status, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
	}
	if got, want := string(r.body), `{"status":"ok"}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

// TestPanicsBecomeAGeneric500 covers LOG-4: a panic in a handler is
// logged with the request id and answered with a generic problem that
// shows nothing of it, and the next request is served as usual. No route
// panics on purpose, so the middleware chain is driven directly.
func TestPanicsBecomeAGeneric500(t *testing.T) {
	t.Parallel()
	logs := &testenv.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	handler := observe(log, secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom at handlers/me.go:42 for maija@kunta.example.fi")
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
	r := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if got, want := r.status, http.StatusInternalServerError; got != want {
		t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
	}
	got := r.problem(t)
	want := problemDoc{
		Type:      "https://palvelumanuaali.fi/problems/internal",
		Title:     "Internal Server Error",
		Status:    http.StatusInternalServerError,
		Detail:    detail(codeInternal, "fi"),
		Code:      "internal",
		RequestID: r.header.Get("X-Request-ID"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}
	for _, word := range []string{"boom", ".go:", "goroutine", "maija", "panic"} {
		if strings.Contains(string(r.body), word) {
			t.Errorf("body contains %q: %s", word, r.body)
		}
	}
	for name, value := range securityHeaders {
		if got := r.header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if !strings.Contains(logs.String(), `"request_id":"`+got.RequestID+`"`) || !strings.Contains(logs.String(), `"msg":"panic"`) {
		t.Errorf("the panic is not logged with its request id:\n%s", logs)
	}

	next := httptest.NewRecorder()
	handler.ServeHTTP(next, httptest.NewRequest("GET", "/fine", nil))
	if got, want := next.Code, http.StatusOK; got != want {
		t.Errorf("next request: status = %d, want %d", got, want)
	}
}

// TestAccessLogNamesRouteStatusAndUserID checks the one line logged per
// request: the route template (never the raw path or query string), the
// status and, once signed in, the account's opaque id (LOG-2, P10).
func TestAccessLogNamesRouteStatusAndUserID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	p, token := h.activeUser(t)

	tests := []struct {
		name       string
		rq         request
		wantRoute  string
		wantStatus float64
		wantUser   string
	}{
		{"a signed-in request names the user's id", request{method: "GET", path: "/api/me", token: token}, "/api/me", 200, p.id},
		{"a refused request names its route", request{method: "GET", path: "/api/me"}, "/api/me", 401, ""},
		{"a query string is left out", request{method: "GET", path: "/api/health?token=salainen-linkki"}, "/api/health", 200, ""},
		{"a wrong method names the route", request{method: "DELETE", path: "/api/health"}, "/api/health", 405, ""},
		{"an unknown path is unmatched", request{method: "GET", path: "/api/nowhere/" + p.email}, "unmatched", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, tc.rq)
			id := r.header.Get("X-Request-ID")
			var found map[string]any
			sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
			for sc.Scan() {
				var line map[string]any
				if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "request" && line["request_id"] == id {
					found = line
				}
			}
			if found == nil {
				t.Fatalf("no access-log line for request %s", id)
			}
			want := map[string]any{"route": tc.wantRoute, "status": tc.wantStatus, "method": tc.rq.method}
			if tc.wantUser != "" {
				want["user"] = tc.wantUser
			}
			got := map[string]any{"route": found["route"], "status": found["status"], "method": found["method"]}
			if u, ok := found["user"]; ok {
				got["user"] = u
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("access log (-want +got):\n%s", diff)
			}
			if logs := h.logs.String(); strings.Contains(logs, "salainen-linkki") || strings.Contains(logs, p.email) {
				t.Error("the log contains a query string or an email from the path")
			}
		})
	}
}

// leaksOf lists the ways the log could give an email away: as typed, its
// local part, and the SHA-256 hex of it (the email claim's storage key) in
// either case.
func leaksOf(email string) map[string]string {
	sum := sha256.Sum256([]byte(email))
	key := hex.EncodeToString(sum[:])
	return map[string]string{
		"email":            email,
		"email local part": strings.Split(email, "@")[0],
		"email hash":       key,
		"EMAIL HASH":       strings.ToUpper(key),
	}
}

// TestPanicsAreLoggedByTypeOnly covers P10 and LOG-2: whatever a panic
// carries (here an email, as a string, an error and a struct) stays out
// of the log; the log names the panic's type and the request id.
func TestPanicsAreLoggedByTypeOnly(t *testing.T) {
	t.Parallel()
	const email = "maija.panic@kunta.example.fi"
	type carrier struct{ Email string }
	tests := []struct {
		name     string
		value    any
		wantType string
	}{
		{"a string", "boom for " + email, "string"},
		{"an error", fmt.Errorf("lookup %s failed", email), "*errors.errorString"},
		{"a struct", carrier{Email: email}, "handlers.carrier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &testenv.SyncBuffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			handler := observe(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tc.value) }))
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
			if got, want := rec.Code, http.StatusInternalServerError; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			for what, leak := range leaksOf(email) {
				if strings.Contains(logs.String(), leak) {
					t.Errorf("the log contains the %s:\n%s", what, logs)
				}
			}
			want := `"panic_type":"` + tc.wantType + `"`
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the log does not name the panic's type (%s):\n%s", want, logs)
			}
		})
	}
}

// busyEmails makes the emails table answer 503 Server Busy once refuse is
// set, as Table Storage does on a hot partition, with an error body that
// repeats the request's URL and so the email claim's key, as the SDK's
// error text would.
type busyEmails struct {
	table  string
	refuse atomic.Bool
}

func (p *busyEmails) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if !p.refuse.Load() || !strings.Contains(raw.URL.Path, p.table) {
		return req.Next()
	}
	body := `{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"The server is busy: ` +
		raw.URL.String() + `\nRequestId:0f7d"}}}`
	return &http.Response{
		StatusCode: http.StatusServiceUnavailable,
		Status:     "503 Server Busy",
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Ms-Error-Code": {"ServerBusy"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    raw,
	}, nil
}

// TestStorageErrorsLogNoEmailOrItsHash covers P10 and LOG-2: when storage
// refuses a request keyed by an email (sign-in, a reset request, an
// invitation), the whole log of those flows holds neither the email nor
// its SHA-256 (the claim's key, in the request URL and the error body),
// yet still says what failed: the table, the status and the code.
func TestStorageErrorsLogNoEmailOrItsHash(t *testing.T) {
	t.Parallel()
	prefix := testenv.UniqueName(t)
	busy := &busyEmails{table: prefix + "emails"}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), prefix, testenv.AuditKeys(), tablestore.WithPolicy(busy))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{store: store})
	_, admin := h.member(t, h.organization(t, "Ylläpito"), kernel.RoleAdmin)
	org := h.organization(t, "Kunta")
	const email = "liisa.storage@kunta.example.fi"
	busy.refuse.Store(true)

	tests := []struct {
		name string
		rq   request
		want int
	}{
		{"sign-in", request{method: "POST", path: "/api/auth/login", body: map[string]string{"email": email, "password": strongPassword}}, http.StatusServiceUnavailable},
		{"reset request", request{method: "POST", path: "/api/auth/password-resets", body: map[string]string{"email": email}}, http.StatusAccepted},
		{"invitation", request{method: "POST", path: "/api/users", token: admin, body: map[string]string{
			"email": email, "firstName": "Liisa", "lastName": "Varasto", "organizationId": org, "role": "editor", "locale": "fi"}}, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		r := h.do(t, tc.rq)
		if r.status != tc.want {
			t.Errorf("%s: status = %d, want %d; body %s", tc.name, r.status, tc.want, r.body)
		}
	}
	logs := h.logs.String()
	for what, leak := range leaksOf(email) {
		if strings.Contains(logs, leak) {
			t.Errorf("the log contains the %s:\n%s", what, logs)
		}
	}
	for _, fact := range []string{prefix + "emails", "503", "ServerBusy"} {
		if !strings.Contains(logs, fact) {
			t.Errorf("the log does not say %q:\n%s", fact, logs)
		}
	}
	for _, word := range []string{"PartitionKey", "RequestId", "odata", "http://"} {
		if strings.Contains(logs, word) {
			t.Errorf("the log contains %q:\n%s", word, logs)
		}
	}
}
