package e2e

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// idle keeps a sandbox running with nothing to do, so that the agent
// serves it.
var idle = []string{"sleep", "infinity"}

// agentSandbox creates a running sandbox of image (base when empty).
func agentSandbox(t *testing.T, s *server, image string) *api.Sandbox {
	t.Helper()
	// No entrypoint: the sandbox must idle with its agent, not exit with
	// the image's default /bin/sh.
	sb, err := s.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, sb.ID)
	return sb
}

// sh runs a shell line in the sandbox and fails the test unless it
// exits 0; it returns stdout.
func sh(t *testing.T, s *server, id, line string) string {
	t.Helper()
	res, err := s.c.Exec(ctx(t), id, api.ExecRequest{Command: []string{"sh", "-c", line}})
	if err != nil {
		t.Fatalf("exec %q: %v", line, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exec %q: exit %d, stderr %q", line, res.ExitCode, res.Stderr)
	}
	return res.Stdout
}

// wantAPIError checks that err is an API error with status and code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var ae *client.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: err = %v, want an API error %d %s", what, err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("%s: got %d %s (%s), want %d %s", what, ae.Status, ae.Code, ae.Message, status, code)
	}
}

func TestAgentExec(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")

	t.Run("sync", func(t *testing.T) {
		res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{
			Command: []string{"sh", "-c", `echo "$GREETING from $(pwd)"; cat; echo oops >&2; exit 3`},
			Cwd:     "/tmp", Env: map[string]string{"GREETING": "hello"}, Stdin: "piped\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 3 || res.Stdout != "hello from /tmp\npiped\n" || res.Stderr != "oops\n" || res.TimedOut || res.Truncated {
			t.Fatalf("result = %+v", res)
		}
	})

	t.Run("user", func(t *testing.T) {
		res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"id", "-u"}, User: "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(res.Stdout) != "65534" {
			t.Fatalf("id -u as nobody = %q", res.Stdout)
		}
	})

	t.Run("timeout kills the process group", func(t *testing.T) {
		one := 1
		res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{
			Command: []string{"sh", "-c", "sleep 600 & echo $! > /tmp/child; wait"}, TimeoutSeconds: &one})
		if err != nil {
			t.Fatal(err)
		}
		if !res.TimedOut || res.ExitCode != 137 {
			t.Fatalf("result = %+v, want timed out with 137", res)
		}
		pid := strings.TrimSpace(sh(t, s, sb.ID, "cat /tmp/child"))
		poll.Until(t, "the timed-out command's child to die", func() bool {
			out := sh(t, s, sb.ID, "cat /proc/"+pid+"/stat 2>/dev/null | cut -d' ' -f3")
			return out == "" || strings.TrimSpace(out) == "Z"
		})
	})

	t.Run("output is capped", func(t *testing.T) {
		res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c", "head -c 12582912 /dev/zero | tr '\\0' x"}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Truncated || len(res.Stdout) != 10<<20 || res.ExitCode != 0 {
			t.Fatalf("truncated=%v len=%d exit=%d", res.Truncated, len(res.Stdout), res.ExitCode)
		}
	})

	t.Run("stream arrives before the end", func(t *testing.T) {
		// The command cannot end before the test has seen its first line:
		// it waits for a file that the test creates only then.
		c, cancel := context.WithCancel(ctx(t))
		defer cancel()
		var mu sync.Mutex
		var got []string
		firstSeen := make(chan struct{})
		var once sync.Once
		done := make(chan error, 1)
		var res *api.ExecResult
		go func() {
			var err error
			res, err = s.c.ExecStream(c, sb.ID, api.ExecRequest{Command: []string{"sh", "-c",
				"echo first; while [ ! -e /tmp/go ]; do sleep 0.02; done; echo last >&2; exit 4"}},
				func(stream, data string) {
					mu.Lock()
					got = append(got, stream+":"+data)
					mu.Unlock()
					if strings.Contains(data, "first") {
						once.Do(func() { close(firstSeen) })
					}
				})
			done <- err
		}()
		select {
		case <-firstSeen:
		case err := <-done:
			t.Fatalf("stream ended before its first line: %v", err)
		}
		sh(t, s, sb.ID, "touch /tmp/go")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 4 || strings.Join(got, "") != "stdout:first\nstderr:last\n" {
			t.Fatalf("exit %d, events %q", res.ExitCode, got)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		neg := -1
		for name, req := range map[string]api.ExecRequest{
			"command":        {},
			"timeoutSeconds": {Command: []string{"true"}, TimeoutSeconds: &neg},
			"cwd":            {Command: []string{"true"}, Cwd: "/no/such/dir"},
			"user":           {Command: []string{"true"}, User: "nosuchuser"},
		} {
			_, err := s.c.Exec(ctx(t), sb.ID, req)
			wantAPIError(t, name, err, 400, api.CodeInvalidArgument)
			if ae := (*client.Error)(nil); errors.As(err, &ae) && !strings.Contains(ae.Message, name) {
				t.Errorf("%s: message %q does not name the field", name, ae.Message)
			}
		}
		_, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"no-such-program"}})
		wantAPIError(t, "missing program", err, 400, api.CodeInvalidArgument)
	})

	t.Run("other organisations see 404", func(t *testing.T) {
		org, err := s.c.CreateOrganization(ctx(t), api.CreateOrganizationRequest{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := client.New(s.url, org.APIKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}})
		wantAPIError(t, "cross-org exec", err, 404, api.CodeSandboxNotFound)
		_, err = other.Download(ctx(t), sb.ID, "/etc/hostname")
		wantAPIError(t, "cross-org download", err, 404, api.CodeSandboxNotFound)
	})

	t.Run("paused answers 409 at once, then works after resume", func(t *testing.T) {
		sh(t, s, sb.ID, "echo kept > /tmp/kept")
		if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"true"}})
		wantAPIError(t, "exec while paused", err, 409, api.CodeSandboxPaused)
		_, err = s.c.Download(ctx(t), sb.ID, "/tmp/kept")
		wantAPIError(t, "download while paused", err, 409, api.CodeSandboxPaused)
		_, err = s.c.ListProcesses(ctx(t), sb.ID)
		wantAPIError(t, "processes while paused", err, 409, api.CodeSandboxPaused)
		if _, err := s.c.Resume(ctx(t), sb.ID); err != nil {
			t.Fatal(err)
		}
		if got := sh(t, s, sb.ID, "cat /tmp/kept"); got != "kept\n" {
			t.Fatalf("after resume: %q", got)
		}
	})

	t.Run("a pause ends calls in flight with 409", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			zero := 0 // no timeout: only the pause can end this call
			_, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c", "touch /tmp/inflight; sleep 600"}, TimeoutSeconds: &zero})
			done <- err
		}()
		poll.Until(t, "the command to start", func() bool {
			res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"test", "-e", "/tmp/inflight"}})
			return err == nil && res.ExitCode == 0
		})
		if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			wantAPIError(t, "exec in flight at the pause", err, 409, api.CodeSandboxPaused)
		case <-ctx(t).Done():
			t.Fatal("the call in flight hung on the paused sandbox")
		}
		if _, err := s.c.Resume(ctx(t), sb.ID); err != nil {
			t.Fatal(err)
		}
		sh(t, s, sb.ID, "rm /tmp/inflight")
	})

	t.Run("stopped answers INVALID_STATE", func(t *testing.T) {
		other := agentSandbox(t, s, "")
		if _, err := s.c.Stop(ctx(t), other.ID, client.StopOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		_, err := s.c.Exec(ctx(t), other.ID, api.ExecRequest{Command: []string{"true"}})
		wantAPIError(t, "exec while stopped", err, 409, api.CodeInvalidState)
	})
}
