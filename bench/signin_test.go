package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/palvelumanuaali/useradmin/handlers"
	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/passwords"
	"github.com/palvelumanuaali/useradmin/internal/relay"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// roundTrips counts storage requests.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}

type nopRelay struct{}

func (nopRelay) Changed(relay.Owner)                          {}
func (nopRelay) Settling(relay.Owner) func()                  { return func() {} }
func (nopRelay) AppendNow(context.Context, audit.Event) error { return nil }

type inline struct{}

func (inline) Go(f func(context.Context)) { f(context.Background()) }

const password = "kolme iloista kirahvia laulaa"

// fixture is the API over Azurite with production password parameters.
type fixture struct {
	srv    *httptest.Server
	svc    *accounts.Service
	store  *tablestore.Store
	trips  *roundTrips
	emails []string
	ids    []string
	prefix string
}

const benchOrg = "org-bench"

func newFixture(b *testing.B, people int) *fixture {
	b.Helper()
	trips := &roundTrips{}
	prefix := testenv.UniqueName(b)
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(b), prefix, testenv.AuditKeys(), tablestore.WithPolicy(trips), tablestore.WithPolicy(trace))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := store.EnsureTables(ctx); err != nil {
		b.Fatal(err)
	}
	hasher, err := passwords.NewHasher(passwords.Peppers{Current: "1", Keys: map[string][]byte{"1": bytes.Repeat([]byte{7}, 32)}}, passwords.DefaultParams(), 4, 64)
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	svc := accounts.NewService(store, hasher, passwords.DefaultPolicy(), nopRelay{}, time.Now,
		func() string { return fmt.Sprintf("id-%d-%d", time.Now().UnixNano(), seq.Add(1)) },
		accounts.Options{SessionIdleTimeout: 30 * time.Minute, SessionAbsoluteTimeout: 12 * time.Hour, InvitationTTL: time.Hour,
			PasswordResetTTL: 30 * time.Minute, LockoutThreshold: 10, LockoutDuration: 15 * time.Minute,
			ActivityInterval: time.Hour, PrivacyNoticeVersion: "bench", RestoreWindow: 30 * 24 * time.Hour,
			InactivityMonths: 6, WarningDays: []int{30, 7}, SafetyMargin: time.Hour})
	f := &fixture{svc: svc, trips: trips, store: store, prefix: prefix}
	if err := store.CreateOrganization(ctx, organizations.Organization{ID: benchOrg, Name: organizations.Name{FI: "Penkkikunta"},
		Type: organizations.TypeMunicipality, CreatedAt: time.Now()}, nil); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < people; i++ {
		email := fmt.Sprintf("person%d@example.fi", i)
		role := kernel.RoleEditor
		if i == 0 {
			role = kernel.RoleAdmin // the first person administers the benchmarks' organisation
		}
		u, err := svc.Invite(ctx, "", accounts.InviteInput{Email: email, FirstName: "Bench", LastName: "Person", OrganizationID: benchOrg, Role: role}, kernel.Meta{})
		if err != nil {
			b.Fatal(err)
		}
		tok, _, err := svc.IssueLinkToken(ctx, u.ID, accounts.PurposeInvitation)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.AcceptInvitation(ctx, tok, password, true, kernel.Meta{}); err != nil {
			b.Fatal(err)
		}
		f.emails = append(f.emails, email)
		f.ids = append(f.ids, u.ID)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	orgs := organizations.NewService(store, nopRelay{}, time.Now, func() string { return fmt.Sprintf("org-%d", seq.Add(1)) })
	f.srv = httptest.NewServer(handlers.NewServer(logger, handlers.Options{MaxBodyBytes: 64 << 10, Throttle: unthrottled, Now: time.Now},
		handlers.Services{Accounts: svc, Organizations: orgs, Hashing: hasher}, inline{}, store.Ping))
	b.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) login(email string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(f.srv.URL+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login: status %d", resp.StatusCode)
	}
	var out struct{ Token string }
	return out.Token, json.NewDecoder(resp.Body).Decode(&out)
}

// BenchmarkSignIn8Clients signs in 8 people at once, over and over, with
// the production argon2id parameters. Target: no errors.
func BenchmarkSignIn8Clients(b *testing.B) {
	f := newFixture(b, 8)
	var next atomic.Int64
	var failures atomic.Int64
	b.SetParallelism(max(1, 8/runtimeProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		email := f.emails[int(next.Add(1)-1)%len(f.emails)]
		for pb.Next() {
			if _, err := f.login(email); err != nil {
				failures.Add(1)
			}
		}
	})
	b.ReportMetric(float64(failures.Load()), "errors")
}

// BenchmarkAuthenticatedGetMe reads /api/me with a session. Targets: p50 ≤
// 3 ms and at most 2 storage round trips per request.
func BenchmarkAuthenticatedGetMe(b *testing.B) {
	f := newFixture(b, 1)
	token, err := f.login(f.emails[0])
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{}
	get := func() time.Duration {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	get() // warm the connection and the session's activity stamp
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	f.trips.n.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := get()
		mu.Lock()
		latencies = append(latencies, d)
		mu.Unlock()
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(f.trips.n.Load())/float64(b.N), "storage-calls/op")
}
