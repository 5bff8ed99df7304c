package hopx

import (
	"net/http"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// executeRequest is the body of /execute and /execute/background.
type executeRequest struct {
	Code     string            `json:"code"`
	Language string            `json:"language"`
	Timeout  *int              `json:"timeout"`
	Workdir  string            `json:"workdir"`
	Env      map[string]string `json:"env"`
	Name     string            `json:"name"`
}

// interpreters are the languages /execute runs in a persistent context
// (variables survive from one call to the next, as in HopX's kernel);
// shells run each call as a command.
var interpreters = map[string]string{"python": "python", "python3": "python", "javascript": "javascript",
	"js": "javascript", "node": "javascript", "nodejs": "javascript"}

var shells = map[string]bool{"bash": true, "sh": true, "shell": true}

// mimeFields are HopX's fields for a result's MIME types.
var mimeFields = map[string]string{"text/plain": "result", "text/html": "html", "image/png": "png",
	"image/svg+xml": "svg", "text/markdown": "markdown", "application/json": "json"}

func (f *face) execute(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req executeRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.Language == "" {
		req.Language = "python"
	}
	env, err := f.env(r, call)
	if err != nil {
		return err
	}
	for k, v := range req.Env {
		env[k] = v
	}
	start := time.Now()
	out := map[string]any{"language": req.Language, "timestamp": start.UTC()}
	switch {
	case shells[req.Language]:
		res, err := f.execIn(r, call, api.ExecRequest{Command: []string{"bash", "-c", req.Code}, Cwd: req.Workdir, Env: env,
			TimeoutSeconds: req.Timeout})
		if err != nil {
			return err
		}
		out["stdout"], out["stderr"], out["exit_code"], out["success"] = res.Stdout, res.Stderr, res.ExitCode, res.ExitCode == 0
	case interpreters[req.Language] != "":
		ctxID, err := f.codeContext(r, call, interpreters[req.Language], req.Workdir, env)
		if err != nil {
			return err
		}
		res, err := call.Client.RunCode(r.Context(), call.Sandbox.ID, ctxID, api.RunCodeRequest{Code: req.Code, TimeoutSeconds: req.Timeout})
		if err != nil {
			return err
		}
		out["stdout"], out["stderr"], out["exit_code"], out["success"] = res.Stdout, res.Stderr, 0, res.Error == nil
		for mime, field := range mimeFields {
			if v, ok := res.Result[mime]; ok {
				out[field] = v
			}
		}
		for _, o := range res.Outputs {
			for mime, field := range mimeFields {
				if v, ok := o[mime]; ok && out[field] == nil {
					out[field] = v
				}
			}
		}
		if res.Error != nil {
			out["exit_code"] = 1
			out["error"] = res.Error.Name + ": " + res.Error.Value
			if res.Error.Traceback != "" {
				out["stderr"] = res.Stderr + res.Error.Traceback
			}
		}
	default:
		return errdefs.InvalidField("language", "must be python, javascript or bash, got %q", req.Language)
	}
	out["execution_time"] = time.Since(start).Seconds()
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// codeContext returns the sandbox's context of language, making one (in
// workdir, with env) when it has none: a context lives in the sandbox's
// agent, so it survives pause and resume.
func (f *face) codeContext(r *http.Request, call *compat.AgentCall, language, workdir string, env map[string]string) (string, error) {
	ctxs, err := call.Client.ListContexts(r.Context(), call.Sandbox.ID)
	if err != nil {
		return "", err
	}
	for _, c := range ctxs {
		if c.Language == language {
			return c.ID, nil
		}
	}
	c, err := call.Client.CreateContext(r.Context(), call.Sandbox.ID, api.CreateContextRequest{Language: language, Cwd: workdir, Env: env})
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

// executeBackground runs code as a background process of its own
// interpreter (not the persistent context, which one call at a time
// uses).
func (f *face) executeBackground(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req executeRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	var argv []string
	switch {
	case shells[req.Language]:
		argv = []string{"bash", "-c", req.Code}
	case interpreters[req.Language] == "javascript":
		argv = []string{"node", "-e", req.Code}
	case req.Language == "" || interpreters[req.Language] == "python":
		argv = []string{"python3", "-c", req.Code}
	default:
		return errdefs.InvalidField("language", "must be python, javascript or bash, got %q", req.Language)
	}
	env, err := f.env(r, call)
	if err != nil {
		return err
	}
	for k, v := range req.Env {
		env[k] = v
	}
	p, err := call.Client.StartProcess(r.Context(), call.Sandbox.ID, api.ExecRequest{Command: argv, Cwd: req.Workdir, Env: env,
		TimeoutSeconds: req.Timeout})
	if err != nil {
		return err
	}
	body := processBody(p)
	body["name"], body["message"] = req.Name, "started"
	compat.WriteJSON(w, http.StatusOK, body)
	return nil
}
