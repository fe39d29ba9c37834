package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

// latencies collects request durations from several goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	b.ReportMetric(float64(l.d[len(l.d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds())/1000, "p99-ms")
}

func (f *fixture) request(method, path, token string, body any) (int, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// BenchmarkInvite8Clients invites people from 8 concurrent clients: each
// invitation claims the email, commits the account with its audit event
// and notification in one transaction, and updates the directory. Goal:
// ≥ 300 invitations/s.
func BenchmarkInvite8Clients(b *testing.B) {
	f := newFixture(b, 1)
	admin, err := f.login(f.emails[0])
	if err != nil {
		b.Fatal(err)
	}
	var n, failures atomic.Int64
	lat := &latencies{}
	b.SetParallelism(max(1, 8/runtimeProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			status, d, err := f.request("POST", "/api/users", admin, map[string]string{
				"email": fmt.Sprintf("invitee%d-%d@example.fi", time.Now().UnixNano(), i), "firstName": "Kutsuttu",
				"lastName": "Henkilö", "organizationId": benchOrg, "role": "editor"})
			if err != nil || status != http.StatusCreated {
				failures.Add(1)
				continue
			}
			lat.add(d)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "invites/s")
	b.ReportMetric(float64(failures.Load()), "errors")
	lat.report(b)
}

// BenchmarkGetUserByID reads one account by id from 8 concurrent clients.
// Goals: ≥ 1,000/s, p99 ≤ 15 ms.
func BenchmarkGetUserByID(b *testing.B) {
	f := newFixture(b, 2)
	admin, err := f.login(f.emails[0])
	if err != nil {
		b.Fatal(err)
	}
	target := "/api/users/" + f.ids[1]
	lat := &latencies{}
	var failures atomic.Int64
	b.SetParallelism(max(1, 8/runtimeProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status, d, err := f.request("GET", target, admin, nil)
			if err != nil || status != http.StatusOK {
				failures.Add(1)
				continue
			}
			lat.add(d)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(failures.Load()), "errors")
	lat.report(b)
}

// BenchmarkListUsers100 lists 100 people, sorted by name, from an
// organisation of 1,000. Goal: p50 ≤ 10 ms.
func BenchmarkListUsers100(b *testing.B) {
	f := newFixture(b, 1)
	admin, err := f.login(f.emails[0])
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := f.svc.Invite(ctx, "", accounts.InviteInput{Email: fmt.Sprintf("member%d@example.fi", i),
				FirstName: fmt.Sprintf("Etu%d", i), LastName: fmt.Sprintf("Suku%04d", 1000-i), OrganizationID: benchOrg, Role: kernel.RoleExpert}, kernel.Meta{})
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	lat := &latencies{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		status, d, err := f.request("GET", "/api/users?organizationId="+benchOrg+"&limit=100&sort=name", admin, nil)
		if err != nil || status != http.StatusOK {
			b.Fatalf("list: %d %v", status, err)
		}
		lat.add(d)
	}
	b.StopTimer()
	lat.report(b)
}
