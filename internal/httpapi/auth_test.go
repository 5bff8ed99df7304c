package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/httpapi"
)

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"", "hk_wrong"} {
		r := e.do("GET", "/v1/sandboxes", key, nil)
		if r.status != 401 || r.errBody(t).Code != api.CodeUnauthenticated {
			t.Fatalf("key %q: %d %s", key, r.status, r.body)
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/v1/sandboxes", nil)
	req.Header.Set("X-API-Key", e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("X-API-Key: %d", resp.StatusCode)
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz needs no key: %d", r.status)
	}
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/sandboxes/nope", e.key, nil)
	if r.status != 404 || r.header.Get("X-Request-Id") == "" || r.errBody(t).RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("request id: %v %s", r.header, r.body)
	}
	req, _ := http.NewRequest("GET", e.url+"/healthz", nil)
	req.Header.Set("X-Request-Id", "trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "trace-42" {
		t.Fatalf("client request id not echoed: %q", got)
	}
}

// TestCrossOrganizationIs404 checks that another organisation's sandbox is
// indistinguishable from a missing one.
func TestCrossOrganizationIs404(t *testing.T) {
	e := newEnv(t)
	var org api.Organization
	e.must(201, "POST", "/v1/organizations", map[string]string{"name": "acme"}).decode(t, &org)
	if org.APIKey == "" || org.ID == "" {
		t.Fatalf("organization %+v", org)
	}
	mine := e.create("mine")
	missing := e.do("GET", "/v1/sandboxes/sbx_doesnotexist", org.APIKey, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/sandboxes/" + mine.ID},
		{"GET", "/v1/sandboxes/mine"},
		{"POST", "/v1/sandboxes/" + mine.ID + "/pause"},
		{"POST", "/v1/sandboxes/" + mine.ID + "/stop"},
		{"DELETE", "/v1/sandboxes/" + mine.ID},
		{"PATCH", "/v1/sandboxes/" + mine.ID + "/metadata"},
		{"GET", "/v1/sandboxes/" + mine.ID + "/events"},
	} {
		var body any
		if c.method == "PATCH" {
			body = `{"a":"b"}`
		}
		r := e.do(c.method, c.path, org.APIKey, body)
		eb := r.errBody(t)
		if r.status != 404 || eb.Code != api.CodeSandboxNotFound || eb.Code != missing.errBody(t).Code {
			t.Fatalf("%s %s from another org: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	var l api.SandboxList
	r := e.do("GET", "/v1/sandboxes", org.APIKey, nil)
	r.decode(t, &l)
	if len(l.Items) != 0 {
		t.Fatalf("other org lists %d sandboxes", len(l.Items))
	}
	// The same name may exist in both organisations.
	if r := e.do("POST", "/v1/sandboxes", org.APIKey, `{"name":"mine"}`); r.status != 201 {
		t.Fatalf("same name in another org: %d %s", r.status, r.body)
	}
	if got := e.must(200, "GET", "/v1/sandboxes/"+mine.ID, nil).sandbox(t); got.State != "running" {
		t.Fatalf("other org's calls changed my sandbox: %s", got.State)
	}
	// An organisation's admin may not create organisations.
	if r := e.do("POST", "/v1/organizations", org.APIKey, `{"name":"x"}`); r.status != 403 || r.errBody(t).Code != api.CodeForbidden {
		t.Fatalf("org admin creating org: %d %s", r.status, r.body)
	}
}

func TestAPIKeysCreateAndRevoke(t *testing.T) {
	e := newEnv(t)
	var k api.APIKey
	e.must(201, "POST", "/v1/api-keys", map[string]string{"name": "ci"}).decode(t, &k)
	if !strings.HasPrefix(k.APIKey, "hk_") || k.Admin {
		t.Fatalf("key %+v", k)
	}
	if r := e.do("GET", "/v1/sandboxes", k.APIKey, nil); r.status != 200 {
		t.Fatalf("new key: %d", r.status)
	}
	if r := e.do("POST", "/v1/api-keys", k.APIKey, `{}`); r.status != 403 {
		t.Fatalf("non-admin creating keys: %d", r.status)
	}
	var keys api.APIKeyList
	e.must(200, "GET", "/v1/api-keys", nil).decode(t, &keys)
	if len(keys.Items) != 2 || strings.Contains(string(e.must(200, "GET", "/v1/api-keys", nil).body), k.APIKey) {
		t.Fatalf("key list %+v", keys)
	}
	e.must(204, "DELETE", "/v1/api-keys/"+k.ID, nil)
	if r := e.do("GET", "/v1/sandboxes", k.APIKey, nil); r.status != 401 {
		t.Fatalf("revoked key still works: %d", r.status)
	}
	if r := e.do("DELETE", "/v1/api-keys/key_unknown", e.key, nil); r.status != 404 {
		t.Fatalf("revoke unknown: %d", r.status)
	}
}

func TestUnknownRoutesUseEnvelope(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/v1/nothing", e.key, nil); r.status != 404 || r.errBody(t).Code != api.CodeNotFound {
		t.Fatalf("unknown path: %d %s", r.status, r.body)
	}
	r := e.do("PUT", "/v1/sandboxes", e.key, nil)
	if r.status != 405 || r.errBody(t).Code == "" || r.header.Get("Allow") == "" {
		t.Fatalf("wrong method: %d %v %s", r.status, r.header, r.body)
	}
}

// TestRoutesMatchOpenAPI checks that the server registers exactly the
// routes api/openapi.yaml describes, less the agent's when the runtime
// runs no agent (the fake runtime's sandboxes have none): those are not
// served at all rather than answered 501.
func TestRoutesMatchOpenAPI(t *testing.T) {
	e := newEnv(t)
	if e.svc.HasAgent() {
		t.Fatal("the fake runtime declares an agent; this test expects none")
	}
	spec, err := api.Routes()
	if err != nil {
		t.Fatal(err)
	}
	inSpec := map[string]bool{}
	agentRoutes := 0
	for _, r := range spec {
		if httpapi.IsAgentRoute(r.Method, r.Path) {
			agentRoutes++
			continue
		}
		inSpec[r.Method+" "+r.Path] = true
	}
	if agentRoutes != 24 {
		t.Errorf("%d agent routes in openapi.yaml, want 24", agentRoutes)
	}
	if r := e.do("POST", "/v1/sandboxes/x/exec", e.key, nil); r.status != 404 {
		t.Errorf("exec without an agent runtime: %d %s", r.status, r.body)
	}
	served := map[string]bool{}
	for _, r := range e.api.Routes() {
		served[r.Method+" "+r.Path] = true
		if !inSpec[r.Method+" "+r.Path] {
			t.Errorf("served but not in openapi.yaml: %s %s", r.Method, r.Path)
		}
	}
	for k := range inSpec {
		if !served[k] {
			t.Errorf("in openapi.yaml but not served: %s", k)
		}
	}
	r := e.do("GET", "/v1/openapi.json", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"openapi"`) {
		t.Fatalf("openapi.json: %d", r.status)
	}
}
