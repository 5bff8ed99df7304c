package procscan

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestFindSplitsArgv checks that argv comes back whole (an empty argument
// kept, the trailing NUL not taken for one) and that entries that are not
// processes, kernel threads and a pid gone before its cmdline is read are
// skipped rather than failing the scan.
func TestFindSplitsArgv(t *testing.T) {
	proc := t.TempDir()
	write := func(name, cmdline string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(proc, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if cmdline != "-" {
			if err := os.WriteFile(filepath.Join(proc, name, "cmdline"), []byte(cmdline), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("10", "/bin/shim\x00-id\x00\x00last\x00")
	write("11", "")                // a kernel thread
	write("12", "-")               // exited: no cmdline left
	write("self", "/bin/shim\x00") // not a pid
	write("13", "/bin/other\x00")
	var offered [][]string
	got, err := find(proc, func(argv []string) bool {
		offered = append(offered, argv)
		return argv[0] == "/bin/shim"
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/bin/shim", "-id", "", "last"}
	if len(got) != 1 || got[0].PID != 10 || !slices.Equal(got[0].Argv, want) {
		t.Fatalf("find = %+v, want pid 10 with %q", got, want)
	}
	if len(offered) != 2 {
		t.Errorf("match was offered %q, want only pids 10 and 13", offered)
	}
}

// TestFindSeesChild checks Find against the real /proc: a child started
// with a marker argument is found by it, with its pid.
func TestFindSeesChild(t *testing.T) {
	marker := t.TempDir() // unique to this run
	script := "sleep 60; : " + marker
	cmd := exec.Command("sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	got, err := Find(func(argv []string) bool { return slices.Contains(argv, script) })
	if err != nil {
		t.Fatal(err)
	}
	// The shell's fork for sleep carries its cmdline until it execs, so
	// it may be found too.
	if !slices.ContainsFunc(got, func(p Proc) bool { return p.PID == cmd.Process.Pid }) {
		t.Fatalf("Find = %+v, want pid %d among them", got, cmd.Process.Pid)
	}
}
