package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// buildWith builds the hutch binary with extra -ldflags -X settings of
// the agent protocol, beside the binary under test (a directory the
// sandboxes' uids can traverse: the binary is every sandbox's init and
// agent).
func buildWith(t *testing.T, name string, settings ...string) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(binary), name)
	var ldflags []string
	for _, s := range settings {
		ldflags = append(ldflags, "-X", "github.com/hutchdev/hutch/internal/agent/protocol."+s)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", strings.Join(ldflags, " "), "-o", out, "../cmd/hutch")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, b)
	}
	return out
}

// useBinary makes the next servers run bin (restored when the test ends).
func useBinary(t *testing.T, bin string) {
	prev := binary
	binary = bin
	t.Cleanup(func() { binary = prev })
}

// wantOutdated checks that err is the 503 AGENT_OUTDATED that names the
// agent's protocol and the remedy.
func wantOutdated(t *testing.T, what string, err error, agentProtocol string) {
	t.Helper()
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != 503 || ae.Code != api.CodeAgentOutdated ||
		!strings.Contains(ae.Message, "speaks protocol "+agentProtocol) || !strings.Contains(ae.Message, "restart the sandbox") {
		t.Fatalf("%s: %v, want 503 AGENT_OUTDATED naming protocol %s and the restart", what, err, agentProtocol)
	}
}

// TestAgentProtocolAcrossUpgrade runs sandboxes under an older build
// (protocol 1), then upgrades the server in place: a running sandbox
// keeps its agent binary (the old server's, bind-mounted at start), so
// the new server speaks protocol 1 to it, answers the calls protocol 1
// lacks with AGENT_OUTDATED, and a restart of the sandbox brings the new
// agent. A server that no longer speaks protocol 1 refuses the old agent
// at connect: the command does not run.
func TestAgentProtocolAcrossUpgrade(t *testing.T) {
	oldBin := buildWith(t, "hutch-protocol1", "version=1")
	strictBin := buildWith(t, "hutch-min2", "minVersion=2")
	newBin := binary

	useBinary(t, oldBin)
	s1 := startServer(t, "")
	a := agentSandbox(t, s1, "")
	b := agentSandbox(t, s1, "")
	if got := sh(t, s1, a.ID, "echo old"); got != "old\n" {
		t.Fatalf("exec under the old build: %q", got)
	}
	s1.crash() // the sandboxes keep running, as in an upgrade

	binary = newBin
	s2 := startServer(t, s1.dataDir)
	if got := sh(t, s2, a.ID, "echo spoken to"); got != "spoken to\n" {
		t.Fatalf("exec on an old agent after the upgrade: %q", got)
	}
	_, err := s2.c.DownloadArchive(ctx(t), a.ID, "/etc", "")
	wantOutdated(t, "archive on an old agent", err, "1")
	_, errOut, code := hutchCLI(t, s2, "", "cp", a.ID+":/etc", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "AGENT_OUTDATED") || !strings.Contains(errOut, "restart the sandbox") {
		t.Fatalf("hutch cp of a directory from an old agent: %d %q", code, errOut)
	}
	// One file still copies both ways: hutch cp falls back to the file
	// routes protocol 1 has.
	one := filepath.Join(t.TempDir(), "one")
	if _, errOut, code := hutchCLI(t, s2, "", "cp", a.ID+":/etc/hostname", one); code != 0 {
		t.Fatalf("hutch cp of a file from an old agent: %d %q", code, errOut)
	}
	if _, errOut, code := hutchCLI(t, s2, "", "cp", one, a.ID+":/tmp/one"); code != 0 {
		t.Fatalf("hutch cp of a file to an old agent: %d %q", code, errOut)
	}
	if want, _ := os.ReadFile(one); sh(t, s2, a.ID, "cat /tmp/one") != string(want) || len(want) == 0 {
		t.Fatalf("the file did not make the round trip: %q", want)
	}
	if _, err := s2.c.Stop(ctx(t), a.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.c.Start(ctx(t), a.ID); err != nil {
		t.Fatal(err)
	}
	rc, err := s2.c.DownloadArchive(ctx(t), a.ID, "/etc/hostname", "")
	if err != nil {
		t.Fatalf("archive after the restart: %v", err)
	}
	rc.Close()
	s2.crash()

	// A server whose minimum is protocol 2: sandbox b still runs the
	// protocol 1 agent, and nothing reaches it.
	binary = strictBin
	s3 := startServer(t, s1.dataDir)
	_, err = s3.c.Exec(ctx(t), b.ID, api.ExecRequest{Command: []string{"touch", "/ran"}})
	wantOutdated(t, "exec on an agent below the minimum", err, "1")
	if _, err := s3.c.Stop(ctx(t), b.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.c.Start(ctx(t), b.ID); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, s3, b.ID, "test -e /ran && echo ran || echo refused"); got != "refused\n" {
		t.Fatalf("the refused command: %q", got)
	}
}
