package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// compatDir holds the vendors' SDKs (package.json pins them) and the
// scripts that drive a real server with each, unpatched.
const compatDir = "compat"

// runSDK runs one vendor's script (node's test runner) against a fresh
// server: the script reads the server's base URL and key from the
// environment and appends its vendor's prefix itself.
func runSDK(t *testing.T, script string, extra ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (scripts/setup.sh installs it): %v", err)
	}
	if _, err := os.Stat(filepath.Join(compatDir, "node_modules")); err != nil {
		t.Fatalf("the SDKs are not installed in e2e/compat (scripts/setup.sh runs npm ci there): %v", err)
	}
	s := startServer(t, "", extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec", script)
	cmd.Dir = compatDir
	cmd.Env = append(os.Environ(), "HUTCH_COMPAT_URL="+s.url, "HUTCH_API_KEY="+s.key)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err = startOwned(cmd)
	if err == nil {
		err = waitOwned(cmd)
	}
	t.Logf("%s:\n%s", script, out.String())
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
}
