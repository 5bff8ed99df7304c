package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

// seen is what the fake server recorded about the last request.
type seen struct {
	method, path, rawPath string
	query                 url.Values
	header                http.Header
	body                  []byte
}

// fake starts a server that records each request and answers with h.
func fake(t *testing.T, h http.HandlerFunc) (*Client, *seen) {
	t.Helper()
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s = seen{r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), body}
		w.Header().Set("X-Request-Id", "req-1")
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "hk_secret", WithUserAgent("test-agent"))
	if err != nil {
		t.Fatal(err)
	}
	return c, &s
}

func reply(status int, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if v != nil {
			_ = json.NewEncoder(w).Encode(v)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"127.0.0.1:7420", "ftp://host", "http://", "://x"} {
		if _, err := New(u, "k"); err == nil {
			t.Errorf("New(%q) = nil error", u)
		}
	}
}

func TestCreateSandboxEncodesRequest(t *testing.T) {
	c, s := fake(t, reply(http.StatusCreated, api.Sandbox{ID: "sb_1", State: "running"}))
	sb, err := c.CreateSandbox(context.Background(), api.CreateSandboxRequest{
		Name: "web", Image: "alpine:3.20",
		Resources:       &api.ResourcesRequest{MemoryMB: ptr(int64(512))},
		AutoStopMinutes: ptr(0),
		Network:         &api.NetworkRequest{Internet: ptr(false)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sb.ID != "sb_1" || sb.State != "running" {
		t.Errorf("sandbox = %+v", sb)
	}
	if s.method != "POST" || s.path != "/v1/sandboxes" || s.query.Get("wait") != "true" {
		t.Errorf("request = %s %s ?%v", s.method, s.path, s.query)
	}
	if got := s.header.Get("Authorization"); got != "Bearer hk_secret" {
		t.Errorf("Authorization = %q", got)
	}
	if got := s.header.Get("User-Agent"); got != "test-agent" {
		t.Errorf("User-Agent = %q", got)
	}
	if got := s.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	var body map[string]any
	if err := json.Unmarshal(s.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "web", "image": "alpine:3.20", "resources": map[string]any{"memoryMB": 512.0},
		"autoStopMinutes": 0.0, "network": map[string]any{"internet": false},
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v, want %v", body, want)
	}
}

func TestNoWait(t *testing.T) {
	c, s := fake(t, reply(http.StatusAccepted, api.Sandbox{ID: "sb_1", State: "pausing"}))
	sb, err := c.Pause(context.Background(), "sb_1", NoWait())
	if err != nil {
		t.Fatal(err)
	}
	if sb.State != "pausing" || s.path != "/v1/sandboxes/sb_1/pause" || s.query.Get("wait") != "false" {
		t.Errorf("state %s, request %s ?%v", sb.State, s.path, s.query)
	}
}

func TestStopForceAndIDEscaping(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.Sandbox{ID: "sb_1", State: "stopped"}))
	if _, err := c.Stop(context.Background(), "a/b c", StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if s.rawPath != "/v1/sandboxes/a%2Fb%20c/stop" {
		t.Errorf("path = %s", s.rawPath)
	}
	if s.query.Get("force") != "true" || s.query.Get("wait") != "true" {
		t.Errorf("query = %v", s.query)
	}
}

func TestListSandboxesQuery(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.SandboxList{
		Items:      []api.Sandbox{{ID: "sb_1"}},
		Pagination: api.Pagination{Page: 2, PageSize: 5, TotalItems: 6, TotalPages: 2},
	}))
	list, err := c.ListSandboxes(context.Background(), ListOptions{
		States:     []string{"running", "paused"},
		Metadata:   map[string]string{"team": "a&b", "env": "dev=1"},
		NamePrefix: "web-", Page: 2, PageSize: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Pagination.TotalItems != 6 {
		t.Errorf("list = %+v", list)
	}
	if got := s.query["state"]; !reflect.DeepEqual(got, []string{"running", "paused"}) {
		t.Errorf("state = %v", got)
	}
	md, err := url.ParseQuery(s.query.Get("metadata"))
	if err != nil {
		t.Fatal(err)
	}
	if md.Get("team") != "a&b" || md.Get("env") != "dev=1" || len(md) != 2 {
		t.Errorf("metadata = %v", md)
	}
	if s.query.Get("name") != "web-" || s.query.Get("page") != "2" || s.query.Get("pageSize") != "5" {
		t.Errorf("query = %v", s.query)
	}
}

func TestListSandboxesNoFilters(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.SandboxList{}))
	if _, err := c.ListSandboxes(context.Background(), ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(s.query) != 0 {
		t.Errorf("query = %v, want none", s.query)
	}
}

func TestPatchMetadataSendsNulls(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.Sandbox{ID: "sb_1", Metadata: map[string]string{"a": "1"}}))
	_, err := c.PatchMetadata(context.Background(), "sb_1", map[string]*string{"a": ptr("1"), "gone": nil})
	if err != nil {
		t.Fatal(err)
	}
	if s.method != "PATCH" || s.header.Get("Content-Type") != "application/merge-patch+json" {
		t.Errorf("%s %s", s.method, s.header.Get("Content-Type"))
	}
	if string(s.body) != `{"a":"1","gone":null}` {
		t.Errorf("body = %s", s.body)
	}
}

func TestRenewAndTimeoutBodies(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.Sandbox{ID: "sb_1"}))
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if _, err := c.RenewExpiration(context.Background(), "sb_1", at); err != nil {
		t.Fatal(err)
	}
	if s.path != "/v1/sandboxes/sb_1/renew-expiration" || string(s.body) != `{"expiresAt":"2030-01-02T02:04:05Z"}` {
		t.Errorf("%s %s", s.path, s.body)
	}
	if _, err := c.SetTimeout(context.Background(), "sb_1", nil); err != nil {
		t.Fatal(err)
	}
	if s.method != "PUT" || string(s.body) != `{"timeoutSeconds":null}` {
		t.Errorf("%s %s", s.method, s.body)
	}
	if _, err := c.SetTimeout(context.Background(), "sb_1", ptr(int64(90))); err != nil {
		t.Fatal(err)
	}
	if string(s.body) != `{"timeoutSeconds":90}` {
		t.Errorf("body = %s", s.body)
	}
}

func TestBaseURLPathPrefix(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		reply(http.StatusOK, api.Info{Version: "1.0"})(w, r)
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/hutch/", "")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != "/hutch/v1/info" || info.Version != "1.0" {
		t.Errorf("path %s, info %+v", got, info)
	}
}

func TestOrgsAndKeys(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.APIKeyList{Items: []api.APIKey{{ID: "k1"}, {ID: "k2"}}}))
	keys, err := c.ListAPIKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1].ID != "k2" || s.method != "GET" || s.path != "/v1/api-keys" {
		t.Errorf("%s %s: keys = %+v", s.method, s.path, keys)
	}

	c, s = fake(t, reply(http.StatusNoContent, nil))
	if err := c.RevokeAPIKey(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
	if s.method != "DELETE" || s.path != "/v1/api-keys/k1" {
		t.Errorf("%s %s", s.method, s.path)
	}

	c, s = fake(t, reply(http.StatusCreated, api.APIKey{ID: "k3", APIKey: "hk_new", Admin: true}))
	key, err := c.CreateAPIKey(context.Background(), api.CreateAPIKeyRequest{Name: "ci", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if key.APIKey != "hk_new" || string(s.body) != `{"name":"ci","admin":true}` {
		t.Errorf("key %+v body %s", key, s.body)
	}

	c, s = fake(t, reply(http.StatusCreated, api.Organization{ID: "o1", Name: "acme", APIKey: "hk_org"}))
	org, err := c.CreateOrganization(context.Background(), api.CreateOrganizationRequest{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if org.APIKey != "hk_org" || s.path != "/v1/organizations" || string(s.body) != `{"name":"acme"}` {
		t.Errorf("org %+v path %s body %s", org, s.path, s.body)
	}
}

func TestHealthAndOpenAPI(t *testing.T) {
	c, s := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/openapi.json" {
			_, _ = io.WriteString(w, `{"openapi":"3.0.3"}`)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.path != "/healthz" {
		t.Errorf("path = %s", s.path)
	}
	doc, err := c.OpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "3.0.3") {
		t.Errorf("doc = %s", doc)
	}
}

func TestEmptyIDRefusedLocally(t *testing.T) {
	c, s := fake(t, reply(http.StatusOK, api.Sandbox{}))
	ctx := context.Background()
	calls := map[string]func() error{
		"get":     func() error { _, err := c.GetSandbox(ctx, ""); return err },
		"pause":   func() error { _, err := c.Pause(ctx, ""); return err },
		"delete":  func() error { _, err := c.DeleteSandbox(ctx, ""); return err },
		"events":  func() error { _, err := c.Events(ctx, ""); return err },
		"patch":   func() error { _, err := c.PatchMetadata(ctx, "", nil); return err },
		"revoke":  func() error { return c.RevokeAPIKey(ctx, "") },
		"rmimage": func() error { return c.RemoveImage(ctx, "") },
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if s.method != "" {
		t.Errorf("a request was sent: %s %s", s.method, s.path)
	}
}
