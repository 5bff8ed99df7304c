package server_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/server"
)

func readyz(t *testing.T, url string) (int, http.Header, api.Readiness) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rd api.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, rd
}

func check(rd api.Readiness, name string) api.ReadinessCheck {
	for _, c := range rd.Checks {
		if c.Name == name {
			return c
		}
	}
	return api.ReadinessCheck{}
}

// TestReadyzNamesTheFix: a data dir below a directory others cannot
// traverse (under /root, say) makes every create fail while /healthz says
// 200; /readyz says so, and names the directory and the fix.
func TestReadyzNamesTheFix(t *testing.T) {
	cfg := testConfig(t)
	closed := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(closed, "hutch")
	url, _, _ := start(t, cfg)
	if get(t, url+"/healthz", "") != 200 {
		t.Fatal("healthz not 200")
	}
	status, _, rd := readyz(t, url)
	dc := check(rd, "dataDir")
	if status != 503 || rd.Ready || rd.Status != api.ReadinessUnavailable || dc.OK ||
		!strings.Contains(dc.Message, closed+" (mode -rwx------) is not traversable") || !strings.Contains(dc.Fix, "chmod o+x "+closed) {
		t.Fatalf("readyz = %d %+v, want 503 unavailable with the dataDir check naming %s and chmod o+x", status, rd, closed)
	}
	if rc := check(rd, "runtime"); rc.OK || rc.Fix == "" {
		t.Errorf("runtime check %+v, want it failing with a fix", rc)
	}
}

// TestListensBeforeSeeding: the server answers while its base image is
// still being imported (here a FIFO that yields the tarball only when the
// test says so), /readyz shows the import, and the image is ready after.
func TestListensBeforeSeeding(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking a layer chowns its files")
	}
	cfg := testConfig(t)
	seeds := t.TempDir()
	cfg.SeedImages = seeds
	cfg.ImageCache = ""
	fifo := filepath.Join(seeds, "base.tar")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a string) { addr <- a })
	}()
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(rootfsTar(t))
		f.Close()
	}
	t.Cleanup(func() {
		release()
		cancel()
		<-done
	})
	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not serve while its base image was being imported")
	}
	if get(t, url+"/healthz", "") != 200 {
		t.Fatal("healthz not 200")
	}
	status, _, rd := readyz(t, url)
	ic := check(rd, "images")
	if status != 503 || rd.Ready || ic.OK || len(ic.Images) != 3 || ic.Images[0].Name != "base" || ic.Images[0].State != "importing" ||
		ic.Images[1].State != "missing" || ic.Images[2].State != "missing" {
		t.Fatalf("readyz while seeding = %d %+v, want 503 with base importing, python and node missing", status, rd)
	}
	release()
	if !poll.Wait(10*time.Second, func() bool { _, _, rd = readyz(t, url); return check(rd, "images").OK }) {
		t.Fatalf("readyz after the import: %+v", rd)
	}
	if ic := check(rd, "images"); ic.Images[0].State != "ready" || ic.Images[1].Message == "" {
		t.Errorf("images check %+v, want base ready and python's tarball named missing", ic)
	}
}

// rootfsTar is a rootfs of one file.
func rootfsTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644, Size: 9},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("ID=hutch\n"))
		}
	}
	tw.Close()
	return buf.Bytes()
}
