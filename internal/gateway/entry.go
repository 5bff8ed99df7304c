package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ratelimit"
)

// Info is what the server learns about a request on its way through the
// faces: the route template that served it and the organisation and key
// that called. The entry (Entry) puts it in the request's context; the
// router, the face and Authenticator.Wrap fill it in; the entry logs and
// measures the request from it once it is answered.
type Info struct {
	mu    sync.Mutex
	route string
	org   string
	key   string
}

type infoKey struct{}

func infoOf(ctx context.Context) *Info {
	i, _ := ctx.Value(infoKey{}).(*Info)
	return i
}

// SetRoute records the route template that serves the request (a
// face's pattern such as /v1/sandboxes/{id}); the last call wins, so a
// face refines what the router set.
func SetRoute(ctx context.Context, route string) {
	if i := infoOf(ctx); i != nil {
		i.mu.Lock()
		i.route = route
		i.mu.Unlock()
	}
}

// Route is the route template recorded for the request, "" when none is.
func Route(ctx context.Context) string {
	i := infoOf(ctx)
	if i == nil {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.route
}

func (i *Info) setCaller(p auth.Principal) {
	i.mu.Lock()
	i.org, i.key = p.OrganizationID, p.KeyID
	i.mu.Unlock()
}

// Answered is one request as the entry saw it end.
type Answered struct {
	Method, Route string
	Org           string // "" for requests no key authenticated
	Status        int
	Duration      time.Duration
}

// Entry is the first handler of every listener: it gives the request its
// ID (which Outer then keeps), carries the Info, and once the request is
// answered logs it (request ID, method, route template, organisation,
// status, latency: never the path's query, a header or a key) and hands
// it to Observe. Limits, when set, is what Authenticator.Wrap asks before
// an authenticated request goes on.
type Entry struct {
	Log     *slog.Logger
	Limits  *ratelimit.Limiter
	Observe func(Answered)
}

type limitsKey struct{}

// Wrap returns next behind the entry.
func (e Entry) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &Info{}
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		ctx = context.WithValue(ctx, infoKey{}, info)
		if e.Limits != nil {
			ctx = context.WithValue(ctx, limitsKey{}, e.Limits)
		}
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			info.mu.Lock()
			a := Answered{Method: r.Method, Route: info.route, Org: info.org, Status: sw.status, Duration: time.Since(start)}
			info.mu.Unlock()
			if a.Route == "" {
				a.Route = "unmatched"
			}
			if a.Status == 0 {
				a.Status = http.StatusOK // hijacked or empty answers
			}
			if e.Log != nil {
				level := slog.LevelInfo
				if (a.Route == "/healthz" || a.Route == "/readyz") && a.Status < 500 {
					level = slog.LevelDebug // probes every few seconds would drown the rest
				}
				e.Log.LogAttrs(ctx, level, "request", slog.String("requestId", id), slog.String("method", a.Method),
					slog.String("route", a.Route), slog.String("org", a.Org), slog.Int("status", a.Status),
					slog.Float64("ms", float64(a.Duration.Microseconds())/1000))
			}
			if e.Observe != nil {
				e.Observe(a)
			}
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// limit records the caller in the request's Info and spends a token of
// its key's and organisation's buckets, writing the rate-limit headers;
// an empty bucket is errdefs.ErrResourceExhausted (429, with Retry-After).
func limit(w http.ResponseWriter, ctx context.Context, p auth.Principal) error {
	if i := infoOf(ctx); i != nil {
		i.setCaller(p)
	}
	l, _ := ctx.Value(limitsKey{}).(*ratelimit.Limiter)
	if l == nil {
		return nil
	}
	d := l.Take(p.OrganizationID, p.KeyID)
	d.SetHeaders(w.Header())
	if !d.Allowed {
		return fmt.Errorf("rate limit of this %s reached (%d requests at most at once); retry in %s: %w",
			d.Scope, d.Limit, d.RetryAfter.Round(time.Millisecond), errdefs.ErrResourceExhausted)
	}
	return nil
}
