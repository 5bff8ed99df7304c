package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// layerParallelism is how many layers of one image download and unpack at
// once: enough to hide registry latency, few enough for two cores.
const layerParallelism = 3

// addOptions tune addImage for where the image comes from.
type addOptions struct {
	// compressed reads layers as stored blobs, verified against their
	// digests, rather than through go-containerregistry's decompression.
	compressed bool
	report     func(Progress)
	// platform, if set, is what a single-platform image must be built for.
	platform *v1.Platform
	// download charges the layer blobs read to the budget's compressed
	// bytes (a pull's; an import's were charged as they were uploaded).
	download bool
}

// addImage brings every layer of img into the cache and records it under
// key.
func (s *Store) addImage(ctx context.Context, key string, img v1.Image, o addOptions) (*Image, error) {
	compressed, report := o.compressed, o.report
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	manifest, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if manifest.Config.Size > maxDocument {
		return nil, corruptf("config %s is %d bytes; image documents are read up to %d", manifest.Config.Digest, manifest.Config.Size, maxDocument)
	}
	rawConfig, err := s.rawConfig(img, manifest.Config.Digest)
	if err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, corruptf("config %s: %v", manifest.Config.Digest, err)
	}
	if p := o.platform; p != nil && cf.Architecture != "" && cf.Architecture != p.Architecture {
		return nil, fmt.Errorf("image is for %s/%s, not %s: %w", cf.OS, cf.Architecture, p, errdefs.ErrInvalidArgument)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	diffIDs := cf.RootFS.DiffIDs
	if len(diffIDs) != len(layers) {
		return nil, fmt.Errorf("manifest has %d layers, config %d diff IDs: %w", len(layers), len(diffIDs), errdefs.ErrInvalidArgument)
	}
	hexes := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if hexes[i], err = diffHex(d); err != nil {
			return nil, err
		}
	}
	b := budgetOf(ctx)
	if o.download && b != nil && b.limits.Compressed > 0 {
		// The sizes the manifest claims are checked before any download;
		// the bytes that arrive are counted as they do.
		var total int64
		for _, l := range manifest.Layers {
			total += l.Size
		}
		if total > b.limits.Compressed {
			return nil, b.compressedBy.refuse("the image's compressed data", b.limits.Compressed)
		}
	}
	s.hold(hexes)
	defer s.release(hexes)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(layerParallelism)
	for i, l := range layers {
		g.Go(func() error {
			src, err := sourceOf(l, diffIDs[i], compressed)
			if err != nil {
				return err
			}
			if o.download {
				src.open = charged(src.open, b)
			}
			p := Progress{Layer: src.digest.String(), Index: i, Count: len(layers), Total: src.size}
			if p.Layer == "" || !compressed {
				p.Layer = diffIDs[i].String()
			}
			cached, err := s.ensureLayer(gctx, src, func(n int64) {
				if report != nil {
					p.Done = n
					report(p)
				}
			})
			if err != nil {
				return fmt.Errorf("layer %s: %w", p.Layer, err)
			}
			if report != nil {
				p.Done, p.Cached, p.Complete = p.Total, cached, true
				report(p)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rec := &record{
		Ref:          key,
		Digest:       digestOf(rawManifest),
		ConfigDigest: manifest.Config.Digest.String(),
		Config:       configOf(cf),
		CreatedAt:    time.Now().UTC(),
	}
	for _, d := range diffIDs {
		rec.Layers = append(rec.Layers, d.String())
	}
	return s.commitImage(rec, rawManifest, rawConfig)
}

// commitImage writes an image's manifest and config blobs and its index
// entry, replacing what rec.Ref (an index key: nsKey of the namespace and
// the reference) named before, a newer pull of the same tag say; layers
// only the old one used are collected, unless a sandbox is pinned to it.
func (s *Store) commitImage(rec *record, rawManifest, rawConfig []byte) (*Image, error) {
	rec.Namespace, rec.Ref = splitKey(rec.Ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range [][]byte{rawManifest, rawConfig} {
		p := s.blobPath(digestOf(b))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := writeFileAtomic(p, b); err != nil {
			return nil, err
		}
	}
	key := nsKey(rec.Namespace, rec.Ref)
	old := s.idx.Images[key]
	if old != nil && old.Digest != rec.Digest {
		s.dropLocked(old)
	}
	s.idx.Images[key] = rec
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	if old != nil && old.Digest != rec.Digest {
		if err := s.gcLocked(); err != nil {
			return nil, err
		}
	}
	return s.imageLocked(rec)
}

// rawConfig returns img's config, from the cache when an image with the same
// config is there already, so that pulling a cached image again fetches no
// blob at all.
func (s *Store) rawConfig(img v1.Image, digest v1.Hash) ([]byte, error) {
	if b, err := os.ReadFile(s.blobPath(digest.String())); err == nil && digestOf(b) == digest.String() {
		return b, nil
	}
	b, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if got := digestOf(b); got != digest.String() {
		return nil, fmt.Errorf("config %s: content has digest %s: %w", digest, got, errdefs.ErrInvalidArgument)
	}
	return b, nil
}

func sourceOf(l v1.Layer, diffID v1.Hash, compressed bool) (layerSource, error) {
	src := layerSource{diffID: diffID, compressed: compressed}
	if !compressed {
		src.open = l.Uncompressed
		return src, nil
	}
	var err error
	if src.digest, err = l.Digest(); err != nil {
		return src, err
	}
	if src.size, err = l.Size(); err != nil {
		return src, err
	}
	src.open = l.Compressed
	return src, nil
}

// charged makes open's reader count what it reads against b's compressed
// bytes.
func charged(open func() (io.ReadCloser, error), b *budget) func() (io.ReadCloser, error) {
	if b == nil {
		return open
	}
	return func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{budgetReader{r: rc, b: b}, rc}, nil
	}
}

func configOf(cf *v1.ConfigFile) Config {
	c := cf.Config
	return Config{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User}
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// serialise makes progress reports from parallel layers arrive one at a time
// and stamps them with the image reference.
func serialise(ref string, fn func(Progress)) func(Progress) {
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		p.Ref = ref
		fn(p)
	}
}
