// Package handlers is the HTTP edge: the router, request decoding and
// validation, problem+json errors, authentication, and the security
// headers every response carries. routes.go lists the whole surface; the
// rules live in the domain packages under internal/.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
)

// Options are the edge's settings.
type Options struct {
	// CORSOrigins are the browser origins the handler answers CORS for
	// (standalone). Empty under the Functions host, whose platform answers
	// CORS itself.
	CORSOrigins []string
	// PlatformCORS is true under the Functions host, whose platform
	// answers CORS (see cors).
	PlatformCORS bool
	MaxBodyBytes int64
	// InvocationTimeout is how long a trigger invocation (timer, Service
	// Bus) may take to answer: host.json's functionTimeout. Those
	// endpoints lift the server's write deadline to it; the API keeps the
	// server's shorter one.
	InvocationTimeout time.Duration
	// Throttle limits the sign-in, password-reset and invitation-accept
	// endpoints (see throttle.go).
	Throttle Throttle
	// Now is the clock the throttle's buckets refill by.
	Now func() time.Time
}

// Detacher runs work that outlives its request (a reset request's lookup,
// done after answering so the answer's timing reveals nothing). The
// process waits for detached work before it exits.
type Detacher interface {
	Go(func(ctx context.Context))
}

// HealthCheck reports whether a dependency answers.
type HealthCheck func(ctx context.Context) error

// Services are the domain services the API exposes, and the receivers
// of the non-HTTP triggers.
type Services struct {
	Accounts      *accounts.Service
	Organizations *organizations.Service
	Notifications NotificationReceiver
	// MaxDeliveries is the notification queue's max delivery count: on the
	// last delivery a failure is recorded before the queue dead-letters.
	MaxDeliveries int
	// Sweep runs the lifecycle sweep for the LifecycleSweep timer function
	// and returns a one-line summary (counts only).
	Sweep func(ctx context.Context) (string, error)
	// DrainOutbox delivers every outbox a crash or an outage left behind,
	// for the OutboxDrain timer function, and returns a one-line summary.
	DrainOutbox func(ctx context.Context) (string, error)
	// Hashing admits the requests that hash a password into the hasher's
	// bounded line (see hashing); nil admits everything.
	Hashing Admitter
}

type server struct {
	log      *slog.Logger
	opts     Options
	svc      Services
	accounts *accounts.Service
	orgs     *organizations.Service
	detach   Detacher
	health   HealthCheck
	docs     documents
}

// NewServer returns the HTTP handler for the whole API.
func NewServer(log *slog.Logger, opts Options, svc Services, detach Detacher, health HealthCheck) http.Handler {
	s := &server{log: log, opts: opts, svc: svc, accounts: svc.Accounts, orgs: svc.Organizations, detach: detach, health: health, docs: newDocuments(log)}
	return observe(log, secure(cors(opts.CORSOrigins, opts.PlatformCORS, s.routes())))
}

// handleHealth answers liveness: the process runs and storage answers.
func (s *server) handleHealth() http.Handler {
	type response struct {
		Status string `json:"status"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := s.health(ctx); err != nil {
			s.log.Warn("health check failed", "request_id", requestID(r.Context()), "error", err.Error())
			writeJSON(w, http.StatusServiceUnavailable, response{Status: "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, response{Status: "ok"})
	})
}
