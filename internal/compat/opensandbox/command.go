package opensandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// runCommandRequest is execd's RunCommandRequest.
type runCommandRequest struct {
	Command    string            `json:"command"`
	Cwd        string            `json:"cwd"`
	Background bool              `json:"background"`
	Timeout    *int64            `json:"timeout"` // milliseconds
	UID        *int64            `json:"uid"`
	GID        *int64            `json:"gid"`
	Envs       map[string]string `json:"envs"`
}

// streamEvent is execd's ServerStreamEvent.
type streamEvent struct {
	Type           string            `json:"type"`
	Text           string            `json:"text,omitempty"`
	ExecutionCount *int              `json:"execution_count,omitempty"`
	ExecutionTime  *int64            `json:"execution_time,omitempty"`
	Timestamp      int64             `json:"timestamp"`
	Results        map[string]string `json:"results,omitempty"`
	Error          *eventError       `json:"error,omitempty"`
}

type eventError struct {
	Ename     string   `json:"ename"`
	Evalue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

func event(typ, text string) streamEvent {
	return streamEvent{Type: typ, Text: text, Timestamp: time.Now().UnixMilli()}
}

func completion(since time.Time) streamEvent {
	ev := event("execution_complete", "")
	ms := time.Since(since).Milliseconds()
	ev.ExecutionTime = &ms
	return ev
}

func failure(ename, evalue string, traceback ...string) streamEvent {
	ev := event("error", "")
	if traceback == nil {
		traceback = []string{}
	}
	ev.Error = &eventError{Ename: ename, Evalue: evalue, Traceback: traceback}
	return ev
}

// maxCommandTimeout is the agent's longest timeout, a day.
const maxCommandTimeout = 86400

// shellScript runs the command with bash, as execd does, where the image
// has bash, and with sh otherwise. The command is its last argument, so
// that a status can show it again.
const shellScript = `if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; fi; exec sh -c "$1"`

func shell(command string) []string { return []string{"sh", "-c", shellScript, "sh", command} }

// commandOf recovers the command a process was started with by shell.
func commandOf(argv []string) string {
	if len(argv) == 5 && argv[2] == shellScript {
		return argv[4]
	}
	return strings.Join(argv, " ")
}

// exec turns the request into the agent's. No timeout means none, as in
// execd (the agent's own default is a minute).
func (req *runCommandRequest) exec() (api.ExecRequest, error) {
	if strings.TrimSpace(req.Command) == "" {
		return api.ExecRequest{}, errdefs.InvalidField("command", "is required")
	}
	none := 0
	ex := api.ExecRequest{Command: shell(req.Command), Cwd: req.Cwd, Env: req.Envs, TimeoutSeconds: &none}
	if req.Timeout != nil {
		ms := *req.Timeout
		if ms < 0 || ms > maxCommandTimeout*1000 {
			return ex, errdefs.InvalidField("timeout", "must be from 0 (none) to %d milliseconds, got %d", maxCommandTimeout*1000, ms)
		}
		secs := int((ms + 999) / 1000)
		ex.TimeoutSeconds = &secs
	}
	switch {
	case req.GID != nil && req.UID == nil:
		return ex, errdefs.InvalidField("uid", "is required when gid is given")
	case req.UID != nil && *req.UID < 0:
		return ex, errdefs.InvalidField("uid", "must not be negative")
	case req.GID != nil && *req.GID != *req.UID:
		return ex, errdefs.InvalidField("gid", "commands run with the group of their uid here; a gid other than the uid (%d) is not supported", *req.UID)
	case req.UID != nil:
		ex.User = strconv.FormatInt(*req.UID, 10)
	}
	return ex, nil
}

// runCommand runs a command: in the foreground its output streams as
// init, stdout/stderr, then execution_complete (exit 0) or error with the
// exit code as evalue; in the background it answers init (the command's
// id) and execution_complete at once and the process lives on.
func (f *face) runCommand(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req runCommandRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	ex, err := req.exec()
	if err != nil {
		return err
	}
	id := call.Sandbox.ID
	start := time.Now()
	s := newEventStream(w)
	if req.Background {
		if req.Timeout == nil {
			ex.TimeoutSeconds = nil
		}
		p, err := call.Client.StartProcess(r.Context(), id, ex)
		if err != nil {
			return err
		}
		_ = s.send(event("init", strconv.Itoa(p.PID)))
		_ = s.send(completion(start))
		return nil
	}

	if err := checkCwd(r, call, req.Cwd); err != nil {
		return err
	}
	// init goes out at once, so that the caller has the command's id to
	// interrupt it with before it prints anything.
	cmd, ctx := f.fg.start(r.Context(), id, req.Command)
	_ = s.send(event("init", cmd.id))
	res, err := call.Client.ExecStream(ctx, id, ex, func(stream, data string) {
		_ = s.send(event(stream, data))
	})
	if err != nil {
		f.fg.finish(cmd, nil, err)
		_ = s.send(streamFailure(ctx, err))
		return nil
	}
	f.fg.finish(cmd, &res.ExitCode, nil)
	switch {
	case res.TimedOut:
		_ = s.send(failure("TimeoutError", strconv.Itoa(res.ExitCode),
			fmt.Sprintf("the command ran out of its timeout of %d s and was killed", *ex.TimeoutSeconds)))
	case res.ExitCode != 0:
		_ = s.send(failure("CommandExecError", strconv.Itoa(res.ExitCode), fmt.Sprintf("exit status %d", res.ExitCode)))
	default:
		_ = s.send(completion(start))
	}
	return nil
}

// checkCwd refuses a working directory the sandbox does not have with a
// 400 before the stream starts (once it has, failures are error events).
func checkCwd(r *http.Request, call *compat.AgentCall, cwd string) error {
	if cwd == "" {
		return nil
	}
	fi, err := call.Client.StatFile(r.Context(), call.Sandbox.ID, cwd)
	var ce *client.Error
	switch {
	case errors.As(err, &ce) && ce.Status < 500:
		return errdefs.InvalidField("cwd", "%q is not a directory in the sandbox: %s", cwd, ce.Message)
	case err != nil:
		return err
	case fi.Type != "dir" && fi.Type != "symlink":
		return errdefs.InvalidField("cwd", "%q is not a directory in the sandbox", cwd)
	}
	return nil
}

// streamFailure is the error event of a command that did not run to its
// end: interrupted (killed: 137), paused, refused by the agent, or with
// the agent lost. Its evalue is an exit code only where there was one.
func streamFailure(ctx context.Context, err error) streamEvent {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errInterrupted):
		return failure("CommandInterrupted", "137", "interrupted by DELETE /command; the process group was killed")
	case errors.Is(cause, errdefs.ErrPaused):
		return failure("SandboxPaused", "137", cause.Error())
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return failure(ce.Code, ce.Message) // the agent refused the command (an unknown uid, ...)
	}
	return failure("StreamError", err.Error())
}

var errInterrupted = errors.New("interrupted")

// commandID is a foreground command's id; background commands are known
// by their process id, which is all digits.
func commandID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "cmd-" + hex.EncodeToString(b)
}

func pidOf(id string) (int, bool) {
	pid, err := strconv.Atoi(id)
	return pid, err == nil && pid > 0
}

func errNoCommand(id string) error {
	return &client.Error{Status: http.StatusNotFound, Code: api.CodeProcessNotFound, Message: fmt.Sprintf("no command %q in this sandbox", id)}
}

// interruptCommand stops a command: SIGTERM to a background one's process
// group, the end of a foreground one's stream (which kills it).
func (f *face) interruptCommand(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	id := r.URL.Query().Get("id")
	if id == "" {
		return errdefs.InvalidField("id", "is required: the command's id from its init event")
	}
	if pid, ok := pidOf(id); ok {
		if _, err := call.Client.SignalProcess(r.Context(), call.Sandbox.ID, pid, "SIGTERM"); err != nil {
			return err
		}
	} else if !f.fg.interrupt(call.Sandbox.ID, id) {
		return errNoCommand(id)
	}
	noBody(w, http.StatusOK)
	return nil
}

// commandStatusBody is execd's CommandStatusResponse.
type commandStatusBody struct {
	ID         string     `json:"id"`
	Content    string     `json:"content"`
	Running    bool       `json:"running"`
	ExitCode   *int       `json:"exit_code"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

func (f *face) commandStatus(w http.ResponseWriter, r *http.Request, call *compat.AgentCall, id string) error {
	if pid, ok := pidOf(id); ok {
		p, err := call.Client.GetProcess(r.Context(), call.Sandbox.ID, pid)
		if err != nil {
			return err
		}
		compat.WriteJSON(w, http.StatusOK, commandStatusBody{ID: id, Content: commandOf(p.Command), Running: p.State == "running",
			ExitCode: p.ExitCode, StartedAt: p.StartedAt, FinishedAt: p.EndedAt})
		return nil
	}
	st, ok := f.fg.status(call.Sandbox.ID, id)
	if !ok {
		return errNoCommand(id)
	}
	compat.WriteJSON(w, http.StatusOK, st)
	return nil
}

// tailCursor is the response header with the next cursor of a log read.
const tailCursor = "EXECD-COMMANDS-TAIL-CURSOR"

// commandLogs answers a background command's output so far as plain
// text. The cursor counts whole lines: ?cursor=N skips the first N, and
// the answer's tail cursor is the number of lines read so far, so that
// polls with it never repeat nor lose a line (a line still being written
// waits for its newline while the command runs).
func (f *face) commandLogs(w http.ResponseWriter, r *http.Request, call *compat.AgentCall, id string) error {
	pid, ok := pidOf(id)
	if !ok {
		if _, known := f.fg.status(call.Sandbox.ID, id); known {
			return errdefs.InvalidField("id", "%s is a foreground command: its output was streamed, logs are kept for background ones", id)
		}
		return errNoCommand(id)
	}
	cursor := 0
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errdefs.InvalidField("cursor", "must be a line number from 0, got %q", v)
		}
		cursor = n
	}
	var out strings.Builder
	p, err := call.Client.ProcessLogs(r.Context(), call.Sandbox.ID, pid, false, func(_, data string) { out.WriteString(data) })
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(out.String(), "\n")
	if last := lines[len(lines)-1]; last == "" || (p == nil && !strings.HasSuffix(last, "\n")) {
		lines = lines[:len(lines)-1] // nothing after the last newline, or a line still being written
	}
	text := ""
	if cursor < len(lines) {
		text = strings.Join(lines[cursor:], "")
	}
	w.Header().Set(tailCursor, strconv.Itoa(max(cursor, len(lines))))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(text))
	return nil
}
