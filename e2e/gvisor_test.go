package e2e

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// runscPath is where scripts/setup.sh builds gVisor's runsc, and the
// server's default --runsc.
const runscPath = "/var/cache/hutch/bin/runsc"

// TestGvisorSandbox creates a sandbox on the gvisor runtime through the
// real server and uses it as any other: exec, files, a terminal, a code
// context, the port proxy, pause and resume in memory and on disk; inside,
// it sees gVisor's kernel, not the host's.
func TestGvisorSandbox(t *testing.T) {
	if _, err := os.Stat(runscPath); err != nil {
		t.Skip("runsc is not built (scripts/setup.sh)")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "python.tar")); err != nil {
		t.Skip("python.tar is missing (run scripts/setup.sh)")
	}
	s := startServer(t, "")
	info, err := s.c.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range info.Runtimes {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "gvisor,oci" || info.DefaultRuntime != "oci" {
		t.Fatalf("runtimes %v, default %q", names, info.DefaultRuntime)
	}
	_, err = s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Runtime: "kata"})
	wantAPIError(t, "runtime kata", err, 400, api.CodeInvalidArgument)

	script, err := os.ReadFile("testdata/portserver.py")
	if err != nil {
		t.Fatal(err)
	}
	sb := create(t, s, api.CreateSandboxRequest{Image: "python", Runtime: "gvisor",
		Entrypoint: []string{"python3", "-c", string(script)}})
	if sb.Runtime != "gvisor" || sb.State != "running" {
		t.Fatalf("created %s on %q", sb.State, sb.Runtime)
	}

	// The port proxy reaches a server on the sandbox's loopback.
	var last reply
	if !poll.Wait(time.Minute, func() bool {
		last = call(t, s, "GET", portURL(s, sb.ID, 8000, "/up"), "", s.key, "")
		return last.status == 200
	}) {
		t.Fatalf("the port server through the proxy: %d %s", last.status, last.body)
	}

	// The kernel inside is gVisor's.
	host, _ := os.ReadFile("/proc/version")
	inside := sh(t, s, sb.ID, "cat /proc/version")
	if !strings.Contains(inside, "gvisor") || inside == string(host) {
		t.Errorf("/proc/version inside: %q (host %q)", inside, host)
	}

	// A terminal.
	term, err := s.c.OpenTerminal(ctx(t), sb.ID, client.TerminalOptions{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	var out screen
	exit := make(chan int, 1)
	go func() {
		code, _ := term.Run(&out)
		exit <- code
	}()
	if _, err := term.Write([]byte("echo $((6*7))x; tty; exit 3\n")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the terminal to answer", func() bool { return out.has("42x") && out.has("/dev/pts/") })
	if code := <-exit; code != 3 {
		t.Fatalf("terminal exit %d", code)
	}
	term.Close()

	// A code context keeps its variables.
	cc, err := s.c.CreateContext(ctx(t), sb.ID, api.CreateContextRequest{Language: "python", Cwd: "/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	for i, code := range []string{"x = 6 * 7", "print(x + 1)"} {
		res, err := s.c.RunCode(ctx(t), sb.ID, cc.ID, api.RunCodeRequest{Code: code})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && !strings.Contains(res.Stdout, "43") {
			t.Fatalf("context run: %+v", res)
		}
	}

	// Pause in memory, then on disk; the sandbox comes back each time.
	sh(t, s, sb.ID, "echo before the pause > /kept")
	for _, opt := range []client.CallOption{client.KeepMemory(), client.ReleaseMemory()} {
		p, err := s.c.Pause(ctx(t), sb.ID, opt)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != "paused" {
			t.Fatalf("after pause: %s (%s)", p.State, p.StateReason)
		}
		r, err := s.c.Resume(ctx(t), sb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != "running" {
			t.Fatalf("after resume: %s (%s)", r.State, r.StateReason)
		}
		if got := sh(t, s, sb.ID, "cat /kept"); got != "before the pause\n" {
			t.Fatalf("after resume: %q", got)
		}
		poll.Until(t, "the port server after resume", func() bool {
			return call(t, s, "GET", portURL(s, sb.ID, 8000, "/up"), "", s.key, "").status == 200
		})
	}

	// Files both ways (in /, the writable layer's own root).
	if _, err := s.c.Upload(ctx(t), sb.ID, "/hello.txt", strings.NewReader("from the host\n"), ""); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, s, sb.ID, "cat /hello.txt && echo made inside > /back.txt"); got != "from the host\n" {
		t.Fatalf("uploaded file reads %q", got)
	}
	rc, err := s.c.Download(ctx(t), sb.ID, "/back.txt")
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if string(back) != "made inside\n" {
		t.Fatalf("downloaded %q", back)
	}
}
