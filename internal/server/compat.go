package server

import (
	"log/slog"

	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/compat/daytona"
	"github.com/hutchdev/hutch/internal/compat/e2b"
	"github.com/hutchdev/hutch/internal/compat/hopx"
	"github.com/hutchdev/hutch/internal/compat/opensandbox"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// face is one vendor-compatible API: mount puts it on the main router
// under /compat/<name> (and claims the per-sandbox host ports it needs).
type face struct {
	name  string
	mount func(rt *gateway.Router, d compat.Deps)
}

// faces are the compatible APIs this server speaks, each a package of
// internal/compat.
var faces = []face{
	{"hopx", hopx.Mount},
	{"opensandbox", opensandbox.Mount},
	{"daytona", daytona.Mount},
	{"e2b", e2b.Mount},
}

// compatDeps are what every face calls into: the same lifecycle service,
// key store and agent connections as the native API.
func compatDeps(svc *sandbox.Service, st auth.Store, agents *agentconn.Pool, proxy httpapi.ProxyConfig, log *slog.Logger) compat.Deps {
	return compat.Deps{Sandboxes: svc, Auth: st, Agents: agents, Log: log, Domain: proxy.Domain,
		Tokens: compat.Tokens{Secret: proxy.Secret}}
}

// mountFaces mounts every compatible API on rt.
func mountFaces(rt *gateway.Router, d compat.Deps) {
	for _, f := range faces {
		f.mount(rt, d)
	}
}
