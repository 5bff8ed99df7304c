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

// Remove drops ref from the shared namespace and deletes the layers and
// blobs nothing else uses (see View.Remove).
func (s *Store) Remove(ctx context.Context, ref string) error { return s.In("").Remove(ctx, ref) }

// lookupLocked finds the record ref names in the first of namespaces
// that has one: a local image, a registry image, or for "sha256:<hex>"
// the first image (by key) with that manifest digest. pinned extends a
// digest's search to the records sandboxes are pinned to.
func (s *Store) lookupLocked(namespaces []string, ref string, pinned bool) (*record, error) {
	if strings.HasPrefix(ref, "sha256:") {
		keys := s.sortedKeysLocked()
		for _, ns := range namespaces {
			for _, k := range keys {
				if rec := s.idx.Images[k]; rec.Namespace == ns && rec.Digest == ref {
					return rec, nil
				}
			}
		}
		if rec := s.idx.Pinned[ref]; pinned && rec != nil {
			return rec, nil
		}
		return nil, fmt.Errorf("image %s: %w", ref, errdefs.ErrNotFound)
	}
	keys, err := lookupKeys(ref)
	if err != nil {
		return nil, err
	}
	for _, ns := range namespaces {
		for _, k := range keys {
			if rec, ok := s.idx.Images[nsKey(ns, k)]; ok {
				return rec, nil
			}
		}
	}
	return nil, fmt.Errorf("image %s (%s): %w", ref, keys[len(keys)-1], errdefs.ErrNotFound)
}

// dropLocked takes rec out of the index. Its layers go with the next
// collection unless a pin keeps them; while a lease is open, rec is
// remembered by the lease (see Lease).
func (s *Store) dropLocked(rec *record) {
	delete(s.idx.Images, nsKey(rec.Namespace, rec.Ref))
	for l := range s.leases {
		l.left = append(l.left, rec)
	}
}

// gcLocked deletes layers and blobs that no image and no pinned image
// refers to and no pull or import in progress holds. While a lease is
// open nothing is deleted: the collection waits for the last lease.
func (s *Store) gcLocked() error {
	if len(s.leases) > 0 {
		s.gcPending = true
		return nil
	}
	s.gcPending = false
	usedLayers := map[string]bool{}
	usedBlobs := map[string]bool{}
	for _, rec := range s.allRecordsLocked() {
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
