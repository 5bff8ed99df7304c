// Package e2e drives the real hutch binary: a `hutch serve` process on a
// loopback port, real sandboxes from the offline base image, and checks
// made on the host (processes, mounts, cgroups), as a user would see them.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// baseTar is where scripts/setup.sh leaves the offline base image.
const baseTar = "/var/cache/hutch/images/base.tar"

var (
	binary string // the hutch binary under test, built once
	// live is the server a test's cleanups talk to: the latest one
	// started, so that sandboxes made before a crash are still deleted.
	live *server
	// serverPIDs are the hutch serve processes, whose exit status
	// exec.Cmd waits for.
	serverPIDs sync.Map
	// tracked are the sandboxes the running test made; the live server
	// deletes them before it stops.
	tracked []string
	// images is one image cache that every test's server links to, so
	// that the base image is imported once per run, not once per test.
	images string
)

func TestMain(m *testing.M) {
	if why := unsupported(); why != "" {
		fmt.Println("e2e: skipped:", why)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "hutch-e2e-bin-")
	if err != nil {
		panic(err)
	}
	// Root inside a sandbox is an unprivileged host uid that must reach
	// the init binary, so the directory must be traversable.
	os.Chmod(dir, 0o755)
	binary = filepath.Join(dir, "hutch")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "../cmd/hutch")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Printf("e2e: build hutch: %v\n%s", err, out)
		os.Exit(1)
	}
	images = filepath.Join(dir, "images")
	if err := os.Mkdir(images, 0o711); err != nil {
		panic(err)
	}
	adoptOrphans(isServer)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func unsupported() string {
	if os.Geteuid() != 0 {
		return "needs root"
	}
	if _, err := exec.LookPath("crun"); err != nil {
		return "crun is not installed (run scripts/setup.sh)"
	}
	if _, err := os.Stat(baseTar); err != nil {
		return baseTar + " is missing (run scripts/setup.sh)"
	}
	return ""
}

// server is one `hutch serve` process.
type server struct {
	t       testing.TB
	cmd     *exec.Cmd
	dataDir string
	extra   []string // flags beyond the defaults, kept for a relaunch
	logPath string
	url     string
	key     string
	c       *client.Client
	exited  chan struct{}
}

var servingRE = regexp.MustCompile(`msg="hutch serving" addr=(\S+)`)

// startServer runs hutch serve on dataDir (a fresh one when empty) with
// any extra flags and waits until it answers.
func startServer(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	if dataDir == "" {
		// Not t.TempDir: its parent is 0700, and a sandbox's root (an
		// unprivileged host uid) must traverse every parent of its files.
		var err error
		if dataDir, err = os.MkdirTemp("", "hutch-e2e-data-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dataDir) })
		os.Chmod(dataDir, 0o711)
		// Every offline image setup.sh built; the shared image cache
		// imports each once per run, whichever test asks first.
		seeds := filepath.Join(dataDir, "seeds")
		os.Mkdir(seeds, 0o755)
		for _, name := range []string{"base", "python", "node"} {
			tar := filepath.Join(filepath.Dir(baseTar), name+".tar")
			if _, err := os.Stat(tar); err != nil {
				continue
			}
			if err := os.Symlink(tar, filepath.Join(seeds, name+".tar")); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(images, filepath.Join(dataDir, "images")); err != nil {
			t.Fatal(err)
		}
	}
	s := launch(t, dataDir, extra...)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	live = s
	return s
}

// launch starts hutch serve on dataDir and waits until it answers.
func launch(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	// No warm pool unless a test asks (TestWarmPool): two sandboxes
	// booting behind every test's back would load the machine and show
	// in the host checks of tests about other things.
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--seed-images", filepath.Join(dataDir, "seeds"), "--stop-grace", "2s", "--api-key", "hk_e2e-test-key",
		"--pool-size", "0"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "serve.log")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serverPIDs.Store(cmd.Process.Pid, true)
	s := &server{t: t, cmd: cmd, dataDir: dataDir, extra: extra, logPath: logPath, key: "hk_e2e-test-key", exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		logf, _ := os.Create(logPath)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		cmd.Wait()
		close(s.exited)
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.exited:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("hutch serve exited before serving:\n%s", b)
	case <-time.After(2 * time.Minute):
		t.Fatal("hutch serve did not start")
	}
	if s.c, err = client.New(s.url, s.key); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop deletes the test's sandboxes, then ends the server with SIGTERM
// and waits for it.
func (s *server) stop() {
	if !s.answering() {
		// Dead or shutting down (a crash test, a failed one): make sure
		// it is gone, then let a server on the same data dir delete what
		// the test made, so the host is left clean all the same.
		s.cmd.Process.Kill()
		<-s.exited
		if s == live && len(tracked) > 0 {
			launch(s.t, s.dataDir, s.extra...).stop()
		}
		return
	}
	for _, id := range tracked {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := s.c.DeleteSandbox(c, id); err != nil {
			s.t.Errorf("delete %s: %v", id, err)
		}
		cancel()
		waitGone(s.t, id)
	}
	tracked = nil
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Error("server ignored SIGTERM for a minute")
	}
}

// answering reports whether the server still serves requests.
func (s *server) answering() bool {
	select {
	case <-s.exited:
		return false
	default:
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.c.Health(c) == nil
}

func isServer(pid int) bool {
	_, ok := serverPIDs.Load(pid)
	return ok
}

// waitGone fails the test unless nothing of sandbox id is left on the host
// once teardown (and the reaping of its processes) has had time to finish.
func waitGone(t testing.TB, id string) {
	t.Helper()
	var left []string
	if poll.Wait(20*time.Second, func() bool { left = ocitest.Leftovers(id); return len(left) == 0 }) {
		return
	}
	for _, l := range left {
		t.Errorf("sandbox %s left behind: %s", id, l)
	}
}

// crash ends the server with SIGKILL, as a power cut or an OOM kill would.
func (s *server) crash() {
	s.cmd.Process.Kill()
	<-s.exited
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// initPID finds the host pid of a sandbox's PID 1: the process in the
// sandbox's cgroup whose parent is outside it.
func initPID(t *testing.T, id string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	inside := map[int]bool{}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), id) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		inside[pid] = true
	}
	for pid := range inside {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		var ppid int
		fmt.Sscanf(f[1], "%d", &ppid)
		if !inside[ppid] {
			return pid
		}
	}
	return 0
}
