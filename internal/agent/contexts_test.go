package agent

import (
	"os/exec"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func TestPythonContext(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on this host")
	}
	ts := newTestAgent(t)
	var c api.CodeContext
	if status := call(t, ts, "POST", "/contexts", api.CreateContextRequest{Language: "python"}, &c); status != 201 {
		t.Fatalf("create: %d", status)
	}
	run := func(code string) api.RunCodeResult {
		var res api.RunCodeResult
		if status := call(t, ts, "POST", "/contexts/"+c.ID+"/run", api.RunCodeRequest{Code: code}, &res); status != 200 {
			t.Fatalf("run %q: %d", code, status)
		}
		return res
	}
	run("x = 41")
	if res := run("x + 1"); res.Result["text/plain"] != "42" {
		t.Fatalf("x + 1 -> %+v", res)
	}
	if res := run("print('hi')\nraise ValueError('bad')"); res.Stdout != "hi\n" || res.Error == nil || res.Error.Name != "ValueError" || res.Error.Value != "bad" {
		t.Fatalf("error run -> %+v", res)
	}
	if res := run("None"); res.Result != nil {
		t.Fatalf("None has a result: %+v", res.Result)
	}
	var list api.CodeContextList
	if call(t, ts, "GET", "/contexts", nil, &list); len(list.Items) != 1 {
		t.Fatalf("list: %+v", list)
	}
	if status := call(t, ts, "DELETE", "/contexts/"+c.ID, nil, nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	wantError(t, ts, "POST", "/contexts/"+c.ID+"/run", api.RunCodeRequest{Code: "x"}, 404, api.CodeContextNotFound, c.ID)
	wantError(t, ts, "POST", "/contexts", api.CreateContextRequest{Language: "ruby"}, 400, api.CodeInvalidArgument, "language")
}
