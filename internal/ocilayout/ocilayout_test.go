package ocilayout

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// readTar returns every regular file of a tar stream by name, and the
// names in order.
func readTar(t *testing.T, b []byte) (map[string][]byte, []string) {
	t.Helper()
	files := map[string][]byte{}
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
		}
	}
}

// blobOf returns the blob d points at, checking its size and digest.
func blobOf(t *testing.T, files map[string][]byte, d Descriptor) []byte {
	t.Helper()
	b, ok := files[BlobPath(d.Digest)]
	if !ok {
		t.Fatalf("no blob %s in the layout", d.Digest)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: digest %s, %d bytes; descriptor says %d", d.Digest, got, len(b), d.Size)
	}
	return b
}

func TestWriteLayout(t *testing.T) {
	layer := []byte("a root filesystem tarball, as far as the layout cares")
	cfg := Config{User: "65532:65532", Entrypoint: []string{"/usr/local/bin/hutch"}, Cmd: []string{"serve"}, Env: []string{"PATH=/bin"}}
	var out bytes.Buffer
	err := Write(&out, Image{Ref: "hutch.local/hutch:test", Arch: "amd64", Config: cfg,
		Layer: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, out.Bytes())
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout = %q", files["oci-layout"])
	}
	var idx Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(idx.Manifests))
	}
	md := idx.Manifests[0]
	if md.MediaType != MediaManifest || md.Annotations["io.containerd.image.name"] != "hutch.local/hutch:test" ||
		md.Annotations["org.opencontainers.image.ref.name"] != "hutch.local/hutch:test" || md.Platform == nil || md.Platform.Architecture != "amd64" {
		t.Fatalf("manifest descriptor %+v", md)
	}
	var m Manifest
	if err := json.Unmarshal(blobOf(t, files, md), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaLayer || m.Config.MediaType != MediaConfig {
		t.Fatalf("manifest %+v", m)
	}
	if got := blobOf(t, files, m.Layers[0]); !bytes.Equal(got, layer) {
		t.Fatalf("layer = %q", got)
	}
	var cf ConfigFile
	if err := json.Unmarshal(blobOf(t, files, m.Config), &cf); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config, cfg) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Fatalf("config %+v", cf)
	}
	if !reflect.DeepEqual(cf.RootFS.DiffIDs, []string{m.Layers[0].Digest}) || cf.RootFS.Type != "layers" {
		t.Fatalf("rootfs %+v: the one uncompressed layer's diff id is its digest %s", cf.RootFS, m.Layers[0].Digest)
	}
}

func TestWriteRefusesLayerThatChanges(t *testing.T) {
	n := 0
	open := func() (io.ReadCloser, error) {
		n++
		return io.NopCloser(strings.NewReader(strings.Repeat("x", n))), nil
	}
	err := Write(io.Discard, Image{Ref: "r", Arch: "amd64", Layer: open})
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("err = %v, want the layer changed", err)
	}
}

func TestWriteRootfs(t *testing.T) {
	entries := []Entry{
		{Name: "tmp", Dir: true, Mode: 0o1777},
		{Name: "/usr/local/bin/hutch", Mode: 0o755, Data: []byte("binary")},
		{Name: "var/lib/hutch", Dir: true, Mode: 0o700, UID: 65532, GID: 65532},
		{Name: "bin/sh", Link: "busybox", Mode: 0o777},
	}
	var a, b bytes.Buffer
	if err := WriteRootfs(&a, entries); err != nil {
		t.Fatal(err)
	}
	if err := WriteRootfs(&b, entries); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same entries made two different layers")
	}
	files, names := readTar(t, a.Bytes())
	want := []string{"tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/hutch", "var/", "var/lib/", "var/lib/hutch/", "bin/", "bin/sh"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names = %q, want %q (parents first)", names, want)
	}
	if string(files["usr/local/bin/hutch"]) != "binary" {
		t.Fatalf("hutch = %q", files["usr/local/bin/hutch"])
	}
	tr := tar.NewReader(bytes.NewReader(a.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		switch h.Name {
		case "var/lib/hutch/":
			if h.Uid != 65532 || h.Mode != 0o700 {
				t.Errorf("%s: uid %d mode %o", h.Name, h.Uid, h.Mode)
			}
		case "tmp/":
			if h.Mode != 0o1777 {
				t.Errorf("tmp mode %o", h.Mode)
			}
		case "bin/sh":
			if h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
				t.Errorf("bin/sh: %+v", h)
			}
		}
		if h.ModTime.Unix() != 0 {
			t.Errorf("%s: mtime %v, want the epoch", h.Name, h.ModTime)
		}
	}
}

func TestWriteRootfsRefuses(t *testing.T) {
	for _, e := range [][]Entry{
		{{Name: "../etc/passwd", Data: []byte("x")}},
		{{Name: "/", Dir: true}},
		{{Name: "a/b", Data: []byte("x")}, {Name: "a", Dir: true}},
	} {
		if err := WriteRootfs(io.Discard, e); err == nil {
			t.Errorf("WriteRootfs(%+v) succeeded", e)
		}
	}
}
