package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
)

func TestAgentProcesses(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")

	// The process waits for a file, so it is certainly still running
	// when the request that started it has long returned.
	p, err := s.c.StartProcess(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sh", "-c",
		`echo started; read line; echo "got $line"; while [ ! -e /tmp/stop ]; do sleep 0.02; done; echo bye >&2; exit 7`}})
	if err != nil {
		t.Fatal(err)
	}
	if p.PID <= 0 || p.State != "running" {
		t.Fatalf("started %+v", p)
	}
	got, err := s.c.GetProcess(ctx(t), sb.ID, p.PID)
	if err != nil || got.State != "running" || got.ExitCode != nil {
		t.Fatalf("get: %v %+v", err, got)
	}
	list, err := s.c.ListProcesses(ctx(t), sb.ID)
	if err != nil || len(list) != 1 || list[0].PID != p.PID {
		t.Fatalf("list: %v %+v", err, list)
	}

	// Follow the logs from the start while the process goes on.
	var mu sync.Mutex
	var out strings.Builder
	followed := make(chan *api.Process, 1)
	go func() {
		end, err := s.c.ProcessLogs(ctx(t), sb.ID, p.PID, true, func(stream, data string) {
			mu.Lock()
			out.WriteString(stream + ":" + data)
			mu.Unlock()
		})
		if err != nil {
			t.Error(err)
		}
		followed <- end
	}()
	poll.Until(t, "the first line in the followed log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "stdout:started\n")
	})
	if err := s.c.WriteStdin(ctx(t), sb.ID, p.PID, "hello\n", true); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the stdin echo in the followed log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "got hello")
	})
	sh(t, s, sb.ID, "touch /tmp/stop")
	end := <-followed
	if end == nil || end.State != "exited" || end.ExitCode == nil || *end.ExitCode != 7 {
		t.Fatalf("follow ended with %+v", end)
	}
	if want := "stdout:started\nstdout:got hello\nstderr:bye\n"; out.String() != want {
		t.Fatalf("followed log = %q, want %q", out.String(), want)
	}
	// The whole log can be read again after the end, without follow.
	var again strings.Builder
	if _, err := s.c.ProcessLogs(ctx(t), sb.ID, p.PID, false, func(stream, data string) { again.WriteString(data) }); err != nil {
		t.Fatal(err)
	}
	if again.String() != "started\ngot hello\nbye\n" {
		t.Fatalf("log after exit = %q", again.String())
	}
	err = s.c.WriteStdin(ctx(t), sb.ID, p.PID, "late", false)
	wantAPIError(t, "stdin after exit", err, 409, api.CodeConflict)

	t.Run("signal", func(t *testing.T) {
		q, err := s.c.StartProcess(ctx(t), sb.ID, api.ExecRequest{Command: []string{"sleep", "600"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.c.SignalProcess(ctx(t), sb.ID, q.PID, "TERM"); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "the signalled process to end", func() bool {
			got, err := s.c.GetProcess(ctx(t), sb.ID, q.PID)
			return err == nil && got.State == "exited" && got.ExitCode != nil && *got.ExitCode == 128+15
		})
		_, err = s.c.SignalProcess(ctx(t), sb.ID, q.PID, "NOPE")
		wantAPIError(t, "unknown signal", err, 400, api.CodeInvalidArgument)
	})

	t.Run("unknown process", func(t *testing.T) {
		_, err := s.c.GetProcess(ctx(t), sb.ID, 999999)
		wantAPIError(t, "get unknown", err, 404, api.CodeProcessNotFound)
		_, err = s.c.ProcessLogs(ctx(t), sb.ID, 999999, false, nil)
		wantAPIError(t, "logs unknown", err, 404, api.CodeProcessNotFound)
		_, err = s.c.StartProcess(ctx(t), sb.ID, api.ExecRequest{})
		wantAPIError(t, "empty command", err, 400, api.CodeInvalidArgument)
	})
}
