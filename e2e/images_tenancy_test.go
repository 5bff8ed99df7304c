package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
)

// busyboxRootfs is a plain rootfs tarball of the host's static busybox
// whose /etc/os-release says ID=id, and the hex of its layer (the
// tarball's digest: a rootfs import unpacks it as one layer).
func busyboxRootfs(t *testing.T, id string) ([]byte, string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox (apt-get install busybox-static) is needed for the test images")
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = time.Unix(1700000000, 0)
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	for _, d := range []string{"bin", "etc", "root", "tmp", "proc", "sys", "dev"} {
		add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bin)
	for _, applet := range []string{"sh", "cat", "sleep", "ls", "echo"} {
		add(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	add(&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("ID="+id+"\n"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

func importRootfs(c *client.Client, t *testing.T, name string, rootfs []byte) (*api.Image, error) {
	return c.ImportImage(ctx(t), bytes.NewReader(rootfs), client.ImportOptions{Name: name, Rootfs: true}, nil)
}

func osRelease(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	code, out := shWith(t, c, id, "cat /etc/os-release")
	if code != 0 {
		t.Fatalf("cat /etc/os-release in %s: exit %d %s", id, code, out)
	}
	return out
}

// TestImagesPerOrganisation: org B's admin importing a rootfs as base
// changes what org B's sandboxes run, not org A's, which cannot name B's
// image even by digest; a member key imports, pulls and removes nothing;
// an organisation's admin cannot remove a shared image.
func TestImagesPerOrganisation(t *testing.T) {
	s := startServer(t, "")
	adminA, _, _, _ := orgClient(t, s, "img-a")
	adminB, memberB, _, _ := orgClient(t, s, "img-b")
	rootfs, _ := busyboxRootfs(t, "org-b")

	imgB, err := importRootfs(adminB, t, "base", rootfs)
	if err != nil {
		t.Fatal(err)
	}
	if imgB.Ref != "base:latest" || imgB.Shared {
		t.Fatalf("org B's import: %+v", imgB)
	}
	sbA := ownSandbox(t, adminA, api.CreateSandboxRequest{Name: "a-base", Image: "base"})
	sbB := ownSandbox(t, adminB, api.CreateSandboxRequest{Name: "b-base", Image: "base"})
	if got := osRelease(t, adminA, sbA.ID); strings.Contains(got, "org-b") || !strings.Contains(got, "ID=") {
		t.Errorf("org A's sandbox on base runs %q", got)
	}
	if got := osRelease(t, adminB, sbB.ID); strings.TrimSpace(got) != "ID=org-b" {
		t.Errorf("org B's sandbox on base runs %q, want its own image", got)
	}
	if sb, err := adminA.CreateSandbox(ctx(t), api.CreateSandboxRequest{Name: "a-steal", Image: imgB.Digest}); err == nil {
		if _, derr := adminA.DeleteSandbox(ctx(t), sb.ID); derr != nil {
			t.Errorf("delete %s: %v", sb.ID, derr)
		}
		waitGone(t, sb.ID)
		if sb.State != "error" {
			t.Errorf("org A created a sandbox on org B's image by digest: %+v", sb)
		}
	}
	listA, err := adminA.ListImages(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range listA.Items {
		if img.Digest == imgB.Digest || !img.Shared {
			t.Errorf("org A lists %+v", img)
		}
	}

	_, err = importRootfs(memberB, t, "base", rootfs)
	wantAPIError(t, "member import", err, 403, api.CodeForbidden)
	_, err = memberB.PullImage(ctx(t), api.PullImageRequest{Ref: "docker.io/library/busybox:latest"}, nil)
	wantAPIError(t, "member pull", err, 403, api.CodeForbidden)
	wantAPIError(t, "member remove", memberB.RemoveImage(ctx(t), "base"), 403, api.CodeForbidden)
	wantAPIError(t, "org A's admin removing the shared base", adminA.RemoveImage(ctx(t), "base"), 403, api.CodeForbidden)
}

// TestImagesReplaceInUse: the platform admin replaces a shared image
// while a sandbox runs on it; that sandbox keeps its root filesystem
// (through a stop and a start too) until it is deleted, when its layer
// goes; new sandboxes get the new image, which cannot be removed while
// one runs on it.
func TestImagesReplaceInUse(t *testing.T) {
	s := startServer(t, "")
	v1, v1Layer := busyboxRootfs(t, "v1")
	v2, v2Layer := busyboxRootfs(t, "v2")
	layerDir := func(hex string) string { return filepath.Join(s.dataDir, "images", "layers", hex) }
	const name = "tenancy-tool"
	if _, err := importRootfs(s.c, t, name, v1); err != nil {
		t.Fatal(err)
	}
	old := create(t, s, api.CreateSandboxRequest{Name: "on-v1", Image: name})
	if got := osRelease(t, s.c, old.ID); strings.TrimSpace(got) != "ID=v1" {
		t.Fatalf("sandbox on v1 runs %q", got)
	}
	img, err := importRootfs(s.c, t, name, v2)
	if err != nil {
		t.Fatalf("the platform admin replacing a shared image: %v", err)
	}
	if !img.Shared {
		t.Errorf("the platform admin's import is not shared: %+v", img)
	}
	if _, err := os.Stat(layerDir(v1Layer)); err != nil {
		t.Fatalf("replacing %s took the layer a sandbox runs on: %v", name, err)
	}
	if got := osRelease(t, s.c, old.ID); strings.TrimSpace(got) != "ID=v1" {
		t.Errorf("after the replace, the old sandbox runs %q", got)
	}
	if _, err := s.c.Stop(ctx(t), old.ID, client.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Start(ctx(t), old.ID); err != nil {
		t.Fatalf("start the old sandbox after the replace: %v", err)
	}
	if got := osRelease(t, s.c, old.ID); strings.TrimSpace(got) != "ID=v1" {
		t.Errorf("after a stop and a start, the old sandbox runs %q", got)
	}
	fresh := create(t, s, api.CreateSandboxRequest{Name: "on-v2", Image: name})
	if got := osRelease(t, s.c, fresh.ID); strings.TrimSpace(got) != "ID=v2" {
		t.Errorf("a new sandbox runs %q, want v2", got)
	}
	wantAPIError(t, "remove while a sandbox runs on it", s.c.RemoveImage(ctx(t), name), 409, api.CodeConflict)

	if _, err := s.c.DeleteSandbox(ctx(t), old.ID); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the old image's layer to go with its last sandbox", func() bool {
		_, err := os.Stat(layerDir(v1Layer))
		return os.IsNotExist(err)
	})
	if _, err := s.c.DeleteSandbox(ctx(t), fresh.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.c.RemoveImage(ctx(t), name); err != nil {
		t.Fatalf("remove once unused: %v", err)
	}
	if _, err := os.Stat(layerDir(v2Layer)); !os.IsNotExist(err) {
		t.Errorf("the removed image's layer is still there: %v", err)
	}
}
