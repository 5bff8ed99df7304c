package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// idRange is a sandbox's block of host uids and gids: ids 0..Size-1 inside
// the sandbox are Base.. on the host.
type idRange struct {
	Base uint32 `json:"base"`
	Size uint32 `json:"size"`
}

func (r idRange) mapping() specs.LinuxIDMapping {
	return specs.LinuxIDMapping{ContainerID: 0, HostID: r.Base, Size: r.Size}
}

// hostID is the host id of id inside the sandbox; ids the range does not
// hold become the sandbox's nobody (65534), as the kernel shows them.
func (r idRange) hostID(id int) int {
	if id < 0 || id >= int(r.Size) {
		id = nobodyID
	}
	return int(r.Base) + id
}

// sandboxID is the id inside the sandbox of host id, ok false when the
// range does not hold it.
func (r idRange) sandboxID(id uint32) (uint32, bool) {
	if id < r.Base || id-r.Base >= r.Size {
		return 0, false
	}
	return id - r.Base, true
}

const nobodyID = 65534

// Sandbox id ranges: every sandbox gets rangeSize host ids of its own,
// slot n being rangeFirst+n*rangeSize, from rangeFirst up to the image
// cache's storage range (image.StorageIDBase). No host user has ids up
// there (regular users, systemd's dynamic users and nspawn's ranges are
// all below), and the ranges of one sandbox own nothing of another's.
const (
	rangeSize  = 65536
	rangeFirst = 1 << 30
	rangeSlots = (image.StorageIDBase - rangeFirst) / rangeSize
)

// DefaultIDRangesDir is the host-wide registry of the ranges handed out:
// one file per slot naming the sandbox dir that holds it. It is shared by
// every server of a host (like the image cache), so two data dirs never
// hand out the same range, and it persists, like the stopped sandboxes
// whose files are owned by their range.
const DefaultIDRangesDir = "/var/lib/hutch/id-ranges"

// idRanges claims and releases sandbox id ranges in the registry, and
// keeps the user namespaces that map the image cache's storage range onto
// each range, for idmapped mounts.
type idRanges struct {
	dir        string
	initBinary string

	mu     sync.Mutex
	held   map[uint32]string   // bases this driver claimed -> owner
	ns     map[uint32]*os.File // user namespace storage -> base, by base
	closed bool
}

func newIDRanges(dir, initBinary string) (*idRanges, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("id range registry: %w", err)
	}
	return &idRanges{dir: dir, initBinary: initBinary, held: map[uint32]string{}, ns: map[uint32]*os.File{}}, nil
}

// claim hands owner (a sandbox dir) the lowest free range. A claim whose
// owner is gone (its dir removed without a delete, as a test's temp dir
// is) or now holds another range is free again.
func (a *idRanges) claim(owner string) (idRange, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.lock()
	if err != nil {
		return idRange{}, err
	}
	defer unlock()
	for slot := uint32(0); slot < rangeSlots; slot++ {
		r := idRange{Base: rangeFirst + slot*rangeSize, Size: rangeSize}
		if _, ok := a.held[r.Base]; ok {
			continue
		}
		path := a.path(r)
		for try := 0; try < 2; try++ {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				if try == 0 && a.stale(path, r) {
					if err := os.Remove(path); err != nil {
						return idRange{}, fmt.Errorf("id range registry: %w", err)
					}
					continue
				}
				break
			}
			if err != nil {
				return idRange{}, fmt.Errorf("id range registry: %w", err)
			}
			_, err = f.WriteString(owner)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path)
				return idRange{}, fmt.Errorf("id range registry: %w", err)
			}
			a.held[r.Base] = owner
			go a.warm(slot + 1)
			return r, nil
		}
	}
	return idRange{}, fmt.Errorf("all %d sandbox uid ranges are in use: %w", rangeSlots, errdefs.ErrUnavailable)
}

// stale reports whether the claim at path no longer holds r: its owner
// dir is gone, or its record names another range. A dir without a record
// is a create under way (or cut short, which its delete ends).
func (a *idRanges) stale(path string, r idRange) bool {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return err == nil // written under the lock: empty only after a crash
	}
	owner := string(b)
	if _, err := os.Stat(owner); errors.Is(err, fs.ErrNotExist) {
		return true
	}
	rec, err := loadRecord(filepath.Join(owner, "sandbox.json"))
	if err != nil {
		return false
	}
	return rec.IDs == nil || *rec.IDs != r
}

// release frees r if owner holds it: called once owner's dir is gone.
func (a *idRanges) release(r idRange, owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, r.Base) // its user namespace stays: the next claim likely takes this range
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	b, err := os.ReadFile(a.path(r))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && string(b) != owner) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("id range registry: %w", err)
	}
	if err := os.Remove(a.path(r)); err != nil {
		return fmt.Errorf("id range registry: %w", err)
	}
	return nil
}

// move hands r from the sandbox dir from to to, renaming the dir (a
// sandbox taken from a warm pool) under the registry's lock, so that no
// claim of this host finds the owner gone in between. A crash between
// the rename and the registry's update leaves an owner that is gone:
// adopt, at recovery, names the dir again.
func (a *idRanges) move(r idRange, from, to string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	tmp := a.path(r) + ".tmp"
	if err := os.WriteFile(tmp, []byte(to), 0o600); err != nil {
		return fmt.Errorf("id range registry: %w", err)
	}
	if err := os.Rename(from, to); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, a.path(r)); err != nil {
		_ = os.Rename(to, from)
		os.Remove(tmp)
		return fmt.Errorf("id range registry: %w", err)
	}
	a.held[r.Base] = to
	return nil
}

// adopt names owner as r's holder where the registry has no holder or
// one that is gone; a claim another holder made meanwhile is kept.
func (a *idRanges) adopt(r idRange, owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	b, err := os.ReadFile(a.path(r))
	if err == nil && string(b) == owner {
		return nil
	}
	if err == nil {
		if _, serr := os.Stat(string(b)); !errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("id range %d is held by %s", r.Base, b)
		}
	}
	if err := os.WriteFile(a.path(r), []byte(owner), 0o600); err != nil {
		return fmt.Errorf("id range registry: %w", err)
	}
	a.held[r.Base] = owner
	return nil
}

func (a *idRanges) path(r idRange) string {
	return filepath.Join(a.dir, strconv.FormatUint(uint64((r.Base-rangeFirst)/rangeSize), 10))
}

// lock serialises claims across every server of the host.
func (a *idRanges) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(a.dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("id range registry: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("id range registry: %w", err)
	}
	return func() { f.Close() }, nil
}

// userNS returns the user namespace that maps the storage range onto r.
// Making one forks the server (10-15 ms for a process of a server's size:
// a fork into a new user namespace cannot share the parent's memory as a
// vfork does), so they are kept for the life of the process, by range,
// and the next free range's is made ahead, off the create path (warm):
// a create finds its range's namespace ready unless creates come faster
// than one fork each.
func (a *idRanges) userNS(r idRange) (*os.File, error) {
	a.mu.Lock()
	ns := a.ns[r.Base]
	a.mu.Unlock()
	if ns != nil {
		return ns, nil
	}
	ns, err := newUserNS(a.initBinary, image.StorageIDBase, r.Base, r.Size)
	if err != nil {
		return nil, fmt.Errorf("user namespace for idmapped mounts: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if have := a.ns[r.Base]; have != nil || a.closed {
		ns.Close() // made meanwhile by warm, or the driver closed
		if have == nil {
			return nil, fmt.Errorf("user namespace for idmapped mounts: the driver is closed")
		}
		return have, nil
	}
	a.ns[r.Base] = ns
	return ns, nil
}

// warm makes the user namespace of the first range from slot on that is
// not claimed, for the next create.
func (a *idRanges) warm(slot uint32) {
	if a.initBinary == "" {
		return
	}
	for ; slot < rangeSlots; slot++ {
		r := idRange{Base: rangeFirst + slot*rangeSize, Size: rangeSize}
		a.mu.Lock()
		_, held := a.held[r.Base]
		ready := a.ns[r.Base] != nil
		a.mu.Unlock()
		if held {
			continue
		}
		if _, err := os.Lstat(a.path(r)); err == nil {
			continue
		}
		if !ready {
			_, _ = a.userNS(r) // a failure shows again, and is reported, at boot
		}
		return
	}
}

// close releases the user namespaces; the claims stay.
func (a *idRanges) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for base, ns := range a.ns {
		ns.Close()
		delete(a.ns, base)
	}
	return nil
}

// idsOf is the range rec's sandbox runs in: its own, or for a sandbox
// created before ranges were per sandbox, the mapping every sandbox
// shared then (Config.UIDBase).
func (d *Driver) idsOf(rec *record) idRange {
	if rec != nil && rec.IDs != nil {
		return *rec.IDs
	}
	return idRange{Base: d.cfg.UIDBase, Size: d.cfg.UIDSize}
}
