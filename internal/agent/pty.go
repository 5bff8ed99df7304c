package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
)

// ptyDrain is how long the terminal's output is still read after its
// shell exited, for what it printed last (a background job may hold the
// terminal open for ever).
const ptyDrain = 500 * time.Millisecond

// pty serves an interactive terminal over a WebSocket: binary messages are
// the terminal's bytes both ways, text messages are api.PtyMessage
// control messages (resize in, exit out). Everything is checked before the
// upgrade, so that bad input is an ordinary JSON 400.
func (s *Server) pty(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cols, err := termSize(q.Get("cols"), "cols", 80)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := termSize(q.Get("rows"), "rows", 24)
	if err != nil {
		writeError(w, r, err)
		return
	}
	argv := []string{"/bin/sh", "-l"}
	if _, err := os.Stat("/bin/bash"); err == nil {
		argv = []string{"/bin/bash", "-l"}
	}
	if c := q.Get("command"); c != "" {
		argv = []string{"/bin/sh", "-c", c}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	if c := q.Get("cwd"); c != "" {
		if cmd.Dir, err = resolve("cwd", c); err != nil {
			writeError(w, r, err)
			return
		}
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // the host checked the caller
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	var tty *os.File
	err = initproc.Ranked(func() (err error) {
		tty, err = pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
		return err
	})
	if err != nil {
		conn.Close(websocket.StatusInternalError, "start shell: "+err.Error())
		return
	}
	defer tty.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	output := make(chan struct{})
	go func() { // terminal -> client
		defer close(output)
		buf := make([]byte, 32<<10)
		for {
			n, err := tty.Read(buf)
			if n > 0 && conn.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
				return
			}
			if err != nil {
				return
			}
		}
	}()
	waited := make(chan struct{})
	go func() { // client -> terminal; a client that leaves ends the shell
		defer func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
			select {
			case <-waited:
			case <-time.After(2 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}()
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary {
				_, _ = tty.Write(b)
				continue
			}
			var m api.PtyMessage
			if json.Unmarshal(b, &m) == nil && m.Type == "resize" && m.Cols > 0 && m.Rows > 0 {
				_ = pty.Setsize(tty, &pty.Winsize{Cols: uint16(m.Cols), Rows: uint16(m.Rows)})
			}
		}
	}()
	err = cmd.Wait()
	close(waited)
	select {
	case <-output:
	case <-time.After(ptyDrain):
	}
	exit, _ := json.Marshal(api.PtyMessage{Type: "exit", ExitCode: exitCode(cmd, err)})
	_ = conn.Write(ctx, websocket.MessageText, exit)
	conn.Close(websocket.StatusNormalClosure, "exited")
}

// termSize reads a terminal dimension from the query.
func termSize(v, field string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, errdefs.InvalidField(field, "must be an integer from 1 to 1000, got %q", v)
	}
	return n, nil
}
