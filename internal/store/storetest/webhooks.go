package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/webhook"
)

// webhookTests cover webhooks and the deliveries every state event queues.
var webhookTests = []test{
	{"Webhooks", testWebhooks},
	{"WebhookDeliveriesQueued", testWebhookDeliveries},
}

func newWebhook(t *testing.T, s store.Store, org string) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{ID: ids.New("wh_"), OrganizationID: org, URL: "http://127.0.0.1:1/hook", Secret: "s3cret", CreatedAt: now()}
	if err := s.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

func testWebhooks(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	a, b := newWebhook(t, s, org), newWebhook(t, s, org)
	newWebhook(t, s, newOrg())
	got, err := s.ListWebhooks(ctx, org)
	if err != nil || len(got) != 2 || got[0].URL != a.URL || got[0].Secret != "s3cret" {
		t.Fatalf("list: %+v %v", got, err)
	}
	if err := s.DeleteWebhook(ctx, newOrg(), a.ID); !isNotFound(err) {
		t.Fatalf("delete from another organisation: %v", err)
	}
	if err := s.DeleteWebhook(ctx, org, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListWebhooks(ctx, org); len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("after delete: %+v", got)
	}
}

func testWebhookDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	w := newWebhook(t, s, org)
	sb := mustCreate(t, s, newSandbox(org, "web"))      // a state event: queued
	mustCreate(t, s, newSandbox(newOrg(), "elsewhere")) // no webhook there
	mustUpdate(t, s, sb, sandbox.Event{Type: "metadata", Cause: "user"})
	setState(t, s, sb, sandbox.StateStopped)

	later := time.Now().Add(time.Minute)
	due, err := s.DueDeliveries(ctx, later, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 {
		t.Fatalf("want 2 deliveries (two state events), got %+v", due)
	}
	d := due[1]
	if d.WebhookID != w.ID || d.URL != w.URL || d.Secret != w.Secret || d.SandboxID != sb.ID ||
		d.SandboxName != "web" || d.OrganizationID != org || d.To != string(sandbox.StateStopped) || d.EventID == 0 {
		t.Fatalf("delivery: %+v", d)
	}
	next := later.Add(time.Hour)
	if err := s.RetryDelivery(ctx, due[0].ID, 1, next, "503"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishDelivery(ctx, d.ID, now(), true, ""); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueDeliveries(ctx, later, 100); len(due) != 0 {
		t.Fatalf("retried and finished deliveries still due: %+v", due)
	}
	due, _ = s.DueDeliveries(ctx, next, 100)
	if len(due) != 1 || due[0].Attempts != 1 {
		t.Fatalf("retry not due at its time: %+v", due)
	}
	if n, err := s.PurgeDeliveries(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if err := s.DeleteWebhook(ctx, org, w.ID); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueDeliveries(ctx, next, 100); len(due) != 0 {
		t.Fatalf("deliveries of a deleted webhook: %+v", due)
	}
}
