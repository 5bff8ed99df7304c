package daytona

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// The toolbox is Daytona's in-sandbox daemon. Here it is served on the
// host at <toolboxProxyUrl>/<id>/... (and the older API form
// /toolbox/<id>/toolbox/...), authenticated with the same API key, and
// translated to Hutch's own agent. A sandbox that is not running is
// refused at once (409), before anything reaches its agent.

// toolFunc is a toolbox handler, given the open agent call.
type toolFunc func(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error

// toolboxRoutes registers every toolbox route under both path forms.
func (f *face) toolboxRoutes(mux *http.ServeMux) {
	route := func(method, path string, h compat.HandlerFunc) {
		for _, base := range []string{"/toolbox/{id}", "/toolbox/{id}/toolbox"} {
			mux.Handle(strings.TrimSpace(method+" "+base+path), f.Authed(h))
		}
	}
	tool := func(method, path string, h toolFunc) { route(method, path, f.tool(h)) }
	tool("POST", "/process/execute", execute)
	tool("POST", "/process/code-run", codeRun)
	tool("GET", "/work-dir", workDir)
	tool("GET", "/project-dir", workDir)
	tool("GET", "/user-home-dir", homeDir)
	tool("GET", "/version", version)
	f.fileRoutes(tool)
	f.sessionRoutes(tool)
	f.gitRoutes(tool)
	for _, p := range unsupportedToolbox {
		method, path, _ := strings.Cut(p, " ")
		route(method, path, f.unsupported)
	}
}

// tool opens the sandbox's agent for h: only a running sandbox of the
// caller's organisation gets that far.
func (f *face) tool(h toolFunc) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		org, err := organization(r)
		if err != nil {
			return err
		}
		c, err := f.OpenAgent(r.Context(), org, r.PathValue("id"))
		if err != nil {
			return err
		}
		defer c.Close()
		return interrupted(c, h(w, r.WithContext(c.Context()), c))
	}
}

// interrupted turns the failure of a call that a pause cut short into
// the pause's own error (409), not a broken connection's 500.
func interrupted(c *compat.AgentCall, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(c.Context()); cause != nil && errors.Is(cause, errdefs.ErrPaused) {
		return cause
	}
	return err
}

// executeRequest is the toolbox's ExecuteRequest.
type executeRequest struct {
	Command string            `json:"command"`
	Cwd     string            `json:"cwd"`
	Envs    map[string]string `json:"envs"`
	Timeout *int              `json:"timeout"`
}

// execute runs a command line through sh and answers its exit code and
// its output, stdout and stderr interleaved as they came (Daytona's
// result). A command that overruns its timeout is the daemon's 408.
func execute(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req executeRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Command) == "" {
		return errdefs.InvalidField("command", "is required")
	}
	code, out, err := run(r.Context(), c, api.ExecRequest{Command: []string{"sh", "-c", req.Command},
		Cwd: req.Cwd, Env: req.Envs, TimeoutSeconds: timeout(req.Timeout)})
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"exitCode": code, "result": out})
	return nil
}

// timeout maps Daytona's timeout (seconds; absent or 0: the server's
// default here, and Hutch's default is 60 s) to the agent's.
func timeout(secs *int) *int {
	if secs == nil || *secs <= 0 {
		return nil
	}
	return secs
}

// run runs req to its end and returns its exit code and combined output.
func run(ctx context.Context, c *compat.AgentCall, req api.ExecRequest) (int, string, error) {
	var out strings.Builder
	res, err := c.Client.ExecStream(ctx, c.SandboxID(), req, func(_, data string) { out.WriteString(data) })
	if err != nil {
		return 0, "", err
	}
	if res.TimedOut {
		n := 60
		if req.TimeoutSeconds != nil {
			n = *req.TimeoutSeconds
		}
		return 0, "", execTimeout(n)
	}
	return res.ExitCode, out.String(), nil
}

// codeRun runs a snippet with the sandbox's interpreter of its language
// (the SDK's code-toolbox-language label): python3 or node.
func codeRun(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		Code     string            `json:"code"`
		Language string            `json:"language"`
		Argv     []string          `json:"argv"`
		Envs     map[string]string `json:"envs"`
		Timeout  *int              `json:"timeout"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	var argv []string
	switch req.Language {
	case "", "python":
		argv = []string{"python3", "-c", req.Code}
	case "javascript":
		argv = []string{"node", "-e", req.Code}
	case "typescript":
		return notSupported("typescript code-run: the sandbox image would need a TypeScript runner; run it with process/execute")
	default:
		return errdefs.InvalidField("language", "must be python, javascript or typescript, got %q", req.Language)
	}
	code, out, err := run(r.Context(), c, api.ExecRequest{Command: append(argv, req.Argv...), Env: req.Envs,
		TimeoutSeconds: timeout(req.Timeout)})
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"exitCode": code, "result": out,
		"artifacts": map[string]any{"stdout": out, "charts": []any{}}})
	return nil
}

// dir answers the output of a command that prints one directory.
func dir(w http.ResponseWriter, r *http.Request, c *compat.AgentCall, script string) error {
	code, out, err := run(r.Context(), c, api.ExecRequest{Command: []string{"sh", "-c", script}})
	if err != nil {
		return err
	}
	if code != 0 {
		return errors.New("the sandbox's shell failed (exit " + strconv.Itoa(code) + "): " + out)
	}
	compat.WriteJSON(w, http.StatusOK, map[string]string{"dir": strings.TrimSpace(out)})
	return nil
}

// workDir is where commands without a cwd run: the agent's own.
func workDir(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	return dir(w, r, c, "pwd")
}

func homeDir(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	return dir(w, r, c, `echo "${HOME:-/root}"`)
}

func version(w http.ResponseWriter, r *http.Request, _ *compat.AgentCall) error {
	compat.WriteJSON(w, http.StatusOK, map[string]string{"version": "hutch"})
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
