// Package client is the Go SDK for Hutch's native API. It speaks the wire
// types of package api, so that the server and its clients share one
// definition of every body.
//
//	c, err := client.New("http://127.0.0.1:7420", os.Getenv("HUTCH_API_KEY"))
//	sb, err := c.CreateSandbox(ctx, api.CreateSandboxRequest{Image: "alpine:3.20"})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultUserAgent is sent unless WithUserAgent says otherwise, so that
// server logs tell SDK traffic from other clients.
const DefaultUserAgent = "hutch-go-client"

// Client calls one Hutch server with one API key. It is safe for
// concurrent use.
type Client struct {
	base      *url.URL
	apiKey    string
	http      *http.Client
	userAgent string
	// direct: the client talks to one sandbox's agent itself, whose
	// routes are the native ones without /v1/sandboxes/{id}.
	direct bool
}

// Option configures a Client at construction.
type Option func(*Client)

// WithHTTPClient replaces http.DefaultClient, for custom TLS, proxies or
// timeouts. Long calls (waits, image pulls) are bounded by the context, so
// the client's own Timeout is best left at zero.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent names the calling program in the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client for the server at baseURL (scheme and host, and an
// optional path prefix when the server sits behind a reverse proxy).
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: base URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q has no host", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, apiKey: apiKey, http: http.DefaultClient, userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// request is one call: the body is JSON-encoded unless raw is set.
type request struct {
	method      string
	path        string // already escaped
	query       url.Values
	body        any
	raw         io.Reader
	contentType string
	accept      string // empty: JSON or NDJSON
}

// send performs r and returns the response if its status is 2xx; any
// other status becomes an *Error and the body is closed.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	target := c.base.String() + r.path
	if q := r.query.Encode(); q != "" {
		target += "?" + q
	}

	var body io.Reader
	contentType := r.contentType
	switch {
	case r.raw != nil:
		body = r.raw
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
		if contentType == "" {
			contentType = "application/json"
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson")
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// do performs r and decodes a JSON answer into out (nil to ignore it).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("decode %s %s response (status %d, request id %s): %w",
			r.method, r.path, resp.StatusCode, resp.Header.Get("X-Request-Id"), err)
	}
	return nil
}

// pathf builds a path from a format whose %s arguments are escaped as
// single path segments, so an ID can never reach another route.
func pathf(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}

// ForAgent returns a client of one sandbox's agent, reached through hc
// without the control plane (the control plane's own side, which serves
// the native and the compatible APIs, uses it). Its sandbox ID arguments
// only name the sandbox in errors.
func ForAgent(hc *http.Client) *Client {
	return &Client{base: &url.URL{Scheme: "http", Host: "agent"}, http: hc, userAgent: DefaultUserAgent, direct: true}
}

// agentPath is the path of an agent route (format with its escaped
// segments) of sandbox id.
func (c *Client) agentPath(id, format string, segments ...string) string {
	p := pathf(format, segments...)
	if c.direct {
		return p
	}
	return "/v1/sandboxes/" + url.PathEscape(id) + p
}

// checkID refuses an empty ID before any request: it would otherwise
// address the collection (/v1/sandboxes/) and fail in a confusing way.
func checkID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("client: empty %s ID", kind)
	}
	return nil
}
