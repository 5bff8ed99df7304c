package httpapi_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/ratelimit"
	"github.com/hutchdev/hutch/internal/webhook"
)

// limitedEnv is newEnv's service behind a second API server that
// enforces limits, with the gateway's entry in front as the server has it.
func limitedEnv(t *testing.T, limits ratelimit.Settings) (*env, *ratelimit.Limiter) {
	e := newEnv(t)
	lim := ratelimit.New(limits)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	h := httpapi.New(httpapi.Deps{Sandboxes: e.svc, Auth: e.store, Webhooks: webhook.NewService(e.store), Log: log,
		Version: "test", RateLimits: lim}, func() bool { return true })
	srv := httptest.NewServer(gateway.Entry{Log: log, Limits: lim}.Wrap(h))
	t.Cleanup(srv.Close)
	e.url, e.api = srv.URL, h
	return e, lim
}

func header(t *testing.T, r response, name string) int {
	t.Helper()
	v, err := strconv.Atoi(r.header.Get(name))
	if err != nil {
		t.Fatalf("%s = %q, want a number (headers %v)", name, r.header.Get(name), r.header)
	}
	return v
}

// TestRateLimitPerKey spends a key's bucket: each answer says what is
// left, the one past it is a 429 with Retry-After, and a change by the
// platform admin takes effect on the next request.
func TestRateLimitPerKey(t *testing.T) {
	e, _ := limitedEnv(t, ratelimit.Settings{Default: ratelimit.Pair{PerKey: ratelimit.Limit{PerSecond: 100, Burst: 1000}}})
	worker := e.must(201, "POST", "/v1/api-keys", api.CreateAPIKeyRequest{Name: "worker"})
	var k api.APIKey
	worker.decode(t, &k)
	// Slow refill, so the test does not race the clock: 3 at once, then
	// one token every 1000 s.
	e.must(200, "PUT", "/v1/rate-limits", api.RateLimitSettings{Default: api.RateLimitPair{PerKey: api.RateLimit{PerSecond: 0.001, Burst: 3}}})
	for i := 2; i >= 0; i-- {
		r := e.do("GET", "/v1/sandboxes", k.APIKey, nil)
		if r.status != 200 {
			t.Fatalf("request within the burst: %d %s", r.status, r.body)
		}
		if header(t, r, "X-RateLimit-Limit") != 3 || header(t, r, "X-RateLimit-Remaining") != i || header(t, r, "X-RateLimit-Reset") < 1 {
			t.Fatalf("headers %v, want limit 3, remaining %d, a reset", r.header, i)
		}
	}
	r := e.do("GET", "/v1/sandboxes", k.APIKey, nil)
	if r.status != http.StatusTooManyRequests || r.errBody(t).Code != api.CodeResourceExhausted {
		t.Fatalf("past the burst: %d %s", r.status, r.body)
	}
	if ra := header(t, r, "Retry-After"); ra < 900 || ra > 1000 {
		t.Fatalf("Retry-After = %d, want the ~1000 s one token takes", ra)
	}
	if header(t, r, "X-RateLimit-Remaining") != 0 {
		t.Fatalf("remaining on a 429: %v", r.header)
	}
	// The admin's own key has its bucket: still served.
	info := e.must(200, "GET", "/v1/info", nil)
	var in api.Info
	info.decode(t, &in)
	if in.RateLimits == nil || in.RateLimits.PerKey.Burst != 3 || in.RateLimits.PerOrg.PerSecond != 0 {
		t.Fatalf("/v1/info rate limits = %+v", in.RateLimits)
	}
	// A bigger burst with a fast refill: the worker is served at once.
	e.must(200, "PUT", "/v1/rate-limits", api.RateLimitSettings{Default: api.RateLimitPair{PerKey: api.RateLimit{PerSecond: 1e6, Burst: 50}}})
	r = e.do("GET", "/v1/sandboxes", k.APIKey, nil)
	if r.status != 200 || header(t, r, "X-RateLimit-Limit") != 50 {
		t.Fatalf("after raising the limit: %d %v", r.status, r.header)
	}
	// No limit: no headers.
	e.must(200, "PUT", "/v1/rate-limits", api.RateLimitSettings{})
	if r = e.do("GET", "/v1/sandboxes", k.APIKey, nil); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("with no limit: %d %v", r.status, r.header)
	}
}

// TestRateLimitPerOrganization: an organisation's own limit holds all its
// keys together, and other organisations keep the default.
func TestRateLimitPerOrganization(t *testing.T) {
	e, _ := limitedEnv(t, ratelimit.Settings{})
	created := e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "tenant"})
	var org api.Organization
	created.decode(t, &org)
	e.must(200, "PUT", "/v1/rate-limits", api.RateLimitSettings{
		Organizations: map[string]api.RateLimitPair{org.ID: {PerOrg: api.RateLimit{PerSecond: 0.001, Burst: 2}}}})
	second := e.do("POST", "/v1/api-keys", org.APIKey, api.CreateAPIKeyRequest{Name: "second"}) // 1st token
	var k api.APIKey
	second.decode(t, &k)
	if r := e.do("GET", "/v1/sandboxes", k.APIKey, nil); r.status != 200 { // 2nd, another key
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/sandboxes", org.APIKey, nil); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("third request of the organisation: %d %v", r.status, r.header)
	}
	for i := 0; i < 5; i++ { // the default organisation is not limited
		e.must(200, "GET", "/v1/sandboxes", nil)
	}
	if r := e.do("GET", "/v1/rate-limits", k.APIKey, nil); r.status != 403 && r.status != 429 {
		t.Fatalf("a tenant reads the limits: %d", r.status)
	}
	if r := e.do("PUT", "/v1/rate-limits", e.key, `{"default":{"perKey":{"perSecond":1,"burst":0},"perOrg":{"perSecond":0,"burst":0}}}`); r.status != 400 {
		t.Fatalf("a burst of 0 with a rate: %d %s", r.status, r.body)
	}
}

func TestRateLimitsAreThePlatformAdmins(t *testing.T) {
	e, _ := limitedEnv(t, ratelimit.Settings{})
	created := e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "tenant"})
	var org api.Organization
	created.decode(t, &org)
	for _, m := range []string{"GET", "PUT"} {
		if r := e.do(m, "/v1/rate-limits", org.APIKey, api.RateLimitSettings{}); r.status != 403 {
			t.Fatalf("%s /v1/rate-limits by another organisation's admin: %d %s", m, r.status, r.body)
		}
	}
}

// TestSandboxMetricsRoute reads a running sandbox's use once and as a
// stream whose second reading has the CPU share since the first; the
// stream ends when the sandbox stops.
func TestSandboxMetricsRoute(t *testing.T) {
	e := newEnv(t)
	sb := e.create("measured")
	e.rt.AddCPU(sb.ID, 1500*time.Millisecond)
	var m api.SandboxMetrics
	e.must(200, "GET", "/v1/sandboxes/measured/metrics", nil).decode(t, &m)
	if m.SandboxID != sb.ID || m.State != "running" || m.CPUSeconds != 1.5 || m.CPUPercent != nil {
		t.Fatalf("metrics = %+v", m)
	}
	var other api.Organization
	e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "other"}).decode(t, &other)
	if r := e.do("GET", "/v1/sandboxes/"+sb.ID+"/metrics", other.APIKey, nil); r.status != 404 || r.errBody(t).Code != api.CodeSandboxNotFound {
		t.Fatalf("another organisation's sandbox: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/sandboxes/measured/metrics/stream?interval=1ms", e.key, nil); r.status != 400 {
		t.Fatalf("interval below the floor: %d", r.status)
	}
	req, _ := http.NewRequest("GET", e.url+"/v1/sandboxes/measured/metrics/stream?interval=250ms", nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() (string, []byte) {
		t.Helper()
		var event string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				return event, []byte(v)
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return "", nil
	}
	ev, data := next()
	var first api.SandboxMetrics
	if err := json.Unmarshal(data, &first); err != nil || ev != "metrics" || first.CPUPercent == nil || *first.CPUPercent != 0 {
		t.Fatalf("first event %s %s", ev, data)
	}
	e.rt.AddCPU(sb.ID, time.Hour) // far more than the interval: the share is above 100 %
	ev, data = next()
	var second api.SandboxMetrics
	if err := json.Unmarshal(data, &second); err != nil || ev != "metrics" || second.CPUPercent == nil || *second.CPUPercent <= 100 {
		t.Fatalf("second event %s %s", ev, data)
	}
	e.must(200, "POST", "/v1/sandboxes/measured/stop?wait=true", nil)
	for {
		ev, data = next()
		if ev == "end" {
			break
		}
	}
	var end api.ErrorDetail
	if err := json.Unmarshal(data, &end); err != nil || end.Code != api.CodeInvalidState {
		t.Fatalf("end event %s", data)
	}
	if r := e.do("GET", "/v1/sandboxes/measured/metrics", e.key, nil); r.status != 409 {
		t.Fatalf("metrics of a stopped sandbox: %d", r.status)
	}
}
