package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Store is a content-addressed image cache in one directory:
//
//	index.json        normalised reference -> manifest digest, layers, config
//	blobs/sha256/<h>  manifests and configs, verified by digest
//	layers/<h>        one unpacked layer per diff ID (uncompressed digest),
//	                  shared by every image that has it; an overlayfs lower dir
//	tmp/              layers being unpacked; renamed into layers/ when whole
//	lock              flock held while the store is open
//
// Layer dirs are named by the bare hex digest because overlayfs splits its
// lowerdir option on ":". Compressed layer blobs are verified while they
// stream into the unpacker and are not kept: the unpacked dir is what a
// sandbox needs, and keeping both would double the disk used.
//
// A Store is safe for concurrent use; one process owns a directory at a time.
type Store struct {
	dir  string
	lock *os.File
	// registries carries every pull's connections through the egress
	// guard (see WithEgress).
	registries http.RoundTripper
	// shared is the host-wide cache seeded layers are linked from (see
	// WithShared); nil: none.
	shared *Shared
	// limits bound each import and pull (see WithLimits).
	limits Limits
	// log reports device nodes left out of layers and migrations.
	log *slog.Logger
	// pulled, when set, is told each Pull's duration and outcome (the
	// server's metrics; see WithPullObserver).
	pulled func(time.Duration, error)

	mu       sync.Mutex
	idx      *index
	holds    map[string]int     // layer hex -> pulls/imports using it, kept from GC
	inflight map[string]*flight // layer hex -> unpack under way
	// leases postpone every collection while a sandbox's image is being
	// resolved by someone else (see View.Lease); gcPending records that
	// one was postponed.
	leases    map[*Lease]struct{}
	gcPending bool
}

// index is the persistent state of a Store, rewritten whole on each change.
type index struct {
	Version int                    `json:"version"`
	Images  map[string]*record     `json:"images"` // by nsKey(namespace, ref)
	Layers  map[string]layerRecord `json:"layers"` // by hex of the diff ID
	// Pins are the manifest digests each owner (a sandbox) runs on, and
	// Pinned the records of those digests, kept with their layers after
	// their name moved on to another image or was removed (see pin.go).
	Pins   map[string][]string `json:"pins,omitempty"`
	Pinned map[string]*record  `json:"pinned,omitempty"`
}

type record struct {
	// Namespace is the organisation the image belongs to; "" is shared.
	Namespace    string    `json:"namespace,omitempty"`
	Ref          string    `json:"ref"`
	Digest       string    `json:"digest"`
	ConfigDigest string    `json:"configDigest"`
	Layers       []string  `json:"layers"` // diff IDs, lowest first
	Config       Config    `json:"config"`
	CreatedAt    time.Time `json:"createdAt"`
}

type layerRecord struct {
	Size int64 `json:"size"`
}

// indexVersion is the store's layout. Version 2 stores layer files in
// the storage id range with v3 file capabilities and no device nodes
// (see StorageIDBase); a version 1 store is migrated when opened.
const indexVersion = 2

// Open opens (creating if needed) the image store in dir. It takes an
// exclusive lock on dir, finishes what a crash may have left (half-unpacked
// layers, layers no image uses), migrates an older layout and returns the
// store; Close releases it. The store's directories are root's alone
// (0700): nothing below them is meant for another host user.
func Open(dir string, opts ...OpenOption) (*Store, error) {
	s := &Store{holds: map[string]int{}, inflight: map[string]*flight{}, leases: map[*Lease]struct{}{}}
	for _, o := range append([]OpenOption{WithEgress(nil), WithLogger(slog.Default())}, opts...) {
		o(s)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("image store %s: %w", dir, err)
	}
	s.dir = abs
	if err := privateDirs(s.dir, s.layersDir(), filepath.Join(s.dir, "blobs"), filepath.Join(s.dir, "blobs", "sha256")); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := s.takeLock(); err != nil {
		return nil, err
	}
	// tmp holds nothing worth keeping: whatever is there was interrupted.
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		s.Close()
		return nil, fmt.Errorf("image store: clean tmp: %w", err)
	}
	if err := os.Mkdir(s.tmpDir(), 0o700); err != nil {
		s.Close()
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// WithLogger is where a store reports what it leaves out of a layer and
// what it migrates; slog.Default() otherwise.
func WithLogger(l *slog.Logger) OpenOption {
	return func(s *Store) { s.log = l.With("component", "image") }
}

// privateDirs makes each dir (and missing parents) and sets it to 0700,
// as an older layout may have left it 0755.
func privateDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// takeLock makes a second process opening the same dir fail fast instead of
// garbage-collecting layers the first one is unpacking.
func (s *Store) takeLock() error {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("image store %s is in use by another process: %w", s.dir, errdefs.ErrUnavailable)
	}
	s.lock = f
	return nil
}

// Close releases the store's directory lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) layersDir() string { return filepath.Join(s.dir, "layers") }
func (s *Store) tmpDir() string    { return filepath.Join(s.dir, "tmp") }
func (s *Store) indexPath() string { return filepath.Join(s.dir, "index.json") }

func (s *Store) layerPath(hex string) string { return filepath.Join(s.layersDir(), hex) }

func (s *Store) blobPath(digest string) string {
	return filepath.Join(s.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// load reads the index and reconciles it with the layer dirs on disk.
func (s *Store) load() error {
	s.idx = &index{Version: indexVersion, Images: map[string]*record{}, Layers: map[string]layerRecord{},
		Pins: map[string][]string{}, Pinned: map[string]*record{}}
	b, err := os.ReadFile(s.indexPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("image store: %w", err)
	default:
		if err := json.Unmarshal(b, s.idx); err != nil {
			return fmt.Errorf("image store: %s: %w", s.indexPath(), err)
		}
		s.idx.Pins, s.idx.Pinned = orEmpty(s.idx.Pins), orEmpty(s.idx.Pinned)
	}
	for hex := range s.idx.Layers {
		if _, err := os.Lstat(s.layerPath(hex)); err != nil {
			delete(s.idx.Layers, hex)
		}
	}
	entries, err := os.ReadDir(s.layersDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	for _, e := range entries {
		if _, ok := s.idx.Layers[e.Name()]; !ok {
			if err := s.removeLayerDir(e.Name()); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.gcLocked(); err != nil {
		return err
	}
	return s.migrateLocked()
}

// migrateLocked brings the layers of an older layout to this one.
func (s *Store) migrateLocked() error {
	if s.idx.Version >= indexVersion {
		return nil
	}
	for hex := range s.idx.Layers {
		err := migrateLayer(s.layerPath(hex), func(p string) {
			s.log.Warn("image layer: device node removed (sandboxes get their own /dev)", "path", p)
		})
		if err != nil {
			return fmt.Errorf("image store: migrate layer sha256:%s: %w", hex, err)
		}
	}
	s.log.Info("image store migrated: layer files now belong to the storage id range", "from", s.idx.Version,
		"to", indexVersion, "layers", len(s.idx.Layers))
	s.idx.Version = indexVersion
	return s.saveLocked()
}

// saveLocked writes the index atomically: a crash leaves the old or the new
// index, never a torn one.
func (s *Store) saveLocked() error {
	b, err := json.MarshalIndent(s.idx, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.indexPath(), b); err != nil {
		return fmt.Errorf("image store: save index: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Resolve returns a cached image of the shared namespace without touching
// the network. An unqualified name is looked up as a local image first,
// then on Docker Hub (see Normalize). "sha256:<hex>" finds a shared image
// by manifest digest, or any image a sandbox is pinned to (Pin): that is
// how a runtime is handed exactly the image the image door resolved for
// a sandbox of any organisation.
func (s *Store) Resolve(ctx context.Context, ref string) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupLocked([]string{""}, ref, true)
	if err != nil {
		return nil, err
	}
	return s.imageLocked(rec)
}

// List returns the shared images, ordered by reference.
func (s *Store) List(ctx context.Context) ([]*Image, error) { return s.In("").List(ctx) }

func (s *Store) sortedKeysLocked() []string {
	keys := make([]string, 0, len(s.idx.Images))
	for k := range s.idx.Images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imageLocked turns a record into an Image, checking that its layers are
// still on disk so a damaged cache is reported here rather than as a failed
// overlay mount.
func (s *Store) imageLocked(rec *record) (*Image, error) {
	img := &Image{Ref: rec.Ref, Namespace: rec.Namespace, Digest: rec.Digest, Config: rec.Config, CreatedAt: rec.CreatedAt}
	img.Config = cloneConfig(rec.Config)
	for _, d := range rec.Layers {
		hex := strings.TrimPrefix(d, "sha256:")
		l, ok := s.idx.Layers[hex]
		if !ok {
			return nil, fmt.Errorf("image %s: layer %s is missing from the cache, pull or import it again: %w",
				rec.Ref, d, errdefs.ErrNotFound)
		}
		img.Layers = append(img.Layers, s.layerPath(hex))
		img.Size += l.Size
	}
	return img, nil
}

func cloneConfig(c Config) Config {
	c.Entrypoint = append([]string(nil), c.Entrypoint...)
	c.Cmd = append([]string(nil), c.Cmd...)
	c.Env = append([]string(nil), c.Env...)
	return c
}
