package e2b

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestCreateAndGet: a create (as the SDK sends it, chunked) answers 201
// with what the SDK builds envd from; get answers the detail with E2B's
// field names and state words.
func TestCreateAndGet(t *testing.T) {
	e := newEnv(t)
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"templateID":"base","metadata":{"run":"r1"},"envVars":{"A":"1"},"timeout":600,`)
		io.WriteString(pw, `"autoPause":false,"secure":true,"allow_internet_access":true,"autoResume":{"enabled":true}}`)
		pw.Close()
	}()
	var sb sandboxJSON
	e.must(http.StatusCreated, "POST", "/v2/sandboxes", pr).json(t, &sb)
	if !strings.HasPrefix(sb.SandboxID, sandbox.IDPrefix) || sb.TemplateID != "base" || sb.EnvdVersion != envdVersion ||
		!strings.HasPrefix(sb.EnvdAccessToken, "e2b_") || sb.ClientID == "" || sb.Domain == nil {
		t.Fatalf("create answered %+v", sb)
	}
	if host := strings.TrimPrefix(e.url, "http://"); *sb.Domain != domain+host[strings.LastIndex(host, ":"):] {
		t.Fatalf("domain %q does not carry the server's port (%s)", *sb.Domain, host)
	}

	var d map[string]any
	e.must(http.StatusOK, "GET", "/sandboxes/"+sb.SandboxID, nil).json(t, &d)
	for k, want := range map[string]any{"sandboxID": sb.SandboxID, "templateID": "base", "alias": "base", "state": "running",
		"envdVersion": envdVersion, "envdAccessToken": sb.EnvdAccessToken, "cpuCount": 1.0, "memoryMB": 1024.0,
		"allowInternetAccess": true} {
		if d[k] != want {
			t.Errorf("get: %s = %v, want %v", k, d[k], want)
		}
	}
	if md, _ := d["metadata"].(map[string]any); md["run"] != "r1" {
		t.Errorf("metadata = %v", d["metadata"])
	}
	if lc, _ := d["lifecycle"].(map[string]any); lc["autoResume"] != true || lc["onTimeout"] != "kill" {
		t.Errorf("lifecycle = %v", d["lifecycle"])
	}
	started, _ := time.Parse(time.RFC3339Nano, d["startedAt"].(string))
	end, _ := time.Parse(time.RFC3339Nano, d["endAt"].(string))
	if left := end.Sub(started); left < 590*time.Second || left > 610*time.Second {
		t.Errorf("endAt %v is not 600 s after startedAt %v", end, started)
	}

	// v1 create, and the default template and timeout.
	var v1 sandboxJSON
	e.must(http.StatusCreated, "POST", "/sandboxes", map[string]any{}).json(t, &v1)
	if v1.TemplateID != "base" {
		t.Fatalf("default template = %q", v1.TemplateID)
	}
	var d1 detailJSON
	e.must(http.StatusOK, "GET", "/sandboxes/"+v1.SandboxID, nil).json(t, &d1)
	if left := time.Until(d1.EndAt); left < 290*time.Second || left > defaultTimeout*time.Second {
		t.Fatalf("default timeout leaves %v", left)
	}
}

// TestErrors: E2B's body {code, message} with the status as the code,
// bad input naming E2B's field, another organisation's sandbox not found.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base"})
	for _, c := range []struct {
		name, method, path, key string
		body                    any
		status                  int
		field                   string
	}{
		{"no key", "GET", "/sandboxes/" + sb.SandboxID, "", nil, 401, ""},
		{"bad key", "GET", "/sandboxes/" + sb.SandboxID, "hk_nope", nil, 401, ""},
		{"other organisation", "GET", "/sandboxes/" + sb.SandboxID, e.otherKey, nil, 404, ""},
		{"other organisation kill", "DELETE", "/sandboxes/" + sb.SandboxID, e.otherKey, nil, 404, ""},
		{"other organisation pause", "POST", "/sandboxes/" + sb.SandboxID + "/pause", e.otherKey, nil, 404, ""},
		{"missing", "GET", "/sandboxes/sbx_missing", e.key, nil, 404, ""},
		{"unknown template", "POST", "/v2/sandboxes", e.key, map[string]any{"templateID": "nosuchimage"}, 404, ""},
		{"not a template name", "POST", "/v2/sandboxes", e.key, map[string]any{"templateID": "UP/../per"}, 400, "templateID"},
		{"timeout of the wrong type", "POST", "/v2/sandboxes", e.key, `{"templateID":"base","timeout":"soon"}`, 400, "timeout"},
		{"timeout out of range", "POST", "/v2/sandboxes", e.key, map[string]any{"templateID": "base", "timeout": -5}, 400, "timeout"},
		{"bad env name", "POST", "/v2/sandboxes", e.key, map[string]any{"templateID": "base", "envVars": map[string]string{"1X": "y"}}, 400, "envVars"},
		{"domain egress", "POST", "/v2/sandboxes", e.key, map[string]any{"templateID": "base", "network": map[string]any{"allowOut": []string{"example.com"}, "denyOut": []string{"0.0.0.0/0"}}}, 400, "network.allowOut"},
		{"volumes", "POST", "/v2/sandboxes", e.key, map[string]any{"templateID": "base", "volumeMounts": []map[string]string{{"name": "v", "path": "/v"}}}, 400, "volumeMounts"},
		{"broken JSON", "POST", "/v2/sandboxes", e.key, `{"templateID":`, 400, ""},
		{"timeout missing", "POST", "/sandboxes/" + sb.SandboxID + "/timeout", e.key, map[string]any{}, 400, "timeout"},
		{"timeout zero", "POST", "/sandboxes/" + sb.SandboxID + "/timeout", e.key, map[string]any{"timeout": 0}, 400, "timeout"},
		{"refresh too long", "POST", "/sandboxes/" + sb.SandboxID + "/refreshes", e.key, map[string]any{"duration": 7200}, 400, "duration"},
		{"metrics start", "GET", "/sandboxes/" + sb.SandboxID + "/metrics?start=yesterday", e.key, nil, 400, "start"},
		{"logs direction", "GET", "/v2/sandboxes/" + sb.SandboxID + "/logs?direction=up", e.key, nil, 400, "direction"},
		{"fork", "POST", "/sandboxes/" + sb.SandboxID + "/fork", e.key, map[string]any{}, 501, ""},
		{"snapshots", "GET", "/snapshots", e.key, nil, 501, ""},
		{"unknown route", "GET", "/nowhere", e.key, nil, 404, ""},
	} {
		r := e.api(c.method, c.path, c.key, c.body)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		if msg := r.e2bError(t).Message; c.field != "" && !strings.HasPrefix(msg, c.field+":") {
			t.Errorf("%s: message %q does not name %s", c.name, msg, c.field)
		}
	}
}

// TestListFiltersAndPages: the v2 list by metadata (encoded as the SDK
// encodes it), by state and in pages; the v1 list of running ones.
func TestListFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	md := map[string]string{"team/name": "a b=c&d%", "run": "r2"}
	var ids []string
	for range 3 {
		ids = append(ids, e.create(map[string]any{"templateID": "base", "metadata": md}).SandboxID)
	}
	e.create(map[string]any{"templateID": "base", "metadata": map[string]string{"run": "other"}})
	e.must(http.StatusNoContent, "POST", "/sandboxes/"+ids[0]+"/pause", nil)

	// The SDK percent-encodes each key and value, joins them with
	// URLSearchParams (which encodes the % again), and the client encodes
	// the parameter once more.
	sdkEncoded := url.Values{}
	for k, v := range md {
		sdkEncoded.Set(url.PathEscape(k), url.PathEscape(v))
	}
	filter := "metadata=" + url.QueryEscape(sdkEncoded.Encode())
	list := func(query string) (got []string, next string) {
		t.Helper()
		r := e.must(http.StatusOK, "GET", "/v2/sandboxes?"+query, nil)
		var items []detailJSON
		r.json(t, &items)
		for _, it := range items {
			got = append(got, it.SandboxID)
		}
		return got, r.header.Get("X-Next-Token")
	}
	same := func(name string, got, want []string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	all, next := list(filter)
	same("metadata, both states, newest first", all, []string{ids[2], ids[1], ids[0]})
	if next != "" {
		t.Errorf("one page only, but x-next-token %q", next)
	}
	running, _ := list(filter + "&state=running")
	same("running", running, []string{ids[2], ids[1]})
	paused, _ := list(filter + "&state=paused")
	same("paused", paused, []string{ids[0]})
	both, _ := list(filter + "&state=running,paused")
	same("running,paused", both, all)
	asc, _ := list(filter + "&order=asc")
	same("ascending", asc, []string{ids[0], ids[1], ids[2]})

	var paged []string
	token := ""
	for range 5 {
		q := filter + "&limit=1"
		if token != "" {
			q += "&nextToken=" + url.QueryEscape(token)
		}
		page, next := list(q)
		paged = append(paged, page...)
		if token = next; token == "" {
			break
		}
	}
	same("pages of one", paged, all)
	ascPaged, next := list(filter + "&order=asc&limit=2")
	same("ascending first page", ascPaged, []string{ids[0], ids[1]})
	rest, last := list(filter + "&order=asc&limit=2&nextToken=" + url.QueryEscape(next))
	same("ascending last page", rest, []string{ids[2]})
	if last != "" {
		t.Errorf("last page has x-next-token %q", last)
	}

	var v1 []detailJSON
	e.must(http.StatusOK, "GET", "/sandboxes?"+filter, nil).json(t, &v1)
	if len(v1) != 2 || v1[0].State != "running" {
		t.Errorf("v1 list of running sandboxes: %+v", v1)
	}
	if r := e.api("GET", "/v2/sandboxes?"+filter, e.otherKey, nil); r.status != 200 || string(r.body) != "[]\n" {
		t.Errorf("another organisation lists %d %s", r.status, r.body)
	}
	for _, c := range []struct{ query, field string }{
		{"state=sleeping", "state"},
		{"nextToken=garbage", "nextToken"},
		{"limit=0", "limit"},
		{"order=sideways", "order"},
		{"startedAfter=yesterday", "startedAfter"},
		{"metadata=" + url.QueryEscape("a=%zz"), "metadata"},
	} {
		r := e.api("GET", "/v2/sandboxes?"+c.query, e.key, nil)
		if r.status != 400 || !strings.HasPrefix(r.e2bError(t).Message, c.field+":") {
			t.Errorf("%s: %d %s", c.query, r.status, r.body)
		}
	}
}

// TestLifecycle: pause 204 then 409, resume and connect (201 waking, 200
// running) with the same envd token, timeout and refresh, pause without
// memory (a stop) and its connect (a start), kill 204 then 404.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base", "timeout": 300})
	path := "/sandboxes/" + sb.SandboxID
	stateOf := func() string {
		var d detailJSON
		e.must(http.StatusOK, "GET", path, nil).json(t, &d)
		return d.State
	}
	e.must(http.StatusNoContent, "POST", path+"/pause", nil)
	if s := stateOf(); s != "paused" {
		t.Fatalf("after pause: %s", s)
	}
	if r := e.api("POST", path+"/pause", e.key, nil); r.status != 409 {
		t.Fatalf("second pause: %d %s", r.status, r.body)
	} else {
		r.e2bError(t)
	}
	var woke sandboxJSON
	e.must(http.StatusCreated, "POST", "/v2"+path+"/connect", map[string]any{"timeout": 600}).json(t, &woke)
	if woke.EnvdAccessToken != sb.EnvdAccessToken || woke.EnvdVersion != envdVersion || stateOf() != "running" {
		t.Fatalf("connect woke %+v (token kept: %v)", woke, woke.EnvdAccessToken == sb.EnvdAccessToken)
	}
	var again sandboxJSON
	e.must(http.StatusOK, "POST", path+"/connect", map[string]any{"timeout": 10}).json(t, &again)
	if again.EnvdAccessToken != sb.EnvdAccessToken {
		t.Fatal("connect to a running sandbox changed the token")
	}
	if r := e.api("POST", path+"/resume", e.key, map[string]any{}); r.status != 409 {
		t.Fatalf("resume of a running sandbox: %d %s", r.status, r.body)
	}
	e.must(http.StatusNoContent, "POST", path+"/pause", map[string]any{})
	e.must(http.StatusCreated, "POST", path+"/resume", map[string]any{"timeout": 60})

	// Connect only extends: 10 s did not shorten 600; timeout sets.
	expiry := func() time.Time {
		var d detailJSON
		e.must(http.StatusOK, "GET", path, nil).json(t, &d)
		return d.EndAt
	}
	e.must(http.StatusNoContent, "POST", path+"/timeout", map[string]any{"timeout": 3600})
	if left := time.Until(expiry()); left < 3500*time.Second || left > 3600*time.Second {
		t.Fatalf("timeout 3600 left %v", left)
	}
	e.must(http.StatusNoContent, "POST", path+"/timeout", map[string]any{"timeout": 120})
	e.must(http.StatusNoContent, "POST", path+"/refreshes", map[string]any{"duration": 30})
	if left := time.Until(expiry()); left < 100*time.Second || left > 120*time.Second {
		t.Fatalf("a shorter refresh shortened the expiry: %v left", left)
	}
	e.must(http.StatusNoContent, "POST", path+"/refreshes", map[string]any{"duration": 900})
	if left := time.Until(expiry()); left < 890*time.Second {
		t.Fatalf("refresh 900 left %v", left)
	}

	e.must(http.StatusNoContent, "POST", path+"/pause", map[string]any{"memory": false})
	if got, _ := e.svc.Get(t.Context(), e.org, sb.SandboxID); got.State != sandbox.StateStopped || stateOf() != "paused" {
		t.Fatalf("pause without memory: %s", got.State)
	}
	e.must(http.StatusCreated, "POST", "/v2"+path+"/connect", map[string]any{})
	if got, _ := e.svc.Get(t.Context(), e.org, sb.SandboxID); got.State != sandbox.StateRunning {
		t.Fatalf("connect of a stopped sandbox: %s", got.State)
	}

	e.must(http.StatusNoContent, "DELETE", path, nil)
	for _, r := range []response{e.api("DELETE", path, e.key, nil), e.api("GET", path, e.key, nil),
		e.api("POST", "/v2"+path+"/connect", e.key, map[string]any{})} {
		if r.status != 404 {
			t.Errorf("after kill: %d %s", r.status, r.body)
		} else {
			r.e2bError(t)
		}
	}
}

// TestObservability: metrics from the runtime's stats, logs from the event
// log, templates from the image cache.
func TestObservability(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"templateID": "base"})
	e.rt.AddCPU(sb.SandboxID, 2*time.Second)
	var ms []map[string]any
	e.must(http.StatusOK, "GET", "/sandboxes/"+sb.SandboxID+"/metrics", nil).json(t, &ms)
	if len(ms) != 1 || ms[0]["cpuCount"] != 1.0 || ms[0]["memTotal"] != float64(1024*mib) || ms[0]["diskTotal"] != float64(10240*mib) {
		t.Fatalf("metrics = %v", ms)
	}
	if _, ok := ms[0]["diskUsed"]; ok {
		t.Errorf("diskUsed is answered though nothing measures it: %v", ms[0])
	}
	if pct := ms[0]["cpuUsedPct"].(float64); pct <= 0 {
		t.Errorf("2 s of CPU give cpuUsedPct %v", pct)
	}
	e.must(http.StatusOK, "GET", "/sandboxes/"+sb.SandboxID+"/metrics?end=1", nil).json(t, &ms)
	if len(ms) != 0 {
		t.Errorf("metrics before 1970: %v", ms)
	}
	var many struct {
		Sandboxes map[string]map[string]any `json:"sandboxes"`
	}
	e.must(http.StatusOK, "GET", "/sandboxes/metrics?sandbox_ids="+sb.SandboxID+",sbx_missing", nil).json(t, &many)
	if len(many.Sandboxes) != 1 || many.Sandboxes[sb.SandboxID] == nil {
		t.Errorf("metrics of many = %v", many)
	}

	e.must(http.StatusNoContent, "POST", "/sandboxes/"+sb.SandboxID+"/pause", nil)
	var v2 struct {
		Logs []logEntry `json:"logs"`
	}
	e.must(http.StatusOK, "GET", "/v2/sandboxes/"+sb.SandboxID+"/logs", nil).json(t, &v2)
	var msgs []string
	for _, l := range v2.Logs {
		msgs = append(msgs, l.Message)
	}
	if want := "creating,creating -> running: createPath: cold,running -> pausing,pausing -> paused"; strings.Join(msgs, ",") != want {
		t.Errorf("logs = %q, want %q", msgs, want)
	}
	e.must(http.StatusOK, "GET", "/v2/sandboxes/"+sb.SandboxID+"/logs?direction=backward&limit=1&search=paus", nil).json(t, &v2)
	if len(v2.Logs) != 1 || v2.Logs[0].Message != "pausing -> paused" {
		t.Errorf("last log = %+v", v2.Logs)
	}
	var v1 struct {
		Logs       []map[string]any `json:"logs"`
		LogEntries []logEntry       `json:"logEntries"`
	}
	e.must(http.StatusOK, "GET", "/sandboxes/"+sb.SandboxID+"/logs?limit=2", nil).json(t, &v1)
	if len(v1.Logs) != 2 || len(v1.LogEntries) != 2 || v1.Logs[0]["line"] != "creating" {
		t.Errorf("v1 logs = %+v", v1)
	}

	var tpls []templateJSON
	e.must(http.StatusOK, "GET", "/templates", nil).json(t, &tpls)
	if len(tpls) != 1 || tpls[0].TemplateID != "base" || tpls[0].BuildStatus != "ready" || tpls[0].MemoryMB != 1024 {
		t.Errorf("templates = %+v", tpls)
	}
	e.must(http.StatusOK, "GET", "/templates/aliases/base", nil)
	e.api("GET", "/templates/aliases/nothing", e.key, nil).e2bError(t)
	if r := e.api("GET", "/templates/tags", e.key, nil); r.status != 501 {
		t.Errorf("template tags: %d %s", r.status, r.body)
	}
}

// TestHealth: the control API's own health check needs no key.
func TestHealth(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", Prefix+"/health", nil, nil); r.status != 204 {
		t.Fatalf("health: %d", r.status)
	}
}

// TestRootListener: Handler serves the control API at the root of a
// listener of its own, with envd's path form at /envd.
func TestRootListener(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(Handler(e.deps))
	defer srv.Close()
	root := &env{t: t, url: srv.URL, key: e.key}
	var sb sandboxJSON
	r := root.do("POST", "/v2/sandboxes", map[string]string{"X-API-KEY": e.key}, map[string]any{"templateID": "base"})
	if r.status != http.StatusCreated {
		t.Fatalf("create at the root: %d %s", r.status, r.body)
	}
	r.json(t, &sb)
	h := map[string]string{sandboxHeader: sb.SandboxID, "X-Access-Token": sb.EnvdAccessToken}
	if r := root.do("GET", "/envd/health", h, nil); r.status != http.StatusNoContent {
		t.Fatalf("envd at /envd: %d %s", r.status, r.body)
	}
	if r := root.do("GET", "/compat/e2b/sandboxes/"+sb.SandboxID, map[string]string{"X-API-KEY": e.key}, nil); r.status != 404 {
		t.Fatalf("the prefix is not the root listener's: %d", r.status)
	}
}
