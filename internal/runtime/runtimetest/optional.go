package runtimetest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// testOnlyLoopback checks that a sandbox without internet access has a
// network namespace of its own with nothing in it but lo.
func testOnlyLoopback(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	s.create(t, rt, sp)
	out, err := s.Exec(ctxT(t), rt, sp.ID, "cat", "/proc/net/dev")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var ifaces []string
	for _, line := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces = %v, want only lo", ifaces)
	}
}

// testDialPort reaches a server on the sandbox's own loopback through the
// PortDialer, with internet access off.
func testDialPort(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	nw, ok := runtime.AsPortDialer(rt)
	if !ok {
		t.Fatal("Ports declared, no PortDialer")
	}
	sp := s.spec("sh", "-c", "mkdir -p /tmp/www && echo inside > /tmp/www/index.html && httpd -f -p 127.0.0.1:8080 -h /tmp/www")
	s.create(t, rt, sp)
	var body string
	eventually(t, "the sandbox to serve on its port 8080", func() bool {
		c, err := nw.DialPort(ctxT(t), sp.ID, 8080)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		b, _ := io.ReadAll(c)
		body = string(b)
		return body != ""
	})
	if !strings.HasSuffix(body, "inside\n") {
		t.Fatalf("through the namespace: %q", body)
	}
}

// testAgent talks to the sandbox's agent through the AgentDialer, with
// networking off, and finds it gone once the sandbox stops.
func testAgent(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	ad, ok := runtime.AsAgentDialer(rt)
	if !ok {
		t.Fatal("Agent declared, no AgentDialer")
	}
	sp := s.spec()
	s.create(t, rt, sp)
	req, _ := http.NewRequest("GET", "http://agent/healthz", nil)
	if resp, _ := agentCall(t, ad, sp.ID, req); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("agent /healthz: %s", resp.Status)
	}
	if err := rt.Stop(ctxT(t), sp.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if c, err := ad.DialAgent(ctxT(t), sp.ID); err == nil {
		c.Close()
		t.Fatal("dialled the agent of a stopped sandbox")
	}
}

// agentCall sends req to sandbox id's agent on a connection of its own
// and returns the answer, its body read whole.
func agentCall(t *testing.T, ad runtime.AgentDialer, id string, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	c, err := ad.DialAgent(ctxT(t), id)
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatalf("agent answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("agent answer: %v", err)
	}
	return resp, body
}

// testArchiveRoundTrip writes files of every kind a writable layer holds
// (a hard link, a symlink, a set-uid mode, another owner, a deleted image
// file), exports the stopped sandbox, discards its copy, imports the
// stream and boots again on it: the sandbox sees the same files.
func testArchiveRoundTrip(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	ar, ok := runtime.AsArchiver(rt)
	if !ok {
		t.Fatal("Archive declared, no Archiver")
	}
	sp := s.spec()
	s.create(t, rt, sp)
	script := `set -e
echo hello > /root/a; ln /root/a /root/b; ln -s a /root/c; chmod 4750 /root/a
echo mine > /root/d; chown 1000:1000 /root/d
rm /etc/group
dd if=/dev/urandom of=/root/big bs=1k count=300 2>/dev/null; md5sum /root/big > /root/big.md5`
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", script); err != nil {
		t.Fatalf("write files: %v: %s", err, out)
	}
	check := `set -e
cat /root/a /root/b; readlink /root/c; stat -c '%a %u:%g' /root/a /root/d
test ! -e /etc/group && echo deleted-kept
md5sum -c /root/big.md5 >/dev/null && echo big-ok`
	want, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", check)
	if err != nil {
		t.Fatalf("check before: %v: %s", err, want)
	}
	if !strings.Contains(want, "deleted-kept") || !strings.Contains(want, "big-ok") {
		t.Fatalf("files not as written: %s", want)
	}
	if err := ar.Export(ctxT(t), sp.ID, &bytes.Buffer{}); err == nil {
		t.Fatal("export of a running sandbox succeeded")
	}
	if err := rt.Stop(ctxT(t), sp.ID, 0); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := ar.Export(ctxT(t), sp.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if err := ar.Discard(ctxT(t), sp.ID); err != nil {
		t.Fatal(err)
	}
	if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateStopped {
		t.Fatalf("recover of a discarded sandbox: %+v", st)
	}
	if err := ar.Import(ctxT(t), sp.ID, &packed); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctxT(t), sp); err != nil {
		t.Fatal(err)
	}
	got, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", check)
	if err != nil {
		t.Fatalf("check after: %v: %s", err, got)
	}
	if got != want {
		t.Fatalf("after the round trip:\n%s\nbefore:\n%s", got, want)
	}
}
