package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
	"github.com/hutchdev/hutch/internal/webhook"
)

// allowLoopback is the guard of a server whose admin allowed 127.0.0.1,
// where these tests' receivers listen.
func allowLoopback(t *testing.T) *egress.Guard {
	t.Helper()
	g, err := egress.New(egress.Policy{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCreateRefusesInternalTargets: receiver URLs whose host is an
// internal address written out, in any form, are refused at create with
// the refusal named; the platform admin's allowance lets one through.
func TestCreateRefusesInternalTargets(t *testing.T) {
	st := openStore(t)
	admin := auth.Principal{OrganizationID: "org_a", Admin: true}
	strict := webhook.NewService(st)
	for _, raw := range []string{
		"http://127.0.0.1:9/hook", "http://0x7f000001/", "http://2130706433/", "http://localhost:8080/",
		"http://[::1]/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/", "http://[::ffff:10.0.0.8]/",
	} {
		_, err := strict.Create(context.Background(), admin, raw)
		var re *egress.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, errdefs.ErrForbidden) {
			t.Errorf("%s: err = %v, want a refusal", raw, err)
			continue
		}
		if !strings.Contains(err.Error(), "webhook target") || !strings.Contains(err.Error(), egress.Flag) {
			t.Errorf("%s: message %q does not name the refusal", raw, err)
		}
	}
	if hooks, _ := st.ListWebhooks(context.Background(), "org_a"); len(hooks) != 0 {
		t.Fatalf("%d refused webhooks stored", len(hooks))
	}
	allowed := webhook.NewService(st, webhook.WithEgress(allowLoopback(t)))
	if _, err := allowed.Create(context.Background(), admin, "http://127.0.0.1:9/hook"); err != nil {
		t.Fatalf("allowed loopback refused: %v", err)
	}
	if _, err := allowed.Create(context.Background(), admin, "https://hooks.example.com/x"); err != nil {
		t.Fatalf("public name refused: %v", err)
	}
}

// logBuffer collects a logger's output for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// deliverOnce stores a webhook to url (past the service's create-time
// check, as a name that resolved elsewhere then would be), records a state
// change and makes one delivery attempt; it returns the dispatcher's log.
func deliverOnce(t *testing.T, url string, g *egress.Guard) string {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	if err := st.CreateWebhook(ctx, &webhook.Webhook{ID: "wh_1", OrganizationID: "org_a", URL: url, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	sb := &sandbox.Sandbox{ID: "sbx_1", Name: "web", OrganizationID: "org_a", Image: "base", State: sandbox.StateCreating, DesiredState: sandbox.StateRunning}
	if err := st.CreateSandbox(ctx, sb, sandbox.Event{Type: sandbox.EventState, To: sandbox.StateCreating, Cause: sandbox.CauseUser}); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	cfg := webhook.Config{Interval: time.Hour, Backoff: time.Hour, MaxBackoff: time.Hour, MaxAttempts: 1, Timeout: 5 * time.Second, Egress: g}
	if err := webhook.NewDispatcher(st, cfg, slog.New(slog.NewTextHandler(&logs, nil))).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	return logs.String()
}

// TestDeliveryRefusedAtDialTime: a receiver named by a host name that
// resolves to loopback is never reached; the delivery fails with the
// refusal, not the address the name resolved to.
func TestDeliveryRefusedAtDialTime(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	log := deliverOnce(t, "http://localhost:"+port+"/hook", nil)
	if n := len(rc.snapshot()); n != 0 {
		t.Fatalf("the receiver on loopback got %d requests", n)
	}
	if !strings.Contains(log, "webhook target localhost resolves to a loopback address") || strings.Contains(log, "127.0.0.1") {
		t.Fatalf("log does not show the refusal alone:\n%s", log)
	}
}

// TestDeliveryRedirectToInternalRefused: an allowed receiver that
// redirects to an internal one does not get the delivery through.
func TestDeliveryRedirectToInternalRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this host: %v", err)
	}
	inner := &receiver{}
	innerSrv := httptest.NewUnstartedServer(inner)
	innerSrv.Listener = ln
	innerSrv.Start()
	t.Cleanup(innerSrv.Close)
	redirect := httptest.NewServer(http.RedirectHandler(innerSrv.URL+"/hook", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	log := deliverOnce(t, redirect.URL, allowLoopback(t))
	if n := len(inner.snapshot()); n != 0 {
		t.Fatalf("the internal receiver behind the redirect got %d requests", n)
	}
	if !strings.Contains(log, "webhook target 127.0.0.2 is a loopback address") {
		t.Fatalf("log does not show the refusal:\n%s", log)
	}
}
