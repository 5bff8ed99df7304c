package bench

import (
	"bufio"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/trace"
)

// createTrace is one "create trace" line of a server started with
// --trace-creates.
type createTrace struct {
	Sandbox string
	State   string
	Total   time.Duration
	Spans   []trace.Span // Path and Duration; in the order logged
}

// parseTrace reads a create trace from one line of hutch serve's text
// log: msg="create trace" sandbox=ID state=S total=D span.<path>=D...
func parseTrace(line string) (createTrace, bool) {
	if !strings.Contains(line, `msg="`+sandbox.TraceMessage+`"`) {
		return createTrace{}, false
	}
	var tr createTrace
	for _, field := range strings.Fields(line) {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			continue
		}
		switch {
		case k == "sandbox":
			tr.Sandbox = v
		case k == "state":
			tr.State = v
		case k == "total":
			tr.Total, _ = time.ParseDuration(v)
		case strings.HasPrefix(k, trace.SpanKey+"."):
			d, err := time.ParseDuration(v)
			if err != nil {
				continue
			}
			tr.Spans = append(tr.Spans, trace.Span{Path: strings.TrimPrefix(k, trace.SpanKey+"."), Duration: d})
		}
	}
	return tr, tr.Sandbox != "" && tr.Total > 0
}

// readTraces collects the create traces of a log file (for a server
// bench did not start: --server-log).
func readTraces(path string) (map[string]createTrace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scanTraces(f)
}

func scanTraces(r io.Reader) (map[string]createTrace, error) {
	out := map[string]createTrace{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if tr, ok := parseTrace(sc.Text()); ok {
			out[tr.Sandbox] = tr
		}
	}
	return out, sc.Err()
}

// Names of the rows the breakdown adds to the server's own spans.
const (
	stepTotal     = "server total"
	stepUntraced  = "untraced (validation, quota, locks)"
	stepRoundTrip = "client round trip beyond the server"
	stepAgent     = "running -> first exec (agent up)"
)

// breakdown turns the traces of the measured creates into one row per
// span path (in the order of the first trace that has it, children under
// their parent), the server's untraced remainder, and two client-side
// rows: what the HTTP round trip adds and how long after running the
// first exec answers. creates and firstExec are the client's samples of
// the same creates, in any order.
func breakdown(traces []createTrace, creates, firstExec []time.Duration) []SpanStat {
	if len(traces) == 0 {
		return nil
	}
	var order []string
	samples := map[string][]time.Duration{}
	var totals, untraced []time.Duration
	for _, tr := range traces {
		totals = append(totals, tr.Total)
		top := time.Duration(0)
		for _, sp := range tr.Spans {
			if _, seen := samples[sp.Path]; !seen {
				order = append(order, sp.Path)
			}
			samples[sp.Path] = append(samples[sp.Path], sp.Duration)
			if sp.Depth() == 0 {
				top += sp.Duration
			}
		}
		untraced = append(untraced, max(tr.Total-top, 0))
	}
	order = treeOrder(order)
	total := Summarize(totals)
	share := func(s Summary) float64 {
		if total.Mean == 0 {
			return 0
		}
		return float64(s.Mean) / float64(total.Mean)
	}
	row := func(path string, depth int, d []time.Duration) SpanStat {
		s := Summarize(d)
		return SpanStat{Path: path, Depth: depth, Summary: s, Share: share(s)}
	}
	out := []SpanStat{row(stepTotal, 0, totals)}
	for _, p := range order {
		out = append(out, row(p, 1+strings.Count(p, "/"), samples[p]))
	}
	out = append(out, row(stepUntraced, 1, untraced))
	if c := Summarize(creates); c.N > 0 {
		out = append(out, SpanStat{Path: stepRoundTrip, Summary: Summary{N: c.N, P50: max(c.P50-total.P50, 0),
			P90: max(c.P90-total.P90, 0), Mean: max(c.Mean-total.Mean, 0)}, Share: -1})
		if f := Summarize(firstExec); f.N > 0 {
			out = append(out, SpanStat{Path: stepAgent, Summary: Summary{N: f.N, P50: max(f.P50-c.P50, 0),
				P90: max(f.P90-c.P90, 0), Mean: max(f.Mean-c.Mean, 0)}, Share: -1})
		}
	}
	return out
}

// treeOrder puts every path right after its parent, keeping the order of
// siblings: a span logged before its enclosing one (Steps inside a Start)
// still prints under it.
func treeOrder(paths []string) []string {
	parent := func(p string) string {
		if i := strings.LastIndex(p, "/"); i >= 0 {
			return p[:i]
		}
		return ""
	}
	var out []string
	var walk func(string)
	walk = func(under string) {
		for _, p := range paths {
			if parent(p) == under && !slices.Contains(out, p) {
				out = append(out, p)
				walk(p)
			}
		}
	}
	walk("")
	for _, p := range paths { // orphans: a child whose parent was never logged
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// breakdown adds where the measured creates spent their time, from the
// traces of the bench's own server or of --server-log.
func (r *run) breakdown(rep *Report, life lifeSamples) {
	var traces []createTrace
	lookup := func(id string) (createTrace, bool) { return r.own.trace(id) }
	if r.own == nil {
		all, err := readTraces(r.o.ServerLog)
		if err != nil {
			rep.Notes = append(rep.Notes, "breakdown: "+err.Error())
			return
		}
		lookup = func(id string) (createTrace, bool) { tr, ok := all[id]; return tr, ok }
	}
	for _, id := range life.created {
		if tr, ok := lookup(id); ok && tr.State == "running" {
			traces = append(traces, tr)
		}
	}
	if len(traces) == 0 {
		rep.Notes = append(rep.Notes, "breakdown: no create traces of the measured creates in the server's log (is it started with --trace-creates?)")
		return
	}
	rep.Breakdown = breakdown(traces, life.samples[ScenarioCreate], life.samples[ScenarioCreateExec])
}
