package e2e

import (
	"bufio"
	"net/http"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestRevokedKeyLosesItsStreams: revoking a key ends what it already
// opened (an events stream and a PTY), not only its next requests; the
// admin key's own stream is left alone.
func TestRevokedKeyLosesItsStreams(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")
	key, err := s.c.CreateAPIKey(ctx(t), api.CreateAPIKeyRequest{Name: "to-revoke"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := client.New(s.url, key.APIKey)
	if err != nil {
		t.Fatal(err)
	}

	events := func(secret string) (chan error, func()) {
		req, _ := http.NewRequestWithContext(ctx(t), "GET", s.url+"/v1/events?follow=true", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("events stream: %s", res.Status)
		}
		ended := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
			}
			ended <- sc.Err()
		}()
		return ended, func() { res.Body.Close() }
	}
	keyEvents, closeKeyEvents := events(key.APIKey)
	defer closeKeyEvents()
	adminEvents, closeAdminEvents := events(s.key)
	defer closeAdminEvents()

	term, err := c2.OpenTerminal(ctx(t), sb.ID, client.TerminalOptions{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var out screen
	termEnded := make(chan error, 1)
	go func() {
		_, err := term.Run(&out)
		termEnded <- err
	}()
	if _, err := term.Write([]byte("echo $((6*7))x\n")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the shell to answer", func() bool { return out.has("42x") })

	if err := s.c.RevokeAPIKey(ctx(t), key.ID); err != nil {
		t.Fatal(err)
	}
	// Within a second is the promise; the limit here is generous so that
	// a loaded host does not fail the test, while a stream that is never
	// closed still does.
	limit := time.After(30 * time.Second)
	for _, w := range []struct {
		what  string
		ended chan error
	}{{"events stream", keyEvents}, {"terminal", termEnded}} {
		select {
		case <-w.ended:
		case <-limit:
			t.Fatalf("the revoked key's %s is still open", w.what)
		}
	}
	// The terminal is gone for good: typing into it fails or is lost.
	if _, err := term.Write([]byte("echo $((7*7))y\n")); err == nil {
		time.Sleep(200 * time.Millisecond)
		if out.has("49y") {
			t.Fatal("the revoked key's terminal still runs commands")
		}
	}

	select {
	case err := <-adminEvents:
		t.Fatalf("the admin key's events stream ended too: %v", err)
	default:
	}
	_, err = c2.GetSandbox(ctx(t), sb.ID)
	wantAPIError(t, "a request with the revoked key", err, 401, api.CodeUnauthenticated)
	_, err = c2.OpenTerminal(ctx(t), sb.ID, client.TerminalOptions{Cols: 80, Rows: 24})
	wantAPIError(t, "a terminal with the revoked key", err, 401, api.CodeUnauthenticated)
}
