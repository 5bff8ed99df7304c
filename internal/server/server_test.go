package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/server"
)

// start runs a server on a free loopback port and returns its URL, what it
// printed, and a stop function that waits for a clean exit.
func start(t *testing.T, cfg config.Config) (url string, out *bytes.Buffer, stop func()) {
	return startLogging(t, cfg, io.Discard)
}

// startLogging is start with the server's log written to logTo.
func startLogging(t *testing.T, cfg config.Config, logTo io.Writer) (url string, out *bytes.Buffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &bytes.Buffer{}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(logTo, nil))
	go func() { done <- server.Run(ctx, cfg, out, log, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		url = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("server exited early: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return url, out, stop
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFirstStartCreatesKeyOnceAndRestartKeepsIt(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.SeedImages = ""

	url, out, stop := start(t, cfg)
	if get(t, url+"/healthz", "") != 200 {
		t.Fatal("healthz not 200")
	}
	keyFile := filepath.Join(cfg.DataDir, "api-key")
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("api-key mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(b))
	if !strings.Contains(out.String(), key) {
		t.Fatalf("key not printed on first start: %q", out.String())
	}
	if get(t, url+"/v1/sandboxes", key) != 200 {
		t.Fatal("bootstrap key rejected")
	}
	stop()

	url, out, _ = start(t, cfg)
	if out.Len() != 0 {
		t.Fatalf("second start printed %q; the key is shown only once", out.String())
	}
	if get(t, url+"/v1/sandboxes", key) != 200 {
		t.Fatal("key lost across restart")
	}
}

func TestAPIKeyFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.SeedImages = ""
	cfg.APIKey = "my-chosen-key"
	url, out, _ := start(t, cfg)
	if strings.Contains(out.String(), "my-chosen-key") {
		t.Fatal("a key the operator chose was printed")
	}
	if get(t, url+"/v1/sandboxes", "my-chosen-key") != 200 {
		t.Fatal("configured key rejected")
	}
	if get(t, url+"/v1/sandboxes", "other") != 401 {
		t.Fatal("wrong key accepted")
	}
}

func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.SeedImages = ""
	return cfg
}

// TestStoreOutsideDataDir keeps the database where --store says, private,
// and nothing of it in the data dir.
func TestStoreOutsideDataDir(t *testing.T) {
	cfg := testConfig(t)
	db := filepath.Join(t.TempDir(), "state.db")
	cfg.Store = "sqlite://" + db
	_, _, stop := start(t, cfg)
	stop()
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s mode %v, want 0600", db, fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "hutch.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a database was made in the data dir too: %v", err)
	}
}

// TestUnreachablePostgresStoreStops checks that a PostgreSQL store the
// server cannot reach stops it at startup with an error that names --store
// and never repeats the password.
func TestUnreachablePostgresStoreStops(t *testing.T) {
	cfg := testConfig(t)
	cfg.Store = "postgres://hutch:s3cret-pw@127.0.0.1:1/hutch?connect_timeout=5"
	err := server.Run(context.Background(), cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), "--store") {
		t.Fatalf("Run with an unreachable postgres store: %v, want an error naming --store", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("the error repeats the password: %v", err)
	}
}

// TestOldRuntimeSettingWarns checks that a config from before --oci-runtime
// still starts, and that the operator is told what to write instead.
func TestOldRuntimeSettingWarns(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.LoadServe([]string{"--runtime", "crun", "--data-dir", dir, "--listen", "127.0.0.1:0", "--seed-images", ""}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	_, _, stop := startLogging(t, cfg, &log)
	stop()
	if !strings.Contains(log.String(), `level=WARN msg="runtime \"crun\" is deprecated`) {
		t.Fatalf("no deprecation warning in the log:\n%s", log.String())
	}
}

// syncBuffer is a log destination the server's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
