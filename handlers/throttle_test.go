package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/passwords"
)

// loginThrottle is the default per-client login limit (10 a minute, 5 at
// once) with a global one far away.
var loginThrottle = Throttle{ClientPerMinute: 10, ClientBurst: 5, GlobalPerMinute: 1 << 20, GlobalBurst: 1 << 20, MaxClients: 1000}

func wrongLogin(from string, header map[string]string) request {
	return request{method: http.MethodPost, path: "/api/auth/login", from: from, header: header,
		body: loginRequest{Email: "ei-ketaan@kunta.example.fi", Password: "väärä salasana joka ei käy"}}
}

// checkRateLimited fails the test unless r is 429 with a Retry-After of
// wantRetry seconds and the rate_limited problem.
func checkRateLimited(t *testing.T, r response, wantRetry string) {
	t.Helper()
	if got, want := r.status, http.StatusTooManyRequests; got != want {
		t.Fatalf("status = %d, want %d (body %s)", got, want, r.body)
	}
	if got := r.header.Get("Retry-After"); got != wantRetry {
		t.Errorf("Retry-After = %q, want %q", got, wantRetry)
	}
	if got, want := r.problem(t).Code, codeRateLimited; got != want {
		t.Errorf("code = %q, want %q", got, want)
	}
}

// AUTH-4: one client's sign-ins past its burst are answered 429 with
// Retry-After (10 a minute: the next token in 6 s) and problem+json,
// another client is unaffected, and the first may go on once the bucket
// refills.
func TestLoginThrottledPerClient(t *testing.T) {
	throttle := loginThrottle
	h := newHarness(t, harnessOptions{throttle: &throttle})
	for i := range 5 {
		if got, want := h.do(t, wrongLogin("127.0.0.1", nil)).status, http.StatusUnauthorized; got != want {
			t.Fatalf("attempt %d: status = %d, want %d", i+1, got, want)
		}
	}
	checkRateLimited(t, h.do(t, wrongLogin("127.0.0.1", nil)), "6")

	t.Run("another client is unaffected", func(t *testing.T) {
		if got, want := h.do(t, wrongLogin("127.0.0.2", nil)).status, http.StatusUnauthorized; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
	})
	t.Run("the client may go on once a token is back", func(t *testing.T) {
		h.clock.Advance(6 * time.Second)
		if got, want := h.do(t, wrongLogin("127.0.0.1", nil)).status, http.StatusUnauthorized; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
		checkRateLimited(t, h.do(t, wrongLogin("127.0.0.1", nil)), "6")
	})
}

// AUTH-4: every throttled endpoint has its own buckets, so each answers
// 429 once its own budget is spent.
func TestEveryThrottledEndpoint(t *testing.T) {
	throttle := Throttle{ClientPerMinute: 1, ClientBurst: 1, GlobalPerMinute: 1 << 20, GlobalBurst: 1 << 20, MaxClients: 1000}
	h := newHarness(t, harnessOptions{throttle: &throttle})
	for _, rq := range []request{
		wrongLogin("", nil),
		{method: http.MethodPost, path: "/api/auth/password-resets", body: passwordResetRequest{Email: "ei-ketaan@kunta.example.fi"}},
		{method: http.MethodPost, path: "/api/auth/password-resets/complete", body: completePasswordResetRequest{Token: "x.y", Password: strongPassword}},
		{method: http.MethodPost, path: "/api/auth/invitations/accept", body: acceptInvitationRequest{Token: "x.y", Password: strongPassword, AcceptPrivacyNotice: true}},
		{method: http.MethodPost, path: "/api/auth/passkey/challenge"},
		{method: http.MethodPost, path: "/api/auth/passkey", body: passkeySignInRequest{Challenge: "x", Passkey: json.RawMessage(`{}`)}},
	} {
		t.Run(rq.path, func(t *testing.T) {
			if got := h.do(t, rq).status; got == http.StatusTooManyRequests {
				t.Fatalf("the first request was refused")
			}
			checkRateLimited(t, h.do(t, rq), "60")
		})
	}
}

// AUTH-4: beyond the per-client buckets, all clients together share one,
// so many addresses cannot add up to an unbounded rate.
func TestLoginThrottledGlobally(t *testing.T) {
	throttle := Throttle{ClientPerMinute: 10, ClientBurst: 5, GlobalPerMinute: 60, GlobalBurst: 3, MaxClients: 1000, BehindPlatform: true}
	h := newHarness(t, harnessOptions{throttle: &throttle})
	for i := range 3 {
		ip := fmt.Sprintf("203.0.113.%d:4000", i+1)
		if got, want := h.do(t, wrongLogin("", map[string]string{"Client-IP": ip})).status, http.StatusUnauthorized; got != want {
			t.Fatalf("client %d: status = %d, want %d", i+1, got, want)
		}
	}
	checkRateLimited(t, h.do(t, wrongLogin("", map[string]string{"Client-IP": "203.0.113.99:4000"})), "1")
}

// AUTH-4: the client's address comes only from a hop it cannot write.
// Rotating forged forwarding headers never buys a new bucket.
func TestForgedAddressesShareTheBucket(t *testing.T) {
	tests := []struct {
		name           string
		behindPlatform bool
		header         func(i int) map[string]string
	}{
		{name: "standalone ignores X-Forwarded-For", header: func(i int) map[string]string {
			return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)}
		}},
		{name: "standalone ignores Client-IP and X-Real-IP", header: func(i int) map[string]string {
			return map[string]string{"Client-IP": fmt.Sprintf("198.51.100.%d", i), "X-Real-IP": fmt.Sprintf("198.51.100.%d", i)}
		}},
		{name: "behind the platform the left X-Forwarded-For entries are ignored", behindPlatform: true, header: func(i int) map[string]string {
			return map[string]string{"Client-IP": "203.0.113.7:50123", "X-Forwarded-For": fmt.Sprintf("198.51.100.%d, 203.0.113.7:50123", i)}
		}},
		{name: "behind the platform without Client-IP the front end's right-most entry counts", behindPlatform: true, header: func(i int) map[string]string {
			return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d, 192.0.2.%d, 203.0.113.7:%d", i, i, 40000+i)}
		}},
		{name: "behind the platform rotating IPv6 addresses within a /64 share it", behindPlatform: true, header: func(i int) map[string]string {
			return map[string]string{"Client-IP": fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			throttle := loginThrottle
			throttle.BehindPlatform = tt.behindPlatform
			h := newHarness(t, harnessOptions{throttle: &throttle})
			for i := range 5 {
				if got, want := h.do(t, wrongLogin("", tt.header(i))).status, http.StatusUnauthorized; got != want {
					t.Fatalf("attempt %d: status = %d, want %d", i+1, got, want)
				}
			}
			checkRateLimited(t, h.do(t, wrongLogin("", tt.header(5))), "6")
		})
	}

	t.Run("behind the platform another Client-IP is another client", func(t *testing.T) {
		throttle := loginThrottle
		throttle.BehindPlatform = true
		h := newHarness(t, harnessOptions{throttle: &throttle})
		for range 5 {
			h.do(t, wrongLogin("", map[string]string{"Client-IP": "203.0.113.7:1"}))
		}
		checkRateLimited(t, h.do(t, wrongLogin("", map[string]string{"Client-IP": "203.0.113.7:2"})), "6")
		if got, want := h.do(t, wrongLogin("", map[string]string{"Client-IP": "203.0.113.8:1"})).status, http.StatusUnauthorized; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
	})
}

// AUTH-4: a flood of distinct client addresses costs bounded memory: past
// MaxClients the least recently seen client is forgotten, while a client
// seen all along keeps its (spent) bucket.
func TestClientBucketsAreCapped(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	l := newLimiter(Throttle{ClientPerMinute: 10, ClientBurst: 1, GlobalPerMinute: 1 << 30, GlobalBurst: 1 << 30, MaxClients: 100}, func() time.Time { return now })
	if d := l.wait("203.0.113.1"); d != 0 {
		t.Fatalf("first request waited %v", d)
	}
	for i := range 100_000 {
		l.wait(fmt.Sprintf("2001:db8:%x::/64", i))
		if i%50 == 0 {
			// The busy client stays recently seen, so it is never forgotten.
			if d := l.wait("203.0.113.1"); d == 0 {
				t.Fatalf("after %d other clients the spent client was let through: its bucket was forgotten", i)
			}
		}
	}
	if got, want := l.tracked(), 100; got != want {
		t.Errorf("clients remembered = %d, want %d", got, want)
	}
	if got, want := l.lru.Len(), 100; got != want {
		t.Errorf("LRU length = %d, want %d", got, want)
	}
}

// AUTH-4: which header counts, read in isolation.
func TestClientKey(t *testing.T) {
	tests := []struct {
		name           string
		remote         string
		behindPlatform bool
		header         http.Header
		want           string
	}{
		{name: "standalone takes the connection", remote: "192.0.2.1:5555", header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}, want: "192.0.2.1"},
		{name: "standalone IPv6 counts per /64", remote: "[2001:db8:a:b:1:2:3:4]:5555", want: "2001:db8:a:b::/64"},
		{name: "platform Client-IP with a port", behindPlatform: true, remote: "127.0.0.1:1", header: http.Header{"Client-Ip": {"203.0.113.9:61598"}}, want: "203.0.113.9"},
		{name: "platform Client-IP wins over X-Forwarded-For", behindPlatform: true, remote: "127.0.0.1:1", header: http.Header{"Client-Ip": {"203.0.113.9:61598"}, "X-Forwarded-For": {"198.51.100.1, 203.0.113.10:1"}}, want: "203.0.113.9"},
		{name: "platform right-most of several X-Forwarded-For lines", behindPlatform: true, remote: "127.0.0.1:1", header: http.Header{"X-Forwarded-For": {"198.51.100.1", "198.51.100.2, 203.0.113.10:1"}}, want: "203.0.113.10"},
		{name: "platform IPv4-mapped IPv6 is IPv4", behindPlatform: true, remote: "127.0.0.1:1", header: http.Header{"Client-Ip": {"[::ffff:203.0.113.9]:1"}}, want: "203.0.113.9"},
		{name: "platform garbage shares one bucket", behindPlatform: true, remote: "127.0.0.1:1", header: http.Header{"Client-Ip": {"not an address"}, "X-Forwarded-For": {"1.2.3.4, also not"}}, want: "unknown"},
		{name: "platform without any header shares one bucket, never the host's address", behindPlatform: true, remote: "127.0.0.1:1", want: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/auth/login", nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.header {
				r.Header[k] = v
			}
			if got := clientKey(r, tt.behindPlatform); got != tt.want {
				t.Errorf("clientKey() = %q, want %q", got, tt.want)
			}
		})
	}
}

// slowHasher makes hashes slow enough (64 MiB, three passes) that a flood
// of sign-ins overlaps, with one running and one waiting at most.
func slowHasher(t *testing.T) *passwords.Hasher {
	t.Helper()
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "t1", Keys: map[string][]byte{
		"t1": []byte("handlers-test-pepper-handlers-test-pepper"),
	}}, passwords.Params{Memory: 64 * 1024, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	return hasher
}

// PWD-2, PWD-5 (DoS): a flood of sign-ins with HASH_CONCURRENCY=1 and
// HASH_QUEUE=1 gets 503 busy with Retry-After and problem+json for what
// does not fit in line, and nothing is lost for the sign-ins let in: each
// answers 200 with its own session, stored.
func TestHashQueueFlood(t *testing.T) {
	h := newHarness(t, harnessOptions{hasher: slowHasher(t)})
	p, _ := h.activeUser(t)
	const flood = 8
	start := make(chan struct{})
	results := make([]response, flood)
	errs := make([]error, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			<-start
			results[i], errs[i] = h.send(request{method: http.MethodPost, path: "/api/auth/login",
				body: loginRequest{Email: p.email, Password: strongPassword}})
		})
	}
	close(start)
	wg.Wait()
	signedIn, busy := 0, 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch r.status {
		case http.StatusOK:
			signedIn++
		case http.StatusServiceUnavailable:
			busy++
			if got, want := r.header.Get("Retry-After"), "1"; got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
			if got, want := r.problem(t).Code, codeBusy; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
		default:
			t.Errorf("status = %d, want 200 or 503 (body %s)", r.status, r.body)
		}
	}
	if signedIn == 0 || busy == 0 {
		t.Fatalf("signed in %d, busy %d of %d: want both", signedIn, busy, flood)
	}
	agg, err := h.store.Aggregate(context.Background(), p.id)
	if err != nil {
		t.Fatal(err)
	}
	// activeUser's own sign-in made one session.
	if got, want := len(agg.Sessions), signedIn+1; got != want {
		t.Errorf("sessions stored = %d, want %d (one per 200 and the setup's)", got, want)
	}
}

// LOG-5, PWD-2: while the line is full, a sign-in is refused with 503
// before any lookup: no password is checked, no failure is counted, and a
// known and an unknown email get the same answer.
func TestFullLineRefusesBeforeLookup(t *testing.T) {
	hasher := slowHasher(t)
	h := newHarness(t, harnessOptions{hasher: hasher})
	p, _ := h.activeUser(t)
	// Fill the line: one place running, one waiting.
	for range 2 {
		_, release, err := hasher.Admit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	for _, email := range []string{p.email, "ei-ketaan@kunta.example.fi"} {
		r := h.do(t, request{method: http.MethodPost, path: "/api/auth/login", body: loginRequest{Email: email, Password: "väärä salasana joka ei käy"}})
		if got, want := r.status, http.StatusServiceUnavailable; got != want {
			t.Fatalf("status = %d, want %d (body %s)", got, want, r.body)
		}
		if got, want := r.problem(t).Code, codeBusy; got != want {
			t.Errorf("code = %q, want %q", got, want)
		}
	}
	agg, err := h.store.Aggregate(context.Background(), p.id)
	if err != nil {
		t.Fatal(err)
	}
	if got := agg.User.FailedSignIns; got != 0 {
		t.Errorf("failed sign-ins counted = %d, want 0: the password was checked", got)
	}
}
