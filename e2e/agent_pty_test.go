package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// screen collects a terminal's output for polling.
type screen struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *screen) has(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.b.String(), sub)
}

func TestAgentTerminal(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")
	term, err := s.c.OpenTerminal(ctx(t), sb.ID, client.TerminalOptions{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	var out screen
	exit := make(chan int, 1)
	go func() {
		code, err := term.Run(&out)
		if err != nil {
			t.Error(err)
		}
		exit <- code
	}()
	// Computed answers, so that the echo of the typed line cannot match.
	send := func(line string) {
		t.Helper()
		if _, err := term.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	send("echo $((6*7))x; tty")
	poll.Until(t, "the shell to answer", func() bool { return out.has("42x") && out.has("/dev/pts/") })
	send("stty size")
	poll.Until(t, "the initial size", func() bool { return out.has("30 100") })
	if err := term.Resize(120, 40); err != nil {
		t.Fatal(err)
	}
	send("stty size")
	poll.Until(t, "the new size", func() bool { return out.has("40 120") })
	send("exit 3")
	if code := <-exit; code != 3 {
		t.Fatalf("exit code = %d, want 3", code)
	}

	_, err = s.c.OpenTerminal(ctx(t), sb.ID, client.TerminalOptions{Cols: 5000})
	wantAPIError(t, "cols 5000", err, 400, api.CodeInvalidArgument)
}
