package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/tlspin"
)

// WithPinnedCertificate trusts the server's TLS certificate by its SHA-256
// fingerprint (as hutch serve --tls-self-signed prints it) instead of the
// system's roots.
func WithPinnedCertificate(fingerprint string) Option {
	return func(c *Client) {
		c.http = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			TLSClientConfig: tlspin.Config(fingerprint), ForceAttemptHTTP2: true}}
	}
}

// SandboxMetrics reads what a running or paused sandbox uses now.
func (c *Client) SandboxMetrics(ctx context.Context, id string) (*api.SandboxMetrics, error) {
	var m api.SandboxMetrics
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/sandboxes/" + url.PathEscape(id) + "/metrics"}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// RateLimits reads the request rate limits (platform admin).
func (c *Client) RateLimits(ctx context.Context) (*api.RateLimitSettings, error) {
	var s api.RateLimitSettings
	if err := c.do(ctx, request{method: http.MethodGet, path: "/v1/rate-limits"}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// SetRateLimits replaces the request rate limits (platform admin); they
// apply at once.
func (c *Client) SetRateLimits(ctx context.Context, s api.RateLimitSettings) (*api.RateLimitSettings, error) {
	var out api.RateLimitSettings
	if err := c.do(ctx, request{method: http.MethodPut, path: "/v1/rate-limits", body: s}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
