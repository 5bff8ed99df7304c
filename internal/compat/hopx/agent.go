package hopx

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/gateway"
)

// workspace is the SDK's default working directory.
const workspace = "/workspace"

type sandboxKey struct{}

func withSandbox(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, sandboxKey{}, id)
}

// agentFunc is a VM agent handler: it runs with the sandbox's agent open.
type agentFunc func(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error

// agentHandler serves HopX's VM agent for the sandbox named in the
// request's context (by the path form or the host form).
func (f *face) agentHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", f.agent(f.health))
	mux.HandleFunc("GET /ping", f.agent(f.health))
	mux.HandleFunc("GET /info", f.agent(f.info))
	mux.HandleFunc("GET /system", f.agent(f.system))
	mux.HandleFunc("POST /commands/run", f.agent(f.runCommand))
	mux.HandleFunc("POST /commands/background", f.agent(f.backgroundCommand))
	mux.HandleFunc("POST /execute", f.agent(f.execute))
	mux.HandleFunc("POST /execute/background", f.agent(f.executeBackground))
	mux.HandleFunc("GET /execute/processes", f.agent(f.listProcesses))
	mux.HandleFunc("DELETE /execute/kill", f.agent(f.killProcess))
	mux.HandleFunc("GET /processes", f.agent(f.listProcesses))
	mux.HandleFunc("GET /files/read", f.agent(f.readFile))
	mux.HandleFunc("GET /files/download", f.agent(f.downloadFile))
	mux.HandleFunc("POST /files/write", f.agent(f.writeFile))
	mux.HandleFunc("POST /files/upload", f.agent(f.uploadFile))
	mux.HandleFunc("GET /files/list", f.agent(f.listFiles))
	mux.HandleFunc("GET /files/exists", f.agent(f.fileExists))
	mux.HandleFunc("DELETE /files/remove", f.agent(f.removeFile))
	mux.HandleFunc("POST /files/mkdir", f.agent(f.mkdir))
	mux.HandleFunc("GET /terminal", f.agent(f.terminal))
	mux.HandleFunc("GET /execute/stream", f.agent(f.executeStream))
	mux.HandleFunc("GET /stream", f.agent(f.executeStream))
	mux.HandleFunc("GET /commands/stream", f.agent(f.executeStream))
	mux.HandleFunc("GET /env", f.agent(f.getEnv))
	mux.HandleFunc("PUT /env", f.agent(f.setEnv(false)))
	mux.HandleFunc("PATCH /env", f.agent(f.setEnv(true)))
	mux.HandleFunc("DELETE /env", f.agent(f.clearEnv))
	return f.Handler(mux)
}

// agent opens the sandbox's agent for the caller: its auth_token (a
// Bearer token this face issued for this very sandbox), or an API key of
// the sandbox's organisation (the SDK sends X-API-Key before it has a
// token).
func (f *face) agent(h agentFunc) http.HandlerFunc {
	return f.Serve(func(w http.ResponseWriter, r *http.Request) error {
		id, _ := r.Context().Value(sandboxKey{}).(string)
		var call *compat.AgentCall
		var err error
		if tok := gateway.BearerOrAPIKey(r); strings.HasPrefix(tok, vendor+"_") {
			call, err = f.OpenAgentByToken(r.Context(), vendor, id, tok)
		} else {
			var p auth.Principal
			if p, err = auth.Authenticate(r.Context(), f.Auth, tok); err == nil {
				// A revoked key ends the calls it opened, streams included.
				ctx, release := gateway.HoldKey(r.Context(), p.KeyID)
				defer release()
				r = r.WithContext(ctx)
				call, err = f.OpenAgent(ctx, p.OrganizationID, id)
			}
		}
		if err != nil {
			return err
		}
		defer call.Close()
		return h(w, r.WithContext(call.Context()), call)
	})
}

func (f *face) health(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	compat.WriteJSON(w, http.StatusOK, map[string]any{"status": "healthy", "version": "hutch", "sandbox_id": call.Sandbox.ID,
		"timestamp": time.Now().UTC()})
	return nil
}

func (f *face) info(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	sb := call.Sandbox
	compat.WriteJSON(w, http.StatusOK, map[string]any{"vm_id": sb.ID, "agent": "hutch", "agent_version": "hutch",
		"template": sb.Template, "started_at": sb.StartedAt, "timestamp": time.Now().UTC()})
	return nil
}

// system reports the sandbox's resource use as the runtime measures it
// (its cgroup), not the host's.
func (f *face) system(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	sb, st, err := f.Sandboxes.Stats(r.Context(), call.Sandbox.OrganizationID, call.Sandbox.ID)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{
		"cpu":       map[string]any{"usage_seconds": st.CPUUsage.Seconds(), "cores": sb.Resources.CPU},
		"memory":    map[string]any{"used": st.MemoryBytes, "total": st.MemoryLimit},
		"processes": st.Pids, "oom_kills": st.OOMKills, "timestamp": time.Now().UTC(),
	})
	return nil
}
