package e2b

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hutchdev/hutch/client"
)

// PTY processes are the agent's terminals (a WebSocket each, held open by
// the Start stream that made it). The agent does not report a terminal's
// pid, so envd's pid for one is a number of this server's own, above any
// pid Linux hands out (pid_max is at most 2^22): input, resize and signals
// find the terminal by it. The table lives in memory like the streams
// that hold the terminals: a terminal ends with its stream.
const firstPtyPid = 1 << 24

type ptyTable struct {
	mu   sync.Mutex
	next uint32
	open map[string]map[uint32]*ptySession // sandbox -> pid -> terminal
}

type ptySession struct {
	term *client.Terminal
	argv []string
	cwd  string

	mu   sync.Mutex
	dead bool
}

// kill hangs the terminal up (the agent sends SIGHUP, then SIGKILL): the
// signal of SendSignal, whichever it names.
func (s *ptySession) kill() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
	s.term.Close()
}

func (s *ptySession) killed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

func newPtyTable() *ptyTable {
	return &ptyTable{next: firstPtyPid, open: map[string]map[uint32]*ptySession{}}
}

// add registers a terminal of a sandbox and returns its pid and the
// function that forgets it.
func (t *ptyTable) add(sandboxID string, s *ptySession) (uint32, func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pid := t.next
	t.next++
	if t.open[sandboxID] == nil {
		t.open[sandboxID] = map[uint32]*ptySession{}
	}
	t.open[sandboxID][pid] = s
	return pid, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.open[sandboxID], pid)
		if len(t.open[sandboxID]) == 0 {
			delete(t.open, sandboxID)
		}
	}
}

func (t *ptyTable) get(sandboxID string, pid int) (*ptySession, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.open[sandboxID][uint32(pid)]
	return s, ok
}

// list is a sandbox's open terminals by pid.
func (t *ptyTable) list(sandboxID string) map[uint32]*ptySession {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[uint32]*ptySession, len(t.open[sandboxID]))
	for pid, s := range t.open[sandboxID] {
		out[pid] = s
	}
	return out
}

// shellLine is a command line that runs argv with env, for the agent's
// terminal, which runs one line with /bin/sh -c.
func shellLine(argv []string, env map[string]string) string {
	var b strings.Builder
	b.WriteString("exec")
	if len(env) > 0 {
		keys := make([]string, 0, len(env))
		for k := range env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" env")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s", quote(k+"="+env[k]))
		}
	}
	for _, a := range argv {
		b.WriteString(" " + quote(a))
	}
	return b.String()
}

// quote is a for a POSIX shell, in single quotes.
func quote(a string) string {
	return "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
}
