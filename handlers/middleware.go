package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/accounts"
	"github.com/palvelumanuaali/useradmin/internal/kernel"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxPrincipal
	ctxLogUser
	ctxLogRoute
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

func principal(ctx context.Context) accounts.Principal {
	p, _ := ctx.Value(ctxPrincipal).(accounts.Principal)
	return p
}

func meta(r *http.Request) kernel.Meta {
	return kernel.Meta{RequestID: requestID(r.Context())}
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusRecorder remembers the status a handler answered with, for the
// access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (invocations
// lift their write deadline through it).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// observe gives every request an id, logs one line per request (method,
// route template, status, duration; never the query string, a body or a
// header value) and turns a panic into a generic 500 without killing the
// process; the panic is logged by its type, never its value.
func observe(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		var userID string    // filled in by authenticated, for the access log
		route := "unmatched" // filled in by the router (see logRoute)
		ctx := context.WithValue(context.WithValue(r.Context(), ctxRequestID, id), ctxLogUser, &userID)
		ctx = context.WithValue(ctx, ctxLogRoute, &route)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-ID", id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				// The panic's type only: its value can be anything the
				// code had at hand, a person's email included (P10).
				log.Error("panic", "request_id", id, "panic_type", fmt.Sprintf("%T", v))
				if rec.status == 0 {
					writeProblem(rec, r, http.StatusInternalServerError, codeInternal, nil)
				}
			}
			attrs := []any{"request_id", id, "method", r.Method, "route", route, "status", rec.status,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000}
			if inv := r.Header.Get("X-Azure-Functions-InvocationId"); inv != "" {
				attrs = append(attrs, "invocation_id", inv)
			}
			if userID != "" {
				attrs = append(attrs, "user", userID)
			}
			log.Info("request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRoute tells observe which route template a request matched. The
// router hands handlers a copy of the request, so observe cannot ask the
// router itself.
func logRoute(template string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route, ok := r.Context().Value(ctxLogRoute).(*string); ok {
			*route = template
		}
		next.ServeHTTP(w, r)
	})
}

// secure sets the security headers every response carries. Responses hold
// personal data, so nothing is cached anywhere.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// exposedHeaders are the response headers a browser frontend reads.
const exposedHeaders = "ETag, Retry-After, X-Request-ID, Location"

// cors lets browsers on the configured origins call the API, and nobody
// else. Bearer tokens travel in a header, so no credentials mode is needed.
//
// Under the Functions host (platform true) the platform owns CORS: it
// answers preflights and sets Access-Control-Allow-Origin from the
// Function App's siteConfig.cors, and the handler must not set either (two
// answers would disagree, or duplicate the header). Its policy exposes no
// response headers, though, so the handler adds only
// Access-Control-Expose-Headers, which has no effect unless the platform
// allowed the origin.
func cors(origins []string, platform bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if platform {
			if origin != "" {
				h.Set("Access-Control-Expose-Headers", exposedHeaders)
			}
			next.ServeHTTP(w, r)
			return
		}
		allowed := origin != "" && slices.Contains(origins, origin)
		h.Add("Vary", "Origin")
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", exposedHeaders)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, Accept-Language")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// answersAccount marks a handler that answers with the caller's own
// account: its authentication reads the account beside the session, at
// once, rather than the session alone and the account after it.
type answersAccount struct{ http.Handler }

// authenticated lets a request through only with a live session; the
// principal it resolves is in the request context for the handler. An
// enrol-only session gets through only when enrol is set.
func (s *server) authenticated(next http.Handler, enrol bool) http.Handler {
	authenticate := s.accounts.Authenticate
	if _, ok := next.(answersAccount); ok {
		authenticate = s.accounts.AuthenticateAccount
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			writeError(w, r, s.log, accounts.ErrUnauthenticated)
			return
		}
		p, err := authenticate(r.Context(), token)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if logUser, ok := r.Context().Value(ctxLogUser).(*string); ok {
			*logUser = p.Actor.ID
		}
		if p.Actor.EnrolOnly && !enrol {
			writeError(w, r, s.log, accounts.ErrEnrolmentRequired)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxPrincipal, p)))
	})
}

// bearerToken reads the token of an Authorization header in the Bearer
// scheme: credentials = auth-scheme 1*SP token68 (RFC 9110 §11.1, RFC 6750
// §2.1). The scheme name is case-insensitive; anything else (another
// scheme, no token, auth-params, two tokens) is no token.
func bearerToken(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.Trim(header, " \t"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.TrimLeft(rest, " ")
	return token, isToken68(token)
}

// isToken68 reports whether s is a token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range body {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.ContainsRune("-._~+/", c):
		default:
			return false
		}
	}
	return true
}
