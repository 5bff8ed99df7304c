package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// chromium is one headless Chromium driven over the DevTools protocol on
// a pipe (--remote-debugging-pipe: requests on its fd 3, answers and
// events on its fd 4, each message ending in a NUL byte). A page's
// script may wait on the network for as long as it needs, which
// --dump-dom's virtual time does not allow.
type chromium struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	id     int
	stderr *strings.Builder
}

// startChromium runs a fresh Chromium (a new profile) whose resolver
// sends every name under domain to the loopback, and kills it when the
// test ends; it skips the test when Chromium is not installed.
func startChromium(t *testing.T, domain string) *chromium {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (run scripts/setup.sh)")
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &chromium{in: inW, out: bufio.NewReader(outR), stderr: &strings.Builder{}}
	c.cmd = exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--user-data-dir="+t.TempDir(),
		"--host-resolver-rules=MAP *."+domain+" 127.0.0.1", "--remote-debugging-pipe", "about:blank")
	c.cmd.ExtraFiles = []*os.File{inR, outW}                // fds 3 and 4
	c.cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir()) // its singleton socket dir, left behind otherwise
	c.cmd.Stderr = c.stderr
	if err := startOwned(c.cmd); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	// A Chromium that stops answering would block call for ever.
	watchdog := time.AfterFunc(3*time.Minute, func() { c.cmd.Process.Kill() })
	t.Cleanup(func() {
		watchdog.Stop()
		inW.Close()
		c.cmd.Process.Kill()
		waitOwned(c.cmd)
		outR.Close()
	})
	return c
}

// call sends one DevTools command (to a page's session when session is
// set) and returns its result, skipping the events in between.
func (c *chromium) call(session, method string, params any) (json.RawMessage, error) {
	c.id++
	msg := map[string]any{"id": c.id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := c.in.Write(append(b, 0)); err != nil {
		return nil, err
	}
	for {
		line, err := c.out.ReadBytes(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (chromium said: %s)", method, err, c.stderr)
		}
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line[:len(line)-1], &m); err != nil || m.ID != c.id {
			continue
		}
		if m.Error != nil {
			return nil, errors.New(method + ": " + m.Error.Message)
		}
		return m.Result, nil
	}
}

// open loads url in a new tab and returns the tab's session.
func (c *chromium) open(t *testing.T, url string) string {
	t.Helper()
	res, err := c.call("", "Target.createTarget", map[string]any{"url": url})
	if err != nil {
		t.Fatal(err)
	}
	var target struct{ TargetID string }
	json.Unmarshal(res, &target)
	res, err = c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		t.Fatal(err)
	}
	var session struct{ SessionID string }
	json.Unmarshal(res, &session)
	return session.SessionID
}

// text evaluates a string expression in the tab's current page; an
// error (a page between navigations) reads as "".
func (c *chromium) text(session, expr string) string {
	res, err := c.call(session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return ""
	}
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
	}
	json.Unmarshal(res, &r)
	s, _ := r.Result.Value.(string)
	return s
}

// waitText polls expr in the tab until it starts with prefix, and
// returns it; it fails the test after a minute with the last value.
func (c *chromium) waitText(t *testing.T, session, expr, prefix string) string {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = c.text(session, expr); strings.HasPrefix(last, prefix) {
			return last
		}
	}
	t.Fatalf("the page never showed %q; last: %q", prefix, last)
	return ""
}
