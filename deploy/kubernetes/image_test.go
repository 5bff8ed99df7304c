package kubedeploy

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/ocilayout"
)

// TestImageRootfs: the binary where the agent injection copies it from,
// a PATH link to it, the unprivileged user the Deployment runs as, its
// own data directory, CA certificates, and the image starting hutch
// serve with no user of its own (the pods choose).
func TestImageRootfs(t *testing.T) {
	var layer bytes.Buffer
	if err := ocilayout.WriteRootfs(&layer, ImageRootfs([]byte("ELF"), []byte("CERTS"))); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	data := map[string]string{}
	tr := tar.NewReader(&layer)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		data[h.Name] = string(b)
	}
	bin := got[BinaryPath[1:]]
	if bin == nil || bin.Typeflag != tar.TypeReg || bin.Mode != 0o755 || data[BinaryPath[1:]] != "ELF" {
		t.Fatalf("%s: %+v", BinaryPath, bin)
	}
	if l := got[CommandPath[1:]]; l == nil || l.Typeflag != tar.TypeSymlink || l.Linkname != BinaryPath {
		t.Fatalf("%s: %+v", CommandPath, l)
	}
	if !strings.Contains(data["etc/passwd"], fmt.Sprintf("\n%s:x:%d:%d:", UserName, UID, UID)) {
		t.Fatalf("passwd lacks %s as %d:\n%s", UserName, UID, data["etc/passwd"])
	}
	if d := got["var/lib/hutch/"]; d == nil || d.Uid != UID || d.Mode != 0o700 {
		t.Fatalf("data dir %+v", d)
	}
	if data["etc/ssl/certs/ca-certificates.crt"] != "CERTS" {
		t.Fatal("no CA certificates")
	}
	cfg := ImageConfig()
	if cfg.User != "" || len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != BinaryPath || cfg.Cmd[0] != "serve" {
		t.Fatalf("config %+v", cfg)
	}
}
