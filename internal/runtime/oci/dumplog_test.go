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
