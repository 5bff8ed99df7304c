package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// maxTransports bounds the per-sandbox connection pools the host keeps;
// past it the idle ones are dropped and pools are made again on demand.
const maxTransports = 512

// Dialer connects to the agent of sandbox id (runtime.AgentDialer).
type Dialer func(ctx context.Context, id string) (net.Conn, error)

// Proxy is the host side: it forwards API calls to sandboxes' agents over
// their unix sockets, keeping a few connections open per sandbox so that a
// call costs no dial. Streams (server-sent events, downloads, uploads) go
// through unbuffered and WebSocket upgrades are passed on.
type Proxy struct {
	dial Dialer
	mu   sync.Mutex
	pool map[string]*http.Transport
}

// NewProxy returns a Proxy that reaches agents through dial.
func NewProxy(dial Dialer) *Proxy {
	return &Proxy{dial: dial, pool: map[string]*http.Transport{}}
}

// transport returns the connection pool of sandbox id.
func (p *Proxy) transport(id string) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.pool[id]; t != nil {
		return t
	}
	if len(p.pool) >= maxTransports {
		for k, t := range p.pool {
			t.CloseIdleConnections()
			delete(p.pool, k)
		}
	}
	t := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return p.dial(ctx, id) },
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	p.pool[id] = t
	return t
}

// Forget drops the pooled connections of sandbox id, for a sandbox that
// stopped or was deleted.
func (p *Proxy) Forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.pool[id]; t != nil {
		t.CloseIdleConnections()
		delete(p.pool, id)
	}
}

// Forward sends r to the agent of sandbox id at path (the agent's own
// route, such as /exec) and copies the answer to w. Credentials never go
// into the sandbox. onError answers when the agent cannot be reached.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, id, path string, onError func(http.ResponseWriter, *http.Request, error)) {
	rp := &httputil.ReverseProxy{
		Transport:     p.transport(id),
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "agent"
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			pr.Out.Host = "agent"
			for _, h := range []string{"Authorization", "X-Api-Key", "Cookie"} {
				pr.Out.Header.Del(h)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.Forget(id)
			onError(w, r, err)
		},
	}
	// The answer may start (a stream's headers) before the transport has
	// finished sending the request body; HTTP/1 closes an unread request
	// body once the answer starts unless told not to, and the transport
	// then drops the connection mid-stream.
	_ = http.NewResponseController(w).EnableFullDuplex()
	rp.ServeHTTP(w, r)
}
