package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hutchdev/hutch/internal/ocilayout"
)

// TestBuildRootfs: a sandbox image built from a root filesystem tarball
// names its reference in the index and carries the tarball unchanged as
// its one layer, with a PATH for the sandbox's commands.
func TestBuildRootfs(t *testing.T) {
	dir := t.TempDir()
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/os-release", Mode: 0o644, Size: 3})
	_, _ = tw.Write([]byte("hi\n"))
	_ = tw.Close()
	in := filepath.Join(dir, "python.tar")
	if err := os.WriteFile(in, rootfs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.tar")
	if err := buildRootfs(in, "hutch.local/hutch-python:t", out, "amd64"); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var index ocilayout.Index
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 ||
		index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "hutch.local/hutch-python:t" {
		t.Fatalf("index %s (%v)", files["index.json"], err)
	}
	var m ocilayout.Manifest
	if err := json.Unmarshal(files[ocilayout.BlobPath(index.Manifests[0].Digest)], &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("manifest: %v", err)
	}
	sum := sha256.Sum256(rootfs.Bytes())
	if m.Layers[0].Digest != "sha256:"+hex.EncodeToString(sum[:]) || !bytes.Equal(files[ocilayout.BlobPath(m.Layers[0].Digest)], rootfs.Bytes()) {
		t.Fatalf("layer %s is not the root filesystem tarball", m.Layers[0].Digest)
	}
	var cf ocilayout.ConfigFile
	if err := json.Unmarshal(files[ocilayout.BlobPath(m.Config.Digest)], &cf); err != nil || len(cf.Config.Env) != 1 || cf.Config.Env[0][:5] != "PATH=" {
		t.Fatalf("config %+v (%v)", cf.Config, err)
	}
	if err := buildRootfs(filepath.Join(dir, "absent.tar"), "r", filepath.Join(dir, "o.tar"), "amd64"); err == nil {
		t.Fatal("an absent root filesystem built an image")
	}
}
