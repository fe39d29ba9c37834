package bench

import (
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// callTrace counts storage calls by method and table, when BENCH_TRACE is set.
type callTrace struct {
	mu sync.Mutex
	m  map[string]int
}

var trace = &callTrace{m: map[string]int{}}

func (c *callTrace) Do(req *policy.Request) (*http.Response, error) {
	if os.Getenv("BENCH_TRACE") != "" {
		path := req.Raw().URL.Path
		if i := strings.IndexAny(path, "(?"); i > 0 {
			path = path[:i]
		}
		c.mu.Lock()
		c.m[req.Raw().Method+" "+path]++
		c.mu.Unlock()
	}
	return req.Next()
}
