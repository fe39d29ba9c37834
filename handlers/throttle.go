package handlers

import (
	"container/list"
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle are the request limits on the unauthenticated endpoints that
// cost a password hash or an email (AUTH-4). Each throttled endpoint has
// its own buckets: one per client address and one shared by all clients.
// The buckets live in this instance's memory, so under scale-out each
// instance allows this much; the per-account lockout, which lives in
// storage, is what every instance shares.
type Throttle struct {
	ClientPerMinute int // sustained requests per client address
	ClientBurst     int // requests a client may send at once (at least 1)
	GlobalPerMinute int // sustained requests from all clients together
	GlobalBurst     int // at least 1
	// MaxClients caps the client buckets an endpoint keeps; past it the
	// least recently seen client is forgotten, so a flood of distinct
	// addresses costs bounded memory (and meets the global bucket).
	MaxClients int
	// BehindPlatform is true under the Functions host, where the client's
	// address comes from the platform's front end (see clientKey).
	BehindPlatform bool
}

// Admitter takes a place in line for a request's password hashes
// (implemented by passwords.Hasher): the returned context carries it and
// release gives it back. An error means the line is full.
type Admitter interface {
	Admit(ctx context.Context) (ctx2 context.Context, release func(), err error)
}

const codeRateLimited = "rate_limited"

// limiter is the pair of buckets of one throttled endpoint.
type limiter struct {
	now         func() time.Time
	clientRate  rate.Limit
	clientBurst int
	max         int

	mu      sync.Mutex
	global  *rate.Limiter
	clients map[string]*list.Element // of *clientBucket, in lru
	lru     *list.List               // front: most recently seen
}

type clientBucket struct {
	key string
	lim *rate.Limiter
}

func newLimiter(t Throttle, now func() time.Time) *limiter {
	return &limiter{
		now:         now,
		clientRate:  perMinute(t.ClientPerMinute),
		clientBurst: t.ClientBurst,
		max:         max(t.MaxClients, 1),
		global:      rate.NewLimiter(perMinute(t.GlobalPerMinute), t.GlobalBurst),
		clients:     map[string]*list.Element{},
		lru:         list.New(),
	}
}

func perMinute(n int) rate.Limit { return rate.Limit(float64(n) / 60) }

// wait takes a token for client from its bucket and from the global one,
// and returns zero; or, when either is empty, takes nothing and returns
// how long until both would have one.
func (l *limiter) wait(client string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.client(client)
	// The client's own bucket first, so one client's flood is refused
	// before it spends the tokens every other client shares.
	rc := c.ReserveN(now, 1)
	if !rc.OK() {
		return time.Minute // a burst of 0: nothing ever passes
	}
	if d := rc.DelayFrom(now); d > 0 {
		rc.CancelAt(now)
		return d
	}
	rg := l.global.ReserveN(now, 1)
	if !rg.OK() {
		rc.CancelAt(now)
		return time.Minute
	}
	if d := rg.DelayFrom(now); d > 0 {
		rg.CancelAt(now)
		rc.CancelAt(now)
		return d
	}
	return 0
}

// client returns the bucket of a client, making it if new and forgetting
// the least recently seen client past the cap. Forgetting is lenient (the
// forgotten client starts afresh), which is why the global bucket stays.
func (l *limiter) client(key string) *rate.Limiter {
	if e, ok := l.clients[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*clientBucket).lim
	}
	b := &clientBucket{key: key, lim: rate.NewLimiter(l.clientRate, l.clientBurst)}
	l.clients[key] = l.lru.PushFront(b)
	for l.lru.Len() > l.max {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.clients, oldest.Value.(*clientBucket).key)
	}
	return b.lim
}

// tracked is how many clients the limiter remembers.
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// throttled refuses a request with 429, Retry-After and problem+json when
// its client, or all clients together, used up this endpoint's budget.
// Each call makes the buckets of one endpoint.
func (s *server) throttled(next http.Handler) http.Handler {
	l := newLimiter(s.opts.Throttle, s.opts.Now)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := l.wait(clientKey(r, s.opts.Throttle.BehindPlatform)); d > 0 {
			w.Header().Set("Retry-After", retryAfter(d))
			writeProblem(w, r, http.StatusTooManyRequests, codeRateLimited, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hashing admits a request that will hash a password into the hasher's
// bounded line before anything is looked up, or answers 503 busy. Being
// admitted first keeps a full line from telling a known email (its hash
// refused) from an unknown one (its stand-in hash skipped).
func (s *server) hashing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.svc.Hashing == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx, release, err := s.svc.Hashing.Admit(r.Context())
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		defer release()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// retryAfter is a delay in whole seconds, rounded up (RFC 9110 §10.2.3).
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// clientKey names the client a request's budget is counted against.
//
// Which hop's address is the client:
//
//   - Standalone, the handler is the server clients connect to: the
//     connection's remote address, and no header at all, since every
//     header is the client's to write.
//   - Under the Functions host the connection comes from the host, so
//     the address must come from a header, and only from one the
//     platform's front end writes. App Service's front end sets Client-IP
//     ("ip:port") and overwrites any value a client sent ("App Service
//     will overwrite any existing header so they cannot be spoofed",
//     Azure/app-service-linux-docs, Things_You_Should_Know/headers.md),
//     so that is the source. If it is missing, the right-most
//     X-Forwarded-For entry is used: the front end appends the address it
//     saw to whatever the client sent, so every entry left of it is the
//     client's own invention and is ignored.
//
// IPv6 clients are counted per /64, the block one subscriber usually
// holds, so rotating addresses within it buys nothing. A request whose
// address cannot be read shares one bucket with every other such request.
func clientKey(r *http.Request, behindPlatform bool) string {
	if !behindPlatform {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			return addrKey(ap.Addr())
		}
		return "unknown"
	}
	if v := r.Header.Values("Client-IP"); len(v) > 0 {
		if a, ok := parseHop(v[len(v)-1]); ok {
			return addrKey(a)
		}
	}
	if v := r.Header.Values("X-Forwarded-For"); len(v) > 0 {
		last := v[len(v)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if a, ok := parseHop(last); ok {
			return addrKey(a)
		}
	}
	return "unknown"
}

// parseHop reads one hop's address: "ip", "ip:port", "[ipv6]:port".
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return a, err == nil
}

func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
