package daytona

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// A Daytona session is a shell that runs its commands one after another,
// so that cd and exported variables carry over. Here it is a background
// process of Hutch's agent (sh, fed on its stdin), and everything about
// it lives in the sandbox under sessionsDir: the shell's pid, and per
// command its text, stdout, stderr and exit code. Nothing is kept in the
// server, so any server (and a restarted one) finds the same sessions;
// a stopped sandbox loses its shells, and their sessions answer 410.
const sessionsDir = "/tmp/.hutch-daytona/sessions"

// sessionIDs and command IDs are path elements: no separators, no dots
// alone.
var sessionIDRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

func (f *face) sessionRoutes(tool func(method, path string, h toolFunc)) {
	tool("POST", "/process/session", createSession)
	tool("GET", "/process/session", listSessions)
	tool("GET", "/process/session/{session}", getSession)
	tool("DELETE", "/process/session/{session}", deleteSession)
	tool("POST", "/process/session/{session}/exec", sessionExec)
	tool("GET", "/process/session/{session}/command/{command}", getSessionCommand)
	tool("GET", "/process/session/{session}/command/{command}/logs", sessionCommandLogs)
}

// session is one session's place in the sandbox.
type session struct {
	c   *compat.AgentCall
	r   *http.Request
	id  string
	dir string
}

func openSession(r *http.Request, c *compat.AgentCall, id string) (*session, error) {
	if !sessionIDRE.MatchString(id) {
		return nil, errdefs.InvalidField("sessionId", "must be 1-64 letters, digits, '.', '_' or '-'")
	}
	return &session{c: c, r: r, id: id, dir: sessionsDir + "/" + id}, nil
}

// read returns a small file of the session ("" when it is missing).
func (s *session) read(name string) (string, error) {
	rc, err := s.c.Client.Download(s.r.Context(), s.c.SandboxID(), s.dir+"/"+name)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	return string(b), err
}

func (s *session) write(name, content string) error {
	_, err := s.c.Client.Upload(s.r.Context(), s.c.SandboxID(), s.dir+"/"+name, strings.NewReader(content), "0600")
	return err
}

func isNotFound(err error) bool {
	var ae *client.Error
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// shell returns the pid of the session's shell, or an error: 404 for a
// session that never was, 410 for one whose shell has ended.
func (s *session) shell() (int, error) {
	v, err := s.read("pid")
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("session %s not found: %w", s.id, errdefs.ErrNotFound)
	}
	p, err := s.c.Client.GetProcess(s.r.Context(), s.c.SandboxID(), pid)
	if isNotFound(err) || err == nil && p.State != "running" {
		return 0, s.ended()
	}
	return pid, err
}

func (s *session) ended() error {
	return &daemonError{status: http.StatusGone, code: "SESSION_ENDED",
		msg: "session " + s.id + " has ended (its shell exited, or the sandbox was stopped)", class: errdefs.ErrConflict}
}

// sessionCommand is the toolbox's Command.
type sessionCommand struct {
	ID       string `json:"id"`
	Command  string `json:"command"`
	ExitCode *int   `json:"exitCode,omitempty"`
}

// command reads one command's text and exit code.
func (s *session) command(id string) (*sessionCommand, error) {
	if !sessionIDRE.MatchString(id) {
		return nil, errdefs.InvalidField("commandId", "is not a command of this session")
	}
	text, err := s.read("cmds/" + id + "/command")
	if err != nil {
		return nil, err
	}
	if text == "" {
		if _, err := s.c.Client.StatFile(s.r.Context(), s.c.SandboxID(), s.dir+"/cmds/"+id); isNotFound(err) {
			return nil, fmt.Errorf("command %s not found in session %s: %w", id, s.id, errdefs.ErrNotFound)
		}
	}
	out := &sessionCommand{ID: id, Command: text}
	exit, err := s.read("cmds/" + id + "/exit")
	if err != nil {
		return nil, err
	}
	if n, err := strconv.Atoi(strings.TrimSpace(exit)); err == nil {
		out.ExitCode = &n
	}
	return out, nil
}

// commands lists the session's commands, oldest first.
func (s *session) commands() ([]sessionCommand, error) {
	list, err := s.c.Client.ListFiles(s.r.Context(), s.c.SandboxID(), s.dir+"/cmds", 1)
	if isNotFound(err) {
		return []sessionCommand{}, nil
	}
	if err != nil {
		return nil, err
	}
	items := slices.Clone(list.Items)
	slices.SortFunc(items, func(a, b api.FileInfo) int {
		if c := a.ModifiedAt.Compare(b.ModifiedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := make([]sessionCommand, 0, len(items))
	for _, fi := range items {
		cmd, err := s.command(fi.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, *cmd)
	}
	return out, nil
}

func createSession(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		SessionID string `json:"sessionId"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	s, err := openSession(r, c, req.SessionID)
	if err != nil {
		return err
	}
	_, err = s.shell()
	var de *daemonError
	switch {
	case err == nil:
		return fmt.Errorf("session %s already exists: %w", s.id, errdefs.ErrAlreadyExists)
	case errors.As(err, &de), errors.Is(err, errdefs.ErrNotFound):
		// A new session, or one whose shell is gone: start afresh.
		if err := c.Client.RemoveFile(r.Context(), c.SandboxID(), s.dir, true); err != nil && !isNotFound(err) {
			return err
		}
	default:
		return err
	}
	if _, err := c.Client.Mkdir(r.Context(), c.SandboxID(), s.dir+"/cmds", "0700"); err != nil {
		return err
	}
	p, err := c.Client.StartProcess(r.Context(), c.SandboxID(), api.ExecRequest{Command: []string{"sh"}})
	if err != nil {
		return err
	}
	if err := s.write("pid", strconv.Itoa(p.PID)); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func sessionBody(s *session) (map[string]any, error) {
	cmds, err := s.commands()
	if err != nil {
		return nil, err
	}
	return map[string]any{"sessionId": s.id, "commands": cmds}, nil
}

func getSession(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	s, err := openSession(r, c, r.PathValue("session"))
	if err != nil {
		return err
	}
	if _, err := s.shell(); err != nil && !errors.As(err, new(*daemonError)) {
		return err
	}
	body, err := sessionBody(s)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, body)
	return nil
}

func listSessions(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	list, err := c.Client.ListFiles(r.Context(), c.SandboxID(), sessionsDir, 1)
	if isNotFound(err) {
		compat.WriteJSON(w, http.StatusOK, []any{})
		return nil
	}
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list.Items))
	for _, fi := range list.Items {
		s, err := openSession(r, c, fi.Name)
		if err != nil || fi.Type != "dir" {
			continue
		}
		body, err := sessionBody(s)
		if err != nil {
			return err
		}
		out = append(out, body)
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

func deleteSession(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	s, err := openSession(r, c, r.PathValue("session"))
	if err != nil {
		return err
	}
	pid, err := s.shell()
	switch {
	case err == nil:
		if _, err := c.Client.SignalProcess(r.Context(), c.SandboxID(), pid, "KILL"); err != nil && !isNotFound(err) {
			return err
		}
	case errors.As(err, new(*daemonError)):
	default:
		return err
	}
	if err := c.Client.RemoveFile(r.Context(), c.SandboxID(), s.dir, true); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// newCommandID names a command: time first, so that names sort in the
// order commands were given.
func newCommandID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + hex.EncodeToString(b)
}

// script is what the session's shell is given for one command: the
// command runs in the shell itself (a dot script, so cd and exports
// stay), with its output and exit code in files. A command with a syntax
// error is refused by sh -n first, since a dot script that does not
// parse would end a non-interactive shell.
func script(dir string) string {
	return fmt.Sprintf("if sh -n '%[1]s/command' 2>'%[1]s/stderr'; then . '%[1]s/command' >'%[1]s/stdout' 2>'%[1]s/stderr' </dev/null; "+
		"echo $? >'%[1]s/exit.tmp'; else echo 2 >'%[1]s/exit.tmp'; fi; mv '%[1]s/exit.tmp' '%[1]s/exit'\n", dir)
}

// sessionExec runs a command in the session: at once with runAsync
// ({cmdId}), else to its end ({cmdId, exitCode, output, stdout, stderr};
// output is stdout then stderr).
func sessionExec(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	s, err := openSession(r, c, r.PathValue("session"))
	if err != nil {
		return err
	}
	var req struct {
		Command  string `json:"command"`
		RunAsync bool   `json:"runAsync"`
		Async    bool   `json:"async"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Command) == "" {
		return errdefs.InvalidField("command", "is required")
	}
	pid, err := s.shell()
	if err != nil {
		return err
	}
	id := newCommandID()
	dir := s.dir + "/cmds/" + id
	if err := s.write("cmds/"+id+"/command", req.Command+"\n"); err != nil {
		return err
	}
	if err := c.Client.WriteStdin(r.Context(), c.SandboxID(), pid, script(dir), false); err != nil {
		if errors.Is(err, errdefs.ErrConflict) || isNotFound(err) {
			return s.ended()
		}
		return err
	}
	if req.RunAsync || req.Async {
		compat.WriteJSON(w, http.StatusAccepted, map[string]any{"cmdId": id})
		return nil
	}
	// Wait in the sandbox for the exit file, or for the shell to die.
	none := 0
	res, err := c.Client.Exec(r.Context(), c.SandboxID(), api.ExecRequest{Command: []string{"sh", "-c",
		`while [ ! -e "$1/exit" ]; do kill -0 "$2" 2>/dev/null || exit 99; sleep 0.05; done`, "wait", dir, strconv.Itoa(pid)},
		TimeoutSeconds: &none})
	if err != nil {
		return err
	}
	if res.ExitCode == 99 {
		return s.ended()
	}
	logs, err := s.logs(id)
	if err != nil {
		return err
	}
	cmd, err := s.command(id)
	if err != nil {
		return err
	}
	logs["cmdId"] = id
	if cmd.ExitCode != nil {
		logs["exitCode"] = *cmd.ExitCode
	}
	compat.WriteJSON(w, http.StatusOK, logs)
	return nil
}

// logs reads a command's output so far.
func (s *session) logs(id string) (map[string]any, error) {
	stdout, err := s.read("cmds/" + id + "/stdout")
	if err != nil {
		return nil, err
	}
	stderr, err := s.read("cmds/" + id + "/stderr")
	if err != nil {
		return nil, err
	}
	return map[string]any{"output": stdout + stderr, "stdout": stdout, "stderr": stderr}, nil
}

func getSessionCommand(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	s, err := openSession(r, c, r.PathValue("session"))
	if err != nil {
		return err
	}
	cmd, err := s.command(r.PathValue("command"))
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, cmd)
	return nil
}

// sessionCommandLogs answers a command's output so far; following it
// (a WebSocket) is not served.
func sessionCommandLogs(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	if follow, _ := strconv.ParseBool(r.URL.Query().Get("follow")); follow {
		return notSupported("following command logs (a WebSocket) is not supported; poll without follow")
	}
	s, err := openSession(r, c, r.PathValue("session"))
	if err != nil {
		return err
	}
	if _, err := s.command(r.PathValue("command")); err != nil {
		return err
	}
	logs, err := s.logs(r.PathValue("command"))
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, logs)
	return nil
}
