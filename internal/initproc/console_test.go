package initproc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// logged returns the console's two files, oldest first, and their size.
func logged(t *testing.T, dir string) ([]byte, int64) {
	t.Helper()
	var all []byte
	var n int64
	for _, name := range []string{ConsoleFile + ".1", ConsoleFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
		n += int64(len(b))
	}
	return all, n
}

// TestConsoleKeepsWithinItsCap writes ten times the cap, in pipe-sized
// pieces and in one piece larger than the cap: the two files never hold
// more than the cap together, and the newest output is kept.
func TestConsoleKeepsWithinItsCap(t *testing.T) {
	dir := t.TempDir()
	c, err := newConsole(dir, MinConsoleBytes)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for range 10 * MinConsoleBytes / len(chunk) {
		if n, err := c.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("write = %d, %v", n, err)
		}
		if _, size := logged(t, dir); size > MinConsoleBytes {
			t.Fatalf("console holds %d bytes, cap %d", size, MinConsoleBytes)
		}
	}
	big := append(bytes.Repeat([]byte("y"), 3*MinConsoleBytes), []byte("the end\n")...)
	if n, _ := c.Write(big); n != len(big) {
		t.Fatalf("write of %d bytes reported %d", len(big), n)
	}
	all, size := logged(t, dir)
	if size > MinConsoleBytes || !bytes.HasSuffix(all, []byte("the end\n")) {
		t.Fatalf("after a large write: %d bytes, ending %q", size, all[max(len(all)-16, 0):])
	}
}

// TestConsoleDoesNotFollowTheSandbox: the sandbox owns the directory and
// may put a symlink or a fifo at the log's name. Neither is followed or
// blocks; the output is dropped instead.
func TestConsoleDoesNotFollowTheSandbox(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	target := filepath.Join(elsewhere, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, ConsoleFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := newConsole(dir, MinConsoleBytes); err == nil {
		t.Fatal("a console opened through a symlink")
	}
	os.Remove(filepath.Join(dir, ConsoleFile))
	c, err := newConsole(dir, MinConsoleBytes)
	if err != nil {
		t.Fatal(err)
	}
	// Swapped while init runs: the next rotation finds a fifo.
	os.Remove(filepath.Join(dir, ConsoleFile))
	if err := syscall.Mkfifo(filepath.Join(dir, ConsoleFile), 0o600); err != nil {
		t.Fatal(err)
	}
	c.f.Close()
	c.f = nil
	if n, err := c.Write([]byte("dropped\n")); n != 8 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Fatalf("the symlink's target got %q", b)
	}
}

// TestInitConsoleThroughPipe runs the real init binary with a console:
// the command's output reaches the log through init's pipe, capped, and
// the exit status is the log's last line.
func TestInitConsoleThroughPipe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hutchinit")
	build := exec.Command("go", "build", "-o", bin, "./testdata/hutchinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	dir := t.TempDir()
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "init", ConsoleDirFlag, dir, ConsoleMaxFlag, "262144", "--",
		"sh", "-c", "head -c 3000000 /dev/zero; echo last-out; echo last-err >&2; exit 3")
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("init = %v, want exit status 3", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("init's own stdout got %d bytes; the console should have them", stdout.Len())
	}
	all, size := logged(t, dir)
	if size > 262144 {
		t.Errorf("console holds %d bytes, cap 262144", size)
	}
	tail := string(all[max(len(all)-200, 0):])
	if !strings.Contains(tail, "last-out") || !strings.Contains(tail, "last-err") || !strings.HasSuffix(tail, ExitMarker+"3\n") {
		t.Errorf("console ends %q", tail)
	}
}
