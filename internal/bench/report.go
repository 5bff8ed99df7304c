package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured, printed as tables or JSON.
type Report struct {
	Date    time.Time `json:"date"`
	Host    Host      `json:"host"`
	Server  string    `json:"server"` // "own" or the URL bench was pointed at
	Version string    `json:"version"`
	Runtime string    `json:"runtime"`
	// Runtimes lists the runtimes measured when there are several; each
	// hutch result and density step names its own.
	Runtimes []string `json:"runtimes,omitempty"`
	Image    string   `json:"image"`
	Rounds   int      `json:"rounds"`
	Warmup   int      `json:"warmup"`
	Results  []Result `json:"results"`
	// Density holds one row per step of --density.
	Density []DensityStep `json:"density,omitempty"`
	// Breakdown is where traced creates spent their time (--breakdown).
	Breakdown []SpanStat `json:"breakdown,omitempty"`
	// Notes say what was not measured and why.
	Notes []string `json:"notes,omitempty"`
}

// Host describes the machine the numbers come from.
type Host struct {
	CPUs       int     `json:"cpus"`
	Kernel     string  `json:"kernel"`
	MemTotalMB int64   `json:"memTotalMB"`
	LoadBefore float64 `json:"loadBefore"` // 1-minute load average when the run began
	LoadAfter  float64 `json:"loadAfter"`
}

// Result is one scenario or baseline.
type Result struct {
	Name string
	Kind string // KindHutch (through the API) or KindRaw (a baseline)
	// Runtime is the runtime of a hutch result's sandboxes.
	Runtime string
	Summary Summary
	Errors  int
	// Floor names the baseline this result is compared to, if any, and
	// Docker the Docker result.
	Floor  string
	Docker string
	// PerSecond is a throughput (requests or creates per second) where
	// the scenario has one; Wall its wall time.
	PerSecond float64
	Wall      time.Duration
	Samples   []time.Duration
}

// Result kinds.
const (
	KindHutch  = "hutch"
	KindRaw    = "raw"
	KindDocker = "docker"
)

// newResult summarizes samples.
func newResult(name, kind string, samples []time.Duration, errors int) Result {
	return Result{Name: name, Kind: kind, Summary: Summarize(samples), Errors: errors, Samples: samples}
}

// DensityStep is the host's memory with Sandboxes idle sandboxes made by
// the bench; memory is in MiB, "per sandbox" divides by Sandboxes.
type DensityStep struct {
	// Runtime is the runtime of the step's sandboxes.
	Runtime   string `json:"runtime,omitempty"`
	Sandboxes int    `json:"sandboxes"`
	// CreateP50 is the median create of this step's new sandboxes, to show
	// whether creates slow down as the host fills; ListP50 the median
	// listing of every sandbox.
	CreateP50 time.Duration `json:"-"`
	ListP50   time.Duration `json:"-"`
	// HostUsedMiB is the growth of the host's used memory (MemTotal -
	// MemAvailable) since before the first sandbox: noisy on a shared host.
	HostUsedMiB float64 `json:"hostUsedMiB"`
	// CgroupMiB is the sum of the sandboxes' memory cgroups, ServerRSSMiB
	// the growth of the server's RSS (own server only; -1 unknown).
	CgroupMiB    float64 `json:"cgroupMiB"`
	ServerRSSMiB float64 `json:"serverRSSMiB"`
	Errors       int     `json:"errors"`
}

// PerSandboxMiB is the memory an idle sandbox costs: its cgroup and its
// share of the server's growth, or the host's growth when the cgroups
// could not be read.
func (d DensityStep) PerSandboxMiB() float64 {
	if d.Sandboxes == 0 {
		return 0
	}
	if d.CgroupMiB < 0 {
		return d.HostUsedMiB / float64(d.Sandboxes)
	}
	return (d.CgroupMiB + max(d.ServerRSSMiB, 0)) / float64(d.Sandboxes)
}

// SpanStat is one step of the create path over every traced create.
type SpanStat struct {
	Path    string
	Depth   int
	Summary Summary
	// Share is the step's mean over the mean total of the traced creates.
	Share float64
}

// msOf renders d in milliseconds for JSON.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type jsonSummary struct {
	N      int     `json:"n"`
	MinMs  float64 `json:"minMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MaxMs  float64 `json:"maxMs"`
	MeanMs float64 `json:"meanMs"`
}

func (s Summary) jsonSummary() jsonSummary {
	return jsonSummary{N: s.N, MinMs: msOf(s.Min), P50Ms: msOf(s.P50), P90Ms: msOf(s.P90),
		P99Ms: msOf(s.P99), MaxMs: msOf(s.Max), MeanMs: msOf(s.Mean)}
}

// MarshalJSON writes the summary in milliseconds, with the ratio to the
// floor when there is one.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Runtime string `json:"runtime,omitempty"`
		jsonSummary
		Errors    int     `json:"errors"`
		Floor     string  `json:"floor,omitempty"`
		Docker    string  `json:"docker,omitempty"`
		PerSecond float64 `json:"perSecond,omitempty"`
		WallMs    float64 `json:"wallMs,omitempty"`
	}{r.Name, r.Kind, r.Runtime, r.Summary.jsonSummary(), r.Errors, r.Floor, r.Docker, r.PerSecond, msOf(r.Wall)})
}

// MarshalJSON adds the durations in milliseconds and the per-sandbox cost.
func (d DensityStep) MarshalJSON() ([]byte, error) {
	type plain DensityStep
	return json.Marshal(struct {
		plain
		CreateP50Ms   float64 `json:"createP50Ms"`
		ListP50Ms     float64 `json:"listP50Ms"`
		PerSandboxMiB float64 `json:"perSandboxMiB"`
	}{plain(d), msOf(d.CreateP50), msOf(d.ListP50), d.PerSandboxMiB()})
}

// MarshalJSON writes the step in milliseconds.
func (s SpanStat) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Path string `json:"path"`
		jsonSummary
		Share float64 `json:"share"`
	}{s.Path, s.Summary.jsonSummary(), s.Share})
}

// WriteJSON writes r as one indented JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// fmtMs renders a duration in milliseconds with two decimals.
func fmtMs(d time.Duration) string { return fmt.Sprintf("%.2f", msOf(d)) }

// WriteTable writes r for people: the scenarios with their ratio to the
// floor, then density and breakdown when they were measured.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "hutch bench %s: %s, runtime %s, image %s, %d rounds after %d warm-up\n",
		r.Date.UTC().Format(time.RFC3339), r.Version, r.Runtime, r.Image, r.Rounds, r.Warmup)
	fmt.Fprintf(w, "host: %d CPUs, %d MiB, kernel %s, load %.2f before / %.2f after\n\n",
		r.Host.CPUs, r.Host.MemTotalMB, r.Host.Kernel, r.Host.LoadBefore, r.Host.LoadAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tn\tmin ms\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tp50 vs floor, rate")
	p50 := map[string]time.Duration{}
	for _, res := range r.Results {
		p50[res.Name] = res.Summary.P50
	}
	for _, res := range r.Results {
		s := res.Summary
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", res.Name, s.N, fmtMs(s.Min), fmtMs(s.P50),
			fmtMs(s.P90), fmtMs(s.P99), fmtMs(s.Max), res.Errors, remark(res, p50))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Density) > 0 {
		fmt.Fprintln(w, "\ndensity (idle sandboxes; MiB; per sandbox = (cgroups + server RSS growth) / sandboxes)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		several := len(r.Runtimes) > 1 // then a first column names each step's runtime
		if several {
			fmt.Fprint(tw, "runtime\t")
		}
		fmt.Fprintln(tw, "sandboxes\tcreate p50 ms\tlist p50 ms\thost used\tcgroups\tserver RSS\tper sandbox\terrors")
		for _, d := range r.Density {
			if several {
				fmt.Fprintf(tw, "%s\t", d.Runtime)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f\t%s\t%s\t%.2f\t%d\n", d.Sandboxes, fmtMs(d.CreateP50), fmtMs(d.ListP50),
				d.HostUsedMiB, mibOrNA(d.CgroupMiB), mibOrNA(d.ServerRSSMiB), d.PerSandboxMiB(), d.Errors)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Breakdown) > 0 {
		fmt.Fprintln(w, "\nwhere a create's time goes (server-side spans of the measured creates; share of the mean total)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "step\tp50 ms\tp90 ms\tmean ms\tshare")
		for _, b := range r.Breakdown {
			share := "-" // a client-side row: not part of the server's total
			if b.Share >= 0 {
				share = fmt.Sprintf("%.0f%%", 100*b.Share)
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", strings.Repeat("  ", b.Depth), b.Path[strings.LastIndex(b.Path, "/")+1:],
				fmtMs(b.Summary.P50), fmtMs(b.Summary.P90), fmtMs(b.Summary.Mean), share)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

// remark is a result's last column: its ratio to its floor, or its rate.
func remark(res Result, p50 map[string]time.Duration) string {
	var parts []string
	if f, ok := p50[res.Floor]; ok && f > 0 && res.Summary.N > 0 {
		parts = append(parts, ratio(float64(res.Summary.P50)/float64(f))+"x "+res.Floor)
	}
	if d, ok := p50[res.Docker]; ok && d > 0 && res.Summary.N > 0 {
		parts = append(parts, ratio(float64(res.Summary.P50)/float64(d))+"x "+res.Docker)
	}
	if res.PerSecond > 0 {
		parts = append(parts, fmt.Sprintf("%.0f/s", res.PerSecond))
	}
	if res.Wall > 0 {
		parts = append(parts, "wall "+fmtMs(res.Wall)+" ms")
	}
	return strings.Join(parts, ", ")
}

// ratio renders a ratio with two significant digits where it is small
// (0.02x) and none where it is large (56x).
func ratio(r float64) string {
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f", r)
	case r >= 1:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

func mibOrNA(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", v)
}
