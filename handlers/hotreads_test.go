package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/tablestore"
	"github.com/palvelumanuaali/useradmin/internal/testenv"
)

// storageCalls counts the storage requests that reach the wire (a
// tablestore.WithPolicy policy), by kind.
type storageCalls struct {
	mu    sync.Mutex
	calls []string // "read <table>", "query <table>" or "<method> <table>"
}

func (c *storageCalls) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	table, key, _ := strings.Cut(strings.TrimPrefix(raw.URL.Path[strings.LastIndex(raw.URL.Path, "/"):], "/"), "(")
	kind := raw.Method
	if raw.Method == http.MethodGet {
		kind = "query"
		if strings.Contains(key, "PartitionKey=") && strings.Contains(key, "RowKey=") {
			kind = "read"
		}
	}
	c.mu.Lock()
	c.calls = append(c.calls, kind+" "+table)
	c.mu.Unlock()
	return req.Next()
}

// take returns the calls since the last take and forgets them.
func (c *storageCalls) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func callsOfKind(calls []string, kind string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, kind+" ") {
			n++
		}
	}
	return n
}

// TestHotReadsArePointReads counts the storage calls of the hot reads
// (issue 11): an authenticated read (GET /api/me) is at most two point
// reads and no query, get by id at most three calls, all point reads; and
// the ETag /api/me answers with after its own activity write is the one
// stored, so If-Match works with it.
func TestHotReadsArePointReads(t *testing.T) {
	t.Parallel()
	prefix := testenv.UniqueName(t)
	counter := &storageCalls{}
	store, err := tablestore.NewFromConnectionString(testenv.AzuriteConnectionString(t), prefix, testenv.AuditKeys(), tablestore.WithPolicy(counter))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{store: store})
	org := h.organization(t, "Kunta")
	_, primary := h.member(t, org, kernel.RolePrimaryUser)
	colleague, _ := h.member(t, org, kernel.RoleEditor)
	stranger, _ := h.member(t, h.organization(t, "Muu kunta"), kernel.RoleEditor)

	check := func(what string, want int, rq request, maxCalls int) []string {
		t.Helper()
		counter.take()
		r := h.do(t, rq)
		calls := counter.take()
		if r.status != want {
			t.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
		}
		if n := callsOfKind(calls, "read"); n != len(calls) || len(calls) > maxCalls {
			t.Errorf("%s: %d storage calls %v, want at most %d, point reads only", what, len(calls), calls, maxCalls)
		}
		return calls
	}
	check("authenticated read", http.StatusOK, request{method: "GET", path: "/api/me", token: primary}, 2)
	check("get by id", http.StatusOK, request{method: "GET", path: "/api/users/" + colleague.id, token: primary}, 3)
	check("get by id out of sight (P10)", http.StatusNotFound, request{method: "GET", path: "/api/users/" + stranger.id, token: primary}, 3)
	check("get by unknown id", http.StatusNotFound, request{method: "GET", path: "/api/users/" + "u-none", token: primary}, 3)
	check("unknown session", http.StatusUnauthorized, request{method: "GET", path: "/api/me", token: colleague.id + "." + strings.Repeat("A", 43)}, 2)

	// Past the activity interval (in steps inside the idle timeout) the
	// read also writes the activity; the ETag answered is then the
	// stored one, and a PATCH with it is accepted.
	var me response
	for i := 1; i <= 3; i++ {
		h.clock.Set(h.clock.Now().Add(25 * time.Minute))
		counter.take()
		me = h.do(t, request{method: "GET", path: "/api/me", token: primary})
		if me.status != http.StatusOK {
			t.Fatalf("step %d: status %d", i, me.status)
		}
		// The last step's activity write also settles the directory on
		// the request path (its calls are the derived state's to cut).
		calls := counter.take()
		if i < 3 && (callsOfKind(calls, "read") > 2 || callsOfKind(calls, "query") > 0 || len(calls) > 3) {
			t.Errorf("step %d: storage calls %v, want 2 point reads and the session's touch", i, calls)
		}
	}
	var body struct{ ID string }
	me.decode(t, &body)
	if got, want := me.header.Get("ETag"), fmt.Sprintf("%q", kernel.PublicETag(h.storedETag(t, body.ID))); got != want {
		t.Errorf("ETag after the activity write = %s, stored %s", got, want)
	}
	r := h.do(t, request{method: "PATCH", path: "/api/me", token: primary, body: map[string]string{"locale": "sv"},
		header: map[string]string{"If-Match": me.header.Get("ETag")}})
	if r.status != http.StatusOK {
		t.Errorf("PATCH /api/me with the ETag /api/me gave: status %d, body %s", r.status, r.body)
	}
}
