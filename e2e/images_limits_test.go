package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// TestImageImportLimits uploads hostile archives to a real server whose
// imports may unpack 8 MB: a zstd bomb is a 400 naming the setting, an OCI
// layout whose index.json is a symlink to a host file is a 400 that shows
// nothing of the file, neither leaves anything in the image store's tmp/,
// and an ordinary import still works.
func TestImageImportLimits(t *testing.T) {
	s := startServer(t, "", "--image-max-unpacked-mb", "8")

	var bomb bytes.Buffer
	zw, err := zstd.NewWriter(&bomb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeroes{}, 256<<20); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	_, err = s.c.ImportImage(ctx(t), &bomb, client.ImportOptions{Name: "bomb"}, nil)
	wantAPIError(t, "a zstd bomb", err, 400, api.CodeInvalidArgument)
	if msg := err.Error(); !strings.Contains(msg, "--image-max-unpacked-mb") || strings.Contains(msg, s.dataDir) {
		t.Errorf("the bomb's refusal says %q, want the setting named and no path of the server", msg)
	}

	var layout bytes.Buffer
	tw := tar.NewWriter(&layout)
	for _, h := range []*tar.Header{
		{Name: "oci-layout", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(`{"imageLayoutVersion":"1.0.0"}`))},
		{Name: "index.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow", Mode: 0o777},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(`{"imageLayoutVersion":"1.0.0"}`))
		}
	}
	tw.Close()
	_, err = s.c.ImportImage(ctx(t), &layout, client.ImportOptions{Name: "sneaky"}, nil)
	wantAPIError(t, "a layout whose index.json is a symlink", err, 400, api.CodeInvalidArgument)
	if msg := err.Error(); strings.Contains(msg, "shadow") || strings.Contains(msg, "root:") || strings.Contains(msg, s.dataDir) {
		t.Errorf("the layout's refusal says %q, which shows the host", msg)
	}

	// The spools of both imports are gone (the base images the server
	// seeds meanwhile unpack into tmp/ too, as layer-*).
	tmp, err := os.ReadDir(filepath.Join(s.dataDir, "images", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tmp {
		if strings.HasPrefix(e.Name(), "import-") || strings.HasPrefix(e.Name(), "layout-") {
			t.Errorf("the image store's tmp/ holds %s after the refusals", e.Name())
		}
	}

	var rootfs bytes.Buffer
	tw = tar.NewWriter(&rootfs)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("hi\n"))
	tw.Close()
	if img, err := s.c.ImportImage(ctx(t), &rootfs, client.ImportOptions{Name: "small", Rootfs: true}, nil); err != nil || img.Ref != "small:latest" {
		t.Fatalf("an import within the limits: %+v, %v", img, err)
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestImageImportOrgQuota: on a server whose imports may unpack 64 MB,
// an organisation whose quota allows 4 MB is refused an import of an
// 8 MB file with a 400 naming the quota, and another organisation
// imports the same archive.
func TestImageImportOrgQuota(t *testing.T) {
	s := startServer(t, "", "--image-max-unpacked-mb", "64")
	orgClient := func(name string) (api.Organization, *client.Client) {
		var org api.Organization
		r := call(t, s, "POST", s.url+"/v1/organizations", `{"name":"`+name+`"}`, s.key, "")
		if r.status != 201 || json.Unmarshal([]byte(r.body), &org) != nil {
			t.Fatalf("create organisation: %d %s", r.status, r.body)
		}
		c, err := client.New(s.url, org.APIKey)
		if err != nil {
			t.Fatal(err)
		}
		return org, c
	}
	small, smallC := orgClient("small")
	_, otherC := orgClient("other")
	if r := call(t, s, "PUT", s.url+"/v1/organizations/"+small.ID+"/quotas", `{"imageMaxUnpackedMB": -1}`, s.key, ""); r.status != 400 || !strings.Contains(r.body, "imageMaxUnpackedMB") {
		t.Fatalf("a negative image quota: %d %s", r.status, r.body)
	}
	if r := call(t, s, "PUT", s.url+"/v1/organizations/"+small.ID+"/quotas", `{"imageMaxUnpackedMB": 4}`, s.key, ""); r.status != 200 {
		t.Fatalf("set the image quota: %d %s", r.status, r.body)
	}

	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 8 << 20})
	tw.Write(make([]byte, 8<<20))
	tw.Close()

	_, err := smallC.ImportImage(ctx(t), bytes.NewReader(rootfs.Bytes()), client.ImportOptions{Name: "big", Rootfs: true}, nil)
	wantAPIError(t, "an import past the organisation's quota", err, 400, api.CodeInvalidArgument)
	if msg := err.Error(); !strings.Contains(msg, "quota.imageMaxUnpackedMB") || strings.Contains(msg, "--image-max-unpacked-mb") {
		t.Errorf("the refusal says %q, want the organisation's quota named, not the server's flag", msg)
	}
	if img, err := otherC.ImportImage(ctx(t), bytes.NewReader(rootfs.Bytes()), client.ImportOptions{Name: "big", Rootfs: true}, nil); err != nil || img.Ref != "big:latest" {
		t.Fatalf("another organisation's import: %+v, %v", img, err)
	}
}
