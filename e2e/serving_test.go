package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestStreamsOutliveTimeouts: with one-second idle and read timeouts, an
// idle keep-alive connection is closed, while the org's event stream, an
// exec's streamed output, a followed process log and a terminal (a
// WebSocket through the agent forwarder) all outlive them several times.
func TestStreamsOutliveTimeouts(t *testing.T) {
	s := startServer(t, "", "--http-idle-timeout", "1s", "--http-read-timeout", "1s")
	sb := agentSandbox(t, s, "")

	idle, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// The org's event stream, opened before the wait.
	req, _ := http.NewRequestWithContext(ctx(t), "GET", s.url+"/v1/events?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	events, err := http.DefaultClient.Do(req)
	if err != nil || events.StatusCode != 200 {
		t.Fatalf("event stream: %v", err)
	}
	defer events.Body.Close()
	seen := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(events.Body)
		for sc.Scan() {
			seen <- sc.Text()
		}
		close(seen)
	}()

	// A terminal, opened before the wait too.
	term, err := s.c.OpenTerminal(ctx(t), sb.ID, client.TerminalOptions{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var screenOut screen
	go term.Run(&screenOut)

	// A background process whose log is followed across the wait.
	proc, err := s.c.StartProcess(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c", "echo first; sleep 4; echo second"}})
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logOut strings.Builder
	logDone := make(chan error, 1)
	go func() {
		_, err := s.c.ProcessLogs(ctx(t), sb.ID, proc.PID, true, func(_, data string) {
			logMu.Lock()
			logOut.WriteString(data)
			logMu.Unlock()
		})
		logDone <- err
	}()

	// An exec whose output comes after four seconds of silence.
	var execOut strings.Builder
	res, err := s.c.ExecStream(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c", "sleep 4; echo late"}},
		func(_, data string) { execOut.WriteString(data) })
	if err != nil || res.ExitCode != 0 || !strings.Contains(execOut.String(), "late") {
		t.Fatalf("exec streamed across four read timeouts: %v %+v %q", err, res, execOut.String())
	}
	if err := <-logDone; err != nil {
		t.Fatalf("followed log: %v", err)
	}
	logMu.Lock()
	if got := logOut.String(); !strings.Contains(got, "first") || !strings.Contains(got, "second") {
		t.Errorf("followed log = %q", got)
	}
	logMu.Unlock()

	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := br.ReadByte(); err == nil || isTimeout(err) {
		t.Errorf("an idle keep-alive connection is still open after four idle timeouts: %v", err)
	}

	if _, err := term.Write([]byte("echo $((6*7))x\n")); err != nil {
		t.Fatalf("terminal after the wait: %v", err)
	}
	poll.Until(t, "the terminal to answer after the wait", func() bool { return screenOut.has("42x") })

	// An event after the wait still arrives on the stream.
	if _, err := s.c.PatchMetadata(ctx(t), sb.ID, map[string]*string{"k": ptr("v")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-seen:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if strings.Contains(line, `"to":"paused"`) {
				s.c.Resume(ctx(t), sb.ID)
				return
			}
		case <-deadline:
			t.Fatal("no pause event on the stream opened before the wait")
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// freshServer starts hutch serve on a data dir of its own, with no image
// store shared with the other tests: its base images are seeded from the
// offline tarballs through the shared image cache cache.
func freshServer(t *testing.T, cache string) (*server, time.Time) {
	t.Helper()
	dataDir, err := os.MkdirTemp("", "hutch-e2e-fresh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	os.Chmod(dataDir, 0o711)
	seeds := filepath.Join(dataDir, "seeds")
	os.Mkdir(seeds, 0o755)
	for _, name := range []string{"base", "python", "node"} {
		tar := filepath.Join(filepath.Dir(baseTar), name+".tar")
		if _, err := os.Stat(tar); err == nil {
			os.Symlink(tar, filepath.Join(seeds, name+".tar"))
		}
	}
	began := time.Now()
	s := launch(t, dataDir, "--image-cache", cache)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	live = s
	return s, began
}

func readyz(t *testing.T, s *server) (int, api.Readiness) {
	t.Helper()
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rd api.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rd
}

func imagesCheck(rd api.Readiness) api.ReadinessCheck {
	for _, c := range rd.Checks {
		if c.Name == "images" {
			return c
		}
	}
	return api.ReadinessCheck{}
}

// TestFreshDataDirAnswersAtOnce: on a fresh data dir and a cold image
// cache, the server answers while it imports its base images, /readyz
// shows them importing, and a create of the last one queued waits for it
// and runs; a second server on another fresh data dir links every image
// from the cache and is ready at once.
func TestFreshDataDirAnswersAtOnce(t *testing.T) {
	cache := t.TempDir()
	s, began := freshServer(t, cache)
	answered := time.Since(began)
	status, rd := readyz(t, s)
	ic := imagesCheck(rd)
	if status != 503 || rd.Status != api.ReadinessStarting || ic.OK || len(ic.Images) == 0 {
		t.Fatalf("readyz on a cold start = %d %+v, want 503 starting with the images importing", status, rd)
	}
	t.Logf("cold: answering after %v; images %+v", answered.Round(time.Millisecond), ic.Images)

	last := ic.Images[len(ic.Images)-1].Name
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Image: last})
	if err != nil {
		t.Fatalf("create of %s while it is still being seeded: %v", last, err)
	}
	cleanup(t, sb.ID)
	if sb.State != "running" {
		t.Fatalf("create of %s waited for its seed but is %s (%s)", last, sb.State, sb.StateReason)
	}
	poll.Until(t, "the cold server to be ready", func() bool { status, rd = readyz(t, s); return status == 200 })
	cold := time.Since(began)
	t.Logf("cold: ready after %v", cold.Round(time.Millisecond))
	if _, err := s.c.DeleteSandbox(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	waitGone(t, sb.ID)
	tracked = nil
	s.stop()

	warm, began := freshServer(t, cache)
	poll.Until(t, "the warm server to be ready", func() bool { status, rd = readyz(t, warm); return status == 200 })
	t.Logf("warm: ready after %v", time.Since(began).Round(time.Millisecond))
	for _, im := range imagesCheck(rd).Images {
		if im.State == "ready" && !im.FromCache {
			t.Errorf("image %s of the second data dir was unpacked again, not linked from the cache", im.Name)
		}
	}
	sb2, err := warm.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Image: last})
	if err != nil || sb2.State != "running" {
		t.Fatalf("create on the warm server: %v", err)
	}
	cleanup(t, sb2.ID)
}
