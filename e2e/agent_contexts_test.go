package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func TestAgentCodeContexts(t *testing.T) {
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "python.tar")); err != nil {
		t.Skip("python.tar is missing (run scripts/setup.sh)")
	}
	s := startServer(t, "")
	sb := agentSandbox(t, s, "python")
	c, err := s.c.CreateContext(ctx(t), sb.ID, api.CreateContextRequest{Language: "python", Cwd: "/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(code string, timeout ...int) *api.RunCodeResult {
		t.Helper()
		req := api.RunCodeRequest{Code: code}
		if len(timeout) > 0 {
			req.TimeoutSeconds = &timeout[0]
		}
		res, err := s.c.RunCode(ctx(t), sb.ID, c.ID, req)
		if err != nil {
			t.Fatalf("run %q: %v", code, err)
		}
		return res
	}

	if res := run("x = 41\nprint('set', x)"); res.Stdout != "set 41\n" || res.Result != nil || res.Error != nil {
		t.Fatalf("first run: %+v", res)
	}
	if res := run("x + 1"); res.Result["text/plain"] != "42" {
		t.Fatalf("x + 1 = %+v", res)
	}
	res := run("import os, sys\nprint('oops', file=sys.stderr)\n1 / 0")
	if res.Error == nil || res.Error.Name != "ZeroDivisionError" || !strings.Contains(res.Error.Traceback, "<cell>") || res.Stderr != "oops\n" {
		t.Fatalf("error run: %+v", res)
	}
	res = run("class T:\n    def _repr_html_(self):\n        return '<b>t</b>'\nT()")
	if res.Result["text/html"] != "<b>t</b>" || !strings.Contains(res.Result["text/plain"], "T object") {
		t.Fatalf("rich result: %+v", res.Result)
	}
	if res := run("os.getcwd()"); res.Result["text/plain"] != "'/tmp'" {
		t.Fatalf("cwd: %+v", res.Result)
	}
	// A run past its timeout is interrupted; the context lives on.
	res = run("while True:\n    pass", 1)
	if res.Error == nil || res.Error.Name != "KeyboardInterrupt" {
		t.Fatalf("timed-out run: %+v", res)
	}
	if res := run("x"); res.Result["text/plain"] != "41" {
		t.Fatalf("after the interrupt: %+v", res)
	}

	list, err := s.c.ListContexts(ctx(t), sb.ID)
	if err != nil || len(list) != 1 || list[0].ID != c.ID || list[0].Language != "python" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := s.c.DeleteContext(ctx(t), sb.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.c.RunCode(ctx(t), sb.ID, c.ID, api.RunCodeRequest{Code: "x"})
	wantAPIError(t, "run in a deleted context", err, 404, api.CodeContextNotFound)
	_, err = s.c.CreateContext(ctx(t), sb.ID, api.CreateContextRequest{Language: "cobol"})
	wantAPIError(t, "unknown language", err, 400, api.CodeInvalidArgument)

	// The base image has no python: the answer says so, naming the field.
	base := agentSandbox(t, s, "")
	_, err = s.c.CreateContext(ctx(t), base.ID, api.CreateContextRequest{Language: "python"})
	wantAPIError(t, "python in the base image", err, 400, api.CodeInvalidArgument)
}
