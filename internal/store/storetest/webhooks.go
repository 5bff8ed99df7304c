package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
	"github.com/hutchdev/hutch/internal/webhook"
)

// webhookTests cover webhooks and the deliveries every state event queues.
var webhookTests = []test{
	{"Webhooks", testWebhooks},
	{"WebhookDeliveriesQueued", testWebhookDeliveries},
	{"WebhookDeliveriesOfEveryWrite", testWebhookDeliveriesEveryWrite},
	{"WebhookDeliveriesCommitWithEvent", testWebhookDeliveriesAtomic},
	{"WebhookAttempts", testWebhookAttempts},
	{"WebhookDeliveriesClaimed", testWebhookClaims},
}

// testWebhookAttempts: attempts list newest first, only the newest
// AttemptsKept stay, another organisation sees none, and they go with
// their webhook.
func testWebhookAttempts(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	w, other := newWebhook(t, s, org), newWebhook(t, s, org)
	at := now()
	for i := 1; i <= webhook.AttemptsKept+5; i++ {
		a := &webhook.Attempt{WebhookID: w.ID, DeliveryID: int64(i), Event: "sandbox.state", SandboxID: "sbx_1",
			From: "creating", To: "running", Attempt: 1, Time: at.Add(time.Duration(i) * time.Second),
			StatusCode: 500, Error: "receiver answered 500", Latency: 1500 * time.Microsecond, Outcome: webhook.OutcomeRetrying}
		if i%2 == 0 {
			a.StatusCode, a.Error, a.Outcome = 200, "", webhook.OutcomeDelivered
		}
		if err := s.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordAttempt(ctx, &webhook.Attempt{WebhookID: other.ID, DeliveryID: 99, Event: "sandbox.state",
		Attempt: 1, Time: at, Outcome: webhook.OutcomeFailed, Error: "refused"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAttempts(ctx, org, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != webhook.AttemptsKept {
		t.Fatalf("%d attempts kept, want %d", len(got), webhook.AttemptsKept)
	}
	newest := got[0]
	if newest.DeliveryID != int64(webhook.AttemptsKept+5) || got[len(got)-1].DeliveryID != 6 ||
		!newest.Time.Equal(at.Add(time.Duration(webhook.AttemptsKept+5)*time.Second)) ||
		newest.StatusCode != 500 || newest.Error == "" || newest.Latency != 1500*time.Microsecond ||
		newest.Outcome != webhook.OutcomeRetrying || newest.To != "running" || got[1].Outcome != webhook.OutcomeDelivered {
		t.Fatalf("newest %+v, second %+v, oldest %+v", newest, got[1], got[len(got)-1])
	}
	if _, err := s.ListAttempts(ctx, newOrg(), w.ID); !isNotFound(err) {
		t.Fatalf("another organisation's webhook: %v", err)
	}
	if got, err := s.ListAttempts(ctx, org, other.ID); err != nil || len(got) != 1 || got[0].WebhookID != other.ID {
		t.Fatalf("the other webhook's attempts: %+v %v", got, err)
	}
	if err := s.DeleteWebhook(ctx, org, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListAttempts(ctx, org, w.ID); !isNotFound(err) {
		t.Fatalf("a deleted webhook's attempts: %v", err)
	}
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

// dueFor returns every pending delivery of webhook id, oldest first.
func dueFor(t *testing.T, s store.Store, id string) []*webhook.Delivery {
	t.Helper()
	due, err := s.DueDeliveries(context.Background(), time.Now().Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*webhook.Delivery
	for _, d := range due {
		if d.WebhookID == id {
			out = append(out, d)
		}
	}
	return out
}

// testWebhookDeliveriesEveryWrite checks that each write path queues one
// delivery per webhook for an announced event, and none for others: a
// create, an update (carrying the name it writes), and an appended event.
func testWebhookDeliveriesEveryWrite(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	a, b := newWebhook(t, s, org), newWebhook(t, s, org)
	sb := mustCreate(t, s, newSandbox(org, "web"))

	sb.Name = "renamed"
	ev := sandbox.Event{Type: sandbox.EventState, From: sandbox.StateRunning, To: sandbox.StatePausing, Cause: "user", Message: "pause"}
	sb.State = sandbox.StatePausing
	mustUpdate(t, s, sb, ev)
	mustUpdate(t, s, sb, sandbox.Event{Type: "metadata", Cause: "user"})
	if err := s.AppendEvent(ctx, sandbox.Event{SandboxID: sb.ID, Type: "archive", Message: "packed", Time: now()}); err != nil {
		t.Fatal(err)
	}
	appended := sandbox.Event{SandboxID: sb.ID, Type: sandbox.EventState, From: sandbox.StatePausing, To: sandbox.StatePaused, Cause: "reconcile", Time: now()}
	if err := s.AppendEvent(ctx, appended); err != nil {
		t.Fatal(err)
	}

	evs, err := s.ListEvents(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var announced []sandbox.Event
	for _, e := range evs {
		if e.Announced() {
			announced = append(announced, e)
		}
	}
	if len(announced) != 3 {
		t.Fatalf("want 3 announced events of 5, got %+v", evs)
	}
	for _, w := range []*webhook.Webhook{a, b} {
		due := dueFor(t, s, w.ID)
		if len(due) != len(announced) {
			t.Fatalf("webhook %s has %d deliveries, want one per announced event: %+v", w.ID, len(due), due)
		}
		for i, d := range due {
			e := announced[i]
			if d.EventID != e.ID || d.From != string(e.From) || d.To != string(e.To) || d.Cause != e.Cause ||
				d.Message != e.Message || !d.Time.Equal(e.Time) || d.SandboxID != sb.ID || d.OrganizationID != org ||
				d.URL != w.URL || d.Secret != w.Secret || d.Attempts != 0 {
				t.Fatalf("delivery %d = %+v, want event %+v to %s", i, d, e, w.URL)
			}
		}
		if due[0].SandboxName != "web" || due[1].SandboxName != "renamed" || due[2].SandboxName != "renamed" {
			t.Fatalf("delivery names %q %q %q, want the name as of each write",
				due[0].SandboxName, due[1].SandboxName, due[2].SandboxName)
		}
	}
}

// testWebhookDeliveriesAtomic checks that a write that fails queues
// nothing: the event and its deliveries commit together or not at all.
func testWebhookDeliveriesAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	w := newWebhook(t, s, org)
	sb := mustCreate(t, s, newSandbox(org, "web"))
	stale := *sb
	setState(t, s, sb, sandbox.StateStopping)

	stale.State = sandbox.StatePausing
	err := s.UpdateSandbox(ctx, &stale, sandbox.Event{Type: sandbox.EventState, From: sandbox.StateRunning, To: sandbox.StatePausing})
	wantErr(t, "stale update", err, errdefs.ErrConflict)
	mustCreate(t, s, newSandbox(org, "taken"))
	sb.Name = "taken"
	sb.State = sandbox.StateStopped
	err = s.UpdateSandbox(ctx, sb, sandbox.Event{Type: sandbox.EventState, From: sandbox.StateStopping, To: sandbox.StateStopped})
	wantErr(t, "update to a taken name", err, errdefs.ErrAlreadyExists)
	err = s.CreateSandbox(ctx, newSandbox(org, "web"), createEvent())
	wantErr(t, "create under a taken name", err, errdefs.ErrAlreadyExists)
	err = s.AppendEvent(ctx, sandbox.Event{SandboxID: "sbx_missing", Type: sandbox.EventState, To: sandbox.StateError, Time: now()})
	if !isNotFound(err) {
		t.Fatalf("append to a missing sandbox: %v", err)
	}

	// Two creates and one state change went through; nothing else.
	due := dueFor(t, s, w.ID)
	var tos []string
	for _, d := range due {
		tos = append(tos, d.SandboxName+":"+d.To)
	}
	want := []string{"web:creating", "web:stopping", "taken:creating"}
	if !slices.Equal(tos, want) {
		t.Fatalf("deliveries %v, want %v", tos, want)
	}
}

// testWebhookClaims: a claimed delivery is not claimed (nor due) again
// until its lease ends, and a retry's time replaces the lease.
func testWebhookClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	org := newOrg()
	w := newWebhook(t, s, org)
	a := mustCreate(t, s, newSandbox(org, "a"))
	mustCreate(t, s, newSandbox(org, "b"))

	at := time.Now().Add(time.Minute)
	first, err := s.ClaimDeliveries(ctx, at, time.Minute, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].SandboxID != a.ID || first[0].WebhookID != w.ID || first[0].URL != w.URL || first[0].Secret != w.Secret {
		t.Fatalf("first claim: %+v", first)
	}
	second, err := s.ClaimDeliveries(ctx, at, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 1 || second[0].ID == first[0].ID {
		t.Fatalf("second claim took %+v, want only the other delivery than %d", second, first[0].ID)
	}
	if again, _ := s.ClaimDeliveries(ctx, at.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed again within the lease: %+v", again)
	}
	if due, _ := s.DueDeliveries(ctx, at.Add(30*time.Second), 10); len(due) != 0 {
		t.Fatalf("due within the lease: %+v", due)
	}
	if err := s.RetryDelivery(ctx, second[0].ID, 1, at.Add(time.Hour), "503"); err != nil {
		t.Fatal(err)
	}
	lapsed, err := s.ClaimDeliveries(ctx, at.Add(2*time.Minute), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(lapsed) != 1 || lapsed[0].ID != first[0].ID {
		t.Fatalf("after the lease: %+v, want only %d (the other retries later)", lapsed, first[0].ID)
	}
}
