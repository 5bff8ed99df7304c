package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Remove drops ref from the cache and deletes the layers and blobs no other
// image uses. It does not know about sandboxes: the caller checks that no
// sandbox runs on the image first. ref is looked up as Resolve does.
func (s *Store) Remove(ctx context.Context, ref string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, err := s.findKeyLocked(ref)
	if err != nil {
		return err
	}
	delete(s.idx.Images, key)
	if err := s.saveLocked(); err != nil {
		return fmt.Errorf("remove image %s: %w", key, err)
	}
	if err := s.gcLocked(); err != nil {
		return fmt.Errorf("remove image %s: %w", key, err)
	}
	return nil
}

// findKeyLocked is the index key ref names: a local image, a registry
// image, or for "sha256:<hex>" the first image (by key) with that manifest
// digest.
func (s *Store) findKeyLocked(ref string) (string, error) {
	if strings.HasPrefix(ref, "sha256:") {
		for _, k := range s.sortedKeysLocked() {
			if s.idx.Images[k].Digest == ref {
				return k, nil
			}
		}
		return "", fmt.Errorf("image %s: %w", ref, errdefs.ErrNotFound)
	}
	keys, err := lookupKeys(ref)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if _, ok := s.idx.Images[k]; ok {
			return k, nil
		}
	}
	return "", fmt.Errorf("image %s (%s): %w", ref, keys[len(keys)-1], errdefs.ErrNotFound)
}

// gcLocked deletes layers and blobs that no image refers to and no pull or
// import in progress holds.
func (s *Store) gcLocked() error {
	usedLayers := map[string]bool{}
	usedBlobs := map[string]bool{}
	for _, rec := range s.idx.Images {
		for _, d := range rec.Layers {
			usedLayers[strings.TrimPrefix(d, "sha256:")] = true
		}
		usedBlobs[strings.TrimPrefix(rec.Digest, "sha256:")] = true
		usedBlobs[strings.TrimPrefix(rec.ConfigDigest, "sha256:")] = true
	}
	changed := false
	var errs []error
	for hex := range s.idx.Layers {
		if usedLayers[hex] || s.holds[hex] > 0 || s.inflight[hex] != nil {
			continue
		}
		if err := s.removeLayerDir(hex); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.idx.Layers, hex)
		changed = true
	}
	if changed {
		errs = append(errs, s.saveLocked())
	}
	blobs, err := os.ReadDir(filepath.Join(s.dir, "blobs", "sha256"))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, b := range blobs {
		if !usedBlobs[b.Name()] {
			if err := os.Remove(filepath.Join(s.dir, "blobs", "sha256", b.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeLayerDir moves a layer dir out of layers/ before deleting it, so a
// layer dir is either whole or absent even if the removal is interrupted.
func (s *Store) removeLayerDir(hex string) error {
	trash, err := os.MkdirTemp(s.tmpDir(), "rm-")
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", hex, err)
	}
	if err := os.Rename(s.layerPath(hex), filepath.Join(trash, "layer")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(trash)
		return fmt.Errorf("remove layer %s: %w", hex, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove layer %s: %w", hex, err)
	}
	return nil
}
