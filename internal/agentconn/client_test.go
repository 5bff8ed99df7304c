package agentconn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/agent"
)

// TestTypedClientReachesTheAgent runs the real agent on a unix socket and
// drives it through the pool's typed client, as a compat layer does: a
// command's output and exit code, a file written and read back, a
// streamed command, and the agent's own error for a missing file.
func TestTypedClientReachesTheAgent(t *testing.T) {
	sock := shortSocket(t)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: agent.NewServer(nil)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p := NewPool()
	t.Cleanup(func() { p.Forget("sb1") })
	c := p.Client(unixTarget{id: "sb1", sock: sock})
	ctx := context.Background()

	res, err := c.Exec(ctx, "sb1", api.ExecRequest{Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Fatalf("exec = %+v", res)
	}

	path := filepath.Join(t.TempDir(), "note.txt")
	if _, err := c.Upload(ctx, "sb1", path, strings.NewReader("kept"), ""); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Download(ctx, "sb1", path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "kept" {
		t.Fatalf("read back %q", b)
	}

	streams := map[string]string{}
	streamed, err := c.ExecStream(ctx, "sb1", api.ExecRequest{Command: []string{"sh", "-c", "echo a; echo b >&2; echo c"}},
		func(stream, data string) { streams[stream] += data })
	if err != nil {
		t.Fatal(err)
	}
	// How the output is cut into events depends on timing; what each
	// stream carries does not.
	if streamed.ExitCode != 0 || streams["stdout"] != "a\nc\n" || streams["stderr"] != "b\n" {
		t.Fatalf("stream = %+v %q", streamed, streams)
	}

	_, err = c.StatFile(ctx, "sb1", filepath.Join(t.TempDir(), "missing"))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != api.CodeFileNotFound || ce.Status != http.StatusNotFound {
		t.Fatalf("stat of a missing file: %v", err)
	}
}

// shortSocket is a unix socket path short enough for sun_path (108
// bytes) wherever TMPDIR or the test's name would make t.TempDir long.
func shortSocket(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ac")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "agent.sock")
}
