package hopx

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// envFile keeps the variables set through the agent's /env inside the
// sandbox itself: they last as long as its filesystem (across pause,
// stop and start, like HopX's), and no server keeps them in memory.
// Commands and code run through this face get them.
const envFile = "/var/lib/hutch-compat/hopx-env.json"

// env reads the variables set through /env; none is an empty map.
func (f *face) env(r *http.Request, call *compat.AgentCall) (map[string]string, error) {
	rc, err := call.Client.Download(r.Context(), call.Sandbox.ID, envFile)
	if notFound(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	vars := map[string]string{}
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&vars); err != nil {
		return map[string]string{}, nil // a file the user broke is an empty set, not a failed command
	}
	return vars, nil
}

func (f *face) saveEnv(r *http.Request, call *compat.AgentCall, vars map[string]string) error {
	b, _ := json.Marshal(vars)
	_, err := call.Client.Upload(r.Context(), call.Sandbox.ID, envFile, strings.NewReader(string(b)), "0600")
	return err
}

func envBody(vars map[string]string) map[string]any {
	return map[string]any{"env_vars": vars, "count": len(vars), "timestamp": time.Now().UTC()}
}

func (f *face) getEnv(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	vars, err := f.env(r, call)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, envBody(vars))
	return nil
}

// setEnv replaces the variables (PUT) or merges into them (PATCH, or a
// body with merge: true).
func (f *face) setEnv(merge bool) agentFunc {
	return func(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
		var req struct {
			EnvVars map[string]string `json:"env_vars"`
			Merge   bool              `json:"merge"`
		}
		if err := compat.Decode(w, r, &req); err != nil {
			return err
		}
		for k := range req.EnvVars {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return errdefs.InvalidField("env_vars", "%q is not a variable name", k)
			}
		}
		vars := map[string]string{}
		if merge || req.Merge {
			old, err := f.env(r, call)
			if err != nil {
				return err
			}
			vars = old
		}
		for k, v := range req.EnvVars {
			vars[k] = v
		}
		if err := f.saveEnv(r, call, vars); err != nil {
			return err
		}
		compat.WriteJSON(w, http.StatusOK, envBody(vars))
		return nil
	}
}

func (f *face) clearEnv(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	err := call.Client.RemoveFile(r.Context(), call.Sandbox.ID, envFile, false)
	if err != nil && !notFound(err) {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, envBody(map[string]string{}))
	return nil
}
