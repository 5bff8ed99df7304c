package protocol

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// TestOpenTunnelOlderAgent: an agent of protocol 2 knows no /tcp route;
// the refusal says the agent is outdated rather than that nothing listens.
func TestOpenTunnelOlderAgent(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderVersion, "2")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NOT_FOUND","message":"no agent route for GET /tcp"}}`))
	}))
	t.Cleanup(ts.Close)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenTunnel(context.Background(), c, 8080)
	if !errors.Is(err, errdefs.ErrAgentOutdated) || !strings.Contains(err.Error(), "no agent route") {
		t.Fatalf("older agent: %v", err)
	}
}
