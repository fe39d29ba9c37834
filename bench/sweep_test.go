package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/lifecycle"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkSweep sweeps an installation of SWEEP_ACCOUNTS accounts
// (default 100,000) of which SWEEP_DUE (default 1,000, 1%) are due: here,
// invitations never accepted, erased (the heaviest step). The accounts
// that are not due are filed in the lifecycle index under later days, as
// Settle files them; the sweep never reads their days, which is the point
// being measured: its storage calls grow with the accounts due. Goal:
// under 60 s. Run with -benchtime 1x.
func BenchmarkSweep(b *testing.B) {
	total, due := envInt("SWEEP_ACCOUNTS", 100_000), envInt("SWEEP_DUE", 1_000)
	f := newFixture(b, 0)
	ctx := context.Background()

	// The due accounts: invited long ago, never accepted.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < due; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := f.svc.Invite(ctx, "", accounts.InviteInput{Email: fmt.Sprintf("due%d@example.fi", i), FirstName: "Kutsuttu",
				LastName: "Henkilö", OrganizationID: benchOrg, Role: kernel.RoleExpert}, kernel.Meta{}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()

	// The rest: filed under days in the coming months, 100 to a transaction.
	client, err := aztables.NewServiceClientFromConnectionString(testenv.AzuriteConnectionString(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	index := client.NewClient(f.prefix + "lifecycle")
	start := time.Now().AddDate(0, 2, 0) // after the sweep's "now" below
	rest := total - due
	for day := 0; rest > 0; day++ {
		pk := start.AddDate(0, 0, day%150).Format("2006-01-02")
		n := min(100, rest)
		actions := make([]aztables.TransactionAction, 0, n)
		for i := 0; i < n; i++ {
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd,
				Entity: []byte(fmt.Sprintf(`{"PartitionKey":%q,"RowKey":"idle-%d-%d","DueAt":""}`, pk, day, i))})
		}
		if _, err := index.SubmitTransaction(ctx, actions, nil); err != nil {
			b.Fatal(err)
		}
		rest -= n
	}

	sweeper := lifecycle.New(f.store, f.svc, f.store, time.Now)
	trace.m = map[string]int{}
	now := time.Now().AddDate(0, 0, 7+30+1) // past expiry + restore window + margin
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.trips.n.Store(0)
		began := time.Now()
		sum, err := sweeper.Run(ctx, now, lifecycle.Options{AuditRetentionMonths: 24, DeliveryRetention: 30 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(began).Seconds(), "s/sweep")
		b.ReportMetric(float64(sum.Erased), "erased")
		b.ReportMetric(float64(f.trips.n.Load())/float64(max(1, sum.Erased)), "storage-calls/due-account")
		b.ReportMetric(float64(total), "accounts")
		if os.Getenv("BENCH_TRACE") != "" {
			for k, v := range trace.m {
				b.Logf("%6d %s", v, k)
			}
		}
	}
}
