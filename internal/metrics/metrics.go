// Package metrics is the server's Prometheus registry: what the lifecycle,
// the listeners, the store, image pulls and webhook deliveries report
// through their observer seams, and what is read at each scrape (the
// sandboxes by organisation and state, the host's capacity). Nothing in
// the domain imports it; the server wires each seam to it.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every series the server exports.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	transitions       *prometheus.CounterVec
	transitionSeconds *prometheus.HistogramVec
	automatic         *prometheus.CounterVec
	requests          *prometheus.HistogramVec
	agentCalls        *prometheus.HistogramVec
	proxied           *prometheus.HistogramVec
	storeSeconds      *prometheus.HistogramVec
	imagePulls        *prometheus.HistogramVec
	webhooks          *prometheus.CounterVec

	reconcilerLag         prometheus.Gauge
	reconcilerPass        prometheus.Histogram
	reconcilerPassActions prometheus.Histogram

	mu      sync.Mutex
	pending map[string]pending // sandbox ID -> the transition it is in
}

// Sources are read at each scrape.
type Sources struct {
	// Sandboxes counts the sandboxes (not deleted) by organisation and
	// state, with the resources they hold.
	Sandboxes func(ctx context.Context) ([]SandboxCount, error)
	// Host is the machine's capacity.
	Host func() Host
	// Pools are the warm pools.
	Pools func() Pools
}

// SandboxCount is the sandboxes of one organisation in one state.
type SandboxCount struct {
	Org, State string
	Count      int64
	CPU        float64
	MemoryMB   int64
	DiskMB     int64
}

// Host is what this machine offers sandboxes.
type Host struct {
	CPU        float64
	MemoryMB   int64
	FreeDiskMB int64
}

// latency buckets: 1 ms to about 2 minutes.
var latency = prometheus.ExponentialBuckets(0.001, 2.5, 14)

// New returns the registry with the Go and process collectors and every
// series of the server; src is read at each scrape.
func New(src Sources, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: log, pending: map[string]pending{}}
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hutch_sandbox_transitions_total",
		Help: "Lifecycle transitions that settled, by action (create, pause, resume, stop, start, archive, delete) and outcome (ok, error)."},
		[]string{"action", "outcome"})
	m.transitionSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hutch_sandbox_transition_seconds",
		Help: "Time from a transition's first store write to its settled state.", Buckets: latency},
		[]string{"action", "outcome"})
	m.automatic = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hutch_reconciler_actions_total",
		Help: "Transitions the server began on its own (expiry, auto-stop, auto-archive, auto-delete, recovery, proxy wake-up), by action and cause."},
		[]string{"action", "cause"})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hutch_http_request_seconds",
		Help: "HTTP requests of every face by method, route template and status; a stream counts until it ends.", Buckets: latency},
		[]string{"method", "route", "code"})
	m.agentCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hutch_agent_call_seconds",
		Help: "Calls to the in-sandbox agent through the native API, by route template and status.", Buckets: latency},
		[]string{"method", "route", "code"})
	m.proxied = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hutch_proxy_request_seconds",
		Help: "Requests through the port proxy (path and host form), by status.", Buckets: latency},
		[]string{"code"})
	m.storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hutch_store_seconds",
		Help:    "Store operations: write transactions and reads, by outcome.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12)}, []string{"op", "outcome"})
	m.imagePulls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hutch_image_pull_seconds",
		Help:    "Image pulls from registries (explicit and on create), by outcome; the count is the number of pulls.",
		Buckets: latency}, []string{"outcome"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hutch_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by outcome (delivered, retry, failed: given up)."}, []string{"outcome"})
	m.reconcilerLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "hutch_reconciler_lag_seconds",
		Help: "How long the oldest timer (expiry, auto-stop, auto-archive, auto-delete, tiered pause) the latest reconciler pass found due had been due; 0 when none was."})
	m.reconcilerPass = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hutch_reconciler_pass_seconds",
		Help: "Reconciler passes: their lookups and the dispatch of their actions (the actions run behind them).", Buckets: latency})
	m.reconcilerPassActions = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hutch_reconciler_pass_actions",
		Help:    "Actions each reconciler pass started.",
		Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256}})
	m.reg.MustRegister(m.reconcilerLag, m.reconcilerPass, m.reconcilerPassActions)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.transitions, m.transitionSeconds, m.automatic, m.requests, m.agentCalls, m.proxied, m.storeSeconds,
		m.imagePulls, m.webhooks, &scraped{src: src, log: log})
	return m
}

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)})
}

// Registry is the registry, for tests and for gathering in-process.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Kind says which latency family besides the general one a request joins.
type Kind int

const (
	KindAPI Kind = iota
	KindAgent
	KindProxy
)

// ObserveRequest records one answered request.
func (m *Metrics) ObserveRequest(kind Kind, method, route string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, code).Observe(d.Seconds())
	switch kind {
	case KindAgent:
		m.agentCalls.WithLabelValues(method, route, code).Observe(d.Seconds())
	case KindProxy:
		m.proxied.WithLabelValues(code).Observe(d.Seconds())
	}
}

// ObserveStore records one store operation ("read" or "write").
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	m.storeSeconds.WithLabelValues(op, outcome(err)).Observe(d.Seconds())
}

// ObservePull records one image pull.
func (m *Metrics) ObservePull(d time.Duration, err error) {
	m.imagePulls.WithLabelValues(outcome(err)).Observe(d.Seconds())
}

// ObserveDelivery records one webhook delivery attempt's outcome.
func (m *Metrics) ObserveDelivery(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
