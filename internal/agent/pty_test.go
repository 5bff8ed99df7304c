package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hutchdev/hutch/api"
)

func TestTerminal(t *testing.T) {
	ts := newTestAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/pty?command="+
		"read+x%3B+echo+%22got+%24x%22%3B+stty+size%3B+exit+6&cols=90&rows=20", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageBinary, []byte("abc\n")); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v (output %q)", err, out.String())
		}
		if typ == websocket.MessageBinary {
			out.Write(b)
			continue
		}
		var m api.PtyMessage
		if err := json.Unmarshal(b, &m); err != nil || m.Type != "exit" {
			t.Fatalf("control message %q", b)
		}
		if m.ExitCode != 6 || !strings.Contains(out.String(), "got abc") || !strings.Contains(out.String(), "20 90") {
			t.Fatalf("exit %d, output %q", m.ExitCode, out.String())
		}
		return
	}
}

func TestTerminalBadSize(t *testing.T) {
	ts := newTestAgent(t)
	wantError(t, ts, "GET", "/pty?cols=0", nil, 400, api.CodeInvalidArgument, "cols")
}
