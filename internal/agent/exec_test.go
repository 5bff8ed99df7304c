package agent

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func TestExec(t *testing.T) {
	ts := newTestAgent(t)
	dir := t.TempDir()
	var res api.ExecResult
	status := call(t, ts, "POST", "/exec", api.ExecRequest{Command: []string{"sh", "-c", `echo "$X" $(pwd); cat >&2; exit 2`},
		Cwd: dir, Env: map[string]string{"X": "y"}, Stdin: "in"}, &res)
	if status != 200 || res.ExitCode != 2 || res.Stdout != "y "+dir+"\n" || res.Stderr != "in" {
		t.Fatalf("%d %+v", status, res)
	}
	zero := 1
	call(t, ts, "POST", "/exec", api.ExecRequest{Command: []string{"sh", "-c", "sleep 30 & wait"}, TimeoutSeconds: &zero}, &res)
	if !res.TimedOut || res.ExitCode != 137 {
		t.Fatalf("timeout: %+v", res)
	}
}

func TestExecBadInput(t *testing.T) {
	ts := newTestAgent(t)
	neg := -5
	for _, c := range []struct {
		req   api.ExecRequest
		field string
	}{
		{api.ExecRequest{}, "command"},
		{api.ExecRequest{Command: []string{""}}, "command"},
		{api.ExecRequest{Command: []string{"no-such-program-hutch"}}, "command"},
		{api.ExecRequest{Command: []string{"true"}, TimeoutSeconds: &neg}, "timeoutSeconds"},
		{api.ExecRequest{Command: []string{"true"}, Cwd: "/no/such/dir"}, "cwd"},
		{api.ExecRequest{Command: []string{"true"}, User: "no-such-user-hutch"}, "user"},
		{api.ExecRequest{Command: []string{"true"}, Env: map[string]string{"A=B": "c"}}, "env"},
	} {
		wantError(t, ts, "POST", "/exec", c.req, 400, api.CodeInvalidArgument, c.field)
	}
}

func TestExecStream(t *testing.T) {
	ts := newTestAgent(t)
	req, _ := http.NewRequest("POST", ts.URL+"/exec", strings.NewReader(`{"command":["sh","-c","echo a; echo b >&2; printf 'é'"]}`))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			events = append(events, line)
		}
	}
	got := strings.Join(events, "|")
	for _, want := range []string{`event: stdout|data: {"data":"a\n`, `event: stderr|data: {"data":"b\n"}`, `é"}`, "event: exit|data: {\"exitCode\":0"} {
		if !strings.Contains(got, want) {
			t.Fatalf("stream %q lacks %q", got, want)
		}
	}
}

func TestCappedOutput(t *testing.T) {
	c := &capped{limit: 10}
	out, errw := c.writer(&c.stdout), c.writer(&c.stderr)
	out.Write([]byte("123456"))
	errw.Write([]byte("abcdef"))
	out.Write([]byte("zz"))
	if c.stdout.String() != "123456" || c.stderr.String() != "abcd" || !c.truncated {
		t.Fatalf("stdout %q stderr %q truncated %v", c.stdout.String(), c.stderr.String(), c.truncated)
	}
}

func TestStreamWriterKeepsRunesWhole(t *testing.T) {
	rec := httptest.NewRecorder()
	w := &streamWriter{s: newSSE(rec), event: "stdout"}
	e := []byte("é") // two bytes
	w.Write([]byte{'a', e[0]})
	w.Write([]byte{e[1], 'b'})
	w.flush()
	if got := rec.Body.String(); !strings.Contains(got, `{"data":"a"}`) || !strings.Contains(got, `{"data":"éb"}`) {
		t.Fatalf("events %q", got)
	}
}
