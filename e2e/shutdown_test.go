package e2e

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/api"
)

// TestSIGTERMLetsRequestsFinish sends SIGTERM to the server while a
// streamed command is under way: the request runs to its end, the server
// then exits cleanly, and the sandbox survives for the next server.
func TestSIGTERMLetsRequestsFinish(t *testing.T) {
	s := startServer(t, "")
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)

	started := make(chan struct{})
	var once sync.Once
	var out strings.Builder
	done := make(chan error, 1)
	var res *api.ExecResult
	go func() {
		var err error
		res, err = s.c.ExecStream(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c",
			"echo started; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done"}},
			func(stream, data string) {
				out.WriteString(data)
				once.Do(func() { close(started) })
			})
		done <- err
	}()
	<-started
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The command can only end once the test lets it: the server, shutting
	// down, must keep serving the request in flight until then.
	if err := os.WriteFile(filepathInSandbox(t, sb.ID, "/tmp/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || res.ExitCode != 0 || out.String() != "started\ndone\n" {
		t.Fatalf("request in flight at SIGTERM: %v, %+v, %q", err, res, out.String())
	}
	<-s.exited
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("server exited with %d after SIGTERM", code)
	}
	s2 := startServer(t, s.dataDir)
	if got, err := s2.c.GetSandbox(ctx(t), sb.ID); err != nil || got.State != "running" {
		t.Fatalf("sandbox after a clean shutdown: %+v %v", got, err)
	}
}
