package oci

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestDialRunscAgentRefusesLinks: a gVisor sandbox owns the entries of
// its agent directory, so it could put a link to another host socket
// where the host dials its agent; the dial refuses anything but a socket.
func TestDialRunscAgentRefusesLinks(t *testing.T) {
	dir, err := os.MkdirTemp("", "hutch-runsc-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := paths{dir: dir}
	if err := os.Mkdir(p.runscAgentDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.sock")
	ln, err := net.Listen("unix", other)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()

	if err := os.Symlink(other, p.runscAgentSocket()); err != nil {
		t.Fatal(err)
	}
	if c, err := dialRunscAgent(ctx, p); err == nil {
		c.Close()
		t.Fatal("dialled another socket through a link at the agent's name")
	}
	os.Remove(p.runscAgentSocket())
	if err := os.Mkdir(p.runscAgentSocket(), 0o700); err != nil {
		t.Fatal(err)
	}
	if c, err := dialRunscAgent(ctx, p); err == nil {
		c.Close()
		t.Fatal("dialled a directory at the agent's name")
	}
	os.Remove(p.runscAgentSocket())

	agent, err := net.Listen("unix", p.runscAgentSocket())
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	c, err := dialRunscAgent(ctx, p)
	if err != nil {
		t.Fatalf("the agent's own socket: %v", err)
	}
	c.Close()
}
