package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/bench"
)

// benchJSON is the part of `hutch bench --json` the test reads.
type benchJSON struct {
	Server  string `json:"server"`
	Rounds  int    `json:"rounds"`
	Results []struct {
		Name   string  `json:"name"`
		Kind   string  `json:"kind"`
		N      int     `json:"n"`
		P50Ms  float64 `json:"p50Ms"`
		Errors int     `json:"errors"`
		Floor  string  `json:"floor"`
	} `json:"results"`
	Density []struct {
		Sandboxes     int     `json:"sandboxes"`
		CgroupMiB     float64 `json:"cgroupMiB"`
		PerSandboxMiB float64 `json:"perSandboxMiB"`
	} `json:"density"`
	Breakdown []struct {
		Path string `json:"path"`
		N    int    `json:"n"`
	} `json:"breakdown"`
}

// benchLeftovers lists what a bench leaves when it fails to clean up:
// its servers' temporary dirs and its raw containers' cgroups.
func benchLeftovers(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, pattern := range []string{filepath.Join(os.TempDir(), "hutch-bench-*"), "/sys/fs/cgroup/freezer/hutch-bench-*"} {
		m, _ := filepath.Glob(pattern)
		for _, p := range m {
			out[p] = true
		}
	}
	return out
}

// TestBench runs `hutch bench` as a user would, with tiny counts, on the
// server it starts itself: every scenario runs without an error, the raw
// floor and the breakdown are there, density reports memory, and nothing
// of the bench is left. Timings are not checked: they live in the bench.
func TestBench(t *testing.T) {
	if _, err := exec.LookPath("crun"); err != nil {
		t.Skip("crun is not installed")
	}
	before := benchLeftovers(t)
	cmd := exec.Command(binary, "bench", "--json", "-n", "2", "--warmup", "1", "--clients", "2", "--burst", "3",
		"--list-size", "3", "--density", "3", "--raw", "crun", "--breakdown")
	cmd.Env = withoutEnv(os.Environ(), "HUTCH_URL", "HUTCH_API_KEY")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hutch bench: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	if !strings.Contains(stderr.String(), "bench: lifecycle rounds") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
	var rep benchJSON
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Server != "own" || rep.Rounds != 2 {
		t.Errorf("server %q, rounds %d", rep.Server, rep.Rounds)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		if r.Errors != 0 || r.N == 0 {
			t.Errorf("%s: %d samples, %d errors", r.Name, r.N, r.Errors)
		}
		name, _, _ := strings.Cut(r.Name, " (")
		if r.Kind == bench.KindRaw {
			name = bench.ScenarioRaw
		}
		seen[name] = true
	}
	for _, s := range bench.Scenarios {
		if !seen[s] {
			t.Errorf("scenario %s did not run (results: %+v)", s, rep.Results)
		}
	}
	floors := map[string]string{}
	for _, r := range rep.Results {
		floors[r.Name] = r.Floor
	}
	if floors[bench.ScenarioCreate] != "raw crun run -d" || floors[bench.ScenarioPause] != "raw freezer freeze" {
		t.Errorf("floors = %v", floors)
	}
	if len(rep.Density) != 1 || rep.Density[0].Sandboxes != 3 || rep.Density[0].CgroupMiB <= 0 || rep.Density[0].PerSandboxMiB <= 0 {
		t.Errorf("density = %+v", rep.Density)
	}
	paths := map[string]int{}
	for _, b := range rep.Breakdown {
		paths[b.Path] = b.N
	}
	for _, p := range []string{"server total", "store-insert", "runtime-create", "runtime-create/runtime-run", "runtime-create/net-up"} {
		if paths[p] != 2 {
			t.Errorf("breakdown row %q covers %d creates, want the 2 measured (rows: %v)", p, paths[p], paths)
		}
	}
	for p := range benchLeftovers(t) {
		if !before[p] {
			t.Errorf("the bench left %s behind", p)
		}
	}
}

// TestBenchTable: without --json, the table has a row per scenario with
// its ratio to the floor; an unknown scenario is a usage error.
func TestBenchTable(t *testing.T) {
	cmd := exec.Command(binary, "bench", "-n", "1", "--warmup", "0", "--scenarios", "create,pause,raw", "--raw", "crun")
	cmd.Env = withoutEnv(os.Environ(), "HUTCH_URL", "HUTCH_API_KEY")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hutch bench: %v\n%s", err, out)
	}
	for _, want := range []string{"scenario  ", "p50 ms", "\ncreate ", "x raw crun run -d", "\npause ", "x raw freezer freeze", "\nraw crun exec true "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "\nexec ") {
		t.Errorf("a scenario that was not selected ran:\n%s", out)
	}
	bad := exec.Command(binary, "bench", "--scenarios", "fly")
	if err := bad.Run(); err == nil || bad.ProcessState.ExitCode() != 2 {
		t.Errorf("unknown scenario: %v, want exit 2", err)
	}
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		drop := false
		for _, n := range names {
			drop = drop || strings.HasPrefix(kv, fmt.Sprintf("%s=", n))
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
