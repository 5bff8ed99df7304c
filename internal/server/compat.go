package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/compat/daytona"
	"github.com/hutchdev/hutch/internal/compat/e2b"
	"github.com/hutchdev/hutch/internal/compat/hopx"
	"github.com/hutchdev/hutch/internal/compat/opensandbox"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// face is one vendor-compatible API: mount puts it on the main router
// under /compat/<name> (and claims the per-sandbox host ports it needs);
// root serves it at the root of a listener of its own.
type face struct {
	name  string
	mount func(rt *gateway.Router, d compat.Deps)
	root  func(d compat.Deps) http.Handler
}

// faces are the compatible APIs this server speaks, each a package of
// internal/compat.
var faces = []face{
	{"hopx", hopx.Mount, hopx.Handler},
	{"opensandbox", opensandbox.Mount, opensandbox.Handler},
	{"daytona", daytona.Mount, daytona.Handler},
	{"e2b", e2b.Mount, e2b.Handler},
}

// compatDeps are what every face calls into: the same lifecycle service,
// key store and agent connections as the native API.
func compatDeps(cfg config.Config, svc *sandbox.Service, st auth.Store, agents *agentconn.Pool, proxy httpapi.ProxyConfig, log *slog.Logger) compat.Deps {
	return compat.Deps{Sandboxes: svc, Auth: st, Agents: agents, Log: log, Domain: proxy.Domain,
		PublicURL: cfg.Compat.PublicBase(), Tokens: compat.Tokens{Secret: proxy.Secret}}
}

// mountFaces mounts every compatible API on rt, and starts the listeners
// of those configured to have one of their own (served as the API's own
// is, by ls); stop closes those.
func mountFaces(cfg config.Config, rt *gateway.Router, d compat.Deps, ls *listeners, log *slog.Logger) (stop func(context.Context), err error) {
	var servers []*http.Server
	stop = func(ctx context.Context) {
		for _, s := range servers {
			_ = s.Shutdown(ctx)
		}
	}
	for _, f := range faces {
		f.mount(rt, d)
		addr := cfg.Compat.Listen[f.name]
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop(context.Background())
			return nil, fmt.Errorf("--compat-%s-listen: %w", f.name, err)
		}
		srv, _ := ls.serve(ln, f.root(d))
		servers = append(servers, srv)
		log.Info("serving a compatible API on its own listener", "api", f.name, "addr", ln.Addr().String())
	}
	return stop, nil
}
