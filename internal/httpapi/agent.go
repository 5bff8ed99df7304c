package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
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
	{"GET", "/files/archive"}, {"PUT", "/files/archive"},
	{"POST", "/contexts"}, {"GET", "/contexts"}, {"DELETE", "/contexts/{ctx}"}, {"POST", "/contexts/{ctx}/run"},
}

// IsAgentRoute reports whether method and path (as the OpenAPI document
// spells it) are served by the agent, and so only when the runtime's
// sandboxes run one.
func IsAgentRoute(method, path string) bool {
	rest, ok := strings.CutPrefix(path, "/v1/sandboxes/{id}")
	if !ok {
		return false
	}
	for _, rt := range agentRoutes {
		if rt.Method == method && rt.Path == rest {
			return true
		}
	}
	return false
}

// registerAgent serves the agent routes when the runtime's sandboxes run
// the agent. Each call goes through the domain's door (OpenAgent: scoped
// to the caller's organisation, refused at once unless the sandbox runs,
// counted as activity, ended by a pause) and is then forwarded to the
// agent unchanged.
func (s *Server) registerAgent() {
	if !s.Sandboxes.HasAgent() {
		return
	}
	for _, rt := range agentRoutes {
		s.handle(rt.Method, "/v1/sandboxes/{id}"+rt.Path, s.authenticated(s.agentCall))
	}
}

func (s *Server) agentCall(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.Sandboxes.OpenAgent(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	defer sess.Close()
	r = r.WithContext(sess.Context())
	r.Header.Set("X-Request-Id", requestID(r.Context()))
	// The agent's route is what follows /v1/sandboxes/{id or name}.
	rest := strings.TrimPrefix(r.URL.Path, "/v1/sandboxes/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[i:]
	}
	s.Agents.Forward(w, r, sess, rest, func(w http.ResponseWriter, r *http.Request, err error) {
		if cause := context.Cause(r.Context()); errors.Is(cause, errdefs.ErrPaused) {
			s.writeError(w, r, cause)
			return
		}
		if r.Context().Err() != nil {
			return // the caller left; nobody to answer
		}
		if !errors.Is(err, errdefs.ErrUnavailable) && !errors.Is(err, errdefs.ErrNotImplemented) {
			err = fmt.Errorf("the agent of sandbox %s did not answer: %v: %w", sess.Sandbox.ID, err, errdefs.ErrUnavailable)
		}
		s.writeError(w, r, err)
	})
	return nil
}
