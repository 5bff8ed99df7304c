package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// defaultPath is the PATH a rootfs image gets when its config sets none,
// the one Docker gives containers.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ImportRootfs turns a plain rootfs tarball (as debootstrap or `tar -C root
// -c .` makes; gzip or zstd compressed or not) into a one-layer image named
// ref, so base images can be built without any registry. cfg is its config;
// a PATH is added to Env when it has none, and Cmd defaults to /bin/sh.
func (s *Store) ImportRootfs(ctx context.Context, tarPath, ref string, cfg Config) (*Image, error) {
	key, err := storeKey(ref)
	if err != nil {
		return nil, err
	}
	img, err := s.importRootfs(ctx, tarPath, key, cfg, nil, nil)
	if err != nil {
		return nil, classify("import rootfs", fmt.Sprintf("%s from %s", key, tarPath), err)
	}
	return img, nil
}

// importRootfs unpacks the tarball's one layer and records key's image
// of it. progress (if set) receives the bytes read; done (if set) is
// told what the layer unpacked to, while the layer is still held from GC.
func (s *Store) importRootfs(ctx context.Context, tarPath, key string, cfg Config, progress func(int64), done func(*unpacked)) (*Image, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, notFoundIfMissing(err)
	}
	defer f.Close()
	src := layerSource{compressed: true, open: func() (io.ReadCloser, error) { return io.NopCloser(f), nil }}
	u, err := s.unpackLayer(ctx, src, progress)
	if err != nil {
		return nil, err
	}
	hex := u.diffID.Hex
	s.hold([]string{hex})
	defer s.release([]string{hex})
	s.mu.Lock()
	err = s.commitLayerLocked(u)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	img, err := s.commitRootfsImage(key, u.diffID, u.tarSize, cfg)
	if err == nil && done != nil {
		done(u)
	}
	return img, err
}

// commitRootfsImage records key as the one-layer image of diffID (a
// layer the caller holds), with config cfg.
func (s *Store) commitRootfsImage(key string, diffID v1.Hash, tarSize int64, cfg Config) (*Image, error) {
	cfg = cloneConfig(cfg)
	if !slices.ContainsFunc(cfg.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		cfg.Env = append([]string{defaultPath}, cfg.Env...)
	}
	if len(cfg.Cmd) == 0 && len(cfg.Entrypoint) == 0 {
		cfg.Cmd = []string{"/bin/sh"}
	}
	now := time.Now().UTC()
	cf := v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: now},
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		Config: v1.Config{
			Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env,
			WorkingDir: cfg.WorkingDir, User: cfg.User,
		},
	}
	rawConfig, err := json.Marshal(cf)
	if err != nil {
		return nil, err
	}
	configDigest, err := v1.NewHash(digestOf(rawConfig))
	if err != nil {
		return nil, err
	}
	// The manifest describes the layer as the uncompressed tar it was made
	// from, which is a valid OCI blob even though only its unpacked form
	// is kept.
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(rawConfig)), Digest: configDigest},
		Layers:        []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: tarSize, Digest: diffID}},
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	rec := &record{
		Ref:          key,
		Digest:       digestOf(rawManifest),
		ConfigDigest: configDigest.String(),
		Layers:       []string{diffID.String()},
		Config:       configOf(&cf),
		CreatedAt:    now,
	}
	return s.commitImage(rec, rawManifest, rawConfig)
}
