package hopx

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// commandRequest is the body of /commands/run and /commands/background:
// the SDK wraps every command in bash -c.
type commandRequest struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Timeout *int              `json:"timeout"`
	Workdir string            `json:"workdir"`
	Env     map[string]string `json:"env"`
}

func (c commandRequest) exec(env map[string]string) (api.ExecRequest, error) {
	if c.Command == "" {
		return api.ExecRequest{}, errdefs.InvalidField("command", "is required")
	}
	merged := map[string]string{}
	for k, v := range env {
		merged[k] = v
	}
	for k, v := range c.Env {
		merged[k] = v
	}
	return api.ExecRequest{Command: append([]string{c.Command}, c.Args...), Cwd: c.Workdir, Env: merged,
		TimeoutSeconds: c.Timeout}, nil
}

// commandResponse is HopX's answer to a command run to its end.
type commandResponse struct {
	Stdout        string    `json:"stdout"`
	Stderr        string    `json:"stderr"`
	ExitCode      int       `json:"exit_code"`
	Success       bool      `json:"success"`
	ExecutionTime float64   `json:"execution_time"`
	Command       string    `json:"command"`
	Timestamp     time.Time `json:"timestamp"`
}

// decodeCommand reads a command request and makes it Hutch's, with the
// variables set through /env.
func (f *face) decodeCommand(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) (commandRequest, api.ExecRequest, error) {
	var req commandRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return req, api.ExecRequest{}, err
	}
	env, err := f.env(r, call)
	if err != nil {
		return req, api.ExecRequest{}, err
	}
	er, err := req.exec(env)
	return req, er, err
}

func (f *face) runCommand(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	req, er, err := f.decodeCommand(w, r, call)
	if err != nil {
		return err
	}
	res, err := f.execIn(r, call, er)
	if err != nil {
		return err
	}
	if res.TimedOut && er.TimeoutSeconds != nil {
		return &client.Error{Status: http.StatusRequestTimeout, Code: "EXECUTION_TIMEOUT",
			Message: fmt.Sprintf("the command did not finish within its timeout of %d seconds", *er.TimeoutSeconds)}
	}
	compat.WriteJSON(w, http.StatusOK, commandResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode,
		Success: res.ExitCode == 0, ExecutionTime: float64(res.DurationMs) / 1000, Command: req.Command, Timestamp: time.Now().UTC()})
	return nil
}

// execIn runs er, making the SDK's default /workspace first if a sandbox
// not created through this face lacks it.
func (f *face) execIn(r *http.Request, call *compat.AgentCall, er api.ExecRequest) (*api.ExecResult, error) {
	res, err := call.Client.Exec(r.Context(), call.Sandbox.ID, er)
	if missingWorkspace(err, er.Cwd) {
		if _, merr := call.Client.Mkdir(r.Context(), call.Sandbox.ID, workspace, ""); merr == nil {
			return call.Client.Exec(r.Context(), call.Sandbox.ID, er)
		}
	}
	return res, err
}

func (f *face) backgroundCommand(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	_, er, err := f.decodeCommand(w, r, call)
	if err != nil {
		return err
	}
	p, err := call.Client.StartProcess(r.Context(), call.Sandbox.ID, er)
	if missingWorkspace(err, er.Cwd) {
		if _, merr := call.Client.Mkdir(r.Context(), call.Sandbox.ID, workspace, ""); merr == nil {
			p, err = call.Client.StartProcess(r.Context(), call.Sandbox.ID, er)
		}
	}
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, processBody(p))
	return nil
}

func processBody(p *api.Process) map[string]any {
	id := strconv.Itoa(p.PID)
	return map[string]any{"process_id": id, "execution_id": id, "pid": p.PID, "status": p.State,
		"exit_code": p.ExitCode, "command": p.Command, "start_time": p.StartedAt, "end_time": p.EndedAt}
}

func (f *face) listProcesses(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	ps, err := call.Client.ListProcesses(r.Context(), call.Sandbox.ID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(ps))
	for i := range ps {
		out = append(out, processBody(&ps[i]))
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"processes": out, "count": len(out), "timestamp": time.Now().UTC()})
	return nil
}

func (f *face) killProcess(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	id := r.URL.Query().Get("process_id")
	pid, err := strconv.Atoi(id)
	if err != nil {
		return errdefs.InvalidField("process_id", "must be a process id this agent returned, got %q", id)
	}
	p, err := call.Client.SignalProcess(r.Context(), call.Sandbox.ID, pid, "SIGKILL")
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, processBody(p))
	return nil
}

func notFound(err error) bool { return client.IsFileNotFound(err) }

// missingWorkspace reports whether err is the agent refusing the SDK's
// default working directory because the sandbox (made through another
// API) does not have it.
func missingWorkspace(err error, cwd string) bool {
	return err != nil && cwd == workspace && client.IsInvalidArgument(err)
}
