package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/ratelimit"
)

// TestEntryLogsWithoutSecrets: one JSON line per request with its ID,
// route template, organisation, status and latency; neither the path's
// IDs, the query (tokens) nor any header (keys) reach the log.
func TestEntryLogsWithoutSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	var seen []Answered
	h := Entry{Log: log, Limits: ratelimit.New(ratelimit.Settings{}), Observe: func(a Answered) { seen = append(seen, a) }}.Wrap(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			SetRoute(r.Context(), "/v1/sandboxes/{id}")
			if err := limit(w, r.Context(), auth.Principal{OrganizationID: "org_a", KeyID: "key_1"}); err != nil {
				t.Fatal(err)
			}
			w.WriteHeader(http.StatusAccepted)
		}))
	req := httptest.NewRequest("GET", "/v1/sandboxes/sbx_secretive?token=tok_s3cret", nil)
	req.Header.Set("Authorization", "Bearer hk_s3cret")
	req.Header.Set("X-Request-Id", "req-from-client")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	line := strings.TrimSpace(buf.String())
	for _, secret := range []string{"s3cret", "sbx_secretive", "Bearer"} {
		if strings.Contains(line, secret) {
			t.Fatalf("the log carries %q: %s", secret, line)
		}
	}
	var rec1 map[string]any
	if err := json.Unmarshal([]byte(line), &rec1); err != nil {
		t.Fatalf("not one JSON line: %q", line)
	}
	for k, want := range map[string]any{"msg": "request", "requestId": "req-from-client", "route": "/v1/sandboxes/{id}",
		"org": "org_a", "status": float64(202), "method": "GET"} {
		if rec1[k] != want {
			t.Errorf("%s = %v, want %v", k, rec1[k], want)
		}
	}
	if _, ok := rec1["ms"].(float64); !ok {
		t.Errorf("no latency: %v", rec1)
	}
	if len(seen) != 1 || seen[0].Route != "/v1/sandboxes/{id}" || seen[0].Org != "org_a" || seen[0].Status != 202 {
		t.Fatalf("observed %+v", seen)
	}
}
