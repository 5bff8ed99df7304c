package config

import (
	"flag"
	"fmt"
	"net"

	"github.com/hutchdev/hutch/internal/ratelimit"
)

// TLS is how the listeners serve TLS: with the operator's certificate
// and key (re-read when either file changes or on SIGHUP), or with a
// self-signed certificate made on first start and kept in the data dir.
type TLS struct {
	CertFile, KeyFile string
	SelfSigned        bool
}

// On reports whether the listeners serve TLS.
func (t TLS) On() bool { return t.CertFile != "" || t.SelfSigned }

// productionFlags registers TLS, the log format, the metrics listener
// and the default rate limits.
func productionFlags(fs *flag.FlagSet, h *HTTP) {
	fs.StringVar(&h.TLS.CertFile, "tls-cert", h.TLS.CertFile,
		"PEM certificate (chain) to serve TLS and HTTP/2 with; re-read when it or --tls-key changes, and on SIGHUP")
	fs.StringVar(&h.TLS.KeyFile, "tls-key", h.TLS.KeyFile, "PEM private key of --tls-cert")
	fs.BoolVar(&h.TLS.SelfSigned, "tls-self-signed", h.TLS.SelfSigned,
		"serve TLS with a self-signed certificate kept in <data-dir>/tls (made on first start; its SHA-256 fingerprint is printed and logged)")
	fs.StringVar(&h.LogFormat, "log-format", h.LogFormat, "log lines as text (key=value) or json")
	fs.StringVar(&h.MetricsListen, "metrics-listen", h.MetricsListen,
		"also serve GET /metrics without a key on this address (e.g. 127.0.0.1:9420); /metrics on --listen always needs a platform admin key")
	d := &h.RateLimits.Default
	fs.Float64Var(&d.PerKey.PerSecond, "rate-limit-key", d.PerKey.PerSecond,
		"requests per second one API key may make, refilled continuously (0: no limit); the platform admin changes it at run time with PUT /v1/rate-limits")
	fs.IntVar(&d.PerKey.Burst, "rate-limit-key-burst", d.PerKey.Burst, "requests one API key may make at once")
	fs.Float64Var(&d.PerOrg.PerSecond, "rate-limit-org", d.PerOrg.PerSecond,
		"requests per second all the keys of one organisation may make together (0: no limit)")
	fs.IntVar(&d.PerOrg.Burst, "rate-limit-org-burst", d.PerOrg.Burst, "requests one organisation may make at once")
}

// defaultRateLimits are generous: they stop a runaway client, not a busy one.
func defaultRateLimits() ratelimit.Settings {
	return ratelimit.Settings{Default: ratelimit.Pair{
		PerKey: ratelimit.Limit{PerSecond: 100, Burst: 1000},
		PerOrg: ratelimit.Limit{PerSecond: 200, Burst: 2000},
	}}
}

func (h HTTP) validateProduction() error {
	switch {
	case (h.TLS.CertFile == "") != (h.TLS.KeyFile == ""):
		return fmt.Errorf("--tls-cert and --tls-key go together")
	case h.TLS.CertFile != "" && h.TLS.SelfSigned:
		return fmt.Errorf("--tls-self-signed and --tls-cert exclude each other")
	case h.LogFormat != "text" && h.LogFormat != "json":
		return fmt.Errorf("--log-format %q: must be text or json", h.LogFormat)
	}
	if h.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(h.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %q: %w", h.MetricsListen, err)
		}
	}
	if err := h.RateLimits.Validate(); err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	return nil
}
