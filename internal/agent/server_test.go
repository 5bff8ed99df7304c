package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

// newTestAgent serves the agent's API on a loopback test server.
func newTestAgent(t *testing.T) *httptest.Server {
	t.Helper()
	a := NewServer(nil)
	ts := httptest.NewServer(a)
	t.Cleanup(func() {
		ts.Close()
		a.Close()
	})
	return ts
}

// call sends a JSON body (or none) and decodes a JSON answer into out.
func call(t *testing.T, ts *httptest.Server, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	req.Header.Set("X-Request-Id", "req_test")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// wantError checks an error envelope's status, code and field.
func wantError(t *testing.T, ts *httptest.Server, method, path string, body any, status int, code, mention string) {
	t.Helper()
	var e api.ErrorBody
	if got := call(t, ts, method, path, body, &e); got != status || e.Error.Code != code {
		t.Fatalf("%s %s: %d %s (%s), want %d %s", method, path, got, e.Error.Code, e.Error.Message, status, code)
	}
	if !strings.Contains(e.Error.Message, mention) {
		t.Fatalf("%s %s: message %q does not mention %q", method, path, e.Error.Message, mention)
	}
	if e.Error.RequestID != "req_test" {
		t.Fatalf("request id = %q", e.Error.RequestID)
	}
}

func TestUnknownRouteAndStrictJSON(t *testing.T) {
	ts := newTestAgent(t)
	wantError(t, ts, "GET", "/nope", nil, 404, "NOT_FOUND", "/nope")
	wantError(t, ts, "POST", "/exec", map[string]any{"command": []string{"true"}, "bogus": 1}, 400, api.CodeInvalidArgument, "bogus")
	wantError(t, ts, "POST", "/exec", map[string]any{"command": "true"}, 400, api.CodeInvalidArgument, "command")
	wantError(t, ts, "POST", "/exec", nil, 400, api.CodeInvalidArgument, "empty")
}
