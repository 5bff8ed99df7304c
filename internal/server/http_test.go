package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/config"
)

// shortHTTP is a config whose listener limits are short enough to pass in
// a test: idle connections and stalled bodies end after 300ms.
func shortHTTP(t *testing.T) (config.Config, string) {
	cfg := testConfig(t)
	cfg.APIKey = "hk_http-test"
	cfg.HTTP.IdleTimeout = 300 * time.Millisecond
	cfg.HTTP.ReadTimeout = 300 * time.Millisecond
	cfg.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	return cfg, cfg.APIKey
}

// request writes one raw request on c and reads its answer.
func request(t *testing.T, c net.Conn, br *bufio.Reader, path, key string) *http.Response {
	t.Helper()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", path, key)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

// closedWithin reports whether the server closes c (EOF or reset) within d.
func closedWithin(c net.Conn, br *bufio.Reader, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestIdleConnectionClosed: a keep-alive connection that carries no
// request is closed after --http-idle-timeout (it used to stay open for
// ever); one busy with an event stream is not, however long it lasts.
func TestIdleConnectionClosed(t *testing.T) {
	cfg, key := shortHTTP(t)
	url, _, _ := start(t, cfg)
	addr := strings.TrimPrefix(url, "http://")

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	br := bufio.NewReader(idle)
	resp := request(t, idle, br, "/healthz", "")
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("healthz: %d close=%v", resp.StatusCode, resp.Close)
	}
	if !closedWithin(idle, br, 3*time.Second) {
		t.Fatal("an idle keep-alive connection was still open 3s after a 300ms idle timeout")
	}

	stream, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	sbr := bufio.NewReader(stream)
	resp = request(t, stream, sbr, "/v1/events?follow=true", key)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := bufio.NewReader(resp.Body)
	if line, err := body.ReadString('\n'); err != nil || !strings.HasPrefix(line, ": subscribed") {
		t.Fatalf("first line of the stream: %q %v", line, err)
	}
	body.ReadString('\n')
	// Five times the idle and read timeouts: the stream must still be
	// open, so the next read waits (and times out) rather than ending.
	time.Sleep(1500 * time.Millisecond)
	stream.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = body.ReadByte()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("event stream after 1.5s: %v, want it still open", err)
	}
}

// TestStalledBodyEnds: a request body with no byte for --http-read-timeout
// ends the request; one whose bytes keep coming lasts as long as it needs.
func TestStalledBodyEnds(t *testing.T) {
	cfg, key := shortHTTP(t)
	url, _, _ := start(t, cfg)
	addr := strings.TrimPrefix(url, "http://")

	send := func(pause time.Duration, chunks int) (string, time.Duration) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		begin := time.Now()
		fmt.Fprintf(c, "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", key)
		body := `{"url": "http://192.0.2.1/hook"}`
		for i := 0; i < chunks; i++ {
			part := body[i*len(body)/chunks : (i+1)*len(body)/chunks]
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(part), part); err != nil {
				break
			}
			time.Sleep(pause)
		}
		fmt.Fprint(c, "0\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "error: " + err.Error(), time.Since(begin)
		}
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b), time.Since(begin)
	}
	// 10 chunks 100ms apart: a second in all, three read timeouts.
	got, took := send(100*time.Millisecond, 10)
	t.Logf("steady body: %s", got)
	if strings.Contains(got, "timeout") || strings.Contains(got, "JSON") || strings.HasPrefix(got, "error") || strings.HasPrefix(got, "5") || took < time.Second {
		t.Fatalf("a slow but steady body (%v): %s", took, got)
	}
	// Half the body, then 1.5s of nothing.
	got, _ = send(1500*time.Millisecond, 2)
	t.Logf("stalled body: %s", got)
	if !strings.HasPrefix(got, "400") || !strings.Contains(got, "timeout") {
		t.Fatalf("a body stalled for five read timeouts: %s, want a 400 saying the body timed out", got)
	}
}

// TestConnectionCapPerClient: past --max-conns-per-ip, a client's new
// connections are answered 429 naming the cap and closed; a closed one
// frees its place.
func TestConnectionCapPerClient(t *testing.T) {
	cfg, _ := shortHTTP(t)
	cfg.HTTP.IdleTimeout = time.Minute
	cfg.HTTP.MaxConnsPerIP = 4
	url, _, _ := start(t, cfg)
	addr := strings.TrimPrefix(url, "http://")

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		resp := request(t, c, bufio.NewReader(c), "/healthz", "")
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("connection %d under the cap: %d", i+1, resp.StatusCode)
		}
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	obr := bufio.NewReader(over)
	resp := request(t, over, obr, "/healthz", "")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(b), "--max-conns-per-ip") || !strings.Contains(string(b), "at most 4") {
		t.Fatalf("fifth connection: %d %v %s, want 429 naming the cap", resp.StatusCode, resp.Header, b)
	}
	if !closedWithin(over, obr, 3*time.Second) {
		t.Fatal("the refused connection stayed open")
	}

	held[0].Close()
	held = held[1:]
	for deadline := time.Now().Add(3 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		resp := request(t, c, bufio.NewReader(c), "/healthz", "")
		resp.Body.Close()
		if resp.StatusCode == 200 {
			held = append(held, c)
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection did not free its place: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
