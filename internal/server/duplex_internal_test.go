package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/config"
)

// TestEarlyAnswerDoesNotReuseUnreadBody: a full-duplex handler (the agent
// forwarder, the port proxy) that answers before reading the request body
// must not leave the body's rest on a connection the server reuses. It
// did: bodyDeadlines swapped the request's own Body for its reader, the
// server then no longer saw the body closed early, and the next "request"
// it parsed on that connection was the rest of the upload (a 400 the
// client read as the answer to its next call).
func TestEarlyAnswerDoesNotReuseUnreadBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		defer r.Body.Close()
		http.Error(w, "refused", http.StatusForbidden)
	})
	cfg := config.HTTP{IdleTimeout: time.Minute, ReadTimeout: time.Minute, ReadHeaderTimeout: time.Minute, MaxBodyMB: 64}
	srv := newHTTPServer(h, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A body made of requests shows at once whether its rest is parsed.
	body := bytes.Repeat([]byte("GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), 1<<20/36)
	fmt.Fprintf(c, "PUT /files HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
	go c.Write(body) // ends when the connection does
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("first answer %d, want the handler's 403", resp.StatusCode)
	}
	// Nothing more may come on this connection but its end.
	next, err := http.ReadResponse(br, nil)
	if err == nil {
		t.Fatalf("the connection carried another answer (%s): the unread body was parsed as a request", next.Status)
	}
	t.Logf("after the answer: %v", err)
}
