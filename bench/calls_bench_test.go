package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// seeded is a counted fixture over a users table of 3,000 accounts or
// more: countedOrg has 1,000 members, 20 more organisations 100 each.
type seeded struct {
	*counted
	admin, adminID string
	memberIDs      []string
	members        []string // emails of active members, for sign-in
}

// seed fills the fixture through the service, 8 invitations at once. The
// relay is not run for the seed (each invitation already wrote its
// directory entry), which keeps the setup under a minute.
func seed(b *testing.B) *seeded {
	b.Helper()
	f := &seeded{counted: newCounted(b)}
	ctx := context.Background()
	var err error
	if f.adminID, f.admin, err = f.active(ctx, "paakayttaja@example.fi", countedOrg, kernel.RoleAdmin); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		email := fmt.Sprintf("aktiivinen%d@example.fi", i)
		id, _, err := f.active(ctx, email, countedOrg, kernel.RoleEditor)
		if err != nil {
			b.Fatal(err)
		}
		f.members, f.memberIDs = append(f.members, email), append(f.memberIDs, id)
	}
	orgs := []string{countedOrg}
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("org-seed-%02d", i)
		if err := f.store.CreateOrganization(ctx, organizations.Organization{ID: id, Name: organizations.Name{FI: "Kunta " + id},
			Type: organizations.TypeMunicipality, CreatedAt: f.clock.Now()}, nil); err != nil {
			b.Fatal(err)
		}
		orgs = append(orgs, id)
	}
	if err := f.drain(ctx, 8); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < 3000; i++ {
		org := orgs[0]
		if i >= 1000 {
			org = orgs[1+(i-1000)/100]
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := f.accounts.Invite(ctx, "", accounts.InviteInput{Email: fmt.Sprintf("seed%d@example.fi", i), FirstName: fmt.Sprintf("Etu%d", i),
				LastName: fmt.Sprintf("Suku%04d", 3000-i), OrganizationID: org, Role: kernel.RoleExpert}, kernel.Meta{}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	// The seed's invitations stay in their outboxes: their upkeep would
	// take minutes and is not what is measured.
	f.woken.take()
	f.queue.take()
	return f
}

// run drives op from clients goroutines (RunParallel) and reports the
// rate, p50 and p99, and the storage calls per op on the request path
// and, once the relay and the consumer drained, in total, with how long
// the draining took. It returns the rate.
func (f *seeded) run(b *testing.B, clients int, unit string, op func(i int64) (time.Duration, error)) float64 {
	b.Helper()
	ctx := context.Background()
	if err := f.drain(ctx, 8); err != nil {
		b.Fatal(err)
	}
	lat := &latencies{}
	var n, failures atomic.Int64
	var firstErr atomic.Value
	f.calls.Reset()
	b.SetParallelism(max(1, clients/runtimeProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, err := op(n.Add(1))
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
				continue
			}
			lat.add(d)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	path := f.calls.Snapshot()
	drainStart := time.Now()
	if err := f.drain(ctx, 8); err != nil {
		b.Fatal(err)
	}
	drained := time.Since(drainStart)
	total := f.calls.Snapshot()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Logf("first error: %v", err)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, unit)
	b.ReportMetric(float64(failures.Load()), "errors")
	b.ReportMetric(float64(path.Total())/float64(b.N), "path-calls/op")
	b.ReportMetric(float64(total.Total())/float64(b.N), "total-calls/op")
	b.ReportMetric(drained.Seconds(), "drain-s")
	lat.report(b)
	return rate
}

// BenchmarkStorageCalls measures issue 11's operations against one seeded
// users table of 3,000+ accounts (seeded once, for all sub-benchmarks),
// with the API wired as in standalone mode: each reports its storage
// calls per op on the request path and in total (the relay's delivery,
// settle and the email consumer, drained after the timed loop), and its
// p50. point-read-ceiling is a raw point-read loop against the same
// emulator; get-by-id reports the fraction of the two-point-read ceiling
// it reaches (target ≥ 0.5).
//
//	go test ./bench -run '^$' -bench BenchmarkStorageCalls -benchtime 2s
func BenchmarkStorageCalls(b *testing.B) {
	f := seed(b)
	ctx := context.Background()
	var pointReads float64

	b.Run("point-read-ceiling-8-clients", func(b *testing.B) {
		client, err := aztables.NewServiceClientFromConnectionString(testenv.AzuriteConnectionString(b), nil)
		if err != nil {
			b.Fatal(err)
		}
		users := client.NewClient(f.prefix + "users")
		pointReads = f.run(b, 8, "point-reads/s", func(int64) (time.Duration, error) {
			start := time.Now()
			_, err := users.GetEntity(ctx, f.adminID, "user", nil)
			return time.Since(start), err
		})
	})
	b.Run("me-1-client", func(b *testing.B) {
		f.run(b, 1, "reads/s", func(int64) (time.Duration, error) {
			return f.call(http.StatusOK, "GET", "/api/me", f.admin, nil)
		})
	})
	b.Run("get-by-id-8-clients", func(b *testing.B) {
		rate := f.run(b, 8, "reads/s", func(i int64) (time.Duration, error) {
			return f.call(http.StatusOK, "GET", "/api/users/"+f.memberIDs[i%int64(len(f.memberIDs))], f.admin, nil)
		})
		if pointReads > 0 {
			b.ReportMetric(rate/(pointReads/2), "of-2-read-ceiling")
		}
	})
	b.Run("list-100-of-1000-1-client", func(b *testing.B) {
		f.run(b, 1, "pages/s", func(int64) (time.Duration, error) {
			return f.call(http.StatusOK, "GET", "/api/users?organizationId="+countedOrg+"&limit=100", f.admin, nil)
		})
	})
	b.Run("sign-in-8-clients", func(b *testing.B) {
		f.run(b, 8, "sign-ins/s", func(i int64) (time.Duration, error) {
			return f.call(http.StatusOK, "POST", "/api/auth/login", "", map[string]string{
				"email": f.members[i%int64(len(f.members))], "password": countedPassword})
		})
	})
	var invited atomic.Int64
	b.Run("invite-8-clients", func(b *testing.B) {
		f.run(b, 8, "invites/s", func(int64) (time.Duration, error) {
			return f.call(http.StatusCreated, "POST", "/api/users", f.admin, map[string]string{
				"email": fmt.Sprintf("kutsu%d@example.fi", invited.Add(1)), "firstName": "Kutsuttu", "lastName": "Henkilö",
				"organizationId": "org-seed-00", "role": "editor"})
		})
	})
	b.Run("accept-8-clients", func(b *testing.B) {
		// One invitation per op, its email sent before its link is issued
		// (sending mints a new link), all outside the timer.
		ids := make([]string, b.N)
		for i := range ids {
			id, _, err := f.invited(ctx, fmt.Sprintf("hyvaksyja%d@example.fi", invited.Add(1)), "org-seed-01", kernel.RoleEditor, "Hyväksyjä")
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		if err := f.drain(ctx, 8); err != nil {
			b.Fatal(err)
		}
		tokens := make([]string, b.N)
		for i, id := range ids {
			tok, _, err := f.accounts.IssueLinkToken(ctx, id, accounts.PurposeInvitation)
			if err != nil {
				b.Fatal(err)
			}
			tokens[i] = tok
		}
		f.run(b, 8, "accepts/s", func(i int64) (time.Duration, error) {
			return f.call(http.StatusOK, "POST", "/api/auth/invitations/accept", "", map[string]any{
				"token": tokens[i-1], "password": countedPassword, "acceptPrivacyNotice": true})
		})
	})
}

// call is do with the status checked.
func (f *counted) call(want int, method, path, token string, body any) (time.Duration, error) {
	status, out, d, err := f.do(method, path, token, body)
	if err != nil {
		return 0, err
	}
	if status != want {
		return 0, fmt.Errorf("%s %s: status %d, want %d: %.200s", method, path, status, want, out)
	}
	return d, nil
}
