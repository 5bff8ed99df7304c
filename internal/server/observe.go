package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/metrics"
	"github.com/hutchdev/hutch/internal/ratelimit"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// observability is what the server measures and bounds every request
// with: the metrics registry and the rate limits.
type observability struct {
	metrics *metrics.Metrics
	limits  *savedLimits
	sources *lateSources
}

func newObservability(cfg config.Config, log *slog.Logger) (*observability, error) {
	limits, err := loadLimits(filepath.Join(cfg.DataDir, "rate-limits.json"), cfg.HTTP.RateLimits, log)
	if err != nil {
		return nil, err
	}
	src := &lateSources{}
	return &observability{metrics: metrics.New(metrics.Sources{Sandboxes: src.sandboxes, Host: src.host, Pools: src.pools}, log),
		limits: limits, sources: src}, nil
}

// entry is every listener's first handler.
func (o *observability) entry(log *slog.Logger) gateway.Entry {
	return gateway.Entry{Log: log, Limits: o.limits.Limiter, Observe: func(a gateway.Answered) {
		o.metrics.ObserveRequest(requestKind(a), a.Method, a.Route, a.Status, a.Duration)
	}}
}

// requestKind sorts agent calls and proxied requests out of the rest by
// their route templates.
func requestKind(a gateway.Answered) metrics.Kind {
	switch {
	case httpapi.IsAgentRoute(a.Method, a.Route):
		return metrics.KindAgent
	case strings.HasPrefix(a.Route, "{port}-{id}."), strings.HasPrefix(a.Route, "/v1/sandboxes/{id}/ports/{port}/{path"):
		return metrics.KindProxy
	}
	return metrics.KindAPI
}

// observedStore is a store that times its operations and counts its
// sandboxes for the metrics (the SQLite and PostgreSQL stores both do).
type observedStore interface {
	Observe(f func(op string, d time.Duration, err error))
	SandboxCounts(ctx context.Context) ([]metrics.SandboxCount, error)
}

// watch wires the seams of the parts built after the listeners: the
// store's timings and counts, the lifecycle's events, the host.
func (o *observability) watch(st any, svc *sandbox.Service, host sandbox.Host) {
	if s, ok := st.(observedStore); ok {
		s.Observe(o.metrics.ObserveStore)
		o.sources.setSandboxes(s.SandboxCounts)
	}
	o.sources.setPools(func() metrics.Pools {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out := metrics.Pools{Failures: svc.PoolFailures()}
		for _, p := range svc.Pools(ctx) {
			out.Pools = append(out.Pools, metrics.Pool{Image: p.Image, Runtime: p.Runtime, Size: p.Size, Ready: p.Ready})
		}
		return out
	})
	svc.Bus().Observe(o.metrics.ObserveSandbox)
	svc.Bus().ObservePasses(o.metrics.ObserveReconcilerPass)
	o.sources.setHost(func() metrics.Host {
		h := metrics.Host{CPU: host.CPU, MemoryMB: host.MemoryMB}
		if host.FreeDiskMB != nil {
			h.FreeDiskMB, _ = host.FreeDiskMB()
		}
		return h
	})
}

// mount serves GET /metrics on the API's listener to platform admin keys
// (the series name every organisation).
func (o *observability) mount(rt *gateway.Router, st auth.Store) {
	h := o.metrics.Handler()
	rt.Mount("/metrics", gateway.Authenticator{Store: st}.Wrap(gateway.BearerOrAPIKey, writePlainError,
		func(w http.ResponseWriter, r *http.Request) {
			if !gateway.Principal(r.Context()).PlatformAdmin() {
				writePlainError(w, r, fmt.Errorf("the metrics are for the platform admin's keys: %w", errdefs.ErrForbidden))
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writePlainError(w, r, fmt.Errorf("only GET /metrics: %w", errdefs.ErrInvalidArgument))
				return
			}
			h.ServeHTTP(w, r)
		}))
}

// writePlainError answers with the native error envelope.
func writePlainError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := gateway.Describe(err)
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, RequestID: gateway.RequestID(r.Context())}})
}

// lateSources are the scrape-time sources, set once the store and the
// host are known; a scrape before that reports nothing of them.
type lateSources struct {
	mu          sync.Mutex
	sandboxFunc func(context.Context) ([]metrics.SandboxCount, error)
	hostFunc    func() metrics.Host
	poolsFunc   func() metrics.Pools
}

func (l *lateSources) setPools(f func() metrics.Pools) {
	l.mu.Lock()
	l.poolsFunc = f
	l.mu.Unlock()
}

func (l *lateSources) pools() metrics.Pools {
	l.mu.Lock()
	f := l.poolsFunc
	l.mu.Unlock()
	if f == nil {
		return metrics.Pools{}
	}
	return f()
}

func (l *lateSources) setSandboxes(f func(context.Context) ([]metrics.SandboxCount, error)) {
	l.mu.Lock()
	l.sandboxFunc = f
	l.mu.Unlock()
}

func (l *lateSources) setHost(f func() metrics.Host) {
	l.mu.Lock()
	l.hostFunc = f
	l.mu.Unlock()
}

func (l *lateSources) sandboxes(ctx context.Context) ([]metrics.SandboxCount, error) {
	l.mu.Lock()
	f := l.sandboxFunc
	l.mu.Unlock()
	if f == nil {
		return nil, nil
	}
	return f(ctx)
}

func (l *lateSources) host() metrics.Host {
	l.mu.Lock()
	f := l.hostFunc
	l.mu.Unlock()
	if f == nil {
		return metrics.Host{}
	}
	return f()
}

// savedLimits is the limiter whose changes (PUT /v1/rate-limits) are kept
// in <data-dir>/rate-limits.json, which wins over the flags at the next
// start; deleting the file goes back to the flags.
type savedLimits struct {
	*ratelimit.Limiter
	path string
}

func loadLimits(path string, flags ratelimit.Settings, log *slog.Logger) (*savedLimits, error) {
	s := flags
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("rate limits: %w", err)
	default:
		var saved ratelimit.Settings
		if err := json.Unmarshal(b, &saved); err != nil {
			return nil, fmt.Errorf("rate limits %s: %w", path, err)
		}
		if err := saved.Validate(); err != nil {
			return nil, fmt.Errorf("rate limits %s: %w", path, err)
		}
		log.Info("rate limits set at run time are kept; the --rate-limit-* flags do not apply (delete the file to go back to them)", "file", path)
		s = saved
	}
	return &savedLimits{Limiter: ratelimit.New(s), path: path}, nil
}

// Set applies s at once and keeps it for the next start.
func (l *savedLimits) Set(s ratelimit.Settings) error {
	if err := s.Validate(); err != nil {
		return errdefs.InvalidField("rateLimits", "%v", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("keep rate limits: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("keep rate limits: %w", err)
	}
	return l.Limiter.Set(s)
}

// countingDeliveries counts each webhook delivery attempt's outcome as the
// dispatcher records it.
type countingDeliveries struct {
	webhook.Store
	m *metrics.Metrics
}

func (c countingDeliveries) FinishDelivery(ctx context.Context, id int64, at time.Time, delivered bool, lastErr string) error {
	if delivered {
		c.m.ObserveDelivery("delivered")
	} else {
		c.m.ObserveDelivery("failed")
	}
	return c.Store.FinishDelivery(ctx, id, at, delivered, lastErr)
}

func (c countingDeliveries) RetryDelivery(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	c.m.ObserveDelivery("retry")
	return c.Store.RetryDelivery(ctx, id, attempts, next, lastErr)
}

// serveMetrics serves GET /metrics without a key on addr (for a scraper
// on a private address), when addr is set.
func serveMetrics(addr string, o *observability, ls *listeners, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: ls.cfg.ReadHeaderTimeout, IdleTimeout: ls.cfg.IdleTimeout}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving /metrics without a key", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
