package e2e

import (
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// TestAgentAcrossRestarts checks that the agent is reachable after the
// server was killed and started again (the socket belongs to the sandbox,
// not to the server), and after a stop and start of the sandbox (a fresh
// socket), with a background process's state kept across the first.
func TestAgentAcrossRestarts(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")
	p, err := s.c.StartProcess(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sleep", "600"}})
	if err != nil {
		t.Fatal(err)
	}
	s.crash()
	s2 := startServer(t, s.dataDir)
	if got := sh(t, s2, sb.ID, "echo after crash"); got != "after crash\n" {
		t.Fatalf("exec after a server crash: %q", got)
	}
	if got, err := s2.c.GetProcess(ctx(t), sb.ID, p.PID); err != nil || got.State != "running" {
		t.Fatalf("process after a server crash: %v %+v", err, got)
	}
	if _, err := s2.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.c.Start(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, s2, sb.ID, "echo after start"); got != "after start\n" {
		t.Fatalf("exec after stop and start: %q", got)
	}
}
