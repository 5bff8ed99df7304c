package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/metrics"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

var errBoom = errors.New("boom")

func parse(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics: %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.Body)
	}
	return fams
}

func find(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

func counter(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	if m := find(fams, name, labels...); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// TestLifecycleMoves drives real lifecycle actions through the service
// (the in-memory runtime under it) and watches the parsed metrics move:
// transitions by action and outcome with their latencies, the sandboxes
// by organisation and state, the store's timings, and the reconciler's
// actions apart from the user's.
func TestLifecycleMoves(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := auth.Bootstrap(ctx, st, ""); err != nil {
		t.Fatal(err)
	}
	rt := fakeruntime.New()
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, rt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	m := metrics.New(metrics.Sources{Sandboxes: st.SandboxCounts,
		Host: func() metrics.Host { return metrics.Host{CPU: 4, MemoryMB: 4096, FreeDiskMB: 100} }}, nil)
	svc.Bus().Observe(m.ObserveSandbox)
	st.Observe(m.ObserveStore)

	before := parse(t, m)
	if counter(before, "hutch_sandbox_transitions_total", "action", "create", "outcome", "ok") != 0 {
		t.Fatal("creates counted before any")
	}
	org := auth.DefaultOrganizationID
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: org, Name: name, Wait: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sb.ID)
	}
	if _, err := svc.Act(ctx, org, ids[0], sandbox.ActionPause, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Act(ctx, org, ids[1], sandbox.ActionStop, sandbox.ActOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	rt.FailNext("start", errBoom)
	if _, err := svc.Act(ctx, org, ids[1], sandbox.ActionStart, sandbox.ActOptions{Wait: true}); err == nil {
		t.Fatal("a failing start succeeded")
	}
	if _, err := svc.Act(ctx, org, ids[2], sandbox.ActionStop, sandbox.ActOptions{Wait: true, Cause: sandbox.CauseAutoStop}); err != nil {
		t.Fatal(err)
	}

	fams := parse(t, m)
	for _, c := range []struct {
		action, outcome string
		want            float64
	}{{"create", "ok", 3}, {"pause", "ok", 1}, {"stop", "ok", 2}, {"start", "error", 1}} {
		if got := counter(fams, "hutch_sandbox_transitions_total", "action", c.action, "outcome", c.outcome); got != c.want {
			t.Errorf("transitions %s/%s = %v, want %v", c.action, c.outcome, got, c.want)
		}
	}
	if h := find(fams, "hutch_sandbox_transition_seconds", "action", "create", "outcome", "ok"); h == nil || h.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("create latencies: %v", h)
	}
	if got := counter(fams, "hutch_reconciler_actions_total", "action", "stop", "cause", sandbox.CauseAutoStop); got != 1 {
		t.Errorf("reconciler stops = %v, want 1", got)
	}
	if got := counter(fams, "hutch_reconciler_actions_total", "action", "pause"); got != 0 {
		t.Errorf("a user's pause counted as the reconciler's: %v", got)
	}
	gauge := func(state string) float64 {
		if g := find(fams, "hutch_sandboxes", "org", org, "state", state); g != nil {
			return g.GetGauge().GetValue()
		}
		return 0
	}
	if gauge("paused") != 1 || gauge("error") != 1 || gauge("stopped") != 1 {
		t.Errorf("sandboxes by state: paused %v, error %v, stopped %v", gauge("paused"), gauge("error"), gauge("stopped"))
	}
	if h := find(fams, "hutch_store_seconds", "op", "write", "outcome", "ok"); h == nil || h.GetHistogram().GetSampleCount() < 10 {
		t.Errorf("store writes: %v", h)
	}
	if g := find(fams, "hutch_host_cpu_used_ratio"); g == nil || g.GetGauge().GetValue() <= 0 {
		t.Errorf("host cpu used: %v (a paused sandbox holds its cpus)", g)
	}
}

func TestRequestKinds(t *testing.T) {
	m := metrics.New(metrics.Sources{}, nil)
	m.ObserveRequest(metrics.KindAgent, "POST", "/v1/sandboxes/{id}/exec", 200, 20*time.Millisecond)
	m.ObserveRequest(metrics.KindProxy, "GET", "{port}-{id}.localhost", 502, time.Millisecond)
	m.ObserveRequest(metrics.KindAPI, "GET", "/v1/sandboxes", 200, time.Millisecond)
	m.ObservePull(time.Second, nil)
	m.ObservePull(time.Second, errBoom)
	fams := parse(t, m)
	for _, o := range []string{"ok", "error"} {
		if h := find(fams, "hutch_image_pull_seconds", "outcome", o); h == nil || h.GetHistogram().GetSampleCount() != 1 {
			t.Errorf("image pulls %s: %v", o, h)
		}
	}
	if h := find(fams, "hutch_agent_call_seconds", "route", "/v1/sandboxes/{id}/exec", "code", "200"); h == nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("agent calls: %v", h)
	}
	if h := find(fams, "hutch_proxy_request_seconds", "code", "502"); h == nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("proxied: %v", h)
	}
	if h := find(fams, "hutch_http_request_seconds"); h == nil || len(fams["hutch_http_request_seconds"].GetMetric()) != 3 {
		t.Errorf("every request in the general family: %v", fams["hutch_http_request_seconds"])
	}
}

// TestReconcilerLag: a pass that finds nothing due shows no lag; one that
// finds an expiry nine minutes late (a reconciler that did not pass for
// ten) shows those nine minutes and the action it started; the pass
// after it, with nothing left due, goes back to none.
func TestReconcilerLag(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc, err := sandbox.NewService(sandbox.DefaultConfig(), st, fakeruntime.New(), sandbox.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	m := metrics.New(metrics.Sources{}, nil)
	svc.Bus().ObservePasses(m.ObserveReconcilerPass)
	rec := svc.NewReconciler()
	t.Cleanup(rec.Wait)
	timeout := int64(60)
	if _, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_lag", TimeoutSeconds: &timeout, Wait: true}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, lag float64, passes, actions uint64) {
		t.Helper()
		fams := parse(t, m)
		if g := find(fams, "hutch_reconciler_lag_seconds"); g == nil || g.GetGauge().GetValue() != lag {
			t.Errorf("%s: lag %v, want %v", when, g, lag)
		}
		h := find(fams, "hutch_reconciler_pass_seconds")
		if h == nil || h.GetHistogram().GetSampleCount() != passes {
			t.Errorf("%s: passes %v, want %d", when, h, passes)
		}
		if a := find(fams, "hutch_reconciler_pass_actions"); a == nil || uint64(a.GetHistogram().GetSampleSum()) != actions {
			t.Errorf("%s: actions %v, want %d in all", when, a, actions)
		}
	}
	rec.Pass(ctx)
	check("nothing due", 0, 1, 0)
	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	rec.Pass(ctx)
	rec.Wait()
	check("an expiry 9 minutes late", 540, 2, 1)
	rec.Pass(ctx)
	check("after the expiry", 0, 3, 1)
}
