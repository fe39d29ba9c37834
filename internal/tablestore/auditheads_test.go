package tablestore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/palvelumanuaali/useradmin/internal/audit"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

var (
	auditHeadReads = testenv.CallKey{Kind: testenv.PointRead, Table: tableAudit}
	auditBatches   = testenv.CallKey{Kind: testenv.Batch, Table: tableAudit}
)

// countedStores opens n stores on the same tables, each with its own call
// counter: n processes appending to the same chains.
func countedStores(t *testing.T, n int) ([]*Store, []*testenv.Calls) {
	prefix := testenv.UniqueName(t)
	var stores []*Store
	var calls []*testenv.Calls
	for range n {
		c := testenv.NewCalls(prefix)
		stores, calls = append(stores, newTestStoreWith(t, prefix, WithPolicy(c))), append(calls, c)
	}
	return stores, calls
}

// checkChain verifies a chain and that it holds exactly the ids given.
func checkChain(t *testing.T, s *Store, chainKey string, ids []string) {
	t.Helper()
	events, err := s.Chain(context.Background(), chainKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.AuditKeys().Verify(chainKey, events); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.ID)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Fatalf("chain holds %v, want each of %v once", got, want)
	}
}

func signIn(id string, at time.Time) audit.Event {
	return audit.Event{ID: id, At: at, Action: audit.ActionSignInSucceeded, ActorID: "u-1", SubjectID: "u-1", OrganizationID: "org-1"}
}

// P11: two instances appending in turn to the same chain, each with its
// cached head going stale at every turn, leave one chain that verifies,
// with every event once: no fork, no duplicate, none lost. The stale
// cache costs a failed transaction and a head read, nothing more.
func TestAuditAppendFromTwoInstancesKeepsOneChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stores, calls := countedStores(t, 2)
	var ids []string
	for i := range 8 {
		e := signIn(fmt.Sprintf("turn-%d", i), t0.Add(time.Duration(i)*time.Second))
		ids = append(ids, e.ID)
		s, c := stores[i%2], calls[i%2]
		c.Reset()
		if err := s.Append(ctx, []audit.Event{e}); err != nil {
			t.Fatal(err)
		}
		got := c.Snapshot()
		switch {
		case i < 2:
			// Cold: one read of the head, one transaction.
			if got[auditHeadReads] != 1 || got[auditBatches] != 1 {
				t.Fatalf("turn %d (cold cache): %v, want 1 head read and 1 audit transaction", i, got)
			}
		default:
			// Stale: the transaction fails on If-Match, the head is
			// read again, the retry commits.
			if got[auditHeadReads] != 1 || got[auditBatches] != 2 {
				t.Fatalf("turn %d (stale cache): %v, want 1 head read and 2 audit transactions", i, got)
			}
		}
	}
	checkChain(t, stores[0], audit.ChainKey(signIn("", t0)), ids)
}

// P11: a redelivered batch is not appended twice, whether the instance's
// cached head is current (the dedupe reads nothing) or stale (another
// instance appended the batch: the If-Match fails, the re-read head names
// the events, and they are skipped).
func TestAuditRedeliveryWithACachedHeadIsNotAppendedTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stores, calls := countedStores(t, 2)
	batch := []audit.Event{signIn("first", t0), signIn("second", t0.Add(time.Second))}
	if err := stores[1].Append(ctx, []audit.Event{signIn("earlier", t0.Add(-time.Second))}); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	calls[0].Reset()
	if err := stores[0].Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := calls[0].Snapshot(); got[auditHeadReads] != 0 || got[auditBatches] != 0 {
		t.Fatalf("redelivery to the instance that appended: %v, want no head read and no audit transaction", got)
	}
	// stores[1] cached the head before the batch went in.
	if err := stores[1].Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	checkChain(t, stores[0], audit.ChainKey(batch[0]), []string{"earlier", "first", "second"})
}

// Issue 11: with the chain's head cached, appending one event is one
// transaction on the chain and reads no head.
func TestAuditAppendWithAWarmCacheReadsNoHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stores, calls := countedStores(t, 1)
	s, c := stores[0], calls[0]
	if err := s.Append(ctx, []audit.Event{signIn("warm-up", t0)}); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	if err := s.Append(ctx, []audit.Event{signIn("next", t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot(); got[auditHeadReads] != 0 || got[auditBatches] != 1 || got.Kind(testenv.PointRead)+got.Kind(testenv.Query) != 0 {
		t.Fatalf("warm append: %v, want one audit transaction and no read", got)
	}
	checkChain(t, s, audit.ChainKey(signIn("", t0)), []string{"warm-up", "next"})
}

// P9, P11: retention removing a chain whose head an instance has cached
// does not leave the next append linked to the removed events: the
// If-Match fails (the head is gone) and the chain starts again from its
// genesis, so it verifies.
func TestAuditAppendAfterRetentionRemovedACachedChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	old := signIn("old", t0)
	if err := s.Append(ctx, []audit.Event{old}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeAuditBefore(ctx, t0.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	late := signIn("late", t0.Add(time.Hour))
	if err := s.Append(ctx, []audit.Event{late}); err != nil {
		t.Fatal(err)
	}
	checkChain(t, s, audit.ChainKey(late), []string{"late"})
}

// The head cache holds at most maxCachedHeads chains, and never replaces
// a head with an older one.
func TestHeadCacheIsBounded(t *testing.T) {
	var c headCache
	for i := range maxCachedHeads + 10 {
		c.put(fmt.Sprint("chain-", i), cachedHead{head: auditHeadEntity{Seq: 1}, etag: "e"})
	}
	if got := len(c.heads); got != maxCachedHeads {
		t.Fatalf("cache holds %d heads, want %d", got, maxCachedHeads)
	}
	c.put("x", cachedHead{head: auditHeadEntity{Seq: 5}, etag: "new"})
	c.put("x", cachedHead{head: auditHeadEntity{Seq: 4}, etag: "old"})
	if h, _ := c.get("x"); h.etag != "new" {
		t.Fatalf("an older head replaced a newer one: %+v", h)
	}
}

// A transaction's per-operation ETags are read in the order the
// operations were sent (the response's shape as Table Storage documents
// it; Azurite's is exercised by the tests above), and a response that
// does not say gives "" (the next append then reads the head).
func TestTransactionETagReadsTheOperationsResponse(t *testing.T) {
	body := strings.ReplaceAll(`--batchresponse_b1
Content-Type: multipart/mixed; boundary=changesetresponse_c1

--changesetresponse_c1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
X-Content-Type-Options: nosniff
Cache-Control: no-cache
DataServiceVersion: 1.0;
ETag: W/"0x5B168C7B6E589D2"

--changesetresponse_c1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
DataServiceVersion: 1.0;
ETag: W/"datetime'2026-11-22T08%3A00%3A00.1234567Z'"

--changesetresponse_c1--
--batchresponse_b1--
`, "\n", "\r\n")
	resp := &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
	if got, want := transactionETag(resp, 1), azcore.ETag(`W/"datetime'2026-11-22T08%3A00%3A00.1234567Z'"`); got != want {
		t.Fatalf("ETag of the head = %q, want %q", got, want)
	}
	if got := transactionETag(resp, 0); got != `W/"0x5B168C7B6E589D2"` {
		t.Fatalf("ETag of the first operation = %q", got)
	}
	for _, bad := range []string{"", "{}", "--x\r\n\r\nnot http\r\n--x--\r\n"} {
		r := &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(bad))}
		if got := transactionETag(r, 0); got != "" {
			t.Errorf("ETag from %q = %q, want none", bad, got)
		}
	}
	if got := transactionETag(nil, 0); got != "" {
		t.Errorf("ETag without a response = %q", got)
	}
}
