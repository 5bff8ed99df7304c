package opensandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// agentFunc is an execd handler: it runs with the sandbox's agent open,
// under the call's context (which a pause of the sandbox cancels).
type agentFunc func(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error

// execdHandler is execd's API (execd-api.yaml) for the sandbox in the
// request's context, translated to Hutch's agent. Nothing runs in the
// sandbox for it but Hutch's own agent.
func (f *face) execdHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h agentFunc) { mux.HandleFunc(pattern, f.Serve(f.agent(h))) }
	handle("GET /ping", f.ping)
	handle("GET /metrics", f.metrics)
	handle("GET /metrics/watch", f.watchMetrics)

	handle("POST /command", f.runCommand)
	handle("DELETE /command", f.interruptCommand)
	// GET /command/status/{id} and GET /command/{id}/logs would both
	// match /command/status/logs, which ServeMux refuses; one route
	// tells them apart.
	handle("GET /command/{a}/{b}", func(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
		switch a, b := r.PathValue("a"), r.PathValue("b"); {
		case a == "status":
			return f.commandStatus(w, r, call, b)
		case b == "logs":
			return f.commandLogs(w, r, call, a)
		}
		return gateway.NoRoute(r)
	})

	handle("POST /code/context", f.createContext)
	handle("GET /code/contexts", f.listContexts)
	handle("DELETE /code/contexts", f.deleteContexts)
	handle("GET /code/contexts/{ctx}", f.getContext)
	handle("DELETE /code/contexts/{ctx}", f.deleteContext)
	handle("POST /code", f.runCode)
	handle("DELETE /code", notSupported("interrupting code of a context"))

	handle("GET /files/info", f.filesInfo)
	handle("DELETE /files", f.removeFiles)
	handle("POST /files/permissions", f.setPermissions)
	handle("POST /files/mv", f.moveFiles)
	handle("GET /files/search", f.searchFiles)
	handle("POST /files/replace", f.replaceContents)
	handle("POST /files/upload", f.upload)
	handle("GET /files/download", f.download)
	handle("GET /directories/list", f.listDirectory)
	handle("POST /directories", f.makeDirs)
	handle("DELETE /directories", f.removeDirs)

	for _, p := range []string{"POST /session", "POST /session/{sid}/run", "DELETE /session/{sid}"} {
		handle(p, notSupported("bash sessions"))
	}
	handle("GET /v1/isolated/capabilities", f.isolatedCapabilities)
	mux.HandleFunc("/v1/isolated/", f.Serve(f.agent(notSupported("isolated sessions"))))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			f.WriteError(w, r, gateway.NoRoute(r))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// agent opens the agent of the request's sandbox for the caller's
// organisation. A paused sandbox is refused at once (409), one that is
// not running yet or any more with its state (409), a deleted one is
// 404; a pause during the call ends it with the paused error.
func (f *face) agent(h agentFunc) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := sandboxOf(r.Context())
		call, err := f.OpenAgent(r.Context(), orgOf(r), id)
		var te *sandbox.TransitionError
		if errors.As(err, &te) && te.From == sandbox.StateDeleted {
			return fmt.Errorf("sandbox %q not found: %w", id, errdefs.ErrSandboxNotFound)
		}
		if err != nil {
			return err
		}
		defer call.Close()
		err = h(w, r.WithContext(call.Context()), call)
		if err != nil && call.Context().Err() != nil {
			if cause := context.Cause(call.Context()); errors.Is(cause, errdefs.ErrPaused) {
				return cause
			}
		}
		return err
	}
}

func notSupported(what string) agentFunc {
	return func(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
		return fmt.Errorf("%s: not supported by this server: %w", what, errdefs.ErrNotImplemented)
	}
}

// ping answers once Hutch's agent in the sandbox does.
func (f *face) ping(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	if err := call.Client.Health(r.Context()); err != nil {
		return fmt.Errorf("the sandbox's agent does not answer yet: %v: %w", err, errdefs.ErrUnavailable)
	}
	noBody(w, http.StatusOK)
	return nil
}

// isolatedCapabilities says, truthfully, that execd's isolated sessions
// are not available here (the SDK's isolation.capabilities()).
func (f *face) isolatedCapabilities(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	compat.WriteJSON(w, http.StatusOK, map[string]bool{"available": false, "setpriv_available": false,
		"userns_available": false, "commit_supported": false, "diff_supported": false})
	return nil
}

type metricsBody struct {
	CPUCount    float64 `json:"cpu_count"`
	CPUUsedPct  float64 `json:"cpu_used_pct"`
	MemTotalMiB float64 `json:"mem_total_mib"`
	MemUsedMiB  float64 `json:"mem_used_mib"`
	Timestamp   int64   `json:"timestamp"`
}

// cpuWindow is how long a metrics sample measures CPU use over.
const cpuWindow = 200 * time.Millisecond

// sample reads the sandbox's resource use from its cgroup (through the
// lifecycle's Stats door): its CPU limit as the core count, CPU use over
// a short window, memory against its limit.
func (f *face) sample(ctx context.Context, call *compat.AgentCall) (metricsBody, error) {
	sb := call.Sandbox
	_, a, err := f.Sandboxes.Stats(ctx, sb.OrganizationID, sb.ID)
	if err != nil {
		return metricsBody{}, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return metricsBody{}, ctx.Err()
	case <-time.After(cpuWindow):
	}
	_, b, err := f.Sandboxes.Stats(ctx, sb.OrganizationID, sb.ID)
	if err != nil {
		return metricsBody{}, err
	}
	m := metricsBody{CPUCount: sb.Resources.CPU, Timestamp: time.Now().UnixMilli()}
	if elapsed := time.Since(start); elapsed > 0 && sb.Resources.CPU > 0 {
		m.CPUUsedPct = float64(b.CPUUsage-a.CPUUsage) / float64(elapsed) / sb.Resources.CPU * 100
	}
	m.MemTotalMiB = float64(b.MemoryLimit) / (1 << 20)
	if m.MemTotalMiB == 0 {
		m.MemTotalMiB = float64(sb.Resources.MemoryMB)
	}
	m.MemUsedMiB = float64(b.MemoryBytes) / (1 << 20)
	return m, nil
}

func (f *face) metrics(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	m, err := f.sample(r.Context(), call)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, m)
	return nil
}

// watchMetrics streams a sample every second until the caller leaves or
// the sandbox is paused.
func (f *face) watchMetrics(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	s := newEventStream(w)
	for {
		m, err := f.sample(r.Context(), call)
		if err != nil {
			if !s.started {
				return err
			}
			return nil
		}
		if err := s.send(m); err != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(time.Second - cpuWindow):
		}
	}
}

// eventStream writes server-sent events, one JSON object per data line
// (the SDK reads both that and bare JSON lines). The answer starts with
// the first event, so that an error before it is still a JSON error.
type eventStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func newEventStream(w http.ResponseWriter) *eventStream {
	return &eventStream{w: w, rc: http.NewResponseController(w)}
}

func (s *eventStream) send(v any) error {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return err
	}
	return s.rc.Flush()
}
