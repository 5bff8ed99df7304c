package image

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestPullBasicAuth(t *testing.T) {
	const user, pass = "alice", "s3cret"
	reg := startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"login"}]}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	reg.push(t, "private:v1", imageOf(t, "amd64", layerOf(t, file("secret", "x"))),
		remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	s := newStore(t)

	t.Run("without credentials", func(t *testing.T) {
		_, err := s.Pull(bg(), reg.ref("private:v1"))
		if !errors.Is(err, errdefs.ErrForbidden) || !strings.Contains(err.Error(), reg.ref("private:v1")) {
			t.Fatalf("err = %v, want ErrForbidden naming the image", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := s.Pull(bg(), reg.ref("private:v1"), WithBasicAuth(user, "nope"))
		if !errors.Is(err, errdefs.ErrForbidden) {
			t.Fatalf("err = %v, want ErrForbidden", err)
		}
	})
	t.Run("with credentials", func(t *testing.T) {
		img, err := s.Pull(bg(), reg.ref("private:v1"), WithBasicAuth(user, pass))
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, img.Layers[0]+"/secret"); got != "x" {
			t.Errorf("secret = %q", got)
		}
	})
}

// corruptingRegistry serves the blob with digest target through alter.
func corruptingRegistry(t *testing.T, target *string, alter func([]byte) []byte) *testRegistry {
	return startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, ok := blobDigest(r)
			if !ok || r.Method != http.MethodGet || d != *target {
				h.ServeHTTP(w, r)
				return
			}
			rec := &bufferWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			body := alter(rec.buf.Bytes())
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(http.StatusOK)
			w.Write(body)
		})
	})
}

type bufferWriter struct {
	header http.Header
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(int)             {}

func TestPullCorruptLayerLeavesNothing(t *testing.T) {
	requireRoot(t)
	payload := strings.Repeat("hutch layer payload ", 4096)
	good := layerOf(t, dir("d/"), file("d/f", payload), file("g", "g"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBytes(t, file("f", payload)))
	zw.Close()
	broken := gz.Bytes()
	for i := 20; i < 60; i++ {
		broken[i] ^= 0x5a // inside the deflate stream: a valid header, garbage after
	}
	badGzip := static.NewLayer(broken, types.DockerLayer)

	cases := []struct {
		name  string
		alter func([]byte) []byte
	}{
		{"bytes differ from digest", func(b []byte) []byte {
			c := bytes.Clone(b)
			c[len(c)/2] ^= 0xff
			return c
		}},
		{"truncated blob", func(b []byte) []byte { return b[:len(b)/2] }},
		{"corrupt gzip", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var target string
			reg := corruptingRegistry(t, &target, func(b []byte) []byte {
				if c.alter == nil {
					return b
				}
				return c.alter(b)
			})
			// The lower layer is good, so the failure is the upper one's alone
			// and the good layer may stay cached.
			bottom := layerOf(t, file("base", "ok"))
			top := good
			if c.alter == nil {
				top = badGzip
			}
			d, err := top.Digest()
			if err != nil {
				t.Fatal(err)
			}
			target = d.String()
			reg.push(t, "app:v1", imageOf(t, "amd64", bottom, top))
			s := newStore(t)

			_, err = s.Pull(bg(), reg.ref("app:v1"))
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), reg.ref("app:v1")) {
				t.Fatalf("err = %v, want ErrInvalidArgument naming the image", err)
			}
			t.Log(err)
			if _, err := s.Resolve(bg(), reg.ref("app:v1")); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("Resolve after a failed pull: %v", err)
			}
			topDiff, _ := top.DiffID()
			if _, ok := s.idx.Layers[topDiff.Hex]; ok {
				t.Error("the corrupt layer is in the index")
			}
			assertNoPartialLayers(t, s, topDiff.Hex)
		})
	}
}

// assertNoPartialLayers checks tmp/ is empty and no layer dir named hex
// exists.
func assertNoPartialLayers(t *testing.T, s *Store, hex string) {
	t.Helper()
	entries, err := readDirNames(s.tmpDir())
	if err != nil || len(entries) != 0 {
		t.Errorf("tmp/ holds %v (%v)", entries, err)
	}
	names, err := readDirNames(s.layersDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == hex {
			t.Errorf("layer dir %s exists", hex)
		}
		if _, ok := s.idx.Layers[n]; !ok {
			t.Errorf("layer dir %s is not in the index", n)
		}
	}
}
