package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// keptExited is how many ended processes stay listed with their logs.
const keptExited = 64

// processTable holds the background processes started through the API.
// They belong to the agent, not to the request that started them, so
// they outlive it.
type processTable struct {
	mu    sync.Mutex
	procs map[int]*process
}

func newProcessTable() *processTable { return &processTable{procs: map[int]*process{}} }

// process is one background command with its output log.
type process struct {
	pid     int
	argv    []string
	cwd     string
	started time.Time
	log     *logBuf
	stdin   io.WriteCloser
	done    chan struct{}

	stdinMu  sync.Mutex // serialises writes; a full pipe blocks only them
	stdinOff bool

	mu    sync.Mutex // guards the fields below
	exit  *int
	ended *time.Time
}

func (s *Server) startProcess(w http.ResponseWriter, r *http.Request) {
	var req api.ExecRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	timeout, err := timeoutOf(req.TimeoutSeconds, 0)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), timeout)
	}
	cmd, err := command(ctx, &req)
	if err != nil {
		cancel()
		writeError(w, r, err)
		return
	}
	p := &process{argv: req.Command, cwd: cmd.Dir, started: time.Now().UTC(), log: newLogBuf(logCap), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log.writer("stdout"), p.log.writer("stderr")
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		cancel()
		writeError(w, r, err)
		return
	}
	if err := startUser(cmd); err != nil {
		cancel()
		writeError(w, r, fmt.Errorf("start %s: %w", req.Command[0], err))
		return
	}
	p.pid = cmd.Process.Pid
	if p.cwd == "" {
		p.cwd = workdir()
	}
	if req.Stdin != "" {
		go func() { _, _ = io.WriteString(p.stdin, req.Stdin) }()
	}
	s.procs.add(p)
	go func() {
		defer cancel()
		err := cmd.Wait()
		code := exitCode(cmd, err)
		now := time.Now().UTC()
		p.mu.Lock()
		p.exit, p.ended = &code, &now
		p.mu.Unlock()
		p.log.close()
		close(p.done)
	}()
	writeJSON(w, http.StatusCreated, p.info())
}

func (p *process) info() api.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := api.Process{PID: p.pid, Command: p.argv, Cwd: p.cwd, State: "running", ExitCode: p.exit,
		StartedAt: p.started, EndedAt: p.ended}
	if p.exit != nil {
		out.State = "exited"
	}
	return out
}

func (t *processTable) add(p *process) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.procs[p.pid] = p
	var exited []*process
	for _, q := range t.procs {
		if q.info().State == "exited" {
			exited = append(exited, q)
		}
	}
	if len(exited) > keptExited {
		sort.Slice(exited, func(i, j int) bool { return exited[i].started.Before(exited[j].started) })
		for _, q := range exited[:len(exited)-keptExited] {
			delete(t.procs, q.pid)
		}
	}
}

// lookup finds the process named by the request's {pid}.
func (t *processTable) lookup(r *http.Request) (*process, error) {
	raw := r.PathValue("pid")
	pid, err := strconv.Atoi(raw)
	if err != nil || pid <= 0 {
		return nil, errdefs.InvalidField("pid", "must be a positive integer, got %q", raw)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		return nil, notFound(api.CodeProcessNotFound, "no process %d was started through the API", pid)
	}
	return p, nil
}

func (t *processTable) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.procs {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

func (s *Server) listProcesses(w http.ResponseWriter, r *http.Request) {
	s.procs.mu.Lock()
	out := api.ProcessList{Items: make([]api.Process, 0, len(s.procs.procs))}
	for _, p := range s.procs.procs {
		out.Items = append(out.Items, p.info())
	}
	s.procs.mu.Unlock()
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].StartedAt.Before(out.Items[j].StartedAt) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getProcess(w http.ResponseWriter, r *http.Request) {
	p, err := s.procs.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p.info())
}

// processLogs sends the process's output so far as server-sent events;
// with follow=true it goes on until the process ends, then sends exit.
func (s *Server) processLogs(w http.ResponseWriter, r *http.Request) {
	p, err := s.procs.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	follow := false
	if v := r.URL.Query().Get("follow"); v != "" {
		if follow, err = strconv.ParseBool(v); err != nil {
			writeError(w, r, errdefs.InvalidField("follow", "must be true or false, got %q", v))
			return
		}
	}
	ev := newSSE(w)
	next := 0
	for {
		chunks, after, wait, closed := p.log.since(next)
		for _, c := range chunks {
			if err := ev.send(c.stream, api.OutputChunk{Data: string(c.data)}); err != nil {
				return
			}
		}
		next = after
		if closed {
			_ = ev.send("exit", p.info())
			return
		}
		if !follow {
			return
		}
		select {
		case <-wait:
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) signalProcess(w http.ResponseWriter, r *http.Request) {
	p, err := s.procs.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req api.SignalRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	sig, err := parseSignal(req.Signal)
	if err != nil {
		writeError(w, r, err)
		return
	}
	select {
	case <-p.done:
		writeError(w, r, fmt.Errorf("process %d has exited: %w", p.pid, errdefs.ErrConflict))
		return
	default:
	}
	if err := syscall.Kill(-p.pid, sig); err != nil {
		writeError(w, r, fmt.Errorf("signal process %d: %w", p.pid, err))
		return
	}
	writeJSON(w, http.StatusOK, p.info())
}

// parseSignal accepts SIGTERM, TERM or 15.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errdefs.InvalidField("signal", "unknown signal %q (use a name such as SIGTERM or a number)", s)
}

func (s *Server) processStdin(w http.ResponseWriter, r *http.Request) {
	p, err := s.procs.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req api.StdinRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	select {
	case <-p.done:
		p.stdinOff = true
	default:
	}
	if p.stdinOff {
		writeError(w, r, fmt.Errorf("the stdin of process %d is closed: %w", p.pid, errdefs.ErrConflict))
		return
	}
	if req.Data != "" {
		if _, err := io.WriteString(p.stdin, req.Data); err != nil {
			writeError(w, r, fmt.Errorf("write to process %d: %v: %w", p.pid, err, errdefs.ErrConflict))
			return
		}
	}
	if req.Close {
		p.stdinOff = true
		_ = p.stdin.Close()
	}
	w.WriteHeader(http.StatusNoContent)
}
