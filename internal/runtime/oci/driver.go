// Package oci runs sandboxes as OCI containers through the crun or runc
// command line: an overlay root over the image's layers (idmapped from the
// image cache's storage id range onto the sandbox's own range), the writable layer on a size-limited
// loop-mounted ext4 image, cgroup v1 limits and the freezer for pause.
//
// Every method reads what it needs from the sandbox's directory under
// Config.StateDir, so a Driver built after a server restart controls the
// sandboxes of the previous one.
package oci

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/keyed"
	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.Runtime = (*Driver)(nil)

// Driver is the OCI runtime driver.
type Driver struct {
	cfg    Config
	binary string      // absolute path of crun or runc
	cg     *cgroupFS   // the host's cgroup hierarchies
	ranges *idRanges   // the sandboxes' host uid/gid ranges, and user namespaces onto them
	loopMu sync.Mutex  // serialises loop device allocation
	diskMu sync.Mutex  // serialises making disk templates
	locks  keyed.Mutex // serialises calls per sandbox ID
	net    *network.Manager
	log    *slog.Logger
	reaper *reaper // waits for what the server inherits as a subreaper
	watch  initWatches
	// criu is the CRIU binary checkpoints use; when empty, criuMissing
	// says why there is none.
	criu, criuMissing string
	agentConns        agentConnSet // closed before a checkpoint
	// restoreTimeout is the base of a CRIU restore's bound (restoreBound).
	restoreTimeout time.Duration
}

// New checks the host, prepares cfg.StateDir and returns a driver. It may
// change the host in two ways, each logged: for crun on a cgroup v1 hybrid
// host it mounts a v1 hugetlb hierarchy (crun refuses to run while cgroup2
// carries a controller), and it makes the calling process a child
// subreaper, with a reaper that waits for every process it inherits (the
// inits of its sandboxes, whose exit status it keeps, and whatever the
// runtime binary leaves behind).
func New(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("oci: the driver needs root: %w", errdefs.ErrUnavailable)
	}
	if _, err := os.Stat(cfg.InitBinary); err != nil {
		return nil, fmt.Errorf("oci: init binary: %w", err)
	}
	d := &Driver{cfg: cfg, log: slog.Default().With("component", "runtime/oci"), watch: newInitWatches(),
		restoreTimeout: restoreTimeout}
	cg, err := loadCgroupFS()
	if err != nil {
		return nil, err
	}
	d.cg = cg
	if cfg.Runtime == RuntimeCrun {
		if err := d.cg.prepareForCrun(d.log); err != nil {
			d.log.Warn("crun cannot run on this host, falling back to runc", "err", err)
			d.cfg.Runtime = RuntimeRunc
		}
	}
	bin := cfg.RuntimePath
	if bin == "" || d.cfg.Runtime != cfg.Runtime {
		if bin, err = exec.LookPath(d.cfg.Runtime); err != nil {
			return nil, fmt.Errorf("oci: %s: %w", d.cfg.Runtime, errdefs.ErrUnavailable)
		}
	}
	d.binary = bin
	for _, dir := range []string{cfg.StateDir, d.sandboxesDir(), d.runtimeRoot()} {
		// 0711: the user namespace's root must traverse to the bundle.
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("oci: %w", err)
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, fmt.Errorf("oci: %w", err)
		}
	}
	if d.net, err = network.New(network.Config{Subnet: cfg.Subnet, Dir: filepath.Join(cfg.StateDir, "netns"), Nameservers: cfg.Nameservers}, d.log); err != nil {
		return nil, fmt.Errorf("oci: %w", err)
	}
	if d.reaper, err = processReaper(); err != nil {
		return nil, fmt.Errorf("oci: %w", err)
	}
	if d.ranges, err = newIDRanges(cfg.IDRangesDir, cfg.InitBinary); err != nil {
		return nil, fmt.Errorf("oci: %w", err)
	}
	d.criu, d.criuMissing = findCRIU("")
	d.log.Info("runtime driver ready", "runtime", d.cfg.Runtime, "binary", bin, "stateDir", cfg.StateDir,
		"subreaper", true)
	return d, nil
}

// Close releases the driver's own resources; sandboxes keep running.
func (d *Driver) Close() error { return d.ranges.close() }

// Name implements runtime.Runtime.
func (d *Driver) Name() string { return "oci/" + d.cfg.Runtime }

// Capabilities implements runtime.Runtime.
func (d *Driver) Capabilities() runtime.Capabilities {
	return runtime.Capabilities{Pause: true, DiskLimit: true, Network: true, Ports: true, Archive: true, Agent: true, Watch: true,
		Checkpoint: d.checkpointUnsupported() == "", Pool: !d.runsc()}
}

func (d *Driver) sandboxesDir() string { return filepath.Join(d.cfg.StateDir, "sandboxes") }
func (d *Driver) runtimeRoot() string  { return filepath.Join(d.cfg.StateDir, d.cfg.Runtime) }

// validID keeps IDs usable as path elements, cgroup names and container IDs.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func checkID(id string) error {
	if !validID.MatchString(id) {
		return errdefs.InvalidField("id", "%q is not a valid sandbox id", id)
	}
	return nil
}

// errNotFound wraps the sandbox not-found class with the ID.
func errNotFound(id string) error {
	return fmt.Errorf("sandbox %s: %w", id, errdefs.ErrSandboxNotFound)
}

var errNoRecord = errors.New("no state record")
