package oci

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDumpRetryReasons: the two dump failures the driver retries are
// told apart by CRIU's log, and any other failure is neither.
func TestDumpRetryReasons(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		log             string
		inFlight, stuck bool
	}{
		{"Error (criu/sk-inet.c:188): inet: Connected TCP socket, closed in-flight socket", true, false},
		{"Error (compel/src/lib/infect.c:262): Unseizable non-zombie 30962 found, state D, err -1/4", false, true},
		{"Error (criu/cr-dump.c:1975): Dumping FAILED.", false, false},
	} {
		path := filepath.Join(dir, "dump.log")
		if err := os.WriteFile(path, []byte(c.log), 0o600); err != nil {
			t.Fatal(err)
		}
		if inFlight(path) != c.inFlight || stuckTask(path) != c.stuck {
			t.Errorf("%q: in flight %v, stuck %v; want %v, %v", c.log, inFlight(path), stuckTask(path), c.inFlight, c.stuck)
		}
	}
	if stuckTask(filepath.Join(dir, "absent.log")) {
		t.Error("a missing log reads as a stuck task")
	}
}

// TestVforkWait: a task waiting for its vfork child is told by its wchan,
// whether the kernel shows the wait itself or kernel_clone it is
// inlined in; a frozen task, a futex wait or a task gone (empty) is not.
func TestVforkWait(t *testing.T) {
	for wchan, want := range map[string]bool{
		"wait_for_vfork_done": true, "kernel_clone\n": true,
		"__refrigerator": false, "futex_do_wait": false, "ptrace_stop": false, "": false, "0": false,
	} {
		if vforkWait(wchan) != want {
			t.Errorf("vforkWait(%q) = %v, want %v", wchan, !want, want)
		}
	}
}
