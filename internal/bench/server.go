package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/mountinfo"
)

// ownServer is the `hutch serve` a bench starts for itself: a fresh data
// dir, a loopback port the kernel picks, a key made for the run, no config
// file and no HUTCH_* setting of the caller's environment, so that the
// bench neither reads nor touches the caller's own server.
type ownServer struct {
	cmd     *exec.Cmd
	dataDir string
	logPath string
	url     string
	key     string
	exited  chan struct{}

	mu     sync.Mutex
	traces map[string]createTrace // by sandbox ID, from the server's log
}

var servingRE = regexp.MustCompile(`msg="hutch serving" addr=(\S+)`)

// startServer runs binary serve with extra flags and waits until it
// answers; stop ends it and removes its data dir.
func startServer(ctx context.Context, binary string, extra []string, progress io.Writer) (*ownServer, error) {
	dir, err := os.MkdirTemp("", "hutch-bench-")
	if err != nil {
		return nil, err
	}
	// A sandbox's root is an unprivileged host uid that must traverse the
	// data dir to reach its files.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	s := &ownServer{dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "serve.log"),
		key: "hk_bench_" + hex.EncodeToString(key), exited: make(chan struct{}), traces: map[string]createTrace{}}
	if err := os.Mkdir(s.dataDir, 0o711); err != nil {
		return nil, err
	}
	// No rate limits: the bench measures the server, not its limiter.
	args := append([]string{"serve", "--config", os.DevNull, "--listen", "127.0.0.1:0", "--data-dir", s.dataDir,
		"--trace-creates", "--rate-limit-key", "0", "--rate-limit-org", "0"}, extra...)
	s.cmd = exec.Command(binary, args...)
	// The key travels in the environment, not on a command line others
	// can read in ps.
	s.cmd.Env = append(withoutHutchEnv(os.Environ()), "HUTCH_API_KEY="+s.key)
	// Its own process group: a Ctrl-C meant for the bench must leave the
	// server up until the bench has deleted its sandboxes. Should the
	// bench die, the server is told to shut down.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s serve: %w", binary, err)
	}
	fmt.Fprintf(progress, "bench: started hutch serve (pid %d, data dir %s, log %s)\n", s.cmd.Process.Pid, s.dataDir, s.logPath)
	addr := make(chan string, 1)
	go func() {
		defer close(s.exited)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := servingRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			if tr, ok := parseTrace(line); ok {
				s.mu.Lock()
				s.traces[tr.Sandbox] = tr
				s.mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = s.cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
		return s, nil
	case <-s.exited:
		err = fmt.Errorf("hutch serve exited before serving:\n%s", tail(s.logPath, 20))
	case <-time.After(3 * time.Minute):
		err = errors.New("hutch serve did not start serving within 3 minutes (log: " + s.logPath + ")")
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stop(false)
	return nil, err
}

// trace returns the create trace the server logged for sandbox id.
func (s *ownServer) trace(id string) (createTrace, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, ok := s.traces[id]
	return tr, ok
}

// rssBytes is the server's resident memory now.
func (s *ownServer) rssBytes() (int64, error) {
	return procRSS(s.cmd.Process.Pid)
}

// stop ends the server with SIGTERM (SIGKILL a minute later) and removes
// its data dir; with keepLog (something failed) its log is kept beside it
// for the details the API's errors point at. The caller deletes the
// sandboxes first.
func (s *ownServer) stop(keepLog bool) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if keepLog {
		kept := filepath.Join(os.TempDir(), fmt.Sprintf("hutch-bench-serve-%d.log", s.cmd.Process.Pid))
		if err := os.Rename(s.logPath, kept); err == nil {
			fmt.Fprintf(os.Stderr, "bench: some operations failed; the server's log is kept at %s\n", kept)
		}
	}
	if m := mountsUnder(s.dataDir); len(m) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s keeps %d mounts (first %s); left in place for a look\n", s.dataDir, len(m), m[0])
		return
	}
	os.RemoveAll(filepath.Dir(s.dataDir))
}

// mountsUnder lists the mount points at or below dir: a directory with
// one is not removed, lest the removal reach into what is mounted there.
func mountsUnder(dir string) []string {
	out, err := mountinfo.Under(dir)
	if err != nil {
		return []string{"(mountinfo unreadable)"}
	}
	return out
}

// withoutHutchEnv drops every HUTCH_* variable, which hutch serve would
// read as settings.
func withoutHutchEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HUTCH_") {
			out = append(out, kv)
		}
	}
	return out
}

// tail returns the last n lines of a file, for an error message.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
