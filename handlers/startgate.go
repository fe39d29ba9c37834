package handlers

import (
	"net/http"
	"sync"
)

// StartGate stands in front of the API while the process wires itself up
// (Key Vault, storage). The Functions host counts the first answer to
// GET / as "ready" and sends the invocation that woke the app at once, and
// it fails any invocation answered with a non-2xx status. So the gate
// answers that probe at once and holds every other request until wiring
// ends: then the request is served, or, only when wiring failed, answered
// 503 while the process exits. How long a request can wait is bounded by
// the caller's wiring deadline (see cmd/handler).
type StartGate struct {
	decided chan struct{}
	once    sync.Once
	api     http.Handler // nil when wiring failed
	probe   http.Handler
	failed  http.Handler
}

// NewStartGate returns a gate that holds requests until Open or Fail.
func NewStartGate() *StartGate {
	return &StartGate{
		decided: make(chan struct{}),
		probe: secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, struct {
				Status string `json:"status"`
			}{"starting"})
		})),
		failed: secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", nil)
		})),
	}
}

// Open lets requests through to api: those waiting and every later one.
func (g *StartGate) Open(api http.Handler) {
	g.once.Do(func() { g.api = api; close(g.decided) })
}

// Fail answers waiting and later requests with 503: wiring failed and the
// process is about to exit with the reason.
func (g *StartGate) Fail() {
	g.once.Do(func() { close(g.decided) })
}

// ServeHTTP serves the API once wiring is done and waits for it until then.
func (g *StartGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.decided:
	default:
		if r.Method == http.MethodGet && r.URL.Path == "/" {
			// The host's readiness probe: answering is all it asks.
			g.probe.ServeHTTP(w, r)
			return
		}
		select {
		case <-g.decided:
		case <-r.Context().Done():
			return // the caller gave up; nothing to answer
		}
	}
	if g.api == nil {
		g.failed.ServeHTTP(w, r)
		return
	}
	g.api.ServeHTTP(w, r)
}
