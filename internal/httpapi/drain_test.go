package httpapi_test

import (
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestDrainRoute: only the platform admin drains; a drain refuses creates
// with 503 and reports, on a runtime that cannot checkpoint, the running
// sandbox it left running and why.
func TestDrainRoute(t *testing.T) {
	e := newEnv(t)
	sb := e.create("busy")
	var other api.Organization
	e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "tenant"}).decode(t, &other)
	for _, m := range []string{"GET", "POST"} {
		if r := e.do(m, "/v1/admin/drain", other.APIKey, nil); r.status != 403 {
			t.Fatalf("%s /v1/admin/drain by another organisation's admin: %d %s", m, r.status, r.body)
		}
	}
	var st api.DrainStatus
	if e.must(200, "GET", "/v1/admin/drain", nil).decode(t, &st); st.Draining {
		t.Fatalf("draining before any drain: %+v", st)
	}
	e.must(202, "POST", "/v1/admin/drain", nil).decode(t, &st)
	if !st.Draining || st.StartedAt == nil {
		t.Fatalf("drain begun: %+v", st)
	}
	poll.Until(t, "the drain to finish", func() bool {
		e.must(200, "GET", "/v1/admin/drain", nil).decode(t, &st)
		return st.FinishedAt != nil
	})
	if st.Total != 1 || st.Done != 1 || st.OnDisk != 0 || len(st.LeftRunning) != 1 ||
		st.LeftRunning[0].SandboxID != sb.ID || !strings.Contains(st.LeftRunning[0].Reason, "checkpoint") {
		t.Fatalf("drain on a runtime without checkpoints: %+v", st)
	}
	if r := e.do("POST", "/v1/sandboxes", e.key, api.CreateSandboxRequest{Name: "late"}); r.status != 503 {
		t.Fatalf("create while draining: %d %s", r.status, r.body)
	}
	if got := e.must(200, "GET", "/v1/sandboxes/busy", nil).sandbox(t); got.State != "running" {
		t.Fatalf("sandbox left running: %+v", got)
	}
}
