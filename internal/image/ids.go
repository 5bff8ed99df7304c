package image

import (
	"encoding/binary"
)

// StorageIDBase and StorageIDSize are the host uid and gid range that every
// file of an unpacked layer is owned by: a layer's uid u is stored as
// StorageIDBase+u. No host user has these ids, so a setuid or setgid bit
// in the cache grants nothing on the host, and file capabilities are
// stored in their v3 form bound to StorageIDBase (see storedCaps). A
// runtime shows a layer to a sandbox through an idmapped mount that maps
// this range onto the sandbox's own range, which carries both along.
//
// The range is systemd's "foreign UID range" (0x7FFE0000, 65536 ids), set
// aside for exactly this: files of disk images owned by nobody on the
// host and only ever used through idmapped mounts. It is a constant, not
// a setting, because every server of a host shares the host-wide image
// cache (--image-cache) and must agree on it.
const (
	StorageIDBase = 0x7FFE0000
	StorageIDSize = 65536
)

// storageID is where a layer's uid or gid id is stored. Ids beyond the
// range a sandbox maps (no real image has them) become its nobody.
func storageID(id int) int {
	if id < 0 || id >= StorageIDSize {
		id = StorageIDSize - 2 // 65534, nobody
	}
	return StorageIDBase + id
}

// inStorage reports whether a host id is already in the storage range
// (a file migrated or linked before).
func inStorage(id uint32) bool {
	return id >= StorageIDBase && id-StorageIDBase < StorageIDSize
}

// File capability xattr layouts (linux/capability.h): a little-endian
// magic whose top byte is the revision and whose low bit says
// "effective", then (permitted, inheritable) pairs of 32-bit words: one
// pair in v1, two in v2, two and the namespace root uid in v3.
const (
	capRevisionMask = 0xFF000000
	capRevision1    = 0x01000000
	capRevision2    = 0x02000000
	capRevision3    = 0x03000000
	capFlagsMask    = ^uint32(capRevisionMask)
	capSize1        = 4 + 2*4
	capSize2        = 4 + 4*4
	capSize3        = capSize2 + 4
	capXattr        = "security.capability"
)

// storedCaps turns a layer's security.capability value into the v3 form
// whose root uid is StorageIDBase+root (root 0 for v1 and v2, which mean
// "the root of whatever namespace runs the file"). The kernel honours a
// v3 capability only for a process whose user namespace has that uid as
// its root: on the host no namespace does; through a runtime's idmapped
// mount the root uid follows the mapping onto the sandbox's root. ok is
// false for a value that is not a capability set (it is dropped).
func storedCaps(v []byte) (_ []byte, ok bool) {
	return RebaseCaps(v, func(root uint32) (uint32, bool) {
		if inStorage(root) {
			root -= StorageIDBase // a value read back from the cache itself
		}
		return uint32(storageID(int(root))), true
	})
}

// RebaseCaps returns the v3 form of the security.capability value v with
// its root uid moved by to: to is given v's own root uid (0 for v1 and
// v2, which carry none) and returns the new one, or false to drop the
// capabilities. ok is false for a value that is not a capability set or
// whose root to refuses.
func RebaseCaps(v []byte, to func(root uint32) (uint32, bool)) (_ []byte, ok bool) {
	if len(v) < 4 {
		return nil, false
	}
	magic := binary.LittleEndian.Uint32(v)
	out := make([]byte, capSize3)
	root := uint32(0)
	switch magic & capRevisionMask {
	case capRevision1:
		if len(v) != capSize1 {
			return nil, false
		}
		copy(out[4:], v[4:capSize1])
	case capRevision2:
		if len(v) != capSize2 {
			return nil, false
		}
		copy(out[4:], v[4:capSize2])
	case capRevision3:
		if len(v) != capSize3 {
			return nil, false
		}
		copy(out[4:], v[4:capSize2])
		root = binary.LittleEndian.Uint32(v[capSize2:])
	default:
		return nil, false
	}
	if root, ok = to(root); !ok {
		return nil, false
	}
	binary.LittleEndian.PutUint32(out, capRevision3|magic&capFlagsMask)
	binary.LittleEndian.PutUint32(out[capSize2:], root)
	return out, true
}
