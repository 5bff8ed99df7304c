package opensandbox_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCreateAndGet: create answers 202 Pending with what the SDK parses
// (createdAt, entrypoint, metadata, expiresAt) and a Location; GET then
// shows the whole sandbox running, with its image and status details.
func TestCreateAndGet(t *testing.T) {
	e := newEnv(t, false)
	before := time.Now()
	r := e.must(http.StatusAccepted, "POST", "/v1/sandboxes", sdkCreate(map[string]string{"team": "ml"}))
	var created sandboxJSON
	r.decode(t, &created)
	if !strings.HasPrefix(created.ID, "sbx_") || created.Status.State != "Pending" {
		t.Fatalf("created %+v", created)
	}
	if created.CreatedAt.Before(before.Add(-time.Second)) || created.Metadata["team"] != "ml" ||
		!slices.Equal(created.Entrypoint, []string{"tail", "-f", "/dev/null"}) {
		t.Fatalf("create body: %s", r.body)
	}
	if left := time.Until(*created.ExpiresAt); left < 590*time.Second || left > 601*time.Second {
		t.Fatalf("expiresAt %v is not 600 s away", created.ExpiresAt)
	}
	if loc := r.header.Get("Location"); loc != "/v1/sandboxes/"+created.ID {
		t.Fatalf("Location %q", loc)
	}
	e.waitState(created.ID, "Running")
	got := e.get(created.ID)
	if got.Image == nil || got.Image.URI != "base" || got.Status.LastTransitionAt == nil ||
		got.Status.Reason != "user_request" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("get: %+v", got)
	}
	if rt := e.svcSandbox(created.ID); rt.Resources.CPU != 1 || rt.Resources.MemoryMB != 2048 {
		t.Fatalf("limits reached the sandbox as %+v", rt.Resources)
	}
}

// TestCreateRefusesWhatItCannotHonour: bad input is a 400 naming the
// field in the vendor's words; features Hutch lacks are the vendor's
// "not supported", never a silent success.
func TestCreateRefusesWhatItCannotHonour(t *testing.T) {
	e := newEnv(t, false)
	with := func(k string, v any) map[string]any {
		b := sdkCreate(nil)
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no image", with("image", nil), 400, "image"},
		{"empty image uri", with("image", map[string]string{"uri": ""}), 400, "image.uri"},
		{"bad image reference", with("image", map[string]string{"uri": "UPPER/../x"}), 400, "image.uri"},
		{"cpu words", with("resourceLimits", map[string]string{"cpu": "lots"}), 400, "resourceLimits.cpu"},
		{"cpu zero", with("resourceLimits", map[string]string{"cpu": "0m"}), 400, "resourceLimits.cpu"},
		{"cpu above the maximum", with("resourceLimits", map[string]string{"cpu": "1000"}), 400, "resourceLimits.cpu"},
		{"cpu below the kernel's least", with("resourceLimits", map[string]string{"cpu": "1m"}), 400, "resourceLimits.cpu"},
		{"memory unit", with("resourceLimits", map[string]string{"memory": "12XB"}), 400, "resourceLimits.memory"},
		{"memory too small", with("resourceLimits", map[string]string{"memory": "1Mi"}), 400, "resourceLimits.memory"},
		{"gpu", with("resourceLimits", map[string]string{"gpu": "1"}), 400, "resourceLimits.gpu"},
		{"more memory than the host has", with("resourceLimits", map[string]string{"memory": "16Gi"}), 403, "resourceLimits.memory"},
		{"more cpus than the host has", with("resourceLimits", map[string]string{"cpu": "8"}), 403, "resourceLimits.cpu"},
		{"timeout below the minimum", with("timeout", 10), 400, "timeout"},
		{"timeout of the wrong type", with("timeout", "soon"), 400, "timeout"},
		{"metadata of the wrong type", with("metadata", []string{"a"}), 400, "metadata"},
		{"reserved metadata", with("metadata", map[string]string{"opensandbox.io/x": "y"}), 400, "metadata"},
		{"bad env name", with("env", map[string]string{"1A": "x"}), 400, "env"},
		{"domain egress rule", with("networkPolicy", map[string]any{"defaultAction": "deny",
			"egress": []map[string]string{{"action": "allow", "target": "pypi.org"}}}), 400, "networkPolicy.egress[0].target"},
		{"bad renew extension", with("extensions", map[string]string{"access.renew.extend.seconds": "5"}), 400, "extensions.access.renew.extend.seconds"},
		{"platform of another arch", with("platform", map[string]string{"os": "windows", "arch": "amd64"}), 400, "platform"},
		{"snapshot", with("snapshotId", "snap_1"), 400, "snapshotId"},
		{"snapshot instead of image", func() map[string]any { b := with("image", nil); b["snapshotId"] = "snap_1"; return b }(), 501, "snapshotId"},
		{"volumes", with("volumes", []map[string]any{{"name": "v", "mountPath": "/v", "host": map[string]string{"path": "/tmp"}}}), 501, "volumes"},
		{"broken JSON", "{", 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.request("POST", "/v1/sandboxes", e.key, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			code, msg := r.errBody(t)
			want := map[int]string{400: "INVALID_REQUEST", 403: "FORBIDDEN", 501: "API_NOT_SUPPORTED"}[c.status]
			if code != want || !strings.Contains(msg, c.field) {
				t.Fatalf("%s %q does not name %q", code, msg, c.field)
			}
		})
	}
}

// TestCreateMapsLimitsAndPolicy: Kubernetes quantities and the egress
// policy reach the sandbox in Hutch's terms.
func TestCreateMapsLimitsAndPolicy(t *testing.T) {
	e := newEnv(t, false)
	body := sdkCreate(nil)
	body["resourceLimits"] = map[string]string{"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1G"}
	body["timeout"] = nil
	body["networkPolicy"] = map[string]any{"defaultAction": "deny",
		"egress": []map[string]string{{"action": "allow", "target": "10.0.0.0/8"}, {"action": "allow", "target": "1.1.1.1"}}}
	var created sandboxJSON
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes", body).decode(t, &created)
	sb := e.svcSandbox(created.ID)
	if sb.Resources.CPU != 0.5 || sb.Resources.MemoryMB != 512 || sb.Resources.DiskMB != 954 {
		t.Fatalf("resources %+v", sb.Resources)
	}
	if !sb.Network.Internet || !slices.Equal(sb.Network.AllowCIDRs, []string{"10.0.0.0/8", "1.1.1.1/32"}) {
		t.Fatalf("network %+v", sb.Network)
	}
	if created.ExpiresAt != nil || sb.ExpiresAt != nil {
		t.Fatalf("a null timeout expires at %v", sb.ExpiresAt)
	}
	body["networkPolicy"] = map[string]any{"defaultAction": "deny"}
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes", body).decode(t, &created)
	if sb := e.svcSandbox(created.ID); sb.Network.Internet {
		t.Fatalf("deny with no rules left the internet on: %+v", sb.Network)
	}
}

// TestListFiltersAndPages: state is OR, metadata is AND of key=value
// (one query value, as the SDK encodes it), pages carry pagination.
func TestListFiltersAndPages(t *testing.T) {
	e := newEnv(t, false)
	a := e.create(map[string]string{"run": "r1", "role": "a"})
	b := e.create(map[string]string{"run": "r1", "role": "b"})
	c := e.create(map[string]string{"run": "r1", "role": "c"})
	e.create(map[string]string{"run": "r2"})
	odd := e.create(map[string]string{"run": "r3", "k": "ü%", "p": "a+b c"})
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+b+"/pause", nil)
	e.waitState(b, "Paused")

	type page struct {
		Items      []sandboxJSON `json:"items"`
		Pagination struct {
			Page, PageSize, TotalItems, TotalPages int
			HasNextPage                            bool
		} `json:"pagination"`
	}
	list := func(query string) page {
		t.Helper()
		var p page
		e.must(http.StatusOK, "GET", "/v1/sandboxes?"+query, nil).decode(t, &p)
		return p
	}
	ids := func(p page) []string {
		var out []string
		for _, s := range p.Items {
			out = append(out, s.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	run1 := "metadata=" + url.QueryEscape("run=r1")
	for _, c := range []struct {
		query string
		want  []string
	}{
		{run1, sorted(a, b, c)},
		{run1 + "&state=Running", sorted(a, c)},
		{run1 + "&state=Paused", sorted(b)},
		{run1 + "&state=running&state=Paused", sorted(a, b, c)},
		{"metadata=" + url.QueryEscape("run=r1&role=a"), sorted(a)},
		{"metadata=" + url.QueryEscape("run=r1&role=zzz"), nil},
		{run1 + "&state=Terminated", nil},
		// The SDK joins k=v raw and encodes the whole value once; the spec
		// encodes keys and values inside as well. Both find the sandbox.
		{"metadata=" + url.QueryEscape("k=ü%&p=a+b c"), []string{odd}},
		{"metadata=" + url.QueryEscape("p="+url.PathEscape("a+b c")+"&k="+url.PathEscape("ü%")), []string{odd}},
		{"metadata=" + url.QueryEscape("p=a b c"), nil},
	} {
		if got := ids(list(c.query)); !slices.Equal(got, c.want) {
			t.Errorf("?%s -> %v, want %v", c.query, got, c.want)
		}
	}
	p1 := list(run1 + "&page=1&pageSize=2")
	p2 := list(run1 + "&page=2&pageSize=2")
	if len(p1.Items) != 2 || len(p2.Items) != 1 || !p1.Pagination.HasNextPage || p2.Pagination.HasNextPage ||
		p1.Pagination.TotalItems != 3 || p1.Pagination.TotalPages != 2 || p2.Pagination.Page != 2 || p2.Pagination.PageSize != 2 {
		t.Fatalf("pages: %+v / %+v", p1.Pagination, p2.Pagination)
	}
	if got := ids(p1); slices.Contains(got, p2.Items[0].ID) {
		t.Fatalf("page 2 repeats page 1: %v %v", got, p2.Items[0].ID)
	}
	if p := list(run1 + "&page=3&pageSize=2"); p.Items == nil || len(p.Items) != 0 {
		t.Fatalf("past the end: %+v", p)
	}
	for _, c := range []struct{ query, field string }{
		{"state=Sleeping", "state"},
		{"pageSize=0", "pageSize"},
		{"page=-1", "page"},
		{"pageSize=x", "pageSize"},
		{"metadata=%zz", ""},
		{"metadata=" + url.QueryEscape("novalue"), "metadata"},
	} {
		r := e.request("GET", "/v1/sandboxes?"+c.query, e.key, nil)
		if r.status != 400 {
			t.Errorf("?%s: %d %s", c.query, r.status, r.body)
			continue
		}
		if code, msg := r.errBody(t); code != "INVALID_REQUEST" || !strings.Contains(msg, c.field) {
			t.Errorf("?%s: %s %q", c.query, code, msg)
		}
	}
}

// TestPauseResumeDelete: pause and resume answer 202 without a body and a
// poller sees the states; delete answers 204 and the sandbox is then the
// 404 of the vendor, with a body.
func TestPauseResumeDelete(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	release := e.blockNext("pause")
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/pause", nil)
	if got := e.get(id).Status.State; got != "Pausing" {
		t.Fatalf("during the pause: %s", got)
	}
	release()
	e.waitState(id, "Paused")
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/pause", nil) // again: nothing to do
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes/"+id+"/resume", nil)
	e.waitState(id, "Running")

	r := e.request("POST", "/v1/sandboxes/"+id+"/resume", e.key, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("resume of a running sandbox: %d %s", r.status, r.body)
	}
	e.must(http.StatusNoContent, "DELETE", "/v1/sandboxes/"+id, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/sandboxes/" + id},
		{"DELETE", "/v1/sandboxes/" + id},
		{"POST", "/v1/sandboxes/" + id + "/pause"},
		{"GET", "/v1/sandboxes/" + id + "/endpoints/44772"},
		{"GET", "/sandboxes/" + id + "/port/44772/ping"},
	} {
		r := e.request(c.method, c.path, e.key, nil)
		if r.status != http.StatusNotFound {
			t.Fatalf("%s %s after delete: %d %s", c.method, c.path, r.status, r.body)
		}
		if code, _ := r.errBody(t); code != "NOT_FOUND" {
			t.Fatalf("%s %s: code %s", c.method, c.path, code)
		}
	}
	var p struct{ Items []sandboxJSON }
	e.must(http.StatusOK, "GET", "/v1/sandboxes", nil).decode(t, &p)
	if len(p.Items) != 0 {
		t.Fatalf("a deleted sandbox is listed: %+v", p.Items)
	}
}

// TestFailedAndConflict: a sandbox whose boot failed is Failed with the
// reason; an action its state forbids is the vendor's 409.
func TestFailedAndConflict(t *testing.T) {
	e := newEnv(t, false)
	e.rt.FailNext("create", fmt.Errorf("no such image"))
	var sb sandboxJSON
	e.must(http.StatusAccepted, "POST", "/v1/sandboxes", sdkCreate(nil)).decode(t, &sb)
	e.waitState(sb.ID, "Failed")
	got := e.get(sb.ID)
	if got.Status.Reason != "runtime_error" || !strings.Contains(got.Status.Message, "no such image") {
		t.Fatalf("failed status %+v", got.Status)
	}
	r := e.request("POST", "/v1/sandboxes/"+sb.ID+"/pause", e.key, nil)
	if code, _ := r.errBody(t); r.status != http.StatusConflict || code != "INVALID_STATE" {
		t.Fatalf("pause of a failed sandbox: %d %s", r.status, r.body)
	}
}

// TestOrganisationsAndKeys: another organisation's sandbox is a 404 on
// every route; no key or a wrong one is a 401 with a body.
func TestOrganisationsAndKeys(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(map[string]string{"owner": "me"})
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/sandboxes/" + id},
		{"DELETE", "/v1/sandboxes/" + id},
		{"POST", "/v1/sandboxes/" + id + "/pause"},
		{"POST", "/v1/sandboxes/" + id + "/renew-expiration"},
		{"PATCH", "/v1/sandboxes/" + id + "/metadata"},
		{"GET", "/v1/sandboxes/" + id + "/endpoints/44772"},
		{"GET", "/sandboxes/" + id + "/port/44772/ping"},
		{"POST", "/sandboxes/" + id + "/port/44772/command"},
		{"GET", "/sandboxes/" + id + "/port/8080/"},
	} {
		r := e.request(c.method, c.path, e.other, `{"expiresAt": "2100-01-01T00:00:00Z", "command": "true"}`)
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s as another organisation: %d %s", c.method, c.path, r.status, r.body)
			continue
		}
		r.errBody(t)
	}
	var p struct{ Items []sandboxJSON }
	if e.request("GET", "/v1/sandboxes", e.other, nil).decode(t, &p); len(p.Items) != 0 {
		t.Fatalf("another organisation lists %+v", p.Items)
	}
	for _, key := range []string{"", "hk_wrong"} {
		for _, path := range []string{"/v1/sandboxes", "/sandboxes/" + id + "/port/44772/ping"} {
			r := e.request("GET", path, key, nil)
			if code, _ := r.errBody(t); r.status != http.StatusUnauthorized || code != "UNAUTHORIZED" {
				t.Errorf("%s with key %q: %d %s", path, key, r.status, r.body)
			}
		}
	}
	if e.get(id).Status.State != "Running" {
		t.Fatal("another organisation's calls changed the sandbox")
	}
}

// TestRenewAndMetadata: renew answers the new expiresAt and refuses one
// in the past, naming the field; the metadata patch merges.
func TestRenewAndMetadata(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(map[string]string{"a": "1", "b": "2"})
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	var renewed struct{ ExpiresAt time.Time }
	e.must(http.StatusOK, "POST", "/v1/sandboxes/"+id+"/renew-expiration", map[string]string{"expiresAt": at.Format(time.RFC3339)}).decode(t, &renewed)
	if !renewed.ExpiresAt.Equal(at) || !e.get(id).ExpiresAt.Equal(at) {
		t.Fatalf("renewed to %v, want %v", renewed.ExpiresAt, at)
	}
	for _, body := range []any{map[string]string{}, map[string]string{"expiresAt": "2001-01-01T00:00:00Z"}, map[string]string{"expiresAt": "tomorrow"}} {
		r := e.request("POST", "/v1/sandboxes/"+id+"/renew-expiration", e.key, body)
		if _, msg := r.errBody(t); r.status != 400 || !strings.Contains(msg, "expiresAt") {
			t.Errorf("renew %v: %d %s", body, r.status, r.body)
		}
	}
	var sb sandboxJSON
	e.must(http.StatusOK, "PATCH", "/v1/sandboxes/"+id+"/metadata", map[string]any{"a": nil, "c": "3"}).decode(t, &sb)
	if len(sb.Metadata) != 2 || sb.Metadata["b"] != "2" || sb.Metadata["c"] != "3" {
		t.Fatalf("patched metadata %v", sb.Metadata)
	}
	r := e.request("PATCH", "/v1/sandboxes/"+id+"/metadata", e.key, map[string]string{"opensandbox.io/x": "y"})
	if _, msg := r.errBody(t); r.status != 400 || !strings.Contains(msg, "metadata") {
		t.Fatalf("reserved key: %d %s", r.status, r.body)
	}
}

// TestEndpoints: an endpoint is host:port/path without a scheme, pointing
// back at this face (under its prefix when mounted).
func TestEndpoints(t *testing.T) {
	for _, mounted := range []bool{false, true} {
		e := newEnv(t, mounted)
		id := e.create(nil)
		for _, port := range []string{"44772", "18080"} {
			var ep struct {
				Endpoint string            `json:"endpoint"`
				Headers  map[string]string `json:"headers"`
			}
			e.must(http.StatusOK, "GET", "/v1/sandboxes/"+id+"/endpoints/"+port+"?use_server_proxy=false", nil).decode(t, &ep)
			want := strings.TrimPrefix(e.url, "http://") + "/sandboxes/" + id + "/port/" + port
			if ep.Endpoint != want {
				t.Errorf("mounted=%v port %s: endpoint %q, want %q", mounted, port, ep.Endpoint, want)
			}
		}
		for _, c := range []struct {
			path   string
			status int
		}{
			{"/endpoints/0", 400}, {"/endpoints/http", 400}, {"/endpoints/70000", 400},
			{"/endpoints/80?use_server_proxy=maybe", 400}, {"/endpoints/80?expires=1900000000", 501},
		} {
			r := e.request("GET", "/v1/sandboxes/"+id+c.path, e.key, nil)
			if r.status != c.status {
				t.Errorf("%s: %d %s", c.path, r.status, r.body)
			}
			r.errBody(t)
		}
		r := e.request("GET", "/v1/sandboxes/"+id+"/port/44772/ping", e.key, nil)
		if r.status != 404 {
			t.Errorf("a route that does not exist: %d", r.status)
		}
		r.errBody(t)
	}
}

// TestBodilessAnswers: the SDK's telemetry is taken with a 204; snapshots
// list empty, a snapshot is not found and making one is not supported.
func TestBodilessAnswersAndSnapshots(t *testing.T) {
	e := newEnv(t, false)
	id := e.create(nil)
	e.must(http.StatusNoContent, "POST", "/v1/metrics/events", map[string]any{"eventType": "sandbox.create", "createDurationMs": 12, "success": true})
	var snaps struct {
		Items      []any          `json:"items"`
		Pagination map[string]any `json:"pagination"`
	}
	e.must(http.StatusOK, "GET", "/v1/snapshots?sandboxId="+id, nil).decode(t, &snaps)
	if snaps.Items == nil || len(snaps.Items) != 0 || snaps.Pagination["page"] != float64(1) {
		t.Fatalf("snapshots %+v", snaps)
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/snapshots/snap_1", 404},
		{"DELETE", "/v1/snapshots/snap_1", 404},
		{"POST", "/v1/sandboxes/" + id + "/snapshots", 501},
		{"POST", "/v1/sandboxes/sbx_missing/snapshots", 404},
	} {
		r := e.request(c.method, c.path, e.key, nil)
		if r.status != c.status {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
		r.errBody(t)
	}
}
