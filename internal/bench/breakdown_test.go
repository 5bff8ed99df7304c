package bench

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/trace"
)

// spans builds trace spans from path, milliseconds pairs.
func spans(kv ...any) []trace.Span {
	var out []trace.Span
	for i := 0; i < len(kv); i += 2 {
		out = append(out, trace.Span{Path: kv[i].(string), Duration: time.Duration(kv[i+1].(int)) * time.Millisecond})
	}
	return out
}

// TestParseTraceOfARealLogLine: the line the server writes, through the
// same recorder and handler, reads back with its spans.
func TestParseTraceOfARealLogLine(t *testing.T) {
	rec := trace.New()
	ctx := trace.WithRecorder(context.Background(), rec)
	end := trace.Start(ctx, "runtime-create")
	trace.Steps(ctx)("rootfs-mount")
	end()
	trace.Start(ctx, "store-update")()
	var buf bytes.Buffer
	attrs := append([]slog.Attr{slog.String("sandbox", "sbx_1"), slog.String("state", "running")}, rec.LogAttrs()...)
	slog.New(slog.NewTextHandler(&buf, nil)).LogAttrs(ctx, slog.LevelInfo, sandbox.TraceMessage, attrs...)

	tr, ok := parseTrace(strings.TrimSpace(buf.String()))
	if !ok {
		t.Fatalf("no trace read from %q", buf.String())
	}
	if tr.Sandbox != "sbx_1" || tr.State != "running" || tr.Total <= 0 {
		t.Errorf("trace = %+v", tr)
	}
	var paths []string
	for _, s := range tr.Spans {
		paths = append(paths, s.Path)
	}
	if want := []string{"runtime-create", "runtime-create/rootfs-mount", "store-update"}; !slices.Equal(paths, want) {
		t.Errorf("paths = %v, want %v", paths, want)
	}
	if _, ok := parseTrace(`time=x level=INFO msg="hutch serving" addr=127.0.0.1:1`); ok {
		t.Error("an unrelated line parsed as a trace")
	}
}

func TestScanTracesKeepsOnePerSandbox(t *testing.T) {
	log := `time=t level=INFO msg="create trace" sandbox=a state=running total=10ms span.store-insert=1ms
time=t level=INFO msg="hutch serving" addr=x
time=t level=INFO msg="create trace" sandbox=b state=error total=3ms span.store-insert=2ms
`
	got, err := scanTraces(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"].Total != 10*time.Millisecond || got["b"].State != "error" {
		t.Errorf("traces = %+v", got)
	}
}

func TestBreakdown(t *testing.T) {
	// The driver's steps are logged before the span that encloses them
	// ends; the breakdown still prints them under it.
	traces := []createTrace{
		{Sandbox: "a", Total: 20 * time.Millisecond, Spans: spans("store-insert", 2, "runtime-create/net-up", 5, "runtime-create/run", 6, "runtime-create", 15)},
		{Sandbox: "b", Total: 40 * time.Millisecond, Spans: spans("store-insert", 4, "runtime-create/net-up", 9, "runtime-create/run", 20, "runtime-create", 30)},
	}
	rows := breakdown(traces, ms(22, 43), ms(30, 60))
	var got []string
	for _, r := range rows {
		got = append(got, strings.Repeat(">", r.Depth)+r.Path)
	}
	want := []string{stepTotal, ">store-insert", ">runtime-create", ">>runtime-create/net-up", ">>runtime-create/run", ">" + stepUntraced, stepRoundTrip, stepAgent}
	if !slices.Equal(got, want) {
		t.Fatalf("rows = %v\nwant %v", got, want)
	}
	byPath := map[string]SpanStat{}
	for _, r := range rows {
		byPath[r.Path] = r
	}
	if s := byPath["runtime-create"]; s.Summary.Mean != 22500*time.Microsecond || s.Share != 0.75 {
		t.Errorf("runtime-create = %+v, want mean 22.5ms, share 0.75 of the 30ms mean total", s)
	}
	// Untraced: 20-2-15 = 3 and 40-4-30 = 6.
	if s := byPath[stepUntraced]; s.Summary.Min != 3*time.Millisecond || s.Summary.Max != 6*time.Millisecond {
		t.Errorf("untraced = %+v", s)
	}
	// The client saw 22 and 43 (p50 22) against the server's p50 of 20.
	if s := byPath[stepRoundTrip]; s.Summary.P50 != 2*time.Millisecond || s.Share >= 0 {
		t.Errorf("round trip = %+v", s)
	}
	if s := byPath[stepAgent]; s.Summary.P50 != 8*time.Millisecond {
		t.Errorf("agent = %+v, want first exec p50 30 - create p50 22", s)
	}
	if breakdown(nil, nil, nil) != nil {
		t.Error("a breakdown of no traces")
	}
}

func TestDensitySteps(t *testing.T) {
	for _, tc := range []struct {
		limit int
		want  []int
	}{
		{5, []int{5}},
		{10, []int{10}},
		{120, []int{10, 50, 100, 120}},
		{500, []int{10, 50, 100, 250, 500}},
	} {
		if got := densitySteps(tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("densitySteps(%d) = %v, want %v", tc.limit, got, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	ok := DefaultOptions()
	ok.Binary = "/bin/hutch"
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mod := range map[string]func(*Options){
		"unknown scenario":         func(o *Options) { o.Scenarios = []string{"create", "fly"} },
		"no rounds":                func(o *Options) { o.Rounds = 0 },
		"no clients":               func(o *Options) { o.Clients = 0 },
		"no binary and no url":     func(o *Options) { o.Binary = "" },
		"breakdown of a url":       func(o *Options) { o.URL, o.Breakdown = "http://x", true },
		"server log of own server": func(o *Options) { o.ServerLog = "/tmp/x.log" },
	} {
		o := ok
		mod(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
