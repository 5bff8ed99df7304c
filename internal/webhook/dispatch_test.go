package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
	"github.com/hutchdev/hutch/internal/webhook"
)

// receiver is a webhook endpoint on 127.0.0.1 that fails its first
// failures requests with 503 and records every request.
type receiver struct {
	mu       sync.Mutex
	failures int
	got      []received
}

type received struct {
	status  int
	payload webhook.Payload
	sigOK   bool
	tsOK    bool
	deliv   string
}

const secret = "whsec_test"

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p webhook.Payload
	_ = json.Unmarshal(body, &p)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := http.StatusOK
	if len(rc.got) < rc.failures {
		status = http.StatusServiceUnavailable
	}
	rc.got = append(rc.got, received{
		status:  status,
		payload: p,
		sigOK:   webhook.Verify(secret, body, r.Header.Get(webhook.HeaderSignature)),
		tsOK:    r.Header.Get(webhook.HeaderTimestamp) == strconv.FormatInt(p.SentAt.Unix(), 10),
		deliv:   r.Header.Get(webhook.HeaderDelivery),
	})
	w.WriteHeader(status)
}

func (rc *receiver) snapshot() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// TestDeliveryRetriedUntilReceiverAnswers registers a receiver that fails
// three times, records a state change, and runs the dispatcher, restarting
// it half-way as a restarted server would: the receiver ends up with the
// signed event, and nothing more once it has answered.
func TestDeliveryRetriedUntilReceiverAnswers(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rc := &receiver{failures: 3}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	if err := st.CreateWebhook(ctx, &webhook.Webhook{ID: "wh_1", OrganizationID: "org_a", URL: srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	sb := &sandbox.Sandbox{ID: "sbx_1", Name: "web", OrganizationID: "org_a", Image: "base", State: sandbox.StateCreating, DesiredState: sandbox.StateRunning}
	if err := st.CreateSandbox(ctx, sb, sandbox.Event{Type: sandbox.EventState, To: sandbox.StateCreating, Cause: sandbox.CauseUser}); err != nil {
		t.Fatal(err)
	}
	cfg := webhook.Config{Interval: 10 * time.Millisecond, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		MaxAttempts: 10, Timeout: 5 * time.Second, Egress: allowLoopback(t)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	run := func(until func() bool) {
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			webhook.NewDispatcher(st, cfg, log).Run(dctx)
		}()
		poll.Until(t, "the receiver", until)
		cancel()
		<-done
	}
	run(func() bool { return len(rc.snapshot()) >= 2 }) // first server
	run(func() bool {                                   // restarted, until the delivery is recorded as done
		due, err := st.DueDeliveries(ctx, time.Now().Add(24*time.Hour), 10)
		return err == nil && len(due) == 0 && len(rc.snapshot()) >= rc.failures+1
	})

	got := rc.snapshot()
	last := got[len(got)-1]
	if last.status != http.StatusOK {
		t.Fatalf("last attempt answered %d", last.status)
	}
	for i, g := range got {
		if !g.sigOK || !g.tsOK {
			t.Fatalf("attempt %d: signature ok %v, timestamp header ok %v", i+1, g.sigOK, g.tsOK)
		}
		if g.deliv != got[0].deliv || g.payload.SandboxID != "sbx_1" || g.payload.To != "creating" || g.payload.Cause != "user" {
			t.Fatalf("attempt %d: %+v (delivery %s)", i+1, g.payload, g.deliv)
		}
	}
	// Delivered: further passes send nothing.
	d := webhook.NewDispatcher(st, cfg, log)
	for i := 0; i < 3; i++ {
		if err := d.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rc.snapshot()); n != len(got) {
		t.Fatalf("%d requests after delivery, want %d", n, len(got))
	}

	// Every attempt is on record, newest first: the delivery, then the
	// receiver's 503s, each marked for retry.
	attempts, err := st.ListAttempts(ctx, "org_a", "wh_1")
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) < rc.failures+1 {
		t.Fatalf("%d attempts on record, want at least %d", len(attempts), rc.failures+1)
	}
	first := attempts[0]
	if first.Outcome != webhook.OutcomeDelivered || first.StatusCode != http.StatusOK || first.Error != "" ||
		first.Event != webhook.EventState || first.SandboxID != "sbx_1" || first.To != "creating" || first.Time.IsZero() {
		t.Fatalf("newest attempt = %+v, want delivered with 200", first)
	}
	saw503 := false
	for i, a := range attempts[1:] {
		if a.Attempt >= attempts[i].Attempt || a.DeliveryID != first.DeliveryID || a.Outcome != webhook.OutcomeRetrying || a.Error == "" {
			t.Fatalf("attempt %+v after %+v: want an earlier, failed attempt of the same delivery", a, attempts[i])
		}
		saw503 = saw503 || a.StatusCode == http.StatusServiceUnavailable
	}
	if !saw503 {
		t.Errorf("no attempt recorded the receiver's 503: %+v", attempts)
	}
	if _, err := st.ListAttempts(ctx, "org_b", "wh_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("another organisation's webhook: %v, want not found", err)
	}
}

// TestSignature checks Verify against Sign and a tampered body.
func TestSignature(t *testing.T) {
	body := []byte(`{"to":"stopped"}`)
	sig := webhook.Sign("k", body)
	if !webhook.Verify("k", body, sig) {
		t.Fatal("own signature rejected")
	}
	if webhook.Verify("k", []byte(`{"to":"running"}`), sig) || webhook.Verify("other", body, sig) {
		t.Fatal("tampered body or wrong secret accepted")
	}
}
