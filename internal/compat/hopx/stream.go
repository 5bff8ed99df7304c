package hopx

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
)

// The VM agent's WebSocket features speak JSON text messages: the client
// sends {type: input|resize|execute, ...}, the agent answers {type:
// output|stdout|stderr|exit|complete|error, ...}. HopX's SDK opens them
// on the host of public_host (it drops the path), so they need the host
// form of the agent (docs/compat.md).

// wsConn is one accepted WebSocket whose writes are serialised.
type wsConn struct {
	mu   sync.Mutex
	conn *websocket.Conn
	ctx  context.Context
}

func accept(w http.ResponseWriter, r *http.Request) (*wsConn, error) {
	// The agent's caller proved itself with its token or key before the
	// upgrade; browsers are not this API's clients.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return &wsConn{conn: conn, ctx: r.Context()}, nil
}

func (c *wsConn) send(v any) error {
	b, _ := json.Marshal(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// message is any client message.
type message struct {
	Type     string            `json:"type"`
	Data     string            `json:"data"`
	Cols     int               `json:"cols"`
	Rows     int               `json:"rows"`
	Code     string            `json:"code"`
	Command  string            `json:"command"`
	Language string            `json:"language"`
	Timeout  *int              `json:"timeout"`
	Workdir  string            `json:"workdir"`
	Env      map[string]string `json:"env"`
}

func (c *wsConn) receive() (message, error) {
	var m message
	_, b, err := c.conn.Read(c.ctx)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		_ = c.send(map[string]any{"type": "error", "error": "a JSON message is expected"})
	}
	return m, nil
}

// writerFunc turns terminal output into output messages.
type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// terminal bridges HopX's terminal messages to a real PTY in the sandbox.
func (f *face) terminal(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	term, err := call.Client.OpenTerminal(r.Context(), call.Sandbox.ID, client.TerminalOptions{Cwd: r.URL.Query().Get("cwd")})
	if err != nil {
		return err
	}
	defer term.Close()
	ws, err := accept(w, r)
	if err != nil {
		return nil // Accept has answered
	}
	defer ws.conn.CloseNow()
	go func() {
		for {
			m, err := ws.receive()
			if err != nil {
				term.Close()
				return
			}
			switch m.Type {
			case "input":
				_, _ = term.Write([]byte(m.Data))
			case "resize":
				_ = term.Resize(m.Cols, m.Rows)
			}
		}
	}()
	code, err := term.Run(writerFunc(func(p []byte) error { return ws.send(map[string]any{"type": "output", "data": string(p)}) }))
	if err == nil {
		_ = ws.send(map[string]any{"type": "exit", "exit_code": code, "code": code})
	}
	ws.conn.Close(websocket.StatusNormalClosure, "")
	return nil
}

// executeStream runs the code of the client's first message and streams
// its output; /commands/stream does the same for a shell command.
func (f *face) executeStream(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	ws, err := accept(w, r)
	if err != nil {
		return nil
	}
	defer ws.conn.CloseNow()
	m, err := ws.receive()
	if err != nil {
		return nil
	}
	var argv []string
	switch {
	case m.Command != "" || shells[m.Language]:
		src := m.Command
		if src == "" {
			src = m.Code
		}
		argv = []string{"bash", "-c", src}
	case interpreters[m.Language] == "javascript":
		argv = []string{"node", "-e", m.Code}
	case m.Language == "" || interpreters[m.Language] == "python":
		argv = []string{"python3", "-u", "-c", m.Code}
	default:
		_ = ws.send(map[string]any{"type": "error", "error": "language must be python, javascript or bash, got " + m.Language})
		return nil
	}
	env, err := f.env(r, call)
	if err != nil {
		_ = ws.send(map[string]any{"type": "error", "error": err.Error()})
		return nil
	}
	for k, v := range m.Env {
		env[k] = v
	}
	start := time.Now()
	res, err := call.Client.ExecStream(r.Context(), call.Sandbox.ID, api.ExecRequest{Command: argv, Cwd: m.Workdir, Env: env,
		TimeoutSeconds: m.Timeout}, func(stream, data string) {
		_ = ws.send(map[string]any{"type": stream, "data": data, "timestamp": time.Now().UTC()})
	})
	if err != nil {
		_ = ws.send(map[string]any{"type": "error", "error": compat.Describe(err).Message})
		return nil
	}
	_ = ws.send(map[string]any{"type": "complete", "exit_code": res.ExitCode, "success": res.ExitCode == 0,
		"execution_time": time.Since(start).Seconds()})
	ws.conn.Close(websocket.StatusNormalClosure, "")
	return nil
}
