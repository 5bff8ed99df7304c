package server

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/gateway"
)

// newHTTPServer is every listener's http.Server: the API's and each
// compatible API's own. Idle keep-alive connections close after
// IdleTimeout and headers must arrive within ReadHeaderTimeout. The body
// phase is bounded per request by bodyDeadlines rather than by a global
// ReadTimeout/WriteTimeout pair, which would cut every stream (events,
// followed logs, exec output, terminals, proxied WebSockets, uploads) at
// the same instant: ReadTimeout here is only the backstop until the
// handler starts.
func newHTTPServer(h http.Handler, cfg config.HTTP, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           bodyDeadlines(h, cfg.ReadTimeout, cfg.MaxBodyMB<<20),
		IdleTimeout:       cfg.IdleTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout + cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// bodyDeadlines moves each request's read deadline from the server's
// whole-request one to the body's own progress: a read of the body fails
// when no byte has arrived for readTimeout, and once the body is over (or
// there is none) the deadline is lifted. Without the lift, the deadline
// would end the connection's background read and with it the request's
// context, closing an event stream or a terminal after readTimeout.
// Bodies are capped at maxBody bytes (http.MaxBytesError, which every
// face answers 400 naming the limit, and the connection is closed after).
func bodyDeadlines(h http.Handler, readTimeout time.Duration, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body == nil || r.Body == http.NoBody {
			_ = rc.SetReadDeadline(time.Time{})
			h.ServeHTTP(w, r)
			return
		}
		body := &deadlineBody{rc: rc, r: r.Body, timeout: readTimeout}
		// On a copy: the server judges whether the connection can carry
		// another request by the original request's Body (its own type,
		// which records a close before the end). Swapped in place, a
		// full-duplex handler that answered before reading the body (the
		// agent forwarder, the port proxy, a refused import) left the
		// body's rest on a reused connection, parsed as further requests.
		r = r.WithContext(r.Context())
		r.Body = http.MaxBytesReader(w, body, maxBody)
		h.ServeHTTP(w, r)
	})
}

// deadlineBody renews the connection's read deadline as the body arrives
// and lifts it at the body's end. It renews at most every timeout/4, so a
// read waits between 3/4 and all of timeout for its first byte.
type deadlineBody struct {
	rc      *http.ResponseController
	r       io.ReadCloser
	timeout time.Duration
	renewed time.Time
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.r.Read(p)
	}
	if now := time.Now(); now.Sub(b.renewed) > b.timeout/4 {
		b.renewed = now
		_ = b.rc.SetReadDeadline(now.Add(b.timeout))
	}
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.r.Close() }

// listeners serve every listener of the server alike: the same limits,
// one per-client connection cap across all of them, and Retry-After on
// the 503s of a server still starting.
type listeners struct {
	cfg       config.HTTP
	limiter   *connLimiter
	readiness *readiness
	log       *slog.Logger
	// tls, when set, serves TLS (and HTTP/2) on every listener; entry is
	// every request's first handler (ID, route, log, metrics, limits).
	tls   *tls.Config
	entry gateway.Entry
}

func newListeners(cfg config.HTTP, rd *readiness, log *slog.Logger) *listeners {
	return &listeners{cfg: cfg, limiter: newConnLimiter(cfg.MaxConnsPerIP, log), readiness: rd, log: log}
}

// serve serves h on ln until the server is shut down; served receives
// why it stopped.
func (l *listeners) serve(ln net.Listener, h http.Handler) (srv *http.Server, served <-chan error) {
	srv = newHTTPServer(l.entry.Wrap(withRetryAfter(h, l.readiness)), l.cfg, l.log)
	done := make(chan error, 1)
	if l.tls != nil {
		srv.TLSConfig = l.tls.Clone()
		go func() { done <- srv.ServeTLS(l.limiter.Listener(ln, srv.TLSConfig), "", "") }()
		return srv, done
	}
	go func() { done <- srv.Serve(l.limiter.Listener(ln, nil)) }()
	return srv, done
}
