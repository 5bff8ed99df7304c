package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/api"
)

// TerminalOptions shape a terminal session; zero values take the
// defaults (80x24, the login shell, the image's working directory).
type TerminalOptions struct {
	Cols, Rows int
	Command    string // a shell line to run instead of the login shell
	Cwd        string
}

// Terminal is an interactive terminal in a sandbox (a real PTY).
type Terminal struct {
	conn *websocket.Conn
	ctx  context.Context
}

// OpenTerminal starts a terminal session over a WebSocket.
func (c *Client) OpenTerminal(ctx context.Context, id string, o TerminalOptions) (*Terminal, error) {
	if err := checkID("sandbox", id); err != nil {
		return nil, err
	}
	u := *c.base
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path += c.agentPath(id, "/pty")
	q := url.Values{}
	if o.Cols > 0 {
		q.Set("cols", strconv.Itoa(o.Cols))
	}
	if o.Rows > 0 {
		q.Set("rows", strconv.Itoa(o.Rows))
	}
	if o.Command != "" {
		q.Set("command", o.Command)
	}
	if o.Cwd != "" {
		q.Set("cwd", o.Cwd)
	}
	u.RawQuery = q.Encode()
	h := http.Header{"User-Agent": {c.userAgent}}
	if c.apiKey != "" {
		h.Set("Authorization", "Bearer "+c.apiKey)
	}
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: c.http, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, decodeError(resp)
		}
		return nil, fmt.Errorf("open terminal in %s: %w", id, err)
	}
	conn.SetReadLimit(1 << 20)
	return &Terminal{conn: conn, ctx: ctx}, nil
}

// Write sends keystrokes (or any input) to the terminal.
func (t *Terminal) Write(p []byte) (int, error) {
	if err := t.conn.Write(t.ctx, websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Resize tells the terminal its new size.
func (t *Terminal) Resize(cols, rows int) error {
	b, _ := json.Marshal(api.PtyMessage{Type: "resize", Cols: cols, Rows: rows})
	return t.conn.Write(t.ctx, websocket.MessageText, b)
}

// Run copies the terminal's output to out until the shell exits, and
// returns its exit code.
func (t *Terminal) Run(out io.Writer) (int, error) {
	for {
		typ, b, err := t.conn.Read(t.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return 0, errors.New("terminal closed without an exit status")
			}
			return 0, err
		}
		if typ == websocket.MessageBinary {
			if _, err := out.Write(b); err != nil {
				return 0, err
			}
			continue
		}
		var m api.PtyMessage
		if json.Unmarshal(b, &m) == nil && m.Type == "exit" {
			return m.ExitCode, nil
		}
	}
}

// Close ends the session; the shell is hung up.
func (t *Terminal) Close() error { return t.conn.Close(websocket.StatusNormalClosure, "") }
