package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestReplicasOnPostgres runs two `hutch serve` processes on one
// PostgreSQL database. B starts first and is elected leader; A, started
// second, makes a sandbox. B answers for it with the same key, its event
// stream shows A's pause, and it accepts a port URL A signed. B is then
// killed with SIGKILL, and A takes over the leadership.
//
// Both run the oci runtime on this one machine with their own data dirs,
// so only A makes sandboxes and B starts before there are any: an oci
// sandbox exists on its own server's machine only (docs/operations.md,
// "Replicas"); a kill in the middle of a transition, settled by the
// other replica, needs a runtime both reach and is for the Kubernetes
// e2e. Two servers on one data dir are refused at once (the image store
// is locked by the first).
func TestReplicasOnPostgres(t *testing.T) {
	dbURL := startPostgres(t)
	b := startReplica(t, "--store", dbURL)
	waitLogged(t, b, "elected leader")
	a := startServer(t, "", "--store", dbURL)

	sb := createCounter(t, a, "replicated")
	got, err := b.c.GetSandbox(ctx(t), "replicated")
	if err != nil || got.ID != sb.ID || got.State != "running" {
		t.Fatalf("B reads A's sandbox: %+v %v", got, err)
	}

	req, _ := http.NewRequestWithContext(ctx(t), "GET", b.url+"/v1/events?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+b.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("B's event stream: %v %v", res, err)
	}
	defer res.Body.Close()
	heard := make(chan api.StreamEvent, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			var ev api.StreamEvent
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil {
				heard <- ev
			}
		}
		close(heard)
	}()
	if _, err := a.c.Pause(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	for ev := range heard {
		if ev.SandboxID == sb.ID && ev.To == "paused" {
			if ev.SandboxName != "replicated" || ev.State != "paused" || ev.ID == 0 {
				t.Fatalf("B streamed A's pause as %+v", ev)
			}
			break
		}
	}
	if _, err := a.c.Resume(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}

	// A port URL signed by A opens on B: B accepts the token (what B finds
	// behind it is A's machine's business); a token one letter off does not.
	r := call(t, a, "POST", portURL(a, sb.ID, 8000, "/url"), `{}`, a.key, "")
	var pu api.PortURL
	if r.status != 200 || json.Unmarshal([]byte(r.body), &pu) != nil || pu.URL == "" {
		t.Fatalf("sign on A: %d %s", r.status, r.body)
	}
	u, _ := url.Parse(pu.URL)
	q := u.Query()
	if r := call(t, b, "GET", portURL(b, sb.ID, 8000, "/?"+q.Encode()), "", "", ""); r.status == 401 || r.status == 403 {
		t.Fatalf("B refuses A's signed URL: %d %s", r.status, r.body)
	}
	for k, v := range q {
		q.Set(k, flip(v[0]))
	}
	if r := call(t, b, "GET", portURL(b, sb.ID, 8000, "/?"+q.Encode()), "", "", ""); r.status != 401 {
		t.Fatalf("B with a forged token: %d %s", r.status, r.body)
	}

	if logged(a, "elected leader") {
		t.Fatal("A leads while B, elected first, still does")
	}
	if ra, rb := role(t, a), role(t, b); ra != "follower" || rb != "leader" {
		t.Fatalf("/readyz: A is %s and B %s, want follower and leader", ra, rb)
	}
	killed := time.Now()
	b.crash()
	waitLogged(t, a, "elected leader")
	t.Logf("A was elected %v after B's SIGKILL", time.Since(killed).Round(10*time.Millisecond))
	if r := role(t, a); r != "leader" {
		t.Fatalf("/readyz of A after B died: %s", r)
	}
	if got, err := a.c.Pause(ctx(t), sb.ID); err != nil || got.State != "paused" {
		t.Fatalf("pause on A after B died: %+v %v", got, err)
	}
}

// startReplica runs a second hutch serve with a data dir of its own and
// no image cache (the e2e servers share one, which one process locks).
func startReplica(t *testing.T, extra ...string) *server {
	t.Helper()
	dir, err := os.MkdirTemp("", "hutch-e2e-replica-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711)
	os.Mkdir(filepath.Join(dir, "seeds"), 0o755)
	s := launch(t, dir, extra...)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("replica log:\n%s", b)
		}
	})
	return s
}

func logged(s *server, what string) bool {
	b, _ := os.ReadFile(s.logPath)
	return strings.Contains(string(b), what)
}

func waitLogged(t *testing.T, s *server, what string) {
	t.Helper()
	poll.Until(t, what+" in "+s.logPath, func() bool { return logged(s, what) })
}

// flip changes the last character of a token.
func flip(v string) string {
	if v == "" {
		return "x"
	}
	// The token ends in hex, which decodes either case: a swap from 'a'
	// to 'A' would forge nothing. '0' and '1' are distinct in every
	// reading.
	last := v[len(v)-1]
	if last == '0' {
		return v[:len(v)-1] + "1"
	}
	return v[:len(v)-1] + "0"
}

// role is what /readyz says this replica is: leader or follower.
func role(t *testing.T, s *server) string {
	t.Helper()
	_, r := readyz(t, s)
	for _, c := range r.Checks {
		if c.Name == "replica" {
			role, _, _ := strings.Cut(c.Message, ":")
			return role
		}
	}
	return "no replica check"
}
