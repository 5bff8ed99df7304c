package oci

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/network"
)

// Runtime binaries the driver knows how to drive.
const (
	RuntimeCrun = "crun"
	RuntimeRunc = "runc"
	// RuntimeRunsc is gVisor: the same bundle, run on a user-space kernel
	// (see runsc.go for what differs).
	RuntimeRunsc = "runsc"
)

// Defaults applied by Config.withDefaults.
const (
	DefaultRuntime  = RuntimeCrun // measured faster on every action, see the package benchmark
	DefaultUIDBase  = 100000
	DefaultUIDSize  = 65536
	DefaultGrace    = 10 * time.Second
	DefaultCPU      = 1.0
	DefaultMemoryMB = 1024
	DefaultPids     = 256
	DefaultDiskMB   = 1024
	// DefaultRunscPlatform works without KVM; ptrace does too, slower.
	DefaultRunscPlatform = "systrap"
	// DefaultConsoleBytes caps a sandbox's console log (init's and the
	// entrypoint's output), kept on the sandbox's own disk.
	DefaultConsoleBytes = 8 << 20
)

// Config configures a Driver. Zero values take the defaults above.
type Config struct {
	// Runtime is "crun" or "runc"; empty means DefaultRuntime.
	Runtime string
	// RuntimePath overrides the binary looked up in PATH.
	RuntimePath string
	// RunscPlatform is the platform runsc intercepts system calls with
	// (DefaultRunscPlatform when empty); only runsc reads it.
	RunscPlatform string
	// StateDir holds everything the driver keeps (e.g. <dataDir>/runtime).
	StateDir string
	// Images resolves an image reference to its unpacked layers.
	Images func(ctx context.Context, ref string) (*image.Image, error)
	// InitBinary is the host path of the static binary that runs as PID 1
	// ("/.hutch/hutch init -- <entrypoint...>") in every sandbox.
	InitBinary string
	// UIDBase and UIDSize are the mapping every sandbox shared before each
	// got a range of its own (idrange.go): uid/gid 0..UIDSize-1 inside to
	// UIDBase.. on the host. Sandboxes created then keep it.
	UIDBase uint32
	UIDSize uint32
	// IDRangesDir is the host-wide registry of sandbox id ranges;
	// DefaultIDRangesDir when empty.
	IDRangesDir string
	// StopGrace is used when Stop is given no grace; Delete kills at once.
	StopGrace time.Duration
	// DefaultDiskMB sizes the writable layer when a Spec gives none.
	DefaultDiskMB int64
	// Subnet is where sandbox addresses come from (network.DefaultSubnet
	// when zero); Nameservers go into their resolv.conf (the host's own
	// when empty).
	Subnet      netip.Prefix
	Nameservers []netip.Addr
	// ConsoleBytes caps each sandbox's console log; it counts against the
	// sandbox's disk. DefaultConsoleBytes when zero.
	ConsoleBytes int64
}

func (c Config) withDefaults() Config {
	if c.Runtime == "" {
		c.Runtime = DefaultRuntime
	}
	if c.RunscPlatform == "" {
		c.RunscPlatform = DefaultRunscPlatform
	}
	if c.UIDBase == 0 {
		c.UIDBase = DefaultUIDBase
	}
	if c.UIDSize == 0 {
		c.UIDSize = DefaultUIDSize
	}
	if c.IDRangesDir == "" {
		c.IDRangesDir = DefaultIDRangesDir
	}
	if c.StopGrace == 0 {
		c.StopGrace = DefaultGrace
	}
	if c.DefaultDiskMB == 0 {
		c.DefaultDiskMB = DefaultDiskMB
	}
	if c.ConsoleBytes == 0 {
		c.ConsoleBytes = DefaultConsoleBytes
	}
	if !c.Subnet.IsValid() {
		c.Subnet = netip.MustParsePrefix(network.DefaultSubnet)
	}
	return c
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.Runtime != RuntimeCrun && c.Runtime != RuntimeRunc && c.Runtime != RuntimeRunsc:
		return errdefs.InvalidField("runtime", "must be %q, %q or %q, not %q", RuntimeCrun, RuntimeRunc, RuntimeRunsc, c.Runtime)
	case c.StateDir == "" || !filepath.IsAbs(c.StateDir):
		return errdefs.InvalidField("stateDir", "must be an absolute path")
	case c.Images == nil:
		return errdefs.InvalidField("images", "a resolver is required")
	case c.InitBinary == "" || !filepath.IsAbs(c.InitBinary):
		return errdefs.InvalidField("initBinary", "must be an absolute path")
	case c.ConsoleBytes < initproc.MinConsoleBytes:
		return errdefs.InvalidField("consoleBytes", "must be at least %d", initproc.MinConsoleBytes)
	case c.UIDBase == 0 || uint64(c.UIDBase)+uint64(c.UIDSize) > 1<<32-1:
		return errdefs.InvalidField("uidBase", "mapping %d+%d is out of range", c.UIDBase, c.UIDSize)
	}
	return nil
}

func (c Config) String() string {
	return fmt.Sprintf("runtime=%s stateDir=%s uids=%d+%d", c.Runtime, c.StateDir, c.UIDBase, c.UIDSize)
}
