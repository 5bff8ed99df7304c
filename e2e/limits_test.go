package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/webhook"
)

// errorOf decodes an error envelope, failing unless the status is want.
func errorOf(t *testing.T, r reply, want int) api.ErrorDetail {
	t.Helper()
	var e api.ErrorBody
	if r.status != want || json.Unmarshal([]byte(r.body), &e) != nil {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return e.Error
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCreateTooBigNamesTheLimit: what the red team got on a 2-core host
// (more cpus than it has, more memory, a 1 TiB sparse disk) is refused
// 403 naming the limit, before anything is made; cpu 0.001 is a 400; the
// smallest CPU share accepted boots; an organisation's quota set by the
// platform admin refuses the sandbox past it.
func TestCreateTooBigNamesTheLimit(t *testing.T) {
	s := startServer(t, "")
	cores := runtime.NumCPU()
	for _, c := range []struct {
		resources   string
		field, says string
	}{
		{fmt.Sprintf(`{"cpu": %d}`, cores+1), "resources.cpu", fmt.Sprintf("this host's %d cpus", cores)},
		{`{"memoryMB": 200000}`, "resources.memoryMB", "MB of memory"},
		{`{"diskMB": 1048576}`, "resources.diskMB", "MB free on this host's sandbox disk"},
	} {
		r := call(t, s, "POST", s.url+"/v1/sandboxes", `{"name": "huge", "resources": `+c.resources+`}`, s.key, "")
		e := errorOf(t, r, 403)
		if e.Code != api.CodeForbidden || !strings.Contains(e.Message, c.field) || !strings.Contains(e.Message, c.says) {
			t.Fatalf("%s: %+v, want FORBIDDEN naming %s", c.resources, e, c.field)
		}
	}
	if e := errorOf(t, call(t, s, "POST", s.url+"/v1/sandboxes", `{"resources": {"cpu": 0.001}}`, s.key, ""), 400); !strings.Contains(e.Message, "resources.cpu") {
		t.Fatalf("cpu 0.001: %+v", e)
	}
	if l, err := s.c.ListSandboxes(ctx(t), client.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("refused creates left sandboxes: %v %v", l, err)
	}
	// The smallest share the kernel takes boots for real.
	tiny := create(t, s, api.CreateSandboxRequest{Name: "tiny", Entrypoint: sleeper, Resources: &api.ResourcesRequest{CPU: ptr(0.01)}})
	if tiny.State != "running" {
		t.Fatalf("cpu 0.01: %s (%s)", tiny.State, tiny.StateReason)
	}

	// The platform admin caps the default organisation at two sandboxes.
	r := call(t, s, "PUT", s.url+"/v1/organizations/org_default/quotas", `{"sandboxes": 2, "cpu": 8}`, s.key, "")
	var q api.OrganizationQuotas
	if r.status != 200 || json.Unmarshal([]byte(r.body), &q) != nil || q.Effective.Sandboxes != 2 || q.Usage.Sandboxes != 1 || q.Usage.CPU != 0.01 {
		t.Fatalf("set quota: %d %s", r.status, r.body)
	}
	create(t, s, api.CreateSandboxRequest{Name: "second", Entrypoint: sleeper, Resources: &api.ResourcesRequest{CPU: ptr(0.5)}})
	e := errorOf(t, call(t, s, "POST", s.url+"/v1/sandboxes", `{"name": "third", "resources": {"cpu": 0.5}}`, s.key, ""), 403)
	if !strings.Contains(e.Message, "quota.sandboxes") || !strings.Contains(e.Message, "quota is 2 sandboxes") {
		t.Fatalf("third sandbox: %+v", e)
	}
}

// countingRegistry is a real registry on 127.0.0.1 holding app:v1, with a
// count of the requests it got after the push.
func countingRegistry(t *testing.T) (host string, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	var counting atomic.Bool
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if counting.Load() {
			hits.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	counting.Store(true)
	return host, hits
}

// TestPullFromLoopbackRefused: a member key may not pull; the admin's
// pull from a registry on loopback, and a create of an image only that
// registry has, are refused by name without the server connecting.
func TestPullFromLoopbackRefused(t *testing.T) {
	host, hits := countingRegistry(t)
	s := startServer(t, "")
	var member api.APIKey
	r := call(t, s, "POST", s.url+"/v1/api-keys", `{"name": "member"}`, s.key, "")
	if r.status != 201 || json.Unmarshal([]byte(r.body), &member) != nil {
		t.Fatalf("member key: %d %s", r.status, r.body)
	}
	pull := `{"ref": "` + host + `/app:v1"}`
	if e := errorOf(t, call(t, s, "POST", s.url+"/v1/images/pull", pull, member.APIKey, ""), 403); !strings.Contains(e.Message, "admin key") {
		t.Fatalf("member pull: %+v", e)
	}
	r = call(t, s, "POST", s.url+"/v1/images/pull", pull, s.key, "")
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	var last api.ImageProgress
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Error == nil ||
		last.Error.Code != api.CodeForbidden || !strings.Contains(last.Error.Message, "image registry 127.0.0.1 is a loopback address") {
		t.Fatalf("admin pull from loopback: %d %s", r.status, r.body)
	}
	// A create of an image the cache lacks pulls it through the same guard.
	r = call(t, s, "POST", s.url+"/v1/sandboxes", `{"name": "pulled", "image": "`+host+`/app:v1"}`, member.APIKey, "")
	if l, err := s.c.ListSandboxes(ctx(t), client.ListOptions{States: []string{"error", "creating", "running"}}); err == nil {
		for _, sb := range l.Items {
			cleanup(t, sb.ID)
		}
	}
	if e := errorOf(t, r, 403); !strings.Contains(e.Message, "image registry 127.0.0.1 is a loopback address") {
		t.Fatalf("create of an image on loopback: %+v", e)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the registry on loopback got %d requests", n)
	}
}

// TestWebhookToInternalRefused: receivers on internal addresses, in any
// spelling, are refused at registration.
func TestWebhookToInternalRefused(t *testing.T) {
	s := startServer(t, "")
	for _, u := range []string{"http://127.0.0.1:9/", "http://0x7f000001/", "http://localhost:8080/", "http://[::1]/",
		"http://169.254.169.254/latest/meta-data/", "http://10.213.0.3:8080/", "http://10.0.0.1/"} {
		e := errorOf(t, call(t, s, "POST", s.url+"/v1/webhooks", jsonOf(t, api.CreateWebhookRequest{URL: u}), s.key, ""), 403)
		if !strings.Contains(e.Message, "webhook target") || !strings.Contains(e.Message, "--egress-allow") {
			t.Fatalf("%s: %+v", u, e)
		}
	}
}

// TestWebhookRedirectToInternalRefused: with 127.0.0.1 allowed, a
// receiver there that redirects to 127.0.0.2 does not get the delivery
// through.
func TestWebhookRedirectToInternalRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	var inner, outer atomic.Int32
	innerSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.Add(1) }))
	innerSrv.Listener = ln
	innerSrv.Start()
	t.Cleanup(innerSrv.Close)
	outerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(webhook.HeaderDelivery) != "" {
			outer.Add(1)
		}
		http.Redirect(w, r, innerSrv.URL+"/hook", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(outerSrv.Close)

	s := startServer(t, "", "--egress-allow", "127.0.0.1/32", "--webhook-backoff", "100ms")
	registerWebhook(t, s, outerSrv.URL)
	create(t, s, api.CreateSandboxRequest{Name: "hooked", Entrypoint: sleeper})
	poll.Until(t, "a delivery to reach the allowed receiver", func() bool { return outer.Load() >= 2 })
	if n := inner.Load(); n != 0 {
		t.Fatalf("the receiver on 127.0.0.2 behind the redirect got %d requests", n)
	}
}
