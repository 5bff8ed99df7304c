package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// TestEventStreamFollowsTransitions subscribes to GET /v1/events and
// checks that a pause shows up with its cause, and that another
// organisation's events do not.
func TestEventStreamFollowsTransitions(t *testing.T) {
	e := newEnv(t)
	id := e.create("watched").ID
	other := e.must(201, "POST", "/v1/organizations", api.CreateOrganizationRequest{Name: "other"})
	var org api.Organization
	other.decode(t, &org)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/v1/events?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // ": subscribed": the subscription is in place

	e.do("POST", "/v1/sandboxes", org.APIKey, api.CreateSandboxRequest{Name: "elsewhere"})
	e.must(200, "POST", "/v1/sandboxes/"+id+"/pause", nil)
	var seen []api.StreamEvent
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev api.StreamEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		seen = append(seen, ev)
		if ev.To == "paused" {
			break
		}
	}
	if len(seen) != 2 || seen[0].To != "pausing" || seen[0].Cause != "user" || seen[0].SandboxID != id ||
		seen[0].SandboxName != "watched" || seen[1].State != "paused" {
		t.Fatalf("streamed %+v, want pausing then paused of the one sandbox", seen)
	}
	if r := e.do("GET", "/v1/events", e.key, nil); r.status != 400 {
		t.Fatalf("without follow: %d", r.status)
	}
}

func TestWebhookRegistration(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/v1/webhooks", api.CreateWebhookRequest{URL: "http://127.0.0.1:9/hook"})
	var hook api.Webhook
	r.decode(t, &hook)
	if hook.ID == "" || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("created: %+v", hook)
	}
	var list api.WebhookList
	e.must(200, "GET", "/v1/webhooks", nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].URL != hook.URL || list.Items[0].Secret != "" {
		t.Fatalf("list shows %+v, want the hook without its secret", list.Items)
	}
	e.must(400, "POST", "/v1/webhooks", api.CreateWebhookRequest{URL: "ftp://x"})

	// Its deliveries: none yet, then the attempts the dispatcher recorded,
	// newest first, with the receiver's status or the error.
	var dl api.WebhookDeliveryList
	e.must(200, "GET", "/v1/webhooks/"+hook.ID+"/deliveries", nil).decode(t, &dl)
	if dl.Items == nil || len(dl.Items) != 0 {
		t.Fatalf("deliveries before any: %+v, want an empty list", dl)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, a := range []*webhook.Attempt{
		{WebhookID: hook.ID, DeliveryID: 7, Event: webhook.EventState, SandboxID: "sbx_1", To: "creating", Attempt: 1,
			Time: at, StatusCode: 503, Error: "receiver answered 503 Service Unavailable", Latency: 2500 * time.Microsecond, Outcome: webhook.OutcomeRetrying},
		{WebhookID: hook.ID, DeliveryID: 7, Event: webhook.EventState, SandboxID: "sbx_1", To: "creating", Attempt: 2,
			Time: at.Add(time.Second), StatusCode: 200, Latency: time.Millisecond, Outcome: webhook.OutcomeDelivered},
	} {
		if err := e.store.RecordAttempt(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	e.must(200, "GET", "/v1/webhooks/"+hook.ID+"/deliveries", nil).decode(t, &dl)
	if len(dl.Items) != 2 {
		t.Fatalf("deliveries: %+v", dl.Items)
	}
	want := []api.WebhookDelivery{
		{DeliveryID: "7", Event: "sandbox.state", SandboxID: "sbx_1", To: "creating", Attempt: 2, Time: at.Add(time.Second), StatusCode: 200, LatencyMs: 1, Outcome: "delivered"},
		{DeliveryID: "7", Event: "sandbox.state", SandboxID: "sbx_1", To: "creating", Attempt: 1, Time: at, StatusCode: 503,
			Error: "receiver answered 503 Service Unavailable", LatencyMs: 2.5, Outcome: "retrying"},
	}
	for i := range want {
		if g := dl.Items[i]; g != want[i] {
			if !g.Time.Equal(want[i].Time) {
				t.Errorf("delivery %d = %+v, want %+v", i, g, want[i])
			} else if g.Time = want[i].Time; g != want[i] {
				t.Errorf("delivery %d = %+v, want %+v", i, g, want[i])
			}
		}
	}
	e.must(404, "GET", "/v1/webhooks/wh_unknown/deliveries", nil)

	e.must(204, "DELETE", "/v1/webhooks/"+hook.ID, nil)
	e.must(404, "DELETE", "/v1/webhooks/"+hook.ID, nil)
	e.must(404, "GET", "/v1/webhooks/"+hook.ID+"/deliveries", nil)
	// A key that is not an admin key may not manage webhooks.
	var k api.APIKey
	e.must(201, "POST", "/v1/api-keys", api.CreateAPIKeyRequest{Name: "plain"}).decode(t, &k)
	if r := e.do("GET", "/v1/webhooks", k.APIKey, nil); r.status != 403 {
		t.Fatalf("non-admin list: %d", r.status)
	}
	if r := e.do("GET", "/v1/webhooks/"+hook.ID+"/deliveries", k.APIKey, nil); r.status != 403 {
		t.Fatalf("non-admin deliveries: %d", r.status)
	}
}

// TestOrganizationDefaults sets an organisation's defaults and checks that
// new sandboxes take them, that a request's own values win, and that null
// gives the server's default back.
func TestOrganizationDefaults(t *testing.T) {
	e := newEnv(t)
	var got api.OrganizationSettings
	e.must(200, "GET", "/v1/organization/settings", nil).decode(t, &got)
	if got.DefaultAutoStopMinutes != nil || got.DefaultAutoPauseMinutes != nil || got.DefaultTimeoutSeconds != nil {
		t.Fatalf("fresh settings: %+v", got)
	}
	e.must(200, "PATCH", "/v1/organization/settings", `{"defaultAutoStopMinutes": 15, "defaultAutoPauseMinutes": 7, "defaultTimeoutSeconds": 600}`).decode(t, &got)
	if *got.DefaultAutoStopMinutes != 15 || got.DefaultAutoPauseMinutes == nil || *got.DefaultAutoPauseMinutes != 7 || *got.DefaultTimeoutSeconds != 600 {
		t.Fatalf("patched: %+v", got)
	}
	sb := e.create("defaults")
	if sb.AutoStopMinutes != 15 || sb.AutoPauseMinutes != 7 || sb.TimeoutSeconds == nil || *sb.TimeoutSeconds != 600 || sb.ExpiresAt == nil {
		t.Fatalf("sandbox did not take the defaults: %+v", sb)
	}
	own := e.must(201, "POST", "/v1/sandboxes", `{"name": "own", "autoStopMinutes": 0}`).sandbox(t)
	if own.AutoStopMinutes != 0 {
		t.Fatalf("request's own autoStopMinutes lost: %d", own.AutoStopMinutes)
	}
	e.must(200, "PATCH", "/v1/organization/settings", `{"defaultAutoStopMinutes": null}`).decode(t, &got)
	if got.DefaultAutoStopMinutes != nil || got.DefaultTimeoutSeconds == nil {
		t.Fatalf("after clearing one: %+v", got)
	}
	e.must(400, "PATCH", "/v1/organization/settings", `{"defaultAutoDeleteMinutes": -2}`)
	if eb := e.must(400, "PATCH", "/v1/organization/settings", `{"defaultAutoPauseMinutes": -1}`).errBody(t); !strings.Contains(eb.Message, "defaultAutoPauseMinutes") {
		t.Fatalf("a negative auto-pause default: %+v, want the field named", eb)
	}
	e.must(400, "PATCH", "/v1/organization/settings", `{"bogus": 1}`)
}

// TestOrganizationDefaultRuntime: PATCH defaultRuntime makes the
// organisation's creates that name no runtime take it, an unknown one is
// a 400 naming the field, and null gives the server's default back.
func TestOrganizationDefaultRuntime(t *testing.T) {
	e := newEnvWith(t, func(c *sandbox.Config) { c.Runtimes, c.DefaultRuntime = []string{"gvisor", "oci"}, "oci" })
	if sb := e.create("before"); sb.Runtime != "oci" {
		t.Fatalf("without an organisation default: %q, want oci", sb.Runtime)
	}
	if eb := e.must(400, "PATCH", "/v1/organization/settings", `{"defaultRuntime": "kata"}`).errBody(t); !strings.Contains(eb.Message, "defaultRuntime") {
		t.Fatalf("an unknown default runtime: %+v, want the field named", eb)
	}
	var got api.OrganizationSettings
	e.must(200, "PATCH", "/v1/organization/settings", `{"defaultRuntime": "gvisor"}`).decode(t, &got)
	if got.DefaultRuntime == nil || *got.DefaultRuntime != "gvisor" {
		t.Fatalf("patched: %+v", got)
	}
	if sb := e.create("after"); sb.Runtime != "gvisor" {
		t.Fatalf("with the organisation's default gvisor: %q", sb.Runtime)
	}
	if sb := e.must(201, "POST", "/v1/sandboxes", `{"name": "own", "runtime": "oci"}`).sandbox(t); sb.Runtime != "oci" {
		t.Fatalf("a create naming oci: %q", sb.Runtime)
	}
	e.must(200, "PATCH", "/v1/organization/settings", `{"defaultRuntime": null}`).decode(t, &got)
	if got.DefaultRuntime != nil {
		t.Fatalf("after clearing: %+v", got)
	}
	if sb := e.create("cleared"); sb.Runtime != "oci" {
		t.Fatalf("after clearing the organisation default: %q, want oci", sb.Runtime)
	}
}
