package testenv

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// CutAfter is a storage pipeline policy (tablestore.WithPolicy) that, once
// armed, lets n more requests through and then refuses every request with
// an answer the SDK does not retry: the work stops at that call, as it
// would when the process is killed there. Tests arm it at each n in turn
// to interrupt a multi-step operation at every step.
type CutAfter struct {
	armed atomic.Bool
	left  atomic.Int64
}

// Arm lets n more requests through, then cuts.
func (c *CutAfter) Arm(n int) {
	c.left.Store(int64(n))
	c.armed.Store(true)
}

// Disarm lets every request through again.
func (c *CutAfter) Disarm() { c.armed.Store(false) }

// Do implements policy.Policy.
func (c *CutAfter) Do(req *policy.Request) (*http.Response, error) {
	if c.armed.Load() && c.left.Add(-1) < 0 {
		return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 cut by the test", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("")), Request: req.Raw()}, nil
	}
	return req.Next()
}
