package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

func runLocal(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestServiceUnit checks the unit's promises: a crashed or killed server
// comes back, a stop or restart ends the server alone (sandboxes keep
// running for recovery), the log goes to the journal and stdout (the
// first admin key) does not, and the config file the unit names is one
// hutch serve loads.
func TestServiceUnit(t *testing.T) {
	dir := t.TempDir()
	o := ServiceOptions{Binary: "/usr/local/bin/hutch", ConfigFile: filepath.Join(dir, "etc", "config.yaml"),
		DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:7499"}
	unitPath := filepath.Join(dir, "systemd", "hutch.service")
	code, out, errs := runLocal("install-service", "--no-start", "--binary", o.Binary, "--config", o.ConfigFile,
		"--data-dir", o.DataDir, "--listen", o.Listen, "--unit", unitPath)
	if code != 0 {
		t.Fatalf("install-service: %d %s %s", code, out, errs)
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	directives := map[string]string{}
	section := ""
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			directives[section+k] = v
		}
	}
	for k, want := range map[string]string{
		"[Service]ExecStart":      o.Binary + " serve --config " + o.ConfigFile,
		"[Service]Restart":        "on-failure",
		"[Service]KillMode":       "process",
		"[Service]StandardError":  "journal",
		"[Service]StandardOutput": "null",
		"[Service]ExecReload":     "/bin/kill -HUP $MAINPID",
		"[Install]WantedBy":       "multi-user.target",
	} {
		if directives[k] != want {
			t.Errorf("%s = %q, want %q", k, directives[k], want)
		}
	}
	t.Setenv("HUTCH_CONFIG", o.ConfigFile)
	cfg, err := config.LoadServe(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("hutch serve does not load the written config: %v", err)
	}
	if cfg.Listen != o.Listen || cfg.DataDir != o.DataDir || cfg.HTTP.LogFormat != "json" {
		t.Fatalf("config loaded as listen %q, data dir %q, log format %q", cfg.Listen, cfg.DataDir, cfg.HTTP.LogFormat)
	}
	// A second install keeps the operator's edits.
	if err := os.WriteFile(o.ConfigFile, []byte("listen: 127.0.0.1:7500\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runLocal("install-service", "--no-start", "--config", o.ConfigFile, "--unit", unitPath); code != 0 || !strings.Contains(out, "kept") {
		t.Fatalf("second install: %d %s", code, out)
	}
	if b, _ := os.ReadFile(o.ConfigFile); string(b) != "listen: 127.0.0.1:7500\n" {
		t.Fatalf("the config file was replaced: %s", b)
	}
}

// TestBackupAndRestoreVerbs backs up a store through the CLI, lists what
// else to keep, and restores it over a store that changed since.
func TestBackupAndRestoreVerbs(t *testing.T) {
	ctx := context.Background()
	t.Setenv("HUTCH_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	os.WriteFile(os.Getenv("HUTCH_CONFIG"), []byte("{}\n"), 0o600)
	dataDir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Bootstrap(ctx, st, "hk_before"); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "hutch-backup.db")
	code, out, errs := runLocal("backup", "--data-dir", dataDir, backup)
	if code != 0 || !strings.Contains(out, filepath.Join(dataDir, "archives")) {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	// A change after the backup, then the server stops.
	org := &auth.Organization{ID: "org_later", Name: "later", CreatedAt: time.Now().UTC()}
	if err := st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errs = runLocal("--json", "restore", "--data-dir", dataDir, backup)
	if code != 0 {
		t.Fatalf("restore: %d %s %s", code, out, errs)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["kept"] == "" {
		t.Fatalf("restore output %s", out)
	}
	st, err = sqlite.Open(ctx, filepath.Join(dataDir, "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetOrganization(ctx, "org_later"); err == nil {
		t.Fatal("the restored store has what was made after the backup")
	}
	if _, err := auth.Authenticate(ctx, st, "hk_before"); err != nil {
		t.Fatalf("the restored store lost the key: %v", err)
	}
	if code, _, errs := runLocal("restore", "--data-dir", dataDir, backup); code == 0 || !strings.Contains(errs, "running process") && !strings.Contains(errs, "stop hutch serve") {
		// The test process holds the restored store open: refused.
		t.Fatalf("restore over an open store: %d %s", code, errs)
	}
}

// TestBackupRefusesPostgres checks that backup and restore, which copy
// the SQLite file, refuse a PostgreSQL store and point at pg_dump,
// without repeating the URL's password.
func TestBackupRefusesPostgres(t *testing.T) {
	t.Setenv("HUTCH_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	os.WriteFile(os.Getenv("HUTCH_CONFIG"), []byte("{}\n"), 0o600)
	file := filepath.Join(t.TempDir(), "backup.db")
	for _, verb := range []string{"backup", "restore"} {
		code, out, errs := runLocal(verb, "--store", "postgres://hutch:s3cret@db.internal/hutch", file)
		if code == 0 || !strings.Contains(errs, "pg_dump") || strings.Contains(errs+out, "s3cret") {
			t.Fatalf("%s of a postgres store: %d %q %q; want a refusal naming pg_dump", verb, code, out, errs)
		}
		if _, err := os.Stat(file); err == nil {
			t.Fatalf("%s of a postgres store wrote %s", verb, file)
		}
	}
}

// TestTop prints two readings' CPU share.
func TestTop(t *testing.T) {
	var cpu float64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sandboxes/{id}/metrics", func(w http.ResponseWriter, r *http.Request) {
		cpu += 0.5
		writeJSON(w, 200, api.SandboxMetrics{SandboxID: r.PathValue("id"), State: "running", Time: time.Now(),
			CPUSeconds: cpu, MemoryBytes: 64 << 20, MemoryLimitBytes: 512 << 20, Pids: 3,
			DiskBytes: 10 << 20, DiskLimitBytes: 1 << 30, NetRxBytes: 2048, NetTxBytes: 3 << 20})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	code, out, errs := runLocal("--url", srv.URL, "top", "--once", "--interval", "250ms", "sbx_a")
	if code != 0 {
		t.Fatalf("top: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "CPU%") {
		t.Fatalf("top printed:\n%s", out)
	}
	f := strings.Fields(lines[1])
	if f[0] != "sbx_a" || f[2] == "-" || f[3] != "64.0MiB" || f[5] != "3" || f[7] != "10.0MiB" || f[8] != "2.0KiB" || f[9] != "3.0MiB" {
		t.Fatalf("row %q", lines[1])
	}
}
