package image

import (
	"archive/tar"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// whiteoutImage is a two-layer image whose upper layer deletes a file and a
// dir of the lower one and makes another dir opaque.
func whiteoutImage(t testing.TB) v1.Image {
	lower := layerOf(t,
		dir("etc/"), file("etc/a", "a"), file("etc/b", "b"),
		dir("gone/"), file("gone/x", "x"),
		dir("opq/"), file("opq/old", "old"), dir("opq/sub/"), file("opq/sub/deep", "deep"),
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o4755, uid: 1000, gid: 1001},
		symlink("bin/link", "tool"),
		entry{name: "bin/hard", link: "bin/tool", typ: tar.TypeLink},
		entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	)
	upper := layerOf(t,
		dir("etc/"), file("etc/.wh.a", ""),
		file(".wh.gone", ""),
		dir("opq/"), file("opq/.wh..wh..opq", ""), file("opq/new", "new"),
	)
	return imageOf(t, "amd64", lower, upper)
}

func TestPullUnpacksWhiteoutsInOverlayFormat(t *testing.T) {
	requireRoot(t)
	reg := startRegistry(t, nil)
	reg.push(t, "app:v1", whiteoutImage(t))
	s := newStore(t)

	var reports []Progress
	img, err := s.Pull(bg(), reg.ref("app:v1"), WithProgress(func(p Progress) { reports = append(reports, p) }))
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != reg.ref("app:v1") || len(img.Layers) != 2 || !strings.HasPrefix(img.Digest, "sha256:") {
		t.Fatalf("image = %+v", img)
	}
	if img.Config.WorkingDir != "/work" || img.Config.Cmd[0] != "/bin/app" || img.Size == 0 {
		t.Errorf("config/size = %+v / %d", img.Config, img.Size)
	}
	lower, upper := img.Layers[0], img.Layers[1]

	t.Run("lower layer keeps modes, owners, links", func(t *testing.T) {
		fi, err := os.Lstat(filepath.Join(lower, "bin/tool"))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 || st.Uid != StorageIDBase+1000 || st.Gid != StorageIDBase+1001 {
			t.Errorf("bin/tool mode %v owner %d:%d, want setuid 0755 storage+1000:1001", fi.Mode(), st.Uid, st.Gid)
		}
		if !fi.ModTime().Equal(testTime) {
			t.Errorf("bin/tool mtime %v, want %v", fi.ModTime(), testTime)
		}
		if target, err := os.Readlink(filepath.Join(lower, "bin/link")); err != nil || target != "tool" {
			t.Errorf("bin/link -> %q, %v", target, err)
		}
		hard, err := os.Stat(filepath.Join(lower, "bin/hard"))
		if err != nil || !os.SameFile(hard, fi) {
			t.Errorf("bin/hard is not a hardlink of bin/tool (%v)", err)
		}
		if tmp, err := os.Stat(filepath.Join(lower, "tmp")); err != nil || tmp.Mode()&os.ModeSticky == 0 {
			t.Errorf("tmp lost its sticky bit: %v %v", tmp.Mode(), err)
		}
	})

	t.Run("upper layer has overlay whiteouts", func(t *testing.T) {
		for _, w := range []string{"etc/a", "gone"} {
			fi, err := os.Lstat(filepath.Join(upper, w))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode()&os.ModeCharDevice == 0 || st.Rdev != 0 {
				t.Errorf("%s: mode %v rdev %d, want a 0/0 char device", w, fi.Mode(), st.Rdev)
			}
		}
		buf := make([]byte, 8)
		n, err := unix.Lgetxattr(filepath.Join(upper, "opq"), opaqueXattr, buf)
		if err != nil || string(buf[:n]) != "y" {
			t.Errorf("opq xattr = %q, %v; want y", buf[:n], err)
		}
		for _, marker := range []string{"etc/.wh.a", ".wh.gone", "opq/.wh..wh..opq"} {
			if _, err := os.Lstat(filepath.Join(upper, marker)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was written as a file", marker)
			}
		}
	})

	t.Run("overlay mount shows the merged tree", func(t *testing.T) {
		mnt := t.TempDir()
		if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+upper+":"+lower); err != nil {
			t.Skipf("overlay mount: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
		want := map[string]string{"etc/b": "b", "opq/new": "new", "bin/tool": "#!/bin/sh\n"}
		for p, body := range want {
			if got := readFile(t, filepath.Join(mnt, p)); got != body {
				t.Errorf("%s = %q, want %q", p, got, body)
			}
		}
		for _, p := range []string{"etc/a", "gone", "opq/old", "opq/sub"} {
			if _, err := os.Lstat(filepath.Join(mnt, p)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s visible in the merged tree (%v)", p, err)
			}
		}
	})

	t.Run("progress reports every layer downloaded", func(t *testing.T) {
		done := map[int]Progress{}
		for _, p := range reports {
			if p.Ref != img.Ref || p.Count != 2 {
				t.Errorf("report %+v", p)
			}
			if p.Complete {
				done[p.Index] = p
			}
		}
		for i := range 2 {
			p, ok := done[i]
			if !ok || p.Cached || p.Done != p.Total || p.Total == 0 {
				t.Errorf("layer %d final report %+v, want complete, downloaded, Done == Total", i, p)
			}
		}
	})

	t.Run("second pull downloads nothing", func(t *testing.T) {
		before := reg.blobGets()
		var again []Progress
		img2, err := s.Pull(bg(), reg.ref("app:v1"), WithProgress(func(p Progress) { again = append(again, p) }))
		if err != nil {
			t.Fatal(err)
		}
		if got := reg.blobGets(); got != before {
			t.Errorf("second pull fetched %d blobs", got-before)
		}
		if len(again) != 2 || !again[0].Cached || !again[1].Cached {
			t.Errorf("second pull reports %+v, want 2 cached", again)
		}
		if img2.Digest != img.Digest || img2.Layers[0] != lower {
			t.Errorf("second pull = %+v", img2)
		}
		res, err := s.Resolve(bg(), reg.ref("app:v1"))
		if err != nil || res.Digest != img.Digest {
			t.Errorf("Resolve = %+v, %v", res, err)
		}
	})
}

// withPlatform pulls for p rather than this machine's platform, so that
// the test's choice from an index holds on any host.
func withPlatform(p v1.Platform) PullOption { return func(o *pullOptions) { o.platform = p } }

func TestPullIndexPicksLinuxAmd64(t *testing.T) {
	reg := startRegistry(t, nil)
	arm := imageOf(t, "arm64", layerOf(t, file("arch", "arm64")))
	amd := imageOf(t, "amd64", layerOf(t, file("arch", "amd64")))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	reg.pushIndex(t, "multi:latest", idx)
	s := newStore(t)

	img, err := s.Pull(bg(), reg.ref("multi"), withPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := amd.Digest()
	if img.Digest != want.String() {
		t.Errorf("digest %s, want the amd64 manifest %s", img.Digest, want)
	}
	if got := readFile(t, filepath.Join(img.Layers[0], "arch")); got != "amd64" {
		t.Errorf("unpacked the %s image", got)
	}
	if img.Ref != reg.ref("multi:latest") {
		t.Errorf("ref %q, want the tag made explicit", img.Ref)
	}

	_, err = s.Pull(bg(), reg.ref("multi"), withPlatform(v1.Platform{OS: "linux", Architecture: "s390x"}))
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("pull for a platform the index lacks: %v, want ErrNotFound", err)
	}
}

func TestPullErrorsAreClassified(t *testing.T) {
	reg := startRegistry(t, nil)
	reg.push(t, "app:v1", imageOf(t, "amd64", layerOf(t, file("f", "x"))))
	s := newStore(t)
	cases := []struct {
		name, ref string
		want      error
	}{
		{"unknown repo", reg.ref("nope:v1"), errdefs.ErrNotFound},
		{"unknown tag", reg.ref("app:v2"), errdefs.ErrNotFound},
		{"unknown digest", reg.ref("app@sha256:" + strings.Repeat("ab", 32)), errdefs.ErrNotFound},
		{"unreachable registry", closedAddr(t) + "/app:v1", errdefs.ErrUnavailable},
		{"bad reference", "UPPER/Case::x", errdefs.ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Pull(bg(), c.ref)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if repo := strings.SplitN(c.ref, ":", 2)[0]; !strings.Contains(err.Error(), repo) {
				t.Errorf("message %q does not name the image", err)
			}
			assertNoLeftovers(t, s)
		})
	}
}

func TestPullConcurrentSameImage(t *testing.T) {
	reg := startRegistry(t, nil)
	img := imageOf(t, "amd64",
		layerOf(t, file("one", strings.Repeat("1", 1<<20))),
		layerOf(t, file("two", strings.Repeat("2", 1<<20))))
	reg.push(t, "app:v1", img)
	layers := layerDigestsOf(t, img)
	s := newStore(t)

	const n = 4
	imgs := make([]*Image, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { imgs[i], errs[i] = s.Pull(bg(), reg.ref("app:v1")) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if imgs[i].Digest != imgs[0].Digest || imgs[i].Layers[1] != imgs[0].Layers[1] {
			t.Errorf("pull %d = %+v, pull 0 = %+v", i, imgs[i], imgs[0])
		}
	}
	reg.mu.Lock()
	for d := range layers {
		if c := reg.gets[d]; c != 1 {
			t.Errorf("layer %s downloaded %d times, want once", d, c)
		}
	}
	reg.mu.Unlock()
	if got := readFile(t, filepath.Join(imgs[0].Layers[1], "two")); len(got) != 1<<20 {
		t.Errorf("layer two holds %d bytes", len(got))
	}
}

func layerDigestsOf(t testing.TB, img v1.Image) map[string]bool {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out[d.String()] = true
	}
	return out
}

func TestPullCancelledLeavesNothing(t *testing.T) {
	img := imageOf(t, "amd64", layerOf(t, file("f", "x")))
	layers := layerDigestsOf(t, img)
	started := make(chan struct{})
	var once sync.Once
	reg := startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d, ok := blobDigest(r); ok && r.Method == http.MethodGet && layers[d] {
				once.Do(func() { close(started) })
				<-r.Context().Done()
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	reg.push(t, "app:v1", img)
	s := newStore(t)
	ctx, cancel := context.WithCancel(bg())
	defer cancel()
	go func() {
		<-started
		cancel()
	}()
	_, err := s.Pull(ctx, reg.ref("app:v1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertNoLeftovers(t, s)
	if _, err := s.Resolve(bg(), reg.ref("app:v1")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Resolve after a cancelled pull: %v", err)
	}
}
