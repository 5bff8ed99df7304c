package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hutchCLI runs the hutch binary against s and returns stdout, stderr and
// the exit code.
func hutchCLI(t *testing.T, s *server, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--url", s.url, "--api-key", s.key}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := startOwned(cmd)
	if err == nil {
		err = waitOwned(cmd)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestAgentCLI(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")

	out, errOut, code := hutchCLI(t, s, "", "exec", "-w", "/tmp", "-e", "A=b", sb.ID, "--", "sh", "-c", `echo "$A $(pwd)"; echo e >&2; exit 5`)
	if out != "b /tmp\n" || errOut != "e\n" || code != 5 {
		t.Fatalf("exec: %q %q %d", out, errOut, code)
	}
	if out, _, code := hutchCLI(t, s, "piped", "exec", "-i", sb.ID, "--", "cat"); out != "piped" || code != 0 {
		t.Fatalf("exec -i: %q %d", out, code)
	}

	dir := t.TempDir()
	local := filepath.Join(dir, "in.sh")
	if err := os.WriteFile(local, []byte("echo copied\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := hutchCLI(t, s, "", "cp", local, sb.ID+":/opt/in.sh"); code != 0 {
		t.Fatalf("cp up: %s", errOut)
	}
	if got := sh(t, s, sb.ID, "/opt/in.sh"); got != "copied\n" {
		t.Fatalf("the uploaded script (mode kept) printed %q", got)
	}
	back := filepath.Join(dir, "back.sh")
	if _, errOut, code := hutchCLI(t, s, "", "cp", sb.ID+":/opt/in.sh", back); code != 0 {
		t.Fatalf("cp down: %s", errOut)
	}
	if b, _ := os.ReadFile(back); string(b) != "echo copied\n" {
		t.Fatalf("downloaded %q", b)
	}
	if _, errOut, code := hutchCLI(t, s, "", "cp", sb.ID+":/nope", back); code != 1 || !strings.Contains(errOut, "FILE_NOT_FOUND") {
		t.Fatalf("cp of a missing file: %d %q", code, errOut)
	}

	// exec -d starts a background process and prints its id for logs.
	out, errOut, code = hutchCLI(t, s, "", "exec", "-d", sb.ID, "--", "sh", "-c", "echo one; echo two >&2")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || code != 0 {
		t.Fatalf("exec -d: %q %q %d", out, errOut, code)
	}
	out, errOut, code = hutchCLI(t, s, "", "logs", "-f", sb.ID, strconv.Itoa(pid))
	if out != "one\n" || errOut != "two\n" || code != 0 {
		t.Fatalf("logs -f: %q %q %d", out, errOut, code)
	}

	// Without a terminal, the shell reads its commands from stdin.
	out, _, code = hutchCLI(t, s, "echo $((40+2))\nexit 4\n", "shell", sb.ID)
	if !strings.Contains(out, "42") || code != 4 {
		t.Fatalf("shell: %q %d", out, code)
	}
}
