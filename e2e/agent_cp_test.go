package e2e

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// TestCpDirectories copies a tree into a real sandbox and back with hutch
// cp: modes, times and symlinks kept both ways, the sandbox's own
// symlinks arrive as symlinks (never followed on the host), the API
// refuses a tar that climbs out of its directory, and a sandbox symlink
// leading out of the target is not written through.
func TestCpDirectories(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")

	src := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	os.WriteFile(filepath.Join(src, "bin", "hello"), []byte("#!/bin/sh\necho hello from the copy\n"), 0o750)
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("0123456789abcdef"), 1<<20), 0o600) // 16 MiB
	os.Symlink("bin/hello", filepath.Join(src, "start"))
	old := time.Date(2022, 3, 4, 5, 6, 7, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "bin", "hello"), old, old)

	// A trailing slash copies into the directory (made when missing);
	// without it a missing /work would become the copy itself.
	_, errOut, code := hutchCLI(t, s, "", "cp", "--progress", src, sb.ID+":/work/")
	if code != 0 || !strings.Contains(errOut, "copied 5 entries, 16.0 MiB") {
		t.Fatalf("cp up: %d %q", code, errOut)
	}
	if got := sh(t, s, sb.ID, "/work/proj/start; stat -c '%a %Y' /work/proj/bin/hello; readlink /work/proj/start"); got != "hello from the copy\n750 "+strconv.FormatInt(old.Unix(), 10)+"\nbin/hello\n" {
		t.Fatalf("in the sandbox: %q", got)
	}

	// The sandbox adds a symlink to a host-looking path and one to its
	// own /etc: both must arrive as symlinks, nothing of the host read.
	sh(t, s, sb.ID, "ln -s /etc /work/proj/etc-link && ln -s /root/.ssh /work/proj/host-link")
	local := t.TempDir()
	if _, errOut, code := hutchCLI(t, s, "", "cp", sb.ID+":/work/proj", filepath.Join(local, "back")); code != 0 {
		t.Fatalf("cp down: %d %q", code, errOut)
	}
	for link, want := range map[string]string{"start": "bin/hello", "etc-link": "/etc", "host-link": "/root/.ssh"} {
		if got, err := os.Readlink(filepath.Join(local, "back", link)); err != nil || got != want {
			t.Errorf("%s: %q %v, want the symlink %q", link, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(local, "back", "bin", "hello"))
	if err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(old) {
		t.Fatalf("bin/hello back on the host: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(local, "back", "big")); err != nil || fi.Size() != 16<<20 {
		t.Fatalf("big back on the host: %v %v", fi, err)
	}

	// Through the SDK: a tar that climbs out is a 400 naming the body,
	// and a sandbox symlink that leads out of the target is not written
	// through.
	sh(t, s, sb.ID, "mkdir -p /work/in /outside && ln -s /outside /work/in/planted")
	for _, name := range []string{"../escape", "planted/escape"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		_, err := s.c.UploadArchive(ctx(t), sb.ID, "/work/in", &buf)
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != api.CodeInvalidArgument || !strings.HasPrefix(ae.Message, "body:") {
			t.Errorf("upload of %q: %v, want 400 naming body", name, err)
		}
	}
	if got := sh(t, s, sb.ID, "ls -A /outside /work | tr '\\n' ' '"); strings.Contains(got, "escape") {
		t.Fatalf("written outside the target: %s", got)
	}
	if _, err := s.c.DownloadArchive(ctx(t), sb.ID, "/work", "a/b"); !client.IsInvalidArgument(err) || !strings.Contains(err.Error(), "name") {
		t.Fatalf("download with a bad name: %v", err)
	}
}
