package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/client"
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
	Notes []string `json:"notes"`
}

// benchLeftovers lists what a bench leaves when it fails to clean up:
// its servers' temporary dirs and its raw containers' cgroups. The log a
// bench keeps on purpose when an operation failed is not one.
func benchLeftovers(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, pattern := range []string{filepath.Join(os.TempDir(), "hutch-bench-*"), "/sys/fs/cgroup/*/hutch-bench-*"} {
		m, _ := filepath.Glob(pattern)
		for _, p := range m {
			if !strings.HasPrefix(filepath.Base(p), "hutch-bench-serve-") {
				out[p] = true
			}
		}
	}
	return out
}

// keptLogs shows the errors of the server logs a failed bench kept, and
// removes them.
func keptLogs(t *testing.T, stderr string) {
	for _, m := range regexp.MustCompile(`log is kept at (\S+)`).FindAllStringSubmatch(stderr, -1) {
		b, _ := os.ReadFile(m[1])
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Log(line)
			}
		}
		os.Remove(m[1])
	}
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
	err := cmd.Run()
	keptLogs(t, stderr.String())
	if err != nil {
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
		switch r.Kind {
		case bench.KindRaw:
			name = bench.ScenarioRaw
		case bench.KindDocker:
			name = bench.ScenarioDocker
		}
		seen[name] = true
	}
	for _, s := range bench.Scenarios {
		// One the server does not offer (pause-release without CRIU,
		// create-pool without a pool), or Docker without an engine, is left
		// out with a note that says so.
		offered := func(n string) bool {
			return strings.HasPrefix(n, s+" not measured: the server does not offer it (/v1/info ") ||
				s == bench.ScenarioDocker && strings.HasPrefix(n, "docker: not measured (no engine answers: ")
		}
		if !seen[s] && !slices.ContainsFunc(rep.Notes, offered) {
			t.Errorf("scenario %s did not run (results: %+v, notes: %q)", s, rep.Results, rep.Notes)
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

// TestBenchRuntimes: `--runtime oci,gvisor` measures the sandbox
// scenarios on both runtimes of the bench's own server in one run, each
// row named by its runtime, none failing, and both compared to the same
// raw floor.
func TestBenchRuntimes(t *testing.T) {
	if _, err := os.Stat(runscPath); err != nil {
		t.Skip("runsc is not built (scripts/setup.sh)")
	}
	if _, err := exec.LookPath("crun"); err != nil {
		t.Skip("crun is not installed")
	}
	before := benchLeftovers(t)
	cmd := exec.Command(binary, "bench", "--json", "--runtime", "oci,gvisor", "-n", "1", "--warmup", "0",
		"--scenarios", "create,exec,pause,resume,delete,raw", "--raw", "crun")
	cmd.Env = withoutEnv(os.Environ(), "HUTCH_URL", "HUTCH_API_KEY")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	keptLogs(t, stderr.String())
	if err != nil {
		t.Fatalf("hutch bench: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	var rep struct {
		benchJSON
		Runtimes []string `json:"runtimes"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if !slices.Equal(rep.Runtimes, []string{"oci", "gvisor"}) {
		t.Errorf("runtimes = %q", rep.Runtimes)
	}
	rows := map[string]string{} // name -> floor
	for _, r := range rep.Results {
		if r.Errors != 0 || r.N != 1 {
			t.Errorf("%s: %d samples, %d errors", r.Name, r.N, r.Errors)
		}
		rows[r.Name] = r.Floor
	}
	for _, rt := range rep.Runtimes {
		for _, s := range []string{bench.ScenarioCreate, bench.ScenarioExec, bench.ScenarioPause, bench.ScenarioResume, bench.ScenarioDelete} {
			if _, ok := rows[s+" ["+rt+"]"]; !ok {
				t.Errorf("no %s row for %s (rows: %v, notes: %q)", s, rt, rows, rep.Notes)
			}
		}
		if f := rows[bench.ScenarioCreate+" ["+rt+"]"]; f != "raw crun run -d" {
			t.Errorf("create on %s compared to %q, want the raw crun floor", rt, f)
		}
	}
	if _, ok := rows[bench.ScenarioCreate]; ok {
		t.Errorf("a create row names no runtime: %v", rows)
	}
	for p := range benchLeftovers(t) {
		if !before[p] {
			t.Errorf("the bench left %s behind", p)
		}
	}
}

// TestBenchURL points the bench at a running server (TLS, self-signed,
// reached by its fingerprint, started with --trace-creates): it measures
// there, reads the breakdown from that server's log, and deletes the
// sandboxes it made there.
func TestBenchURL(t *testing.T) {
	s := startServer(t, "", "--tls-self-signed", "--trace-creates")
	b, _ := os.ReadFile(s.logPath)
	m := fingerprintLogRE.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no fingerprint in the log:\n%s", b)
	}
	url := strings.Replace(s.url, "http://", "https://", 1)
	args := []string{"bench", "--url", url, "--api-key", s.key, "--json", "-n", "2", "--warmup", "0",
		"--scenarios", "create,exec,delete", "--breakdown", "--server-log", s.logPath}
	cmd := exec.Command(binary, append(args, "--tls-fingerprint", m[1])...)
	cmd.Env = withoutEnv(os.Environ(), "HUTCH_URL", "HUTCH_API_KEY", "HUTCH_TLS_FINGERPRINT")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hutch bench --url: %v\n%s\n%s", err, stderr.String(), out)
	}
	var rep benchJSON
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Server != url || len(rep.Results) != 3 {
		t.Fatalf("server %q, results %+v", rep.Server, rep.Results)
	}
	for _, r := range rep.Results {
		if r.N != 2 || r.Errors != 0 {
			t.Errorf("%s: %d samples, %d errors", r.Name, r.N, r.Errors)
		}
	}
	if len(rep.Breakdown) == 0 || rep.Breakdown[0].N != 2 {
		t.Errorf("breakdown from the server's log: %+v", rep.Breakdown)
	}
	s.url = url
	if s.c, err = client.New(url, s.key, client.WithPinnedCertificate(m[1])); err != nil {
		t.Fatal(err)
	}
	list, err := s.c.ListSandboxes(context.Background(), client.ListOptions{States: []string{"running", "creating", "stopped", "paused", "error"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range list.Items {
		if sb.Metadata["hutch-bench"] != "" {
			t.Errorf("the bench left %s (%s) on the server", sb.ID, sb.State)
		}
	}
	// Without the fingerprint the self-signed certificate is refused.
	bad := exec.Command(binary, args...)
	bad.Env = cmd.Env
	if out, err := bad.CombinedOutput(); err == nil {
		t.Errorf("the bench trusted a self-signed certificate without its fingerprint:\n%s", out)
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
