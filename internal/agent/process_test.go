package agent

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

func TestLogBufDropsOldestAndWakes(t *testing.T) {
	b := newLogBuf(8)
	_, next, wake, _ := b.since(0)
	b.append("stdout", []byte("12345"))
	select {
	case <-wake:
	default:
		t.Fatal("a write did not wake followers")
	}
	b.append("stderr", []byte("6789"))
	chunks, next, _, closed := b.since(next)
	if len(chunks) != 1 || string(chunks[0].data) != "6789" || closed || next != 2 {
		t.Fatalf("after the limit: %+v next=%d closed=%v", chunks, next, closed)
	}
	b.close()
	if _, _, _, closed := b.since(next); !closed {
		t.Fatal("not closed")
	}
}

func TestProcessLifecycle(t *testing.T) {
	ts := newTestAgent(t)
	var p api.Process
	if status := call(t, ts, "POST", "/processes", api.ExecRequest{Command: []string{"sh", "-c", "read x; echo got $x; exit 3"}}, &p); status != 201 || p.State != "running" {
		t.Fatalf("start: %d %+v", status, p)
	}
	id := strconv.Itoa(p.PID)
	if status := call(t, ts, "POST", "/processes/"+id+"/stdin", api.StdinRequest{Data: "v\n", Close: true}, nil); status != 204 {
		t.Fatalf("stdin: %d", status)
	}
	deadline := time.Now().Add(time.Minute)
	for p.State != "exited" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		call(t, ts, "GET", "/processes/"+id, nil, &p)
	}
	if p.ExitCode == nil || *p.ExitCode != 3 || p.EndedAt == nil {
		t.Fatalf("ended: %+v", p)
	}
	resp, err := ts.Client().Get(ts.URL + "/processes/" + id + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if !strings.Contains(sb.String(), `"data":"got v\n"`) || !strings.Contains(sb.String(), "event: exit") {
		t.Fatalf("logs = %q", sb.String())
	}
	wantError(t, ts, "POST", "/processes/"+id+"/signal", api.SignalRequest{Signal: "TERM"}, 409, api.CodeConflict, "exited")
	wantError(t, ts, "GET", "/processes/12345678", nil, 404, api.CodeProcessNotFound, "12345678")
	wantError(t, ts, "GET", "/processes/abc", nil, 400, api.CodeInvalidArgument, "pid")
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"SIGTERM": 15, "term": 15, "9": 9, "KILL": 9, "SIGUSR1": 10} {
		if got, err := parseSignal(in); err != nil || int(got) != want {
			t.Errorf("parseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "NOPE", "0", "99"} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) succeeded", bad)
		}
	}
}
