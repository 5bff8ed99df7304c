package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/hutchdev/hutch/internal/agent"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// agentRoutes are the calls served by the agent inside a sandbox, below
// /v1/sandboxes/{id}; the agent's own route is the same path without that
// prefix.
var agentRoutes = []Route{
	{"POST", "/exec"},
	{"POST", "/processes"}, {"GET", "/processes"}, {"GET", "/processes/{pid}"},
	{"GET", "/processes/{pid}/logs"}, {"POST", "/processes/{pid}/signal"}, {"POST", "/processes/{pid}/stdin"},
	{"GET", "/pty"},
	{"GET", "/files"}, {"PUT", "/files"}, {"DELETE", "/files"}, {"POST", "/files/upload"},
	{"GET", "/files/list"}, {"GET", "/files/stat"}, {"GET", "/files/search"},
	{"POST", "/files/mkdir"}, {"POST", "/files/move"}, {"POST", "/files/chmod"},
	{"POST", "/contexts"}, {"GET", "/contexts"}, {"DELETE", "/contexts/{ctx}"}, {"POST", "/contexts/{ctx}/run"},
}

// agentUse names the pseudo-action in the 409 for a sandbox whose agent
// cannot be used in its current state.
const agentUse sandbox.Action = "use the agent of"

// registerAgent serves the agent routes. Each call is authenticated and
// scoped to the caller's organisation here, answered 409 at once unless
// the sandbox runs (a frozen agent would hold the call until resume),
// counted as activity, and then forwarded to the agent unchanged.
func (s *Server) registerAgent() {
	proxy := agent.NewProxy(func(ctx context.Context, id string) (net.Conn, error) {
		d, ok := s.Sandboxes.Runtime().(runtime.AgentDialer)
		if !ok {
			return nil, fmt.Errorf("this server's runtime has no in-sandbox agent: %w", errdefs.ErrNotImplemented)
		}
		return d.DialAgent(ctx, id)
	})
	for _, rt := range agentRoutes {
		s.handle(rt.Method, "/v1/sandboxes/{id}"+rt.Path, s.authenticated(s.agentCall(proxy)))
	}
}

func (s *Server) agentCall(proxy *agent.Proxy) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sb, err := s.Sandboxes.Get(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		switch sb.State {
		case sandbox.StateRunning:
		case sandbox.StatePaused:
			s.writeError(w, r, fmt.Errorf("sandbox %s is paused; resume it to use its agent: %w", sb.ID, errdefs.ErrPaused))
			return
		default:
			s.writeError(w, r, &sandbox.TransitionError{Action: agentUse, From: sb.State})
			return
		}
		_ = s.Sandboxes.Touch(r.Context(), sb) // activity is best effort; the call must not fail on it
		// A terminal or a followed log is activity while open; a pause ends
		// the call through its context.
		ctx, release := s.Sandboxes.HoldAgentCall(r.Context(), sb.ID)
		defer release()
		r = r.WithContext(ctx)
		r.Header.Set("X-Request-Id", requestID(r.Context()))
		// The agent's route is what follows /v1/sandboxes/{id or name}.
		rest := strings.TrimPrefix(r.URL.Path, "/v1/sandboxes/")
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[i:]
		}
		proxy.Forward(w, r, sb.ID, rest, func(w http.ResponseWriter, r *http.Request, err error) {
			if cause := context.Cause(r.Context()); errors.Is(cause, errdefs.ErrPaused) {
				s.writeError(w, r, cause)
				return
			}
			if r.Context().Err() != nil {
				return // the caller left; nobody to answer
			}
			if !errors.Is(err, errdefs.ErrUnavailable) && !errors.Is(err, errdefs.ErrNotImplemented) {
				err = fmt.Errorf("the agent of sandbox %s did not answer: %v: %w", sb.ID, err, errdefs.ErrUnavailable)
			}
			s.writeError(w, r, err)
		})
	}
}
