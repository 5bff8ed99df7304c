package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/runtime"
)

// paths names everything a sandbox has on disk, under one directory.
type paths struct {
	dir     string // also the OCI bundle
	config  string // bundle config.json
	rootfs  string // overlay mount point
	lower   string // idmapped layer mounts, lower/0 is the lowest
	diskImg string // sparse ext4 image of the writable layer
	disk    string // its mount point
	upper   string
	work    string
	log     string // stdout and stderr of the sandbox
	pidFile string
	record  string
}

func (d *Driver) paths(id string) paths {
	dir := filepath.Join(d.sandboxesDir(), id)
	return paths{
		dir:     dir,
		config:  filepath.Join(dir, "config.json"),
		rootfs:  filepath.Join(dir, "rootfs"),
		lower:   filepath.Join(dir, "lower"),
		diskImg: filepath.Join(dir, "disk.img"),
		disk:    filepath.Join(dir, "disk"),
		upper:   filepath.Join(dir, "disk", "upper"),
		work:    filepath.Join(dir, "disk", "work"),
		log:     filepath.Join(dir, "console.log"),
		pidFile: filepath.Join(dir, "init.pid"),
		record:  filepath.Join(dir, "sandbox.json"),
	}
}

// record is what the driver persists per sandbox, so that a restarted
// server can find and control it.
type record struct {
	ID      string       `json:"id"`
	Runtime string       `json:"runtime"` // the binary that created the container
	Image   string       `json:"image"`
	Layers  []string     `json:"layers"` // kept: the writable layer only makes sense over these
	Config  image.Config `json:"config"`
	DiskMB  int64        `json:"diskMB"`
	// InitPID and InitStart (the start time in /proc/<pid>/stat) identify
	// the running init, guarding against pid reuse; zero while stopped.
	InitPID   int    `json:"initPid,omitempty"`
	InitStart uint64 `json:"initStart,omitempty"`
	// RestoredStart is InitStart of an init a CRIU restore brought back,
	// and RestoredExecs the count of its execves its restored command
	// line held (initproc.ExecCountFlag): until it has executed itself
	// again (initproc.ReexecSignal), CRIU cannot dump it. Another
	// InitStart (a boot) makes them stale.
	RestoredStart uint64 `json:"restoredStart,omitempty"`
	RestoredExecs int    `json:"restoredExecs,omitempty"`
	// Stopped is set by Stop and by Recover of a dead sandbox.
	Stopped bool   `json:"stopped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Net is the sandbox's network: namespace, address slot, policy.
	Net *network.Attachment `json:"net,omitempty"`
	// IDs is the sandbox's own host uid/gid range, held until delete; nil
	// for a sandbox created when all shared one (see Driver.idsOf).
	IDs *idRange `json:"ids,omitempty"`
	// Key names the sandbox's container, cgroups and network on the host
	// when that is not its ID: a sandbox taken from a warm pool keeps the
	// name it was prepared under, since none of those can be renamed.
	Key string `json:"key,omitempty"`
	// Pool is set on a sandbox prepared for a warm pool until it is taken.
	Pool *runtime.PoolSpec `json:"pool,omitempty"`
}

// key is the name of the sandbox's container, cgroups and network.
func (r *record) key() string {
	if r.Key != "" {
		return r.Key
	}
	return r.ID
}

func loadRecord(path string) (*record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// save writes the record atomically: a crash leaves the old or the new one.
func (r *record) save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// procStart returns the start time of pid (field 22 of /proc/<pid>/stat)
// and whether it is a zombie.
func procStart(pid int) (start uint64, zombie bool, err error) {
	st, err := readProcStat(pid)
	return st.start, st.zombie, err
}

// initAlive reports whether the init the record names still runs.
func (r *record) initAlive() bool {
	if r.InitPID <= 0 {
		return false
	}
	start, zombie, err := procStart(r.InitPID)
	return err == nil && !zombie && start == r.InitStart
}
