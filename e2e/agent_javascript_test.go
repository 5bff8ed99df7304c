package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

// TestAgentJavaScriptContext runs a JavaScript context in the offline node
// image: declarations persist between runs, console output and thrown
// errors come back, and an image without node refuses the language.
func TestAgentJavaScriptContext(t *testing.T) {
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "node.tar")); err != nil {
		t.Skip("node.tar is missing (run scripts/setup.sh)")
	}
	s := startServer(t, "")
	sb := agentSandbox(t, s, "node")
	c, err := s.c.CreateContext(ctx(t), sb.ID, api.CreateContextRequest{Language: "javascript"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(code string) *api.RunCodeResult {
		t.Helper()
		res, err := s.c.RunCode(ctx(t), sb.ID, c.ID, api.RunCodeRequest{Code: code})
		if err != nil {
			t.Fatalf("run %q: %v", code, err)
		}
		return res
	}
	if res := run("var x = 41; let y = 1; console.log('set', x)"); res.Stdout != "set 41\n" || res.Error != nil {
		t.Fatalf("first run: %+v", res)
	}
	if res := run("x + y"); res.Result["text/plain"] != "42" {
		t.Fatalf("x + y = %+v", res)
	}
	res := run("console.error('oops'); throw new TypeError('bad thing')")
	if res.Error == nil || res.Error.Name != "TypeError" || !strings.Contains(res.Error.Value, "bad thing") || res.Stderr != "oops\n" {
		t.Fatalf("error run: %+v", res)
	}
	if res := run("require('os').platform()"); res.Result["text/plain"] != "'linux'" {
		t.Fatalf("require: %+v", res.Result)
	}

	plain := agentSandbox(t, s, "")
	_, err = s.c.CreateContext(ctx(t), plain.ID, api.CreateContextRequest{Language: "javascript"})
	if err == nil || !strings.Contains(err.Error(), "node") {
		t.Fatalf("javascript in an image without node: %v", err)
	}
}
