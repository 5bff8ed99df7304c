package image

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
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

func newLimitedStore(t testing.TB, l Limits) *Store {
	t.Helper()
	return newStore(t, WithLimits(l))
}

// assertLimit checks that err is the LimitError of the setting flag, an
// invalid argument, and that it names no path of the store.
func assertLimit(t testing.TB, s *Store, err error, flag string) {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != flag || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("err = %v, want a LimitError of %s (an invalid argument)", err, flag)
	}
	if !strings.Contains(err.Error(), flag) || strings.Contains(err.Error(), s.Dir()) {
		t.Errorf("err = %q, want it to name %s and no path of the store", err, flag)
	}
}

// zeros is an endless stream of zero bytes, cut at n.
func zeros(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A few hundred KB of zstd that decompress to 256 MB stop at the
// unpacked limit instead of filling tmp/.
func TestImportZstdBombStopsAtLimit(t *testing.T) {
	var bomb bytes.Buffer
	zw, err := zstd.NewWriter(&bomb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, zeros(256<<20)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if bomb.Len() > 256<<10 {
		t.Fatalf("the bomb is %d bytes compressed", bomb.Len())
	}
	s := newLimitedStore(t, Limits{Unpacked: 4 << 20})
	_, err = s.Import(bg(), &bomb)
	assertLimit(t, s, err, flagUnpacked)
	assertNoLeftovers(t, s)
}

// A docker save archive of a few KB whose gzip layer unpacks to 16 MB of
// files stops at the unpacked limit and leaves no layer.
func TestImportDockerSaveLayerBomb(t *testing.T) {
	big := entry{name: "big", mode: 0o644, body: string(make([]byte, 16<<20))}
	img := imageOf(t, "amd64", layerOf(t, big))
	tag, err := name.NewTag("example.com/bomb:v1")
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	if archive.Len() > 1<<20 {
		t.Fatalf("the archive is %d bytes", archive.Len())
	}
	s := newLimitedStore(t, Limits{Unpacked: 4 << 20})
	_, err = s.Import(bg(), &archive)
	assertLimit(t, s, err, flagUnpacked)
	assertNoLeftovers(t, s)
}

func TestImportCompressedLimit(t *testing.T) {
	random := make([]byte, 2<<20)
	rand.Read(random)
	img := imageOf(t, "amd64", layerOf(t, entry{name: "noise", mode: 0o644, body: string(random)}))
	tag, _ := name.NewTag("example.com/noise:v1")
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	s := newLimitedStore(t, Limits{Compressed: 1 << 20})
	_, err := s.Import(bg(), &archive)
	assertLimit(t, s, err, flagCompressed)
	assertNoLeftovers(t, s)
}

// layoutArchive is an OCI layout tarball with one named image, where
// alter may replace entries (by name) before it is written.
func layoutArchive(t testing.TB, alter map[string]*tar.Header, bodies map[string][]byte) []byte {
	t.Helper()
	img := imageOf(t, "amd64", layerOf(t, file("hello", "oci")))
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: "registry.example/oci/app:2"})); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if hdr, ok := alter[rel]; ok {
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err := tw.Write(bodies[rel])
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// An OCI layout whose index.json (or blobs dir) is a symlink to a host
// file is refused without reading the file, and the error shows neither
// the file's path nor its content.
func TestImportLayoutSymlinkRefused(t *testing.T) {
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "host-secret")
	if err := os.WriteFile(secret, []byte("Secret content of the host"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	for _, c := range []struct{ name, entry, target string }{
		{"index.json", "index.json", secret},
		{"blobs dir", "blobs", secretDir},
	} {
		t.Run(c.name, func(t *testing.T) {
			archive := layoutArchive(t, map[string]*tar.Header{
				c.entry: {Name: c.entry, Typeflag: tar.TypeSymlink, Linkname: c.target, Mode: 0o777},
			}, nil)
			_, err := s.Import(bg(), bytes.NewReader(archive))
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "link") {
				t.Fatalf("err = %v, want ErrInvalidArgument refusing the link", err)
			}
			for _, leak := range []string{secretDir, "'S'", "Secret", s.Dir()} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("err = %q shows %q", err, leak)
				}
			}
			assertNoLeftovers(t, s)
		})
	}
}

// JSON documents are refused above maxDocument before they are read:
// index.json of an OCI layout and manifest.json of a docker save.
func TestImportLargeDocumentRefused(t *testing.T) {
	s := newStore(t)
	huge := append([]byte(`{"schemaVersion":2,"manifests":[]}`), bytes.Repeat([]byte(" "), maxDocument)...)
	t.Run("index.json", func(t *testing.T) {
		archive := layoutArchive(t, map[string]*tar.Header{
			"index.json": {Name: "index.json", Typeflag: tar.TypeReg, Size: int64(len(huge)), Mode: 0o644},
		}, map[string][]byte{"index.json": huge})
		_, err := s.Import(bg(), bytes.NewReader(archive))
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "read up to") {
			t.Fatalf("err = %v, want ErrInvalidArgument: documents are read up to %d bytes", err, maxDocument)
		}
		assertNoLeftovers(t, s)
	})
	t.Run("manifest.json", func(t *testing.T) {
		huge := append([]byte(`[]`), bytes.Repeat([]byte(" "), maxDocument)...)
		archive := tarBytes(t, entry{name: "manifest.json", mode: 0o644, body: string(huge)})
		_, err := s.Import(bg(), bytes.NewReader(archive))
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "read up to") {
			t.Fatalf("err = %v, want ErrInvalidArgument: documents are read up to %d bytes", err, maxDocument)
		}
		assertNoLeftovers(t, s)
	})
}

// A pull past either limit fails with the limit named and leaves nothing.
func TestPullLimits(t *testing.T) {
	random := make([]byte, 2<<20)
	rand.Read(random)
	reg := startRegistry(t, nil)
	reg.push(t, "noise:v1", imageOf(t, "amd64", layerOf(t, entry{name: "noise", mode: 0o644, body: string(random)})))
	reg.push(t, "zeros:v1", imageOf(t, "amd64", layerOf(t, entry{name: "zeros", mode: 0o644, body: string(make([]byte, 16<<20))})))

	s := newLimitedStore(t, Limits{Compressed: 1 << 20})
	_, err := s.Pull(bg(), reg.ref("noise:v1"))
	assertLimit(t, s, err, flagCompressed)
	assertNoLeftovers(t, s)

	s = newLimitedStore(t, Limits{Unpacked: 4 << 20})
	_, err = s.Pull(bg(), reg.ref("zeros:v1"))
	assertLimit(t, s, err, flagUnpacked)
	assertNoLeftovers(t, s)
	if _, err := s.Pull(bg(), reg.ref("noise:v1")); err != nil {
		t.Errorf("an image within the limits: %v", err)
	}
}

// A hardlink whose target lies past a symlinked dir leading out of the
// layer is the layer's fault: 400, not an internal error.
func TestHardlinkThroughSymlinkedDir(t *testing.T) {
	s := newStore(t)
	layer := tarBytes(t, symlink("d", "/etc"), entry{name: "x", typ: tar.TypeLink, link: "d/passwd"})
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(path, layer, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.In("org").ImportRootfs(bg(), path, "escape", Config{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "not in this layer") {
		t.Fatalf("err = %v, want ErrInvalidArgument: target not in this layer", err)
	}
	assertNoTmp(t, s)
}

// A layer whose tar is followed by 64 MB (a few KB of zstd) is refused
// after 1 MiB of that tail, and an entry of a type the unpacker skips is
// charged the content it claims: neither is decompressed in full.
func TestLayerTailAndSkippedEntriesBounded(t *testing.T) {
	s := newLimitedStore(t, Limits{Unpacked: 4 << 20})
	compress := func(parts ...io.Reader) string {
		var buf bytes.Buffer
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if _, err := io.Copy(zw, p); err != nil {
				t.Fatal(err)
			}
		}
		zw.Close()
		path := filepath.Join(t.TempDir(), "rootfs.tar.zst")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	tail := compress(bytes.NewReader(tarBytes(t, file("etc/motd", "hi\n"))), zeros(64<<20))
	_, err := s.In("org").ImportRootfs(bg(), tail, "tail", Config{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "follow the end") {
		t.Fatalf("a 64 MB tail: %v, want ErrInvalidArgument naming the tail", err)
	}

	var skipped bytes.Buffer
	tw := tar.NewWriter(&skipped)
	if err := tw.WriteHeader(&tar.Header{Name: "vendor", Typeflag: 'V', Size: 16 << 20, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, zeros(16<<20)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	_, err = s.In("org").ImportRootfs(bg(), compress(&skipped), "skipped", Config{})
	assertLimit(t, s, err, flagUnpacked)
	assertNoTmp(t, s)
}

// A zstd frame that asks for a 256 MiB window is refused before the
// decoder keeps that much history in memory.
func TestZstdWindowBounded(t *testing.T) {
	var big bytes.Buffer
	zw, err := zstd.NewWriter(&big, zstd.WithWindowSize(256<<20), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, zeros(4<<20)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	s := newStore(t)
	_, err = s.Import(bg(), &big)
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "window") {
		t.Fatalf("a 256 MiB window: %v, want ErrInvalidArgument naming the window", err)
	}
	assertNoLeftovers(t, s)
}

// An organisation's quota tighter than the server's limit refuses the
// import and names the quota's field; one looser than the server's leaves
// the server's flag in force.
func TestImportQuotaTighterThanServer(t *testing.T) {
	big := entry{name: "big", mode: 0o644, body: string(make([]byte, 8<<20))}
	img := imageOf(t, "amd64", layerOf(t, big))
	tag, _ := name.NewTag("example.com/quota:v1")
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	s := newLimitedStore(t, Limits{Unpacked: 64 << 20})
	q := Quota{Limits: Limits{Unpacked: 4 << 20}, UnpackedField: "quota.imageMaxUnpackedMB"}
	_, err := s.Import(WithQuota(bg(), q), bytes.NewReader(archive.Bytes()))
	assertLimit(t, s, err, "quota.imageMaxUnpackedMB")
	if le := (*LimitError)(nil); !errors.As(err, &le) || !le.Quota || !strings.Contains(err.Error(), "organization's quota") {
		t.Fatalf("err = %v, want it to name the organization's quota", err)
	}
	assertNoLeftovers(t, s)

	s = newLimitedStore(t, Limits{Unpacked: 4 << 20})
	q.Unpacked = 64 << 20
	_, err = s.Import(WithQuota(bg(), q), bytes.NewReader(archive.Bytes()))
	assertLimit(t, s, err, flagUnpacked)

	if _, err := newLimitedStore(t, Limits{Unpacked: 64 << 20}).Import(bg(), bytes.NewReader(archive.Bytes())); err != nil {
		t.Fatalf("the same import without the quota: %v", err)
	}
}
