package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sampleReport is a report with one of every kind of row.
func sampleReport() *Report {
	rep := &Report{
		Date:    time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC),
		Host:    Host{CPUs: 2, Kernel: "6.18.44", MemTotalMB: 24105, LoadBefore: 1.5, LoadAfter: 2.25},
		Server:  "own",
		Version: "dev",
		Runtime: "oci/crun",
		Image:   "base",
		Rounds:  4,
		Warmup:  1,
		Results: []Result{
			newResult(ScenarioCreate, KindHutch, ms(30, 20, 40, 25), 0),
			newResult(ScenarioPause, KindHutch, ms(2, 2, 3, 2), 1),
			newResult("get (16 clients)", KindHutch, ms(1, 1, 2, 5), 0),
			newResult(rawRun("crun"), KindRaw, ms(10, 10, 12, 11), 0),
			newResult(rawFreeze, KindRaw, ms(1, 1, 1, 2), 0),
			newResult(dockerRun, KindDocker, ms(100, 100, 120, 110), 0),
		},
		Density: []DensityStep{
			{Sandboxes: 10, CreateP50: 25 * time.Millisecond, ListP50: 2 * time.Millisecond, HostUsedMiB: 90, CgroupMiB: 40, ServerRSSMiB: 10},
			{Sandboxes: 20, CreateP50: 27 * time.Millisecond, ListP50: 3 * time.Millisecond, HostUsedMiB: 170, CgroupMiB: -1, ServerRSSMiB: -1},
		},
		Breakdown: breakdown([]createTrace{
			{Sandbox: "a", State: "running", Total: 20 * time.Millisecond, Spans: spans("store-insert", 2, "runtime-create/net-up", 5, "runtime-create", 15)},
			{Sandbox: "b", State: "running", Total: 30 * time.Millisecond, Spans: spans("store-insert", 4, "runtime-create/net-up", 9, "runtime-create", 21)},
		}, ms(22, 33), ms(40, 50)),
		Notes: []string{"docker: engine 20.10.24, the image's rootfs imported, default bridge network"},
	}
	rep.Results[2].PerSecond, rep.Results[2].Wall = 1234, 2*time.Second
	setFloors(rep)
	setDockers(rep)
	return rep
}

func TestWriteTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("table differs from %s (go test -update to accept):\n%s", golden, buf.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Date    time.Time `json:"date"`
		Runtime string    `json:"runtime"`
		Results []struct {
			Name   string  `json:"name"`
			Kind   string  `json:"kind"`
			N      int     `json:"n"`
			MinMs  float64 `json:"minMs"`
			P50Ms  float64 `json:"p50Ms"`
			P90Ms  float64 `json:"p90Ms"`
			P99Ms  float64 `json:"p99Ms"`
			MaxMs  float64 `json:"maxMs"`
			Errors int     `json:"errors"`
			Floor  string  `json:"floor"`
			Docker string  `json:"docker"`
			PerSec float64 `json:"perSecond"`
		} `json:"results"`
		Density []struct {
			Sandboxes     int     `json:"sandboxes"`
			PerSandboxMiB float64 `json:"perSandboxMiB"`
			CreateP50Ms   float64 `json:"createP50Ms"`
		} `json:"density"`
		Breakdown []struct {
			Path  string  `json:"path"`
			P50Ms float64 `json:"p50Ms"`
			Share float64 `json:"share"`
		} `json:"breakdown"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, buf.String())
	}
	if got.Runtime != "oci/crun" || got.Date.Year() != 2026 || len(got.Results) != 6 {
		t.Fatalf("report = %+v", got)
	}
	c := got.Results[0]
	if c.Name != ScenarioCreate || c.Kind != KindHutch || c.N != 4 || c.MinMs != 20 || c.P50Ms != 25 || c.P90Ms != 40 ||
		c.P99Ms != 40 || c.MaxMs != 40 || c.Floor != rawRun("crun") || c.Docker != dockerRun {
		t.Errorf("create = %+v", c)
	}
	if p := got.Results[1]; p.Errors != 1 || p.Floor != rawFreeze || p.Docker != "" {
		t.Errorf("pause = %+v", p)
	}
	if g := got.Results[2]; g.PerSec != 1234 || g.Floor != "" {
		t.Errorf("get = %+v", g)
	}
	if d := got.Density[0]; d.Sandboxes != 10 || d.PerSandboxMiB != 5 || d.CreateP50Ms != 25 {
		t.Errorf("density[0] = %+v, want 5 MiB per sandbox ((40+10)/10)", d)
	}
	if d := got.Density[1]; d.PerSandboxMiB != 8.5 {
		t.Errorf("density[1] = %+v, want the host's growth per sandbox (170/20) when cgroups are unknown", d)
	}
	if len(got.Breakdown) == 0 || got.Breakdown[0].Path != stepTotal || got.Breakdown[0].Share != 1 {
		t.Errorf("breakdown = %+v", got.Breakdown)
	}
}

func TestSetFloorsPicksTheFirstRawRuntime(t *testing.T) {
	rep := &Report{Results: []Result{
		newResult(ScenarioCreate, KindHutch, ms(30), 0),
		newResult(ScenarioResume, KindHutch, ms(1), 0),
		newResult(ScenarioStop, KindHutch, ms(9), 0),
		newResult(rawRun("runc"), KindRaw, ms(20), 0),
		newResult(rawRun("crun"), KindRaw, ms(10), 0),
	}}
	setFloors(rep)
	if f := rep.Results[0].Floor; f != rawRun("runc") {
		t.Errorf("create's floor = %q, want the first raw runtime measured", f)
	}
	if f := rep.Results[1].Floor; f != "" {
		t.Errorf("resume's floor = %q with no freezer row measured", f)
	}
	if f := rep.Results[2].Floor; f != "" {
		t.Errorf("stop has no floor, got %q", f)
	}
}

func TestRatio(t *testing.T) {
	for in, want := range map[float64]string{0.0198: "0.02", 0.5: "0.50", 1.74: "1.7", 9.96: "10.0", 56.4: "56", 123: "123"} {
		if got := ratio(in); got != want {
			t.Errorf("ratio(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestPickRuntimeOfOne(t *testing.T) {
	info := &api.Info{Runtime: "oci/crun", Capabilities: api.Capabilities{Pause: true}}
	for _, ok := range []string{"", "oci/crun", "crun", "oci"} {
		shown, ask, caps, err := pickRuntime(ok, info)
		if err != nil || shown != "oci/crun" || ask != "" || !caps.Pause {
			t.Errorf("--runtime %q on %s: %q %q %+v %v; want it shown, nothing asked per create", ok, info.Runtime, shown, ask, caps, err)
		}
	}
	for _, bad := range []string{"gvisor", "cru", "oci/runc"} {
		if _, _, _, err := pickRuntime(bad, info); err == nil || !strings.Contains(err.Error(), "offers no other") {
			t.Errorf("--runtime %q on %s: %v, want a refusal that says why", bad, info.Runtime, err)
		}
	}
}

func TestPickRuntimeOfSeveral(t *testing.T) {
	info := &api.Info{Runtime: "oci/crun", DefaultRuntime: "oci", Runtimes: []api.RuntimeInfo{
		{Name: "oci", Capabilities: api.Capabilities{Pause: true, Checkpoint: true}},
		{Name: "gvisor", Capabilities: api.Capabilities{Pause: true}},
	}}
	shown, ask, caps, err := pickRuntime("gvisor", info)
	if err != nil || shown != "gvisor" || ask != "gvisor" || caps.Checkpoint {
		t.Errorf("gvisor: %q %q %+v %v; want it asked for in each create, with its own capabilities", shown, ask, caps, err)
	}
	shown, ask, caps, err = pickRuntime("", info)
	if err != nil || shown != "oci" || ask != "" || !caps.Checkpoint {
		t.Errorf("default: %q %q %+v %v", shown, ask, caps, err)
	}
	if _, _, _, err := pickRuntime("kata", info); err == nil || !strings.Contains(err.Error(), "oci, gvisor") {
		t.Errorf("kata: %v, want a refusal naming what the server offers", err)
	}
}

// twoRuntimeReport is what `--runtime oci,gvisor` reports: the sandbox
// scenarios once per runtime, suffixed by it, the rest once.
func twoRuntimeReport() *Report {
	rep := &Report{
		Date:     time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC),
		Host:     Host{CPUs: 2, Kernel: "6.18.44", MemTotalMB: 24105, LoadBefore: 1.5, LoadAfter: 2.25},
		Server:   "own",
		Version:  "dev",
		Runtime:  "oci, gvisor",
		Runtimes: []string{"oci", "gvisor"},
		Image:    "base",
		Rounds:   4,
		Warmup:   1,
		Results: []Result{
			{Name: "create [oci]", Kind: KindHutch, Runtime: "oci", Summary: Summarize(ms(30, 20, 40, 25))},
			{Name: "create [gvisor]", Kind: KindHutch, Runtime: "gvisor", Summary: Summarize(ms(60, 50, 80, 55))},
			{Name: "pause [oci]", Kind: KindHutch, Runtime: "oci", Summary: Summarize(ms(2, 2, 3, 2))},
			{Name: "pause [gvisor]", Kind: KindHutch, Runtime: "gvisor", Summary: Summarize(ms(8, 8, 9, 8)), Errors: 1},
			{Name: "get (16 clients) [oci]", Kind: KindHutch, Runtime: "oci", Summary: Summarize(ms(1, 1, 2, 5))},
			newResult(rawRun("crun"), KindRaw, ms(10, 10, 12, 11), 0),
			newResult(rawFreeze, KindRaw, ms(1, 1, 1, 2), 0),
			newResult(dockerRun, KindDocker, ms(100, 100, 120, 110), 0),
		},
		Density: []DensityStep{
			{Runtime: "oci", Sandboxes: 10, CreateP50: 25 * time.Millisecond, ListP50: 2 * time.Millisecond, HostUsedMiB: 90, CgroupMiB: 40, ServerRSSMiB: 10},
			{Runtime: "gvisor", Sandboxes: 10, CreateP50: 55 * time.Millisecond, ListP50: 2 * time.Millisecond, HostUsedMiB: 400, CgroupMiB: 300, ServerRSSMiB: 10},
		},
		Notes: []string{"resume-release not measured on gvisor: that runtime does not offer it (/v1/info runtimes' capabilities)"},
	}
	setFloors(rep)
	setDockers(rep)
	return rep
}

func TestWriteTableTwoRuntimesGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, twoRuntimeReport()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report-two-runtimes.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("table differs from %s (go test -update to accept):\n%s", golden, buf.String())
	}
}

// TestFloorsOfSuffixedNames: each runtime's rows are compared to the
// same raw floor and Docker row as a run of one runtime.
func TestFloorsOfSuffixedNames(t *testing.T) {
	rep := twoRuntimeReport()
	for _, i := range []int{0, 1} {
		if res := rep.Results[i]; res.Floor != rawRun("crun") || res.Docker != dockerRun {
			t.Errorf("%s: floor %q, docker %q; want %q and %q", res.Name, res.Floor, res.Docker, rawRun("crun"), dockerRun)
		}
	}
	for _, i := range []int{2, 3} {
		if res := rep.Results[i]; res.Floor != rawFreeze {
			t.Errorf("%s: floor %q, want %q", res.Name, res.Floor, rawFreeze)
		}
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Runtimes []string `json:"runtimes"`
		Results  []struct {
			Name    string `json:"name"`
			Runtime string `json:"runtime"`
		} `json:"results"`
		Density []struct {
			Runtime string `json:"runtime"`
		} `json:"density"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Runtimes) != 2 || got.Results[1].Runtime != "gvisor" || got.Results[5].Runtime != "" || got.Density[1].Runtime != "gvisor" {
		t.Errorf("JSON does not name each row's runtime: %s", buf.String())
	}
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{"create [gvisor]": "create", "create": "create",
		"get (16 clients) [oci]": "get (16 clients)", "raw crun run -d": "raw crun run -d", "x [y": "x [y"} {
		if got := baseName(in); got != want {
			t.Errorf("baseName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPickRuntimesList(t *testing.T) {
	info := &api.Info{Runtime: "oci/crun", DefaultRuntime: "oci", Runtimes: []api.RuntimeInfo{
		{Name: "oci", Capabilities: api.Capabilities{Pause: true, Checkpoint: true}},
		{Name: "gvisor", Capabilities: api.Capabilities{Pause: true}},
	}}
	shownOf := func(ts []target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.shown)
		}
		return out
	}
	for want, names := range map[string][]string{"": {"oci"}, "gvisor": {"gvisor"}, "oci,gvisor": {"oci", "gvisor"},
		"gvisor, oci,gvisor": {"gvisor", "oci"}, "all": {"oci", "gvisor"}} {
		ts, err := pickRuntimes(want, info)
		if err != nil || !slices.Equal(shownOf(ts), names) {
			t.Errorf("--runtime %q: %v %v, want %v", want, shownOf(ts), err, names)
		}
	}
	ts, _ := pickRuntimes("oci,gvisor", info)
	if ts[0].ask != "oci" || ts[1].ask != "gvisor" || !ts[0].caps.Checkpoint || ts[1].caps.Checkpoint {
		t.Errorf("each runtime is asked for by name with its own capabilities: %+v", ts)
	}
	for _, bad := range []string{"oci,kata", "oci,", ","} {
		if _, err := pickRuntimes(bad, info); err == nil {
			t.Errorf("--runtime %q: accepted", bad)
		}
	}
	one := &api.Info{Runtime: "oci/crun"}
	if ts, err := pickRuntimes("all", one); err != nil || !slices.Equal(shownOf(ts), []string{"oci/crun"}) {
		t.Errorf("all on a server of one runtime: %v %v", shownOf(ts), err)
	}
}

// TestRunMarksAndOrders: the hutch rows a runtime adds are suffixed and
// named when several run, left alone when one does.
func TestRunMarksAndOrders(t *testing.T) {
	r := &run{}
	rep := &Report{Results: []Result{newResult(rawFreeze, KindRaw, ms(1), 0)}}
	r.use(target{shown: "gvisor", ask: "gvisor"}, true)
	rep.Results = append(rep.Results, newResult(ScenarioCreate, KindHutch, ms(1), 0), newResult(rawRun("crun"), KindRaw, ms(1), 0))
	r.mark(rep, 1)
	if rep.Results[0].Name != rawFreeze || rep.Results[1].Name != "create [gvisor]" || rep.Results[1].Runtime != "gvisor" ||
		rep.Results[2].Name != rawRun("crun") || r.runtime != "gvisor" {
		t.Errorf("several runtimes: %+v", rep.Results)
	}
	r.use(target{shown: "oci/crun"}, false)
	rep.Results = append(rep.Results, newResult(ScenarioExec, KindHutch, ms(1), 0))
	r.mark(rep, 3)
	if rep.Results[3].Name != ScenarioExec || rep.Results[3].Runtime != "oci/crun" || r.runtime != "" {
		t.Errorf("one runtime: %+v", rep.Results[3])
	}
}

func TestSideBySide(t *testing.T) {
	var got []Result
	for _, n := range []string{"create [oci]", "exec [oci]", "delete [oci]", "create [gvisor]", "exec [gvisor]", "delete [gvisor]"} {
		got = append(got, Result{Name: n})
	}
	sideBySide(got)
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	want := []string{"create [oci]", "create [gvisor]", "exec [oci]", "exec [gvisor]", "delete [oci]", "delete [gvisor]"}
	if !slices.Equal(names, want) {
		t.Errorf("order %q, want %q", names, want)
	}
}
