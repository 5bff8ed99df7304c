// Package agentconn is the host's side of the sandboxes' agents: a pool of
// connections per sandbox, the forwarder the native API serves agent
// routes with, and the typed client (the SDK's own, talking to the agent
// directly) that every compatible API translates its calls into.
package agentconn

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// maxTransports bounds the per-sandbox connection pools the host keeps;
// past it the idle ones are dropped and pools are made again on demand.
const maxTransports = 512

// Target is one sandbox's agent (a *sandbox.AgentSession): its ID keys the
// pool, Dial reaches it.
type Target interface {
	SandboxID() string
	Dial(ctx context.Context) (net.Conn, error)
}

// Pool keeps a few connections open per sandbox, so that a call costs no
// dial. It is safe for concurrent use.
type Pool struct {
	mu   sync.Mutex
	pool map[string]*http.Transport
}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{pool: map[string]*http.Transport{}} }

// transport returns the connection pool of t's sandbox. Every dial of a
// sandbox's agent goes to the same place, so the first target's Dial
// serves the connections later targets reuse.
func (p *Pool) transport(t Target) *http.Transport {
	id := t.SandboxID()
	p.mu.Lock()
	defer p.mu.Unlock()
	if tr := p.pool[id]; tr != nil {
		return tr
	}
	if len(p.pool) >= maxTransports {
		for k, tr := range p.pool {
			tr.CloseIdleConnections()
			delete(p.pool, k)
		}
	}
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, t) },
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	p.pool[id] = tr
	return tr
}

// dial connects to t's agent and checks its protocol before the
// connection carries any call: an agent older than protocol.Min (a
// sandbox started by an older server binary) is refused with the remedy,
// before a command runs or a file is written.
func dial(ctx context.Context, t Target) (net.Conn, error) {
	c, err := t.Dial(ctx)
	if err != nil {
		return nil, err
	}
	v, err := handshake(ctx, c)
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("the agent of sandbox %s did not say its protocol version: %v: %w", t.SandboxID(), err, errdefs.ErrUnavailable)
	}
	if min := minProtocol(); v.Protocol < min {
		c.Close()
		return nil, outdated(t.SandboxID(), v, min)
	}
	return c, nil
}

// Forget drops the pooled connections of sandbox id, for a sandbox that
// stopped, was deleted, or whose agent stopped answering.
func (p *Pool) Forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tr := p.pool[id]; tr != nil {
		tr.CloseIdleConnections()
		delete(p.pool, id)
	}
}

// Client returns the typed agent client of t's sandbox.
func (p *Pool) Client(t Target) *client.Client {
	return client.ForAgent(&http.Client{Transport: p.transport(t)})
}

// Forward sends r to t's agent at path (the agent's own route, such as
// /exec) and copies the answer to w. Credentials never go into the
// sandbox. onError answers when the agent cannot be reached.
func (p *Pool) Forward(w http.ResponseWriter, r *http.Request, t Target, path string, onError func(http.ResponseWriter, *http.Request, error)) {
	rp := &httputil.ReverseProxy{
		Transport:     p.transport(t),
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "agent"
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			pr.Out.Host = "agent"
			for _, h := range []string{"Authorization", "X-Api-Key", "Cookie"} {
				pr.Out.Header.Del(h)
			}
		},
		// A call added after the agent's protocol (it answers 404, having
		// done nothing) becomes the error that names the remedy.
		ModifyResponse: func(resp *http.Response) error {
			if need := protocol.Needs(r.Method, path); need > protocol.Parse(resp.Header.Get(protocol.HeaderVersion)) {
				resp.Body.Close()
				return outdated(t.SandboxID(), agentVersion{Protocol: protocol.Parse(resp.Header.Get(protocol.HeaderVersion)), Build: resp.Header.Get(protocol.HeaderBuild)}, need)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.Forget(t.SandboxID())
			onError(w, r, err)
		},
	}
	// The answer may start (a stream's headers) before the transport has
	// finished sending the request body; HTTP/1 closes an unread request
	// body once the answer starts unless told not to, and the transport
	// then drops the connection mid-stream.
	_ = http.NewResponseController(w).EnableFullDuplex()
	// In that mode the server leaves an unread body alone until the
	// handler returns, then drains it after it has stopped watching the
	// connection, and its next read panics ("invalid concurrent Body.Read
	// call", golang/go#68560): an agent that never answered (refused
	// dial, dead sandbox) leaves the body unread. Closing it here, while
	// the handler runs, drains it in the order the server expects; the
	// transport's reads end with the close. An upgrade has no body, and
	// its hijacked connection must not be read.
	if r.Body != nil && r.Body != http.NoBody && r.Header.Get("Upgrade") == "" {
		defer r.Body.Close()
	}
	rp.ServeHTTP(w, r)
}
