package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Shared is a host-wide cache of the seeded base images' unpacked layers,
// which the image stores of several data dirs link from:
//
//	layers/<hex>       one unpacked layer (as in a Store), renamed in whole
//	seeds/<key>.json   what a rootfs tarball unpacks to, keyed by the
//	                   tarball's device, inode, size and mtime
//	tmp/               trees being linked in; anything here was interrupted
//
// A store takes a layer by hard-linking its every file into its own
// layers/ (directories are made anew, with their owners, modes, times and
// xattrs), so the second data dir on a host, or a data dir started again
// from scratch, spends a tree walk instead of an unpack, no file's bytes
// are copied, and a store keeps working when the shared cache is deleted.
// Several servers may use one Shared at once: every entry appears by a
// rename, and two servers racing to add the same layer keep the first.
// Nothing collects its layers; it holds only what seeding put there, and
// removing the directory is always safe.
type Shared struct {
	dir string
}

// OpenShared opens (creating if needed) the shared cache in dir, root's
// alone (0700). A cache of an older layout (sharedVersion) is emptied
// first: its layers may hold what a store no longer keeps (host-root
// setuid files, device nodes), and emptying it is always safe.
func OpenShared(dir string) (*Shared, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("shared image cache %s: %w", dir, err)
	}
	sh := &Shared{dir: abs}
	if err := privateDirs(abs, sh.tmpDir()); err != nil {
		return nil, fmt.Errorf("shared image cache: %w", err)
	}
	if err := sh.checkVersion(); err != nil {
		return nil, fmt.Errorf("shared image cache: %w", err)
	}
	if err := privateDirs(sh.layersDir(), sh.seedsDir()); err != nil {
		return nil, fmt.Errorf("shared image cache: %w", err)
	}
	return sh, nil
}

// sharedVersion is the shared cache's layout, the store's (indexVersion).
const sharedVersion = "2"

// checkVersion empties a cache whose layout is not sharedVersion: its
// layers and seeds are moved under tmp/ (a rename, so another server
// sees all of them or none) and removed.
func (sh *Shared) checkVersion() error {
	path := filepath.Join(sh.dir, "version")
	if b, err := os.ReadFile(path); err == nil && string(b) == sharedVersion && sh.layersShifted() {
		return nil
	}
	for _, d := range []string{sh.layersDir(), sh.seedsDir()} {
		old, err := os.MkdirTemp(sh.tmpDir(), "old-")
		if err != nil {
			return err
		}
		if err := os.Rename(d, filepath.Join(old, filepath.Base(d))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.RemoveAll(old); err != nil {
			return err
		}
	}
	return writeFileAtomic(path, []byte(sharedVersion))
}

// layersShifted tells whether every layer in the cache belongs to the
// storage id range. A layer owned by host root was unpacked by a build
// that wrote the current version before it shifted ids; such a cache is
// emptied like one of an older layout.
func (sh *Shared) layersShifted() bool {
	entries, err := os.ReadDir(sh.layersDir())
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid < StorageIDBase {
			return false
		}
	}
	return true
}

// Dir is the shared cache's directory.
func (sh *Shared) Dir() string { return sh.dir }

func (sh *Shared) layersDir() string           { return filepath.Join(sh.dir, "layers") }
func (sh *Shared) seedsDir() string            { return filepath.Join(sh.dir, "seeds") }
func (sh *Shared) tmpDir() string              { return filepath.Join(sh.dir, "tmp") }
func (sh *Shared) layerPath(hex string) string { return filepath.Join(sh.layersDir(), hex) }

// WithShared makes a store take seeded layers from sh, and publish there
// the ones it unpacks itself (see SeedRootfs).
func WithShared(sh *Shared) OpenOption { return func(s *Store) { s.shared = sh } }

// seedRecord is what a rootfs tarball unpacks to.
type seedRecord struct {
	DiffID  string `json:"diffID"`
	TarSize int64  `json:"tarSize"`
}

// seedKey names a tarball by what changes when it is rebuilt: a new file
// (inode), new content (size, mtime), or another file system.
func seedKey(fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	id := fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
	return fmt.Sprintf("%x", sha256.Sum256([]byte(id))), true
}

// seed returns the layer a tarball unpacked to, if the cache holds it.
func (sh *Shared) seed(fi fs.FileInfo) (v1.Hash, int64, bool) {
	key, ok := seedKey(fi)
	if !ok {
		return v1.Hash{}, 0, false
	}
	b, err := os.ReadFile(filepath.Join(sh.seedsDir(), key+".json"))
	if err != nil {
		return v1.Hash{}, 0, false
	}
	var rec seedRecord
	if json.Unmarshal(b, &rec) != nil {
		return v1.Hash{}, 0, false
	}
	h, err := v1.NewHash(rec.DiffID)
	if err != nil {
		return v1.Hash{}, 0, false
	}
	if _, err := diffHex(h); err != nil {
		return v1.Hash{}, 0, false
	}
	if fi, err := os.Lstat(sh.layerPath(h.Hex)); err != nil || !fi.IsDir() {
		return v1.Hash{}, 0, false
	}
	return h, rec.TarSize, true
}

// publish links the store's layer hex into the cache and records that the
// tarball fi unpacks to it.
func (sh *Shared) publish(fi fs.FileInfo, storeLayer string, diffID v1.Hash, tarSize int64) error {
	key, ok := seedKey(fi)
	if !ok {
		return nil
	}
	if _, err := os.Lstat(sh.layerPath(diffID.Hex)); errors.Is(err, fs.ErrNotExist) {
		tmp, err := os.MkdirTemp(sh.tmpDir(), "layer-")
		if err != nil {
			return err
		}
		if _, err := linkTree(storeLayer, tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := os.Rename(tmp, sh.layerPath(diffID.Hex)); err != nil {
			os.RemoveAll(tmp)
			if !errors.Is(err, fs.ErrExist) && !errors.Is(err, errNotEmpty) {
				return err
			}
			// Another server published it first.
		}
	} else if err != nil {
		return err
	}
	b, err := json.Marshal(seedRecord{DiffID: diffID.String(), TarSize: tarSize})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(sh.seedsDir(), key+".json"), b)
}

// SeedRootfs makes ref the one-layer image of the rootfs tarball at
// tarPath, as ImportRootfs does, but through the store's shared cache when
// it has one: a tarball some server on this host unpacked before is
// linked from there (fromCache), and one unpacked here is published there
// for the next. progress, when set, receives the bytes of the tarball read
// so far.
func (s *Store) SeedRootfs(ctx context.Context, tarPath, ref string, cfg Config, progress func(int64)) (img *Image, fromCache bool, err error) {
	key, err := storeKey(ref)
	if err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(tarPath)
	if err != nil {
		return nil, false, classify("seed", tarPath, notFoundIfMissing(err))
	}
	if s.shared != nil {
		if diffID, tarSize, ok := s.shared.seed(fi); ok {
			img, err := s.linkRootfs(ctx, key, diffID, tarSize, cfg)
			if err == nil {
				return img, true, nil
			}
			// A damaged cache entry: unpack as if it were not there.
		}
	}
	var u *unpacked
	img, err = s.importRootfs(ctx, tarPath, key, cfg, progress, func(got *unpacked) { u = got })
	if err != nil {
		return nil, false, classify("import rootfs", fmt.Sprintf("%s from %s", key, tarPath), err)
	}
	if s.shared != nil && u != nil {
		if err := s.publishHeld(fi, u); err != nil {
			return img, false, fmt.Errorf("%w: %w", ErrNotShared, err)
		}
	}
	return img, false, nil
}

// ErrNotShared reports a seed that was imported but could not be added to
// the shared cache: the image is usable, the next data dir unpacks again.
var ErrNotShared = errors.New("imported, but not added to the shared image cache")

// publishHeld publishes the store's layer of u while holding it from GC.
func (s *Store) publishHeld(fi fs.FileInfo, u *unpacked) error {
	hex := u.diffID.Hex
	s.hold([]string{hex})
	defer s.release([]string{hex})
	s.mu.Lock()
	_, ok := s.idx.Layers[hex]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	return s.shared.publish(fi, s.layerPath(hex), u.diffID, u.tarSize)
}

// linkRootfs records the image of a seed whose layer is in the shared
// cache, linking the layer in unless the store has it already.
func (s *Store) linkRootfs(ctx context.Context, key string, diffID v1.Hash, tarSize int64, cfg Config) (*Image, error) {
	hex := diffID.Hex
	s.hold([]string{hex})
	defer s.release([]string{hex})
	s.mu.Lock()
	_, have := s.idx.Layers[hex]
	s.mu.Unlock()
	if !have {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(s.tmpDir(), "layer-")
		if err != nil {
			return nil, err
		}
		size, err := linkTree(s.shared.layerPath(hex), dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.mu.Lock()
		err = s.commitLayerLocked(&unpacked{dir: dir, diffID: diffID, size: size, tarSize: tarSize})
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return s.commitRootfsImage(key, diffID, tarSize, cfg)
}
