package testenv

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// CallKind is what a storage request does, by the cost it has in Table
// Storage: a point read uses the index, a query scans (in the emulator) or
// reads a range (in Azure).
type CallKind string

// The kinds of storage request Calls tells apart.
const (
	// PointRead is a GET of one entity by PartitionKey and RowKey.
	PointRead CallKind = "read"
	// Query is any other GET: a $filter, a listing, a table list.
	Query CallKind = "query"
	// Write is a POST, PUT, PATCH, MERGE or DELETE of one entity or table.
	Write CallKind = "write"
	// Batch is a POST $batch: an entity-group transaction.
	Batch CallKind = "batch"
)

// CallKey is one count's bucket: a kind of request to one table.
type CallKey struct {
	Kind  CallKind
	Table string // without the store's prefix; "Tables" for table operations
}

// Calls is a storage pipeline policy (tablestore.WithPolicy) that counts
// the requests that pass it, by kind and table. It sees every attempt, so
// a retried request counts twice. It is safe for concurrent use.
type Calls struct {
	prefix string

	// Trace, when set, gets one line per call: its kind, method, target,
	// filter and the project functions that made it. bench sets it from
	// STORAGE_CALLS_TRACE, to see where an operation's calls come from.
	Trace io.Writer

	mu     sync.Mutex
	counts map[CallKey]int
}

// NewCalls returns a counter for a store whose table names start with
// prefix; the prefix is cut from the table names it reports.
func NewCalls(prefix string) *Calls {
	return &Calls{prefix: prefix, counts: map[CallKey]int{}}
}

// Do implements policy.Policy.
func (c *Calls) Do(req *policy.Request) (*http.Response, error) {
	key := c.classify(req)
	if c.Trace != nil {
		c.trace(key, req)
	}
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
	return req.Next()
}

// trace writes one call's line: the innermost project frames name who
// made it.
func (c *Calls) trace(key CallKey, req *policy.Request) {
	pcs := make([]uintptr, 48)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	var callers []string
	for len(callers) < 4 {
		f, more := frames.Next()
		if strings.Contains(f.Function, "/useradmin/internal/") && !strings.Contains(f.Function, "/testenv.") {
			callers = append(callers, f.Function[strings.LastIndex(f.Function, "/")+1:])
		}
		if !more {
			break
		}
	}
	raw := req.Raw()
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.Trace, "%-5s %-6s %s %s <- %s\n", key.Kind, raw.Method, tableSegment(raw.URL),
		raw.URL.Query().Get("$filter"), strings.Join(callers, " < "))
}

// Reset sets every count to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[CallKey]int{}
}

// Snapshot returns the counts so far.
func (c *Calls) Snapshot() CallCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(CallCounts, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// batchTarget finds the table of an operation inside a $batch body: the
// request line of its first change set part.
var batchTarget = regexp.MustCompile(`(?m)^(?:POST|PUT|PATCH|MERGE|DELETE|GET) \S*?/([A-Za-z0-9]+)(?:\(|\?| )`)

func (c *Calls) classify(req *policy.Request) CallKey {
	raw := req.Raw()
	last := tableSegment(raw.URL)
	switch {
	case raw.Method == http.MethodPost && last == "$batch":
		return CallKey{Kind: Batch, Table: c.table(batchTable(req))}
	case raw.Method == http.MethodGet:
		name, keys, _ := strings.Cut(last, "(")
		if strings.Contains(keys, "PartitionKey=") && strings.Contains(keys, "RowKey=") {
			return CallKey{Kind: PointRead, Table: c.table(name)}
		}
		return CallKey{Kind: Query, Table: c.table(name)}
	default:
		name, _, _ := strings.Cut(last, "(")
		return CallKey{Kind: Write, Table: c.table(name)}
	}
}

// tableSegment is the last segment of the request's path, where Table
// Storage names the table and, in brackets, the entity's keys.
func tableSegment(u *url.URL) string {
	p := u.EscapedPath()
	if unescaped, err := url.PathUnescape(p); err == nil {
		p = unescaped
	}
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

// batchTable reads the table of a transaction from its body, which the
// pipeline can rewind for the next policy.
func batchTable(req *policy.Request) string {
	body := req.Body()
	if body == nil {
		return "$batch"
	}
	head, err := io.ReadAll(io.LimitReader(body, 4<<10))
	if rerr := req.RewindBody(); rerr != nil || err != nil {
		return "$batch"
	}
	m := batchTarget.FindSubmatch(head)
	if m == nil {
		return "$batch"
	}
	return string(m[1])
}

func (c *Calls) table(name string) string {
	if name == "" {
		return "?"
	}
	if strings.HasPrefix(name, "Tables") {
		return "Tables"
	}
	return strings.TrimPrefix(name, c.prefix)
}

// CallCounts are the requests counted, by kind and table.
type CallCounts map[CallKey]int

// Total is the number of requests of every kind.
func (cc CallCounts) Total() int {
	n := 0
	for _, v := range cc {
		n += v
	}
	return n
}

// Kind is the number of requests of one kind, to any table.
func (cc CallCounts) Kind(k CallKind) int {
	n := 0
	for key, v := range cc {
		if key.Kind == k {
			n += v
		}
	}
	return n
}

// Minus is what was counted in cc and not in before (an earlier snapshot).
func (cc CallCounts) Minus(before CallCounts) CallCounts {
	out := CallCounts{}
	for k, v := range cc {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// String lists the counts by kind, each with its tables, e.g.
// "read 2 (users 2); query 1 (members 1)".
func (cc CallCounts) String() string {
	var parts []string
	for _, kind := range []CallKind{PointRead, Query, Write, Batch} {
		var tables []string
		for k, v := range cc {
			if k.Kind == kind {
				tables = append(tables, fmt.Sprintf("%s %d", k.Table, v))
			}
		}
		if len(tables) == 0 {
			continue
		}
		slices.Sort(tables)
		parts = append(parts, fmt.Sprintf("%s %d (%s)", kind, cc.Kind(kind), strings.Join(tables, ", ")))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}
