package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

// TestBadInputIs400 sends every kind of bad input the API must refuse with
// 400 INVALID_ARGUMENT and a message naming what is wrong.
func TestBadInputIs400(t *testing.T) {
	e := newEnv(t)
	id := e.create("target").ID
	sp := "/v1/sandboxes/" + id
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct {
		name, method, path string
		body               any
		mention            string
	}{
		{"malformed json", "POST", "/v1/sandboxes", `{"name":`, "malformed JSON"},
		{"syntax error", "POST", "/v1/sandboxes", `{name: 1}`, "malformed JSON"},
		{"not an object", "POST", "/v1/sandboxes", `[1,2]`, "JSON object"},
		{"trailing data", "POST", "/v1/sandboxes", `{} {}`, "after the JSON object"},
		{"unknown field", "POST", "/v1/sandboxes", `{"nmae":"x"}`, "nmae"},
		{"wrong type", "POST", "/v1/sandboxes", `{"name": 12}`, "name"},
		{"wrong nested type", "POST", "/v1/sandboxes", `{"resources": {"cpu": "lots"}}`, "resources.cpu"},
		{"oversized body", "POST", "/v1/sandboxes", big, "larger than"},
		{"negative cpu", "POST", "/v1/sandboxes", `{"resources": {"cpu": -1}}`, "resources.cpu"},
		{"zero cpu", "POST", "/v1/sandboxes", `{"resources": {"cpu": 0}}`, "resources.cpu"},
		{"absurd cpu", "POST", "/v1/sandboxes", `{"resources": {"cpu": 1e9}}`, "resources.cpu"},
		{"negative memory", "POST", "/v1/sandboxes", `{"resources": {"memoryMB": -5}}`, "resources.memoryMB"},
		{"absurd memory", "POST", "/v1/sandboxes", `{"resources": {"memoryMB": 99999999999}}`, "resources.memoryMB"},
		{"huge number", "POST", "/v1/sandboxes", `{"resources": {"pids": 1e40}}`, "resources.pids"},
		{"negative disk", "POST", "/v1/sandboxes", `{"resources": {"diskMB": -1}}`, "resources.diskMB"},
		{"bad pids", "POST", "/v1/sandboxes", `{"resources": {"pids": 1}}`, "resources.pids"},
		{"bad name", "POST", "/v1/sandboxes", `{"name": "no spaces please"}`, "name"},
		{"name like id", "POST", "/v1/sandboxes", `{"name": "sbx_abc"}`, "name"},
		{"negative timeout", "POST", "/v1/sandboxes", `{"timeoutSeconds": -1}`, "timeoutSeconds"},
		{"absurd timeout", "POST", "/v1/sandboxes", `{"timeoutSeconds": 99999999999}`, "timeoutSeconds"},
		{"overflowing timeout", "POST", "/v1/sandboxes", `{"timeoutSeconds": 9223372036854775807}`, "timeoutSeconds"},
		{"overflowing renew timeout", "PUT", sp + "/timeout", `{"timeoutSeconds": 9223372036854775807}`, "timeoutSeconds"},
		{"path-like image", "POST", "/v1/sandboxes", `{"image": "../../etc/passwd"}`, "image"},
		{"upper-case image", "POST", "/v1/sandboxes?wait=false", `{"image": "UPPER/Case:tag"}`, "image"},
		{"malformed query", "GET", "/v1/sandboxes?metadata=%zz", nil, "query string"},
		{"malformed query on create", "POST", "/v1/sandboxes?wait=%zz", `{}`, "query string"},
		{"bad autoDelete", "POST", "/v1/sandboxes", `{"autoDeleteMinutes": -2}`, "autoDeleteMinutes"},
		{"bad autoStop", "POST", "/v1/sandboxes", `{"autoStopMinutes": -1}`, "autoStopMinutes"},
		{"bad cidr", "POST", "/v1/sandboxes", `{"network": {"allowCIDRs": ["10.0.0.0/33"]}}`, "network.allowCIDRs"},
		{"bad env name", "POST", "/v1/sandboxes", `{"env": {"A=B": "x"}}`, "env"},
		{"bad metadata key", "POST", "/v1/sandboxes", `{"metadata": {"": "x"}}`, "metadata"},
		{"bad wait", "POST", "/v1/sandboxes?wait=maybe", `{}`, "wait"},
		{"bad force", "POST", sp + "/stop?force=2x", nil, "force"},
		{"bad state filter", "GET", "/v1/sandboxes?state=sleeping", nil, "state"},
		{"page zero", "GET", "/v1/sandboxes?page=0", nil, "page"},
		{"pageSize too big", "GET", "/v1/sandboxes?pageSize=201", nil, "pageSize"},
		{"pageSize not a number", "GET", "/v1/sandboxes?pageSize=ten", nil, "pageSize"},
		{"renew not rfc3339", "POST", sp + "/renew-expiration", `{"expiresAt": "tomorrow"}`, "expiresAt"},
		{"renew in the past", "POST", sp + "/renew-expiration", `{"expiresAt": "2001-01-01T00:00:00Z"}`, "expiresAt"},
		{"renew empty body", "POST", sp + "/renew-expiration", ``, "empty"},
		{"timeout zero", "PUT", sp + "/timeout", `{"timeoutSeconds": 0}`, "timeoutSeconds"},
		{"timeout wrong type", "PUT", sp + "/timeout", `{"timeoutSeconds": "1h"}`, "timeoutSeconds"},
		{"metadata not object", "PATCH", sp + "/metadata", `"x"`, "JSON object"},
		{"metadata bad value type", "PATCH", sp + "/metadata", `{"a": 1}`, "a"},
		{"org without name", "POST", "/v1/organizations", `{}`, "name"},
		{"key unknown field", "POST", "/v1/api-keys", `{"role": "root"}`, "role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, e.key, c.body)
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			eb := r.errBody(t)
			if eb.Code != api.CodeInvalidArgument || !strings.Contains(eb.Message, c.mention) {
				t.Fatalf("error %+v does not mention %q", eb, c.mention)
			}
		})
	}
	// Nothing of the above created or changed a sandbox.
	var l api.SandboxList
	e.must(200, "GET", "/v1/sandboxes", nil).decode(t, &l)
	if l.Pagination.TotalItems != 1 {
		t.Fatalf("bad requests created sandboxes: %d", l.Pagination.TotalItems)
	}
}

func TestExpiryRenewAndTimeout(t *testing.T) {
	e := newEnv(t)
	id := e.must(201, "POST", "/v1/sandboxes", map[string]any{"timeoutSeconds": 3600}).sandbox(t).ID
	sp := "/v1/sandboxes/" + id
	cur := e.must(200, "GET", sp, nil).sandbox(t).ExpiresAt
	earlier := cur.Add(-time.Minute).Format(time.RFC3339Nano)
	if r := e.must(400, "POST", sp+"/renew-expiration", map[string]string{"expiresAt": earlier}); !strings.Contains(r.errBody(t).Message, "later than") {
		t.Fatalf("earlier renewal: %s", r.body)
	}
	later := cur.Add(time.Hour).Truncate(time.Second)
	sb := e.must(200, "POST", sp+"/renew-expiration", map[string]string{"expiresAt": later.Format(time.RFC3339)}).sandbox(t)
	if !sb.ExpiresAt.Equal(later) {
		t.Fatalf("renewed to %v, want %v", sb.ExpiresAt, later)
	}
	before := time.Now()
	sb = e.must(200, "PUT", sp+"/timeout", map[string]any{"timeoutSeconds": 60}).sandbox(t)
	if sb.TimeoutSeconds == nil || *sb.TimeoutSeconds != 60 || sb.ExpiresAt.Before(before.Add(59*time.Second)) || sb.ExpiresAt.After(time.Now().Add(61*time.Second)) {
		t.Fatalf("timeout 60: %v %v", sb.TimeoutSeconds, sb.ExpiresAt)
	}
	sb = e.must(200, "PUT", sp+"/timeout", `{"timeoutSeconds": null}`).sandbox(t)
	if sb.TimeoutSeconds != nil || sb.ExpiresAt != nil {
		t.Fatalf("null timeout kept expiry: %+v", sb)
	}
}

func TestMetadataMergePatch(t *testing.T) {
	e := newEnv(t)
	id := e.must(201, "POST", "/v1/sandboxes", map[string]any{"metadata": map[string]string{"a": "1", "b": "2"}}).sandbox(t).ID
	sb := e.must(200, "PATCH", "/v1/sandboxes/"+id+"/metadata", `{"a": null, "c": "3", "b": "two"}`).sandbox(t)
	if len(sb.Metadata) != 2 || sb.Metadata["b"] != "two" || sb.Metadata["c"] != "3" {
		t.Fatalf("metadata %v", sb.Metadata)
	}
}
