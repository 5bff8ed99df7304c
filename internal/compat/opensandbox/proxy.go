package opensandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// portTarget is where one proxied request goes.
type portTarget struct {
	id     string
	port   int
	prefix string // the route the proxy stripped, for X-Forwarded-Prefix
}

type portTargetKey struct{}

// portProxy passes requests to sandbox ports unbuffered (streams and
// upgrades included), dialling through the lifecycle's DialPort door.
// The native API's proxy takes its key as a Bearer token or X-API-Key;
// the SDK sends OPEN-SANDBOX-API-KEY, so this face proxies under its own
// routes, after its own authentication.
func (f *face) portProxy() *httputil.ReverseProxy {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			id, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			port, _ := strconv.Atoi(p)
			return f.Sandboxes.DialPort(ctx, id, port)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	return &httputil.ReverseProxy{
		Transport:     transport,
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(portTargetKey{}).(*portTarget)
			pr.SetXForwarded()
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = net.JoinHostPort(t.id, strconv.Itoa(t.port))
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set("X-Forwarded-Prefix", t.prefix)
			pr.Out.Header.Del(KeyHeader) // the key never reaches the sandbox
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the caller left
			}
			t := r.Context().Value(portTargetKey{}).(*portTarget)
			if !errors.Is(err, errdefs.ErrNotImplemented) {
				err = fmt.Errorf("nothing answered on port %d of sandbox %s: %v: %w", t.port, t.id, err, errdefs.ErrUnavailable)
			}
			f.WriteError(w, r, err)
		},
	}
}

// proxyPort sends r to port of sandbox id of the caller's organisation,
// once the sandbox can take it (a paused one is refused at once).
func (f *face) proxyPort(w http.ResponseWriter, r *http.Request, proxy *httputil.ReverseProxy, id string, port int, prefix string) error {
	sb, err := f.lookup(r.Context(), orgOf(r), id)
	if err != nil {
		return err
	}
	if sb, err = f.Sandboxes.ProxyReady(r.Context(), sb); err != nil {
		return err
	}
	defer f.Sandboxes.Hold(sb.ID)()
	_ = http.NewResponseController(w).EnableFullDuplex()
	t := &portTarget{id: sb.ID, port: port, prefix: prefix}
	proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), portTargetKey{}, t)))
	return nil
}
