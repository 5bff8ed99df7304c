package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/webhook"
)

// TestWebhookRetriedUntilReceiverAnswers registers a receiver on
// 127.0.0.1 that fails its first three requests, then auto-deletes a
// sandbox: the real server keeps retrying until the receiver answers, and
// every request carries a valid signature.
func TestWebhookRetriedUntilReceiverAnswers(t *testing.T) {
	var (
		mu       sync.Mutex
		secret   string
		requests int
		badSig   int
		deleted  bool
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		if !webhook.Verify(secret, body, r.Header.Get(webhook.HeaderSignature)) {
			badSig++
		}
		if requests <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p webhook.Payload
		if json.Unmarshal(body, &p) == nil && p.To == "deleted" && p.Cause == "auto-delete" {
			deleted = true
		}
	}))
	t.Cleanup(recv.Close)

	// The receiver is on loopback, which only the platform admin's
	// allowance lets the server reach.
	s := startServer(t, "", append(fastClock, "--webhook-backoff", "100ms", "--egress-allow", "127.0.0.1/32")...)
	hs := registerWebhook(t, s, recv.URL)
	mu.Lock()
	secret = hs
	mu.Unlock()
	sb := create(t, s, api.CreateSandboxRequest{Name: "hooked", Entrypoint: sleeper, AutoDeleteMinutes: ptr(0)})
	if _, err := s.c.Stop(ctx(t), sb.ID, client.StopOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the auto-delete to reach the receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return deleted
	})
	mu.Lock()
	defer mu.Unlock()
	if badSig != 0 {
		t.Fatalf("%d of %d requests had a bad signature", badSig, requests)
	}
}

func registerWebhook(t *testing.T, s *server, url string) string {
	t.Helper()
	body, _ := json.Marshal(api.CreateWebhookRequest{URL: url})
	req, _ := http.NewRequestWithContext(ctx(t), "POST", s.url+"/v1/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h api.Webhook
	if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&h) != nil || h.Secret == "" {
		t.Fatalf("register webhook: %d %+v", resp.StatusCode, h)
	}
	return h.Secret
}
