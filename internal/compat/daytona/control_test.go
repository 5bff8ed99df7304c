package daytona_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/compat/daytona"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// seedFields are the fields of the seed page's sandbox body (POST
// /sandbox/{id}/stop); every sandbox answer has them all.
var seedFields = []string{"id", "organizationId", "name", "snapshot", "user", "env", "labels", "public",
	"networkBlockAll", "target", "cpu", "gpu", "memory", "disk", "state", "desiredState",
	"autoStopInterval", "autoArchiveInterval", "autoDeleteInterval", "volumes", "createdAt", "updatedAt",
	"runnerId", "toolboxProxyUrl"}

func hasSeedFields(t *testing.T, what string, m map[string]any) {
	t.Helper()
	for _, f := range seedFields {
		if _, ok := m[f]; !ok {
			t.Errorf("%s: no %q in %v", what, f, m)
		}
	}
}

func TestCreateAndGet(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, "POST", "/sandbox", map[string]any{
		"name": "web", "labels": map[string]string{"project": "app", "code-toolbox-language": "python"},
		"env": map[string]string{"NODE_ENV": "dev"}, "cpu": 2, "memory": 2, "disk": 4,
		"autoStopInterval": 15, "autoArchiveInterval": 60, "autoDeleteInterval": -1,
		"networkBlockAll": true, "ttlMinutes": 90, "target": "us",
	})
	hasSeedFields(t, "create", r.object(t))
	created := r.sandbox(t)
	if created.State != "creating" || created.DesiredState != "started" {
		t.Fatalf("create answered %s -> %s", created.State, created.DesiredState)
	}
	got := e.waitState(created.ID, "started")
	if got.Labels["project"] != "app" || got.Env["NODE_ENV"] != "dev" || got.CPU != 2 || got.Memory != 2 || got.Disk != 4 {
		t.Fatalf("body = %+v", got)
	}
	if got.AutoStopInterval != 15 || got.AutoArchiveInterval != 60 || got.AutoDeleteInterval != -1 || !got.NetworkBlockAll || got.AutoDestroyAt == "" {
		t.Fatalf("settings = %+v", got)
	}
	if got.ToolboxProxyURL != e.url+"/toolbox" || got.Snapshot != "base" {
		t.Fatalf("toolboxProxyUrl %q, snapshot %q", got.ToolboxProxyURL, got.Snapshot)
	}
	byName := e.must(200, "GET", "/sandbox/web", nil)
	hasSeedFields(t, "get", byName.object(t))
	if byName.sandbox(t).ID != created.ID {
		t.Fatal("get by name found another sandbox")
	}
	// The SDK's Image.base("python:3.12") is a Dockerfile of one FROM line.
	img := e.create(map[string]any{"buildInfo": map[string]string{"dockerfileContent": "FROM python:3.12\n"}})
	if img.Snapshot != "python:3.12" {
		t.Fatalf("image from a FROM line: %q", img.Snapshot)
	}
	u := e.must(200, "GET", "/sandbox/"+created.ID+"/toolbox-proxy-url", nil).object(t)
	if u["url"] != e.url+"/toolbox" {
		t.Fatalf("toolbox-proxy-url = %v", u)
	}
}

// TestSeedCurl: the seed's example, host and key changed, answers 200
// with every field of its body.
func TestSeedCurl(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"name": "my-development-sandbox"})
	r := e.request("POST", "/sandbox/"+sb.ID+"/stop", e.key, nil, "X-Daytona-Organization-ID", "org_default")
	if r.status != 200 {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
	m := r.object(t)
	hasSeedFields(t, "stop", m)
	if m["state"] != "stopping" || m["desiredState"] != "stopped" {
		t.Fatalf("stop answered %v -> %v", m["state"], m["desiredState"])
	}
	e.waitState(sb.ID, "stopped")
}

func TestBadInputNamesTheField(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"cpu": "two"}`, 400, "cpu"},
		{`{"cpu": 1000}`, 400, "cpu"},
		{`{"memory": -1}`, 400, "memory"},
		{`{"disk": 0}`, 400, "disk"},
		{`{"autoStopInterval": -5}`, 400, "autoStopInterval"},
		{`{"autoDeleteInterval": -7}`, 400, "autoDeleteInterval"},
		{`{"name": "bad name!"}`, 400, "name"},
		{`{"labels": {"bad key!": "x"}}`, 400, "labels"},
		{`{"snapshot": "UPPER/../etc"}`, 400, "snapshot"},
		{`{"env": {"1X": "y"}}`, 400, "env"},
		{`{"networkAllowList": "not-a-cidr"}`, 400, "networkAllowList"},
		{`{"labels": "x"}`, 400, "labels"},
		{`{"buildInfo": {"dockerfileContent": "FROM python:3.12\nRUN pip install x\n"}}`, 501, "Dockerfile"},
		{`{"gpu": 1}`, 501, "gpu"},
		{`{"autoPauseInterval": -5}`, 400, "autoPauseInterval"},
		{`{"public": true}`, 501, "public"},
		{`{"volumes": [{"volumeId": "v", "mountPath": "/data"}]}`, 501, "volumes"},
		{`{"domainAllowList": "example.com"}`, 501, "domainAllowList"},
		{`{`, 400, "JSON"},
	} {
		r := e.request("POST", "/sandbox", e.key, c.body)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.body, r.status, c.status, r.body)
			continue
		}
		if msg := r.err(t).Message; !strings.Contains(msg, c.field) {
			t.Errorf("%s: message %q does not name %s", c.body, msg, c.field)
		}
	}
	for _, c := range []struct{ path, field string }{
		{"/sandbox?labels=notjson", "labels"},
		{"/sandbox?states=running", "states"},
		{"/sandbox?limit=0", "limit"},
		{"/sandbox?cursor=zzz", "cursor"},
		{"/sandbox?sort=name", "sort"},
		{"/sandbox?minCpu=x", "minCpu"},
		{"/sandbox?createdAtAfter=yesterday", "createdAtAfter"},
		{"/sandbox/paginated?page=0", "page"},
	} {
		r := e.request("GET", c.path, e.key, nil)
		if r.status != 400 || !strings.Contains(r.err(t).Message, c.field) {
			t.Errorf("GET %s: %d %s, want a 400 naming %s", c.path, r.status, r.body, c.field)
		}
	}
}

func TestErrorsAndOrganizations(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"name": "mine"})
	r := e.request("GET", "/sandbox/nope", e.key, nil)
	if r.status != 404 || r.err(t).Source != "DAYTONA_API" {
		t.Fatalf("missing sandbox: %d %s", r.status, r.body)
	}
	if r := e.request("GET", "/sandbox/"+sb.ID, "", nil); r.status != 401 {
		t.Fatalf("no key: %d %s", r.status, r.body)
	} else {
		r.err(t)
	}
	if r := e.request("GET", "/sandbox/"+sb.ID, "not-a-key", nil); r.status != 401 {
		t.Fatalf("bad key: %d", r.status)
	}
	// Another organisation's sandbox is Daytona's 404, everywhere.
	for _, c := range []struct{ method, path string }{
		{"GET", "/sandbox/" + sb.ID},
		{"GET", "/sandbox/mine"},
		{"POST", "/sandbox/" + sb.ID + "/stop"},
		{"DELETE", "/sandbox/" + sb.ID},
		{"POST", "/sandbox/" + sb.ID + "/autostop/5"},
		{"PUT", "/sandbox/" + sb.ID + "/labels"},
		{"POST", "/toolbox/" + sb.ID + "/process/execute"},
		{"GET", "/toolbox/" + sb.ID + "/files?path=/"},
	} {
		body := any(nil)
		if c.method == "PUT" {
			body = map[string]any{"labels": map[string]string{"a": "b"}}
		}
		if r := e.request(c.method, c.path, e.otherKey, body); r.status != 404 {
			t.Errorf("%s %s with another organisation's key: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	list := e.request("GET", "/sandbox", e.otherKey, nil)
	if !strings.Contains(string(list.body), `"items":[]`) {
		t.Fatalf("another organisation lists %s", list.body)
	}
	r = e.request("GET", "/sandbox/"+sb.ID, e.key, nil, "X-Daytona-Organization-ID", e.otherOrg)
	if r.status != 403 || !strings.Contains(r.err(t).Message, "X-Daytona-Organization-ID") {
		t.Fatalf("a header naming another organisation: %d %s", r.status, r.body)
	}
	if r := e.request("GET", "/health", "", nil); r.status != 200 {
		t.Fatalf("health: %d", r.status)
	}
	if r := e.request("GET", "/no/such/route", e.key, nil); r.status != 404 {
		t.Fatalf("unknown route: %d", r.status)
	} else {
		r.err(t)
	}
	if r := e.request("POST", "/sandbox/"+sb.ID+"/fork", e.key, map[string]any{}); r.status != 501 {
		t.Fatalf("fork: %d %s", r.status, r.body)
	} else {
		r.err(t)
	}
}

// ids lists the ids of a list answer, in order.
func ids(t *testing.T, r response) (out []string, next string) {
	t.Helper()
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}
	r.decode(t, &page)
	if !strings.Contains(string(r.body), `"nextCursor"`) {
		t.Fatalf("no nextCursor in %s", r.body)
	}
	for _, it := range page.Items {
		out = append(out, it.ID)
	}
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return out, next
}

func labels(m map[string]string) string {
	b := new(strings.Builder)
	fmt.Fprint(b, "{")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(b, "%q:%q", k, m[k])
	}
	b.WriteString("}")
	return url.QueryEscape(b.String())
}

func TestListFiltersAndCursors(t *testing.T) {
	e := newEnv(t)
	a := e.create(map[string]any{"labels": map[string]string{"run": "r1", "role": "web", "code-toolbox-language": "python"}})
	b := e.create(map[string]any{"labels": map[string]string{"run": "r1", "role": "db"}})
	c := e.create(map[string]any{"name": "r2-box", "labels": map[string]string{"run": "r2"}})
	e.must(200, "POST", "/sandbox/"+b.ID+"/stop", nil)
	e.waitState(b.ID, "stopped")

	for _, q := range []struct {
		query string
		want  []string
	}{
		{"labels=" + labels(map[string]string{"run": "r1"}), []string{b.ID, a.ID}},
		{"labels=" + labels(map[string]string{"run": "r1", "role": "web"}), []string{a.ID}},
		{"labels=" + labels(map[string]string{"run": "r1", "role": "cache"}), nil},
		{"labels=" + labels(map[string]string{"run": "r1"}) + "&states=started", []string{a.ID}},
		{"labels=" + labels(map[string]string{"run": "r1"}) + "&states=stopped&states=started", []string{b.ID, a.ID}},
		{"states=stopped,destroyed", []string{b.ID}},
		{"states=resizing", nil},
		{"name=r2-b", []string{c.ID}}, // a and b are named by their random ids
		{"id=" + strings.ToUpper(a.ID), []string{a.ID}},
		{"sandboxClasses=linux-vm", nil},
		{"minCpu=1&maxCpu=1", []string{c.ID, b.ID, a.ID}},
		{"minMemoryGiB=2", nil},
	} {
		got, next := ids(t, e.must(200, "GET", "/sandbox?"+q.query, nil))
		if !slices.Equal(got, q.want) || next != "" {
			t.Errorf("%s: %v next %q, want %v", q.query, got, next, q.want)
		}
	}
	// Pages of one, newest first, until nextCursor is null.
	var all []string
	cursor := ""
	for i := 0; i < 5; i++ {
		page, next := ids(t, e.must(200, "GET", "/sandbox?limit=1&cursor="+cursor, nil))
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(all, []string{c.ID, b.ID, a.ID}) {
		t.Fatalf("paged: %v", all)
	}
	// The deprecated numbered pages.
	var old struct {
		Items      []map[string]any `json:"items"`
		Total      int              `json:"total"`
		Page       int              `json:"page"`
		TotalPages int              `json:"totalPages"`
	}
	e.must(200, "GET", "/sandbox/paginated?page=2&limit=2", nil).decode(t, &old)
	if len(old.Items) != 1 || old.Total != 3 || old.Page != 2 || old.TotalPages != 2 || old.Items[0]["id"] != a.ID {
		t.Fatalf("paginated: %+v", old)
	}
	hasSeedFields(t, "list item", old.Items[0])
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{})
	id := sb.ID
	exec := func() response {
		return e.request("POST", "/toolbox/"+id+"/process/execute", e.key, map[string]any{"command": "echo hi"})
	}
	if r := exec(); r.status != 200 {
		t.Fatalf("execute while started: %d %s", r.status, r.body)
	}

	st := e.must(200, "POST", "/sandbox/"+id+"/pause", nil).sandbox(t)
	if st.State != "pausing" && st.State != "paused" || st.DesiredState != "paused" {
		t.Fatalf("pause answered %s -> %s", st.State, st.DesiredState)
	}
	e.waitState(id, "paused")
	if r := exec(); r.status != 409 || r.err(t).Source != "DAYTONA_PROXY" {
		t.Fatalf("toolbox while paused: %d %s", r.status, r.body)
	} else if !r.closed {
		// The SDK leaves a refused download's body unread; a kept-alive
		// connection would stay open in it.
		t.Fatalf("a toolbox refusal keeps its connection: %v", r.header)
	}
	// start on a paused sandbox resumes it and answers the sandbox.
	st = e.must(200, "POST", "/sandbox/"+id+"/start", nil).sandbox(t)
	if st.ID != id || st.DesiredState != "started" {
		t.Fatalf("start of a paused sandbox answered %+v", st)
	}
	e.waitState(id, "started")

	e.must(200, "POST", "/sandbox/"+id+"/stop?force=true", nil)
	e.waitState(id, "stopped")
	if r := exec(); r.status != 409 {
		t.Fatalf("toolbox while stopped: %d %s", r.status, r.body)
	} else {
		r.err(t)
	}
	if r := e.request("POST", "/sandbox/"+id+"/stop?force=maybe", e.key, nil); r.status != 400 {
		t.Fatalf("force=maybe: %d", r.status)
	}
	// The fake runtime cannot archive: Daytona's "not supported", not a
	// fake success.
	if r := e.request("POST", "/sandbox/"+id+"/archive", e.key, nil); r.status != 501 {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
	e.must(200, "POST", "/sandbox/"+id+"/start", nil)
	e.waitState(id, "started")
	if r := exec(); r.status != 200 {
		t.Fatalf("execute after start: %d %s", r.status, r.body)
	}
	// start on a started sandbox changes nothing.
	if st := e.must(200, "POST", "/sandbox/"+id+"/start", nil).sandbox(t); st.State != "started" {
		t.Fatalf("start again: %s", st.State)
	}
	// pause of a stopped sandbox is a conflict.
	e.must(200, "POST", "/sandbox/"+id+"/stop", nil)
	e.waitState(id, "stopped")
	if r := e.request("POST", "/sandbox/"+id+"/pause", e.key, nil); r.status != 409 {
		t.Fatalf("pause while stopped: %d %s", r.status, r.body)
	}

	del := e.must(200, "DELETE", "/sandbox/"+id, nil).sandbox(t)
	if del.State != "destroyed" {
		t.Fatalf("delete answered %s", del.State)
	}
	if r := e.request("GET", "/sandbox/"+id, e.key, nil); r.status != 404 {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
	if r := e.request("DELETE", "/sandbox/"+id, e.key, nil); r.status != 404 {
		t.Fatalf("delete again: %d", r.status)
	}
}

func TestSetters(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{"labels": map[string]string{"keep": "no", "code-toolbox-language": "python"}})
	p := "/sandbox/" + sb.ID
	if got := e.must(200, "POST", p+"/autostop/45", nil).sandbox(t); got.AutoStopInterval != 45 {
		t.Fatalf("autostop: %+v", got)
	}
	if got := e.must(200, "POST", p+"/autoarchive/120", nil).sandbox(t); got.AutoArchiveInterval != 120 {
		t.Fatalf("autoarchive: %+v", got)
	}
	if got := e.must(200, "POST", p+"/autodelete/-5", nil).sandbox(t); got.AutoDeleteInterval != -1 {
		t.Fatalf("autodelete -5: %+v", got)
	}
	if got := e.must(200, "POST", p+"/autodelete/0", nil).sandbox(t); got.AutoDeleteInterval != 0 {
		t.Fatalf("autodelete 0: %+v", got)
	}
	if got := e.must(200, "GET", p, nil).sandbox(t); got.AutoStopInterval != 45 || got.AutoArchiveInterval != 120 {
		t.Fatalf("intervals not stored: %+v", got)
	}
	for _, c := range []struct{ path, field string }{
		{"/autostop/soon", "interval"},
		{"/autostop/-1", "autoStopInterval"},
		{"/autoarchive/1.5", "interval"},
		{"/ttl/-1", "ttlMinutes"},
	} {
		r := e.request("POST", p+c.path, e.key, nil)
		if r.status != 400 || !strings.Contains(r.err(t).Message, c.field) {
			t.Errorf("%s: %d %s, want a 400 naming %s", c.path, r.status, r.body, c.field)
		}
	}
	if got := e.must(200, "POST", p+"/autopause/10", nil).sandbox(t); got.AutoPauseInterval != 10 {
		t.Fatalf("autopause 10: %+v", got)
	}
	if got := e.must(200, "GET", p, nil).sandbox(t); got.AutoPauseInterval != 10 || got.AutoStopInterval != 45 {
		t.Fatalf("auto-pause not stored beside auto-stop: %+v", got)
	}
	if r := e.request("POST", p+"/autopause/-1", e.key, nil); r.status != 400 || !strings.Contains(r.err(t).Message, "autoPauseInterval") {
		t.Fatalf("autopause -1: %d %s, want a 400 naming autoPauseInterval", r.status, r.body)
	}
	if got := e.must(200, "POST", p+"/autopause/0", nil).sandbox(t); got.AutoPauseInterval != 0 {
		t.Fatalf("autopause 0: %+v", got)
	}
	if got := e.create(map[string]any{"autoPauseInterval": 7}); got.AutoPauseInterval != 7 {
		t.Fatalf("create with autoPauseInterval 7: %+v", got)
	}
	// A create that names none takes the organisation's default, as for
	// autoStopInterval; 0 still turns it off.
	twelve := 12
	if err := e.svc.SetOrgSettings(context.Background(), &sandbox.OrgSettings{OrganizationID: e.org, AutoPauseMinutes: &twelve}); err != nil {
		t.Fatal(err)
	}
	if got := e.create(map[string]any{}); got.AutoPauseInterval != 12 {
		t.Fatalf("create without autoPauseInterval under an organisation default of 12: %+v", got)
	}
	if got := e.create(map[string]any{"autoPauseInterval": 0}); got.AutoPauseInterval != 0 {
		t.Fatalf("create with autoPauseInterval 0 under an organisation default of 12: %+v", got)
	}
	if got := e.must(200, "POST", p+"/ttl/30", nil).sandbox(t); got.AutoDestroyAt == "" {
		t.Fatalf("ttl 30: %+v", got)
	}
	if got := e.must(200, "POST", p+"/ttl/0", nil).sandbox(t); got.AutoDestroyAt != "" {
		t.Fatalf("ttl 0: %+v", got)
	}
	if r := e.must(201, "POST", p+"/last-activity", nil); len(r.body) != 0 {
		t.Fatalf("last-activity body %q", r.body)
	}
	var lb struct {
		Labels map[string]string `json:"labels"`
	}
	e.must(200, "PUT", p+"/labels", map[string]any{"labels": map[string]string{"env": "prod"}}).decode(t, &lb)
	if len(lb.Labels) != 1 || lb.Labels["env"] != "prod" {
		t.Fatalf("labels replaced: %v", lb.Labels)
	}
	if r := e.request("PUT", p+"/labels", e.key, map[string]any{}); r.status != 400 || !strings.Contains(r.err(t).Message, "labels") {
		t.Fatalf("labels missing: %d %s", r.status, r.body)
	}
	e.must(200, "POST", p+"/public/false", nil)
	if r := e.request("POST", p+"/public/true", e.key, nil); r.status != 501 {
		t.Fatalf("public true: %d", r.status)
	}
	// The fake runtime cannot change a running sandbox's network: a
	// stopped one gets it on its next start.
	e.must(200, "POST", p+"/stop", nil)
	e.waitState(sb.ID, "stopped")
	got := e.must(200, "POST", p+"/network-settings", map[string]any{"networkAllowList": "10.0.0.0/8, 192.168.0.0/16"}).sandbox(t)
	if got.NetworkAllowList != "10.0.0.0/8,192.168.0.0/16" || got.NetworkBlockAll {
		t.Fatalf("allow list: %+v", got)
	}
	got = e.must(200, "POST", p+"/network-settings", map[string]any{"networkBlockAll": true}).sandbox(t)
	if !got.NetworkBlockAll || got.NetworkAllowList == "" {
		t.Fatalf("block all: %+v", got)
	}
	got = e.must(200, "POST", p+"/network-settings", map[string]any{"networkBlockAll": false}).sandbox(t)
	if got.NetworkBlockAll || got.NetworkAllowList != "" {
		t.Fatalf("block lifted (and the allow list with it): %+v", got)
	}
	for _, c := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"domainAllowList": "a.com"}, 501},
		{map[string]any{}, 400},
		{map[string]any{"networkAllowList": "nope"}, 400},
	} {
		if r := e.request("POST", p+"/network-settings", e.key, c.body); r.status != c.status {
			t.Errorf("network-settings %v: %d %s, want %d", c.body, r.status, r.body, c.status)
		}
	}
}

// TestMountedUnderPrefix: on the main router the face answers below
// /compat/daytona and hands out toolbox URLs below it too.
func TestMountedUnderPrefix(t *testing.T) {
	e := newEnv(t)
	sb := e.create(map[string]any{})
	rt := gateway.NewRouter("", "sbx_", http.NotFoundHandler(), nil)
	daytona.Mount(rt, e.deps)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	mounted := &env{t: t, url: srv.URL + daytona.Prefix, key: e.key}
	got := mounted.must(200, "GET", "/sandbox/"+sb.ID, nil).sandbox(t)
	if got.ToolboxProxyURL != srv.URL+daytona.Prefix+"/toolbox" {
		t.Fatalf("toolboxProxyUrl = %q", got.ToolboxProxyURL)
	}
	r := mounted.must(200, "POST", "/toolbox/"+sb.ID+"/process/execute", map[string]any{"command": "echo mounted"})
	if r.object(t)["result"] != "mounted\n" {
		t.Fatalf("toolbox below the prefix: %s", r.body)
	}
}
