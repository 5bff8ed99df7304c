package e2e

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

// noise is a reproducible stream of n pseudo-random bytes, made as it is
// read so that a large upload is never held in memory.
type noise struct {
	r *rand.ChaCha8
	n int64
}

func (z *noise) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	_, _ = z.r.Read(p)
	z.n -= int64(len(p))
	return len(p), nil
}

func TestAgentFiles(t *testing.T) {
	s := startServer(t, "")
	sb := agentSandbox(t, s, "")

	t.Run("100 MiB round trip", func(t *testing.T) {
		const size = 100 << 20
		up := sha256.New()
		src := io.TeeReader(&noise{r: rand.NewChaCha8([32]byte{1}), n: size}, up)
		info, err := s.c.Upload(ctx(t), sb.ID, "/data/big.bin", src, "0600")
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != size || info.Mode != "0600" || info.Type != "file" {
			t.Fatalf("uploaded %+v", info)
		}
		rc, err := s.c.Download(ctx(t), sb.ID, "/data/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		down := sha256.New()
		n, err := io.Copy(down, rc)
		rc.Close()
		if err != nil || n != size {
			t.Fatalf("downloaded %d bytes: %v", n, err)
		}
		if !bytes.Equal(up.Sum(nil), down.Sum(nil)) {
			t.Fatal("checksums differ")
		}
		inside := strings.Fields(sh(t, s, sb.ID, "sha256sum /data/big.bin"))[0]
		if inside != hexOf(up.Sum(nil)) {
			t.Fatalf("sha256sum inside = %s", inside)
		}
	})

	t.Run("range", func(t *testing.T) {
		if _, err := s.c.Upload(ctx(t), sb.ID, "/tmp/abc", strings.NewReader("0123456789abcdef"), ""); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx(t), "GET", s.url+"/v1/sandboxes/"+sb.ID+"/files?path=/tmp/abc", nil)
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Range", "bytes=10-13")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusPartialContent || string(b) != "abcd" {
			t.Fatalf("range: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("path escapes are refused", func(t *testing.T) {
		for _, p := range []string{"../../../../etc/passwd", "/../etc/passwd", "/tmp/../../etc/passwd", ""} {
			_, err := s.c.Download(ctx(t), sb.ID, p)
			wantAPIError(t, "download "+p, err, 400, api.CodeInvalidArgument)
			_, err = s.c.Upload(ctx(t), sb.ID, p, strings.NewReader("x"), "")
			wantAPIError(t, "upload "+p, err, 400, api.CodeInvalidArgument)
		}
		// A symlink naming a host path resolves inside the sandbox.
		secret := filepath.Join(s.dataDir, "host-secret.txt")
		if err := os.WriteFile(secret, []byte("host only"), 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, s, sb.ID, "ln -s "+secret+" /tmp/link; ln -s "+filepath.Dir(secret)+" /tmp/dirlink")
		_, err := s.c.Download(ctx(t), sb.ID, "/tmp/link")
		wantAPIError(t, "download through a symlink to a host path", err, 404, api.CodeFileNotFound)
		_, err = s.c.Download(ctx(t), sb.ID, "/tmp/dirlink/host-secret.txt")
		wantAPIError(t, "download through a symlinked host dir", err, 404, api.CodeFileNotFound)
		// An upload replaces the link itself, inside the sandbox.
		if _, err := s.c.Upload(ctx(t), sb.ID, "/tmp/link", strings.NewReader("overwritten"), ""); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(secret); string(b) != "host only" {
			t.Fatalf("host file changed to %q", b)
		}
		if got := sh(t, s, sb.ID, "cat /tmp/link"); got != "overwritten" {
			t.Fatalf("the upload did not land inside the sandbox: %q", got)
		}
		// Through a link to a host directory, the parent does not exist.
		_, err = s.c.Upload(ctx(t), sb.ID, "/tmp/dirlink/host-secret.txt", strings.NewReader("x"), "")
		wantAPIError(t, "upload through a symlinked host dir", err, 409, api.CodeAlreadyExists)
		if b, _ := os.ReadFile(secret); string(b) != "host only" {
			t.Fatalf("host file changed to %q", b)
		}
	})

	t.Run("operations", func(t *testing.T) {
		c := ctx(t)
		if _, err := s.c.Mkdir(c, sb.ID, "/work/a/b", ""); err != nil {
			t.Fatal(err)
		}
		items, err := s.c.UploadFiles(c, sb.ID, "/work/a", map[string]io.Reader{
			"one.py": strings.NewReader("print(1)\n"), "two.txt": strings.NewReader("two\n")})
		if err != nil || len(items) != 2 {
			t.Fatalf("multipart: %v %+v", err, items)
		}
		if _, err := s.c.Move(c, sb.ID, "/work/a/two.txt", "/work/a/b/three.txt", false); err != nil {
			t.Fatal(err)
		}
		_, err = s.c.Move(c, sb.ID, "/work/a/one.py", "/work/a/b/three.txt", false)
		wantAPIError(t, "move over a file", err, 409, api.CodeAlreadyExists)
		if fi, err := s.c.Chmod(c, sb.ID, "/work/a/one.py", "755"); err != nil || fi.Mode != "0755" {
			t.Fatalf("chmod: %v %+v", err, fi)
		}
		list, err := s.c.ListFiles(c, sb.ID, "/work", 3)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range list.Items {
			names = append(names, f.Path+":"+f.Type)
		}
		want := "/work/a:dir /work/a/b:dir /work/a/b/three.txt:file /work/a/one.py:file"
		if strings.Join(names, " ") != want {
			t.Fatalf("list = %v, want %s", names, want)
		}
		found, err := s.c.SearchFiles(c, sb.ID, "/work", "*.py")
		if err != nil || len(found.Items) != 1 || found.Items[0].Path != "/work/a/one.py" {
			t.Fatalf("search: %v %+v", err, found)
		}
		if fi, err := s.c.StatFile(c, sb.ID, "/work/a/b/three.txt"); err != nil || fi.Size != 4 {
			t.Fatalf("stat: %v %+v", err, fi)
		}
		err = s.c.RemoveFile(c, sb.ID, "/work/a", false)
		wantAPIError(t, "remove a full directory without recursive", err, 409, api.CodeAlreadyExists)
		if err := s.c.RemoveFile(c, sb.ID, "/work/a", true); err != nil {
			t.Fatal(err)
		}
		_, err = s.c.StatFile(c, sb.ID, "/work/a")
		wantAPIError(t, "stat removed", err, 404, api.CodeFileNotFound)
		_, err = s.c.ListFiles(c, sb.ID, "/work", 99)
		wantAPIError(t, "depth 99", err, 400, api.CodeInvalidArgument)
		_, err = s.c.Upload(c, sb.ID, "/.hutch/hutch", strings.NewReader("x"), "")
		if err == nil {
			t.Fatal("overwrote the agent binary")
		}
		var ae interface{ Error() string }
		if !errors.As(err, &ae) {
			t.Fatal(err)
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
