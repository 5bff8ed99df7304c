package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hutchdev/hutch/internal/ratelimit"
)

// HTTP bounds what one client may hold of the server's listeners (the API
// and every compatible API's own): how long an idle keep-alive connection
// stays open, how long a request may go without a byte arriving, and how
// many connections one client address may have open at once.
type HTTP struct {
	// IdleTimeout closes a keep-alive connection that carries no request
	// for this long.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the longest a request body may go without a byte
	// arriving; a body whose bytes keep coming (an image upload, a file)
	// lasts as long as it needs. Responses have no write timeout, so that
	// streams (events, logs, terminals, proxied WebSockets) last.
	ReadTimeout time.Duration
	// MaxConnsPerIP caps the connections one client address (an IPv6 /64)
	// may have open across all listeners; 0 turns the cap off (for a
	// server behind a reverse proxy, whose address every client shares).
	MaxConnsPerIP int
	// MaxBodyMB bounds any request body, in MB; JSON bodies have their
	// own 1 MiB bound.
	MaxBodyMB int64
	// TLS, the log format, the unauthenticated metrics listener and the
	// default rate limits (see production.go).
	TLS           TLS
	LogFormat     string
	MetricsListen string
	RateLimits    ratelimit.Settings
}

// DefaultHTTP are the listeners' defaults.
func DefaultHTTP() HTTP {
	return HTTP{IdleTimeout: time.Minute, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		MaxConnsPerIP: 256, MaxBodyMB: 16 << 10, LogFormat: "text", RateLimits: defaultRateLimits()}
}

// defaultImageCache is the host-wide cache of base image layers: one per
// machine as root, one per user otherwise.
func defaultImageCache() string {
	if os.Geteuid() == 0 {
		return "/var/cache/hutch/store"
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "hutch", "store")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "hutch", "store")
}

// servingFlags registers the listeners' limits and the shared image cache.
func servingFlags(fs *flag.FlagSet, c *Config) {
	h := &c.HTTP
	fs.DurationVar(&h.IdleTimeout, "http-idle-timeout", h.IdleTimeout,
		"close a keep-alive connection idle this long")
	fs.DurationVar(&h.ReadHeaderTimeout, "http-read-header-timeout", h.ReadHeaderTimeout,
		"longest the headers of a request may take to arrive")
	fs.DurationVar(&h.ReadTimeout, "http-read-timeout", h.ReadTimeout,
		"longest a request body may go without a byte arriving (a body that keeps coming lasts as long as it needs; responses and streams have no timeout)")
	fs.IntVar(&h.MaxConnsPerIP, "max-conns-per-ip", h.MaxConnsPerIP,
		"most connections one client address (IPv6: one /64) may have open; more are answered 429 and closed (0: no cap, e.g. behind a reverse proxy)")
	fs.Int64Var(&h.MaxBodyMB, "max-body-mb", h.MaxBodyMB,
		"largest request body of any route, in MB (uploads and image imports; JSON bodies are capped at 1 MiB)")
	productionFlags(fs, h)
	fs.StringVar(&c.ImageCache, "image-cache", c.ImageCache,
		"host-wide cache of the seeded base images' unpacked layers, hard-linked into each data dir's image store (empty: each data dir unpacks its own)")
}

func (h HTTP) validate() error {
	switch {
	case h.IdleTimeout <= 0:
		return fmt.Errorf("--http-idle-timeout %v: must be positive", h.IdleTimeout)
	case h.ReadHeaderTimeout <= 0:
		return fmt.Errorf("--http-read-header-timeout %v: must be positive", h.ReadHeaderTimeout)
	case h.ReadTimeout <= 0:
		return fmt.Errorf("--http-read-timeout %v: must be positive", h.ReadTimeout)
	case h.MaxConnsPerIP < 0:
		return fmt.Errorf("--max-conns-per-ip %d: must be 0 (no cap) or more", h.MaxConnsPerIP)
	case h.MaxBodyMB < 1:
		return fmt.Errorf("--max-body-mb %d: must be 1 or more", h.MaxBodyMB)
	}
	return h.validateProduction()
}
