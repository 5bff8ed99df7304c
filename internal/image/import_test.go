package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestImportDockerSave(t *testing.T) {
	img := imageOf(t, "amd64", layerOf(t, file("hello", "docker")), layerOf(t, file("second", "2")))
	tag, err := name.NewTag("example.com/team/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)

	imgs, err := s.Import(bg(), bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Ref != "example.com/team/app:v1" || len(imgs[0].Layers) != 2 {
		t.Fatalf("imported %+v", imgs)
	}
	if got := readFile(t, filepath.Join(imgs[0].Layers[0], "hello")); got != "docker" {
		t.Errorf("hello = %q", got)
	}
	got, err := s.Resolve(bg(), "example.com/team/app:v1")
	if err != nil || got.Digest != imgs[0].Digest || got.Config.WorkingDir != "/work" {
		t.Errorf("Resolve = %+v, %v", got, err)
	}

	t.Run("renamed with WithName, layers shared", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "save.tar")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := s.ImportFile(bg(), path, WithName("mytool"))
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Ref != "mytool:latest" || again[0].Layers[0] != imgs[0].Layers[0] {
			t.Errorf("renamed import = %+v", again[0])
		}
	})
}

func TestImportOCILayout(t *testing.T) {
	img := imageOf(t, "amd64", layerOf(t, file("hello", "oci")))
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "registry.example/oci/app:2"})); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)

	t.Run("tarball", func(t *testing.T) {
		var buf bytes.Buffer
		tarDir(t, dir, &buf)
		imgs, err := s.Import(bg(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 || imgs[0].Ref != "registry.example/oci/app:2" {
			t.Fatalf("imported %+v", imgs)
		}
		if got := readFile(t, filepath.Join(imgs[0].Layers[0], "hello")); got != "oci" {
			t.Errorf("hello = %q", got)
		}
		want, _ := img.Digest()
		if imgs[0].Digest != want.String() {
			t.Errorf("digest %s, want %s", imgs[0].Digest, want)
		}
	})

	t.Run("unnamed directory needs a name", func(t *testing.T) {
		bare := t.TempDir()
		blp, err := layout.Write(bare, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := blp.AppendImage(img); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportFile(bg(), bare); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("unnamed import: %v, want ErrInvalidArgument", err)
		}
		imgs, err := s.ImportFile(bg(), bare, WithName("local-oci:v3"))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.Resolve(bg(), "local-oci:v3"); err != nil || r.Digest != imgs[0].Digest {
			t.Errorf("Resolve = %+v, %v", r, err)
		}
	})

	t.Run("not an image archive", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
		tw.Write([]byte("hi"))
		tw.Close()
		if _, err := s.Import(bg(), &buf); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
		assertNoTmp(t, s)
	})
}

// tarDir writes the tree at dir as a tar stream.
func tarDir(t testing.TB, dir string, w *bytes.Buffer) {
	t.Helper()
	tw := tar.NewWriter(w)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func assertNoTmp(t testing.TB, s *Store) {
	t.Helper()
	names, err := readDirNames(s.tmpDir())
	if err != nil || len(names) != 0 {
		t.Errorf("tmp/ holds %v (%v)", names, err)
	}
}

func TestImportRootfs(t *testing.T) {
	requireRoot(t)
	rootfs := tarBytes(t,
		dir("./"), dir("./bin/"), entry{name: "./bin/sh", body: "#!", mode: 0o755},
		dir("./etc/"), file("./etc/os-release", "ID=hutch\n"),
		entry{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "./home/u/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
	)
	path := filepath.Join(t.TempDir(), "base.tar")
	if err := os.WriteFile(path, rootfs, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)

	img, err := s.ImportRootfs(bg(), path, "base", Config{Cmd: []string{"/bin/bash"}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != "base:latest" || len(img.Layers) != 1 || img.Size != int64(len("#!")+len("ID=hutch\n")) {
		t.Fatalf("image = %+v", img)
	}
	if img.Config.Cmd[0] != "/bin/bash" || !strings.HasPrefix(img.Config.Env[0], "PATH=") {
		t.Errorf("config = %+v, want the Cmd given and a default PATH", img.Config)
	}
	if got := readFile(t, filepath.Join(img.Layers[0], "etc/os-release")); got != "ID=hutch\n" {
		t.Errorf("os-release = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(img.Layers[0], "tmp")); err != nil || fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp = %v, %v", fi.Mode(), err)
	}
	// The layer dir is named by the tar's own digest: its diff ID.
	if want := digestOf(rootfs); "sha256:"+filepath.Base(img.Layers[0]) != want {
		t.Errorf("layer dir %s, want %s", img.Layers[0], want)
	}

	for _, ref := range []string{"base", "base:latest"} {
		if r, err := s.Resolve(bg(), ref); err != nil || r.Digest != img.Digest {
			t.Errorf("Resolve(%q) = %+v, %v", ref, r, err)
		}
	}
	if _, err := s.Resolve(bg(), "docker.io/library/base"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the local base answered for Docker Hub's: %v", err)
	}
	if _, err := s.Resolve(bg(), "python"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "python") {
		t.Errorf("Resolve(python) = %v, want ErrNotFound naming it", err)
	}

	again, err := s.ImportRootfs(bg(), path, "base-copy", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Layers[0] != img.Layers[0] || again.Config.Cmd[0] != "/bin/sh" {
		t.Errorf("same rootfs again = %+v, want the same layer dir and Cmd /bin/sh", again)
	}
	if _, err := s.ImportRootfs(bg(), filepath.Join(t.TempDir(), "missing.tar"), "x", Config{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing tarball: %v, want ErrNotFound", err)
	}
	assertNoTmp(t, s)
}

func TestImportRootfsCompressed(t *testing.T) {
	requireRoot(t)
	rootfs := tarBytes(t, dir("etc/"), file("etc/motd", "hi\n"))
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(rootfs)
	gw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(rootfs)
	zw.Close()
	s := newStore(t)
	var layer string
	for _, c := range []struct {
		name string
		data []byte
	}{{"plain", rootfs}, {"gzip", gz.Bytes()}, {"zstd", zs.Bytes()}} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rootfs.tar")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			img, err := s.ImportRootfs(bg(), path, "motd-"+c.name, Config{})
			if err != nil {
				t.Fatal(err)
			}
			// Every form names the layer by the uncompressed tar's digest.
			if layer == "" {
				layer = img.Layers[0]
			}
			if img.Layers[0] != layer || readFile(t, filepath.Join(layer, "etc/motd")) != "hi\n" {
				t.Errorf("layer %s, want %s with etc/motd", img.Layers[0], layer)
			}
		})
	}
	t.Run("truncated gzip", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "rootfs.tar.gz")
		if err := os.WriteFile(path, gz.Bytes()[:gz.Len()/2], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportRootfs(bg(), path, "broken", Config{}); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "broken") {
			t.Errorf("err = %v, want ErrInvalidArgument naming the image", err)
		}
		assertNoTmp(t, s)
	})
}
