package agent

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// Limits of a command run to its end.
const (
	// MaxOutput caps what a command's stdout and stderr together bring
	// back; the rest is read and dropped, and the result says truncated.
	MaxOutput = 10 << 20
	// DefaultExecTimeout applies when a request names none, so that a
	// forgotten `sleep infinity` cannot hold a request open for ever.
	DefaultExecTimeout = 60
	// maxTimeout is a day; longer work belongs in a background process.
	maxTimeout = 86400
	// pipeGrace is how long a command's output is still read after it
	// exited, when something it left behind holds the pipes open.
	pipeGrace = 2 * time.Second
)

// exec runs a command to its end (JSON answer) or streams its output as
// server-sent events when the caller accepts text/event-stream.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req api.ExecRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	timeout, err := timeoutOf(req.TimeoutSeconds, DefaultExecTimeout)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := r.Context(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	cmd, err := command(ctx, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Stdin != "" {
		cmd.Stdin = strings.NewReader(req.Stdin)
	}
	start := time.Now()
	if wantsSSE(r) {
		ev := newSSE(w)
		out, errw := &streamWriter{s: ev, event: "stdout"}, &streamWriter{s: ev, event: "stderr"}
		cmd.Stdout, cmd.Stderr = out, errw
		res := run(ctx, cmd, start)
		out.flush()
		errw.flush()
		_ = ev.send("exit", res)
		return
	}
	buf := &capped{limit: MaxOutput}
	cmd.Stdout, cmd.Stderr = buf.writer(&buf.stdout), buf.writer(&buf.stderr)
	res := run(ctx, cmd, start)
	res.Stdout, res.Stderr, res.Truncated = buf.stdout.String(), buf.stderr.String(), buf.truncated
	writeJSON(w, http.StatusOK, res)
}

// run runs cmd and reports how it ended.
func run(ctx context.Context, cmd *exec.Cmd, start time.Time) api.ExecResult {
	err := startUser(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	res := api.ExecResult{ExitCode: exitCode(cmd, err), DurationMs: time.Since(start).Milliseconds()}
	res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	return res
}

// exitCode folds how a command ended into a shell-style code: 128+signal
// when it was killed, 127 when it could not start.
func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		if err != nil {
			return 127
		}
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// timeoutOf validates a timeoutSeconds field; nil takes def, 0 is none.
func timeoutOf(secs *int, def int) (time.Duration, error) {
	n := def
	if secs != nil {
		n = *secs
	}
	if n < 0 || n > maxTimeout {
		return 0, errdefs.InvalidField("timeoutSeconds", "must be from 0 (none) to %d, got %d", maxTimeout, n)
	}
	return time.Duration(n) * time.Second, nil
}

// command validates req and builds its process: its own process group
// (so that a timeout or a signal reaches everything it started), killed
// with that group when ctx ends.
func command(ctx context.Context, req *api.ExecRequest) (*exec.Cmd, error) {
	if len(req.Command) == 0 || req.Command[0] == "" {
		return nil, errdefs.InvalidField("command", "must name a program, e.g. [\"sh\", \"-c\", \"echo hi\"]")
	}
	env, err := mergeEnv(os.Environ(), req.Env)
	if err != nil {
		return nil, err
	}
	prog, err := lookPath(req.Command[0], env)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, prog, req.Command[1:]...)
	cmd.Args[0] = req.Command[0]
	cmd.Env = env
	if req.Cwd != "" {
		dir, err := resolve("cwd", req.Cwd)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, errdefs.InvalidField("cwd", "%q is not a directory in the sandbox", req.Cwd)
		}
		cmd.Dir = dir
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if req.User != "" {
		if attr.Credential, err = credential(req.User); err != nil {
			return nil, err
		}
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = pipeGrace
	return cmd, nil
}

// mergeEnv lays the request's variables over the agent's own.
func mergeEnv(base []string, extra map[string]string) ([]string, error) {
	if len(extra) == 0 {
		return base, nil
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := extra[k]; !over {
			out = append(out, kv)
		}
	}
	for k, v := range extra {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, errdefs.InvalidField("env", "%q is not a valid variable name", k)
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// lookPath finds name in the PATH of env (the command's, not the agent's).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", errdefs.InvalidField("command", "%q is not an executable file in the sandbox", name)
		}
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errdefs.InvalidField("command", "%q was not found in PATH (%s)", name, path)
}

// credential resolves a user name or uid in the sandbox's /etc/passwd.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			if uid, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
				return &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}, nil
			}
			return nil, errdefs.InvalidField("user", "no user %q in the sandbox", name)
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// capped keeps the first limit bytes of stdout and stderr together.
type capped struct {
	mu             sync.Mutex
	limit          int
	stdout, stderr bytes.Buffer
	truncated      bool
}

type cappedWriter struct {
	c   *capped
	buf *bytes.Buffer
}

func (c *capped) writer(buf *bytes.Buffer) cappedWriter { return cappedWriter{c, buf} }

func (w cappedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	room := w.c.limit - w.c.stdout.Len() - w.c.stderr.Len()
	if len(p) > room {
		w.c.truncated = true
		w.buf.Write(p[:max(room, 0)])
		return len(p), nil // keep reading so that the command is not blocked
	}
	w.buf.Write(p)
	return len(p), nil
}
