package agent

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// The drivers are passed on the interpreter's command line (-c / -e), so
// that nothing in the sandbox's filesystem can be edited under them.
var (
	//go:embed drivers/python.py
	pythonDriver string
	//go:embed drivers/javascript.js
	javascriptDriver string
)

// Limits of code contexts.
const (
	DefaultRunTimeout = 300
	maxContexts       = 32
	// interruptGrace is how long an interrupted run may take to answer
	// before its interpreter is killed and the context ended.
	interruptGrace = 3 * time.Second
)

// languages maps a context language to its interpreter and driver.
var languages = map[string]struct{ bin, flag, driver string }{
	"python":     {"python3", "-c", pythonDriver},
	"javascript": {"node", "-e", javascriptDriver},
}

// contextTable holds the sandbox's persistent interpreters.
type contextTable struct {
	mu   sync.Mutex
	ctxs map[string]*codeContext
}

func newContextTable() *contextTable { return &contextTable{ctxs: map[string]*codeContext{}} }

// codeContext is one interpreter, driven one run at a time over two pipes.
type codeContext struct {
	info api.CodeContext
	cmd  *exec.Cmd
	run  sync.Mutex // one run at a time
	req  *os.File
	resp *bufio.Reader
	dead chan struct{}
}

func (s *Server) createContext(w http.ResponseWriter, r *http.Request) {
	var req api.CreateContextRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	lang, ok := languages[req.Language]
	if !ok {
		writeError(w, r, errdefs.InvalidField("language", "must be python or javascript, got %q", req.Language))
		return
	}
	env, err := mergeEnv(os.Environ(), req.Env)
	if err != nil {
		writeError(w, r, err)
		return
	}
	env = append(env, "MPLBACKEND=Agg", "PYTHONUNBUFFERED=1")
	bin, err := lookPath(lang.bin, env)
	if err != nil {
		writeError(w, r, errdefs.InvalidField("language", "%s needs %s, which this sandbox's image does not have", req.Language, lang.bin))
		return
	}
	c := &codeContext{info: api.CodeContext{ID: "ctx_" + randomHex(8), Language: req.Language, Cwd: workdir(),
		CreatedAt: time.Now().UTC()}, dead: make(chan struct{})}
	c.cmd = exec.Command(bin, lang.flag, lang.driver)
	c.cmd.Env = env
	if req.Cwd != "" {
		if c.info.Cwd, err = resolve("cwd", req.Cwd); err != nil {
			writeError(w, r, err)
			return
		}
		c.cmd.Dir = c.info.Cwd
	}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.ctxs.start(c); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c.info)
}

// start runs c's interpreter with the request pipe on fd 3 and the answer
// pipe on fd 4, and registers it.
func (t *contextTable) start(c *codeContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ctxs) >= maxContexts {
		return fmt.Errorf("a sandbox may have %d code contexts; delete one first: %w", maxContexts, errdefs.ErrConflict)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return err
	}
	c.cmd.ExtraFiles = []*os.File{reqR, respW}
	err = startUser(c.cmd)
	reqR.Close()
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		return fmt.Errorf("start %s: %w", c.info.Language, err)
	}
	c.req, c.resp = reqW, bufio.NewReaderSize(respR, 1<<20)
	go func() {
		_ = c.cmd.Wait()
		close(c.dead)
		respR.Close()
	}()
	t.ctxs[c.info.ID] = c
	return nil
}

func (t *contextTable) lookup(r *http.Request) (*codeContext, error) {
	id := r.PathValue("ctx")
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.ctxs[id]; c != nil {
		return c, nil
	}
	return nil, notFound(api.CodeContextNotFound, "no code context %q", id)
}

// end kills c's interpreter and forgets it.
func (t *contextTable) end(c *codeContext) {
	t.mu.Lock()
	delete(t.ctxs, c.info.ID)
	t.mu.Unlock()
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	c.req.Close()
}

func (t *contextTable) closeAll() {
	t.mu.Lock()
	all := make([]*codeContext, 0, len(t.ctxs))
	for _, c := range t.ctxs {
		all = append(all, c)
	}
	t.mu.Unlock()
	for _, c := range all {
		t.end(c)
	}
}

func (s *Server) listContexts(w http.ResponseWriter, r *http.Request) {
	s.ctxs.mu.Lock()
	out := api.CodeContextList{Items: make([]api.CodeContext, 0, len(s.ctxs.ctxs))}
	for _, c := range s.ctxs.ctxs {
		out.Items = append(out.Items, c.info)
	}
	s.ctxs.mu.Unlock()
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].CreatedAt.Before(out.Items[j].CreatedAt) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteContext(w http.ResponseWriter, r *http.Request) {
	c, err := s.ctxs.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.ctxs.end(c)
	w.WriteHeader(http.StatusNoContent)
}

// runCode sends code to the context's interpreter and waits for its
// answer. At the timeout the interpreter is interrupted (SIGINT: Python
// raises KeyboardInterrupt and the context lives on); one that does not
// answer even then is killed and the context ended.
func (s *Server) runCode(w http.ResponseWriter, r *http.Request) {
	c, err := s.ctxs.lookup(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req api.RunCodeRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	timeout, err := timeoutOf(req.TimeoutSeconds, DefaultRunTimeout)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c.run.Lock()
	defer c.run.Unlock()
	start := time.Now()
	line, _ := json.Marshal(map[string]string{"code": req.Code})
	if _, err := c.req.Write(append(line, '\n')); err != nil {
		s.ctxs.end(c)
		writeError(w, r, fmt.Errorf("the %s interpreter of context %s has ended: %w", c.info.Language, c.info.ID, errdefs.ErrConflict))
		return
	}
	answer := make(chan []byte, 1)
	go func() {
		b, _ := c.resp.ReadBytes('\n')
		answer <- b
	}()
	var timer <-chan time.Time
	if timeout > 0 {
		timer = time.After(timeout)
	}
	var b []byte
	select {
	case b = <-answer:
	case <-r.Context().Done():
		// The caller left: interrupt the run so the next one starts clean.
		b = s.interrupt(c, answer)
	case <-timer:
		b = s.interrupt(c, answer)
	}
	var res api.RunCodeResult
	if len(b) == 0 || json.Unmarshal(b, &res) != nil {
		s.ctxs.end(c)
		writeError(w, r, fmt.Errorf("the %s interpreter of context %s died during the run; the context is ended: %w", c.info.Language, c.info.ID, errdefs.ErrConflict))
		return
	}
	if res.Outputs == nil {
		res.Outputs = []map[string]string{}
	}
	res.DurationMs = time.Since(start).Milliseconds()
	writeJSON(w, http.StatusOK, res)
}

// interrupt sends SIGINT to a running interpreter and waits a little for
// its answer; without one the context is ended.
func (s *Server) interrupt(c *codeContext, answer chan []byte) []byte {
	_ = syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	select {
	case b := <-answer:
		return b
	case <-time.After(interruptGrace):
		s.ctxs.end(c)
		return <-answer // the killed interpreter's pipe ends the read
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
