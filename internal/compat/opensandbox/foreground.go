package opensandbox

import (
	"context"
	"sync"
	"time"
)

// keptForeground is how many ended foreground commands stay known to
// GET /command/status.
const keptForeground = 256

// foreground knows the foreground commands this server is streaming, so
// that DELETE /command can end one and GET /command/status can describe
// it. It lives in this process: a foreground command is tied to the
// connection that streams it, which this process holds.
type foreground struct {
	mu    sync.Mutex
	cmds  map[string]*fgCommand
	ended []string // ids of ended commands, oldest first
}

type fgCommand struct {
	id, sandboxID string
	body          commandStatusBody
	cancel        context.CancelCauseFunc
}

func newForeground() *foreground { return &foreground{cmds: map[string]*fgCommand{}} }

// start records a command of sandbox id and returns the context to run it
// under (ended by interrupt).
func (fg *foreground) start(ctx context.Context, sandboxID, command string) (*fgCommand, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &fgCommand{id: commandID(), sandboxID: sandboxID, cancel: cancel}
	c.body = commandStatusBody{ID: c.id, Content: command, Running: true, StartedAt: time.Now().UTC()}
	fg.mu.Lock()
	fg.cmds[c.id] = c
	fg.mu.Unlock()
	return c, ctx
}

// finish records how a command ended: its exit code, or the error that
// ended its stream.
func (fg *foreground) finish(c *fgCommand, exit *int, err error) {
	now := time.Now().UTC()
	fg.mu.Lock()
	defer fg.mu.Unlock()
	c.body.Running, c.body.ExitCode, c.body.FinishedAt = false, exit, &now
	if err != nil {
		c.body.Error = err.Error()
	}
	c.cancel(nil)
	fg.ended = append(fg.ended, c.id)
	if len(fg.ended) > keptForeground {
		delete(fg.cmds, fg.ended[0])
		fg.ended = fg.ended[1:]
	}
}

// interrupt ends a running command of the sandbox; it reports whether
// the sandbox has a command of that id.
func (fg *foreground) interrupt(sandboxID, id string) bool {
	fg.mu.Lock()
	c, ok := fg.cmds[id]
	fg.mu.Unlock()
	if !ok || c.sandboxID != sandboxID {
		return false
	}
	c.cancel(errInterrupted)
	return true
}

func (fg *foreground) status(sandboxID, id string) (commandStatusBody, bool) {
	fg.mu.Lock()
	defer fg.mu.Unlock()
	c, ok := fg.cmds[id]
	if !ok || c.sandboxID != sandboxID {
		return commandStatusBody{}, false
	}
	return c.body, true
}
