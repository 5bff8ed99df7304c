package sandbox

import (
	"fmt"
	"net/netip"
	"time"
)

// Config sets the lifecycle's defaults and limits. The zero value is not
// usable; start from DefaultConfig.
type Config struct {
	DefaultImage              string
	DefaultResources          Resources
	DefaultAutoStopMinutes    int
	DefaultAutoPauseMinutes   int
	DefaultAutoArchiveMinutes int
	DefaultAutoDeleteMinutes  int
	// MaxResources bounds what one sandbox may ask for; the host's own
	// size bounds it further (WithHost).
	MaxResources Resources
	// DefaultQuota is every organisation's quota unless the platform
	// admin set its own (NoQuota: none).
	DefaultQuota Quota
	// MaxTimeout bounds timeoutSeconds and renewals.
	MaxTimeout time.Duration
	// StopGrace is how long stop waits after SIGTERM before SIGKILL.
	StopGrace time.Duration
	// DeletedRetention is how long a deleted sandbox stays readable.
	DeletedRetention time.Duration
	// Automation configures the reconciler.
	Automation Automation
	// DefaultPauseMemory is what a pause that names no memory mode does
	// (an organisation's setting wins); empty is keep.
	DefaultPauseMemory PauseMemory
	// DefaultPauseReleaseAfter is how long a sandbox may stay paused in
	// memory before the reconciler moves it to disk, unless it or its
	// organisation says otherwise; 0 is never.
	DefaultPauseReleaseAfter time.Duration
	// NetworkSubnet is where the runtime takes sandbox addresses from
	// (zero: network.DefaultSubnet): one of the ranges no network policy
	// may open (see network.Protected).
	NetworkSubnet netip.Prefix
	// ProtectedCIDRs are more ranges no network policy may open: a
	// cluster's own ranges under the kube runtime (--kube-protected-cidrs).
	ProtectedCIDRs []netip.Prefix
	// Runtimes are the drivers a sandbox may choose at create
	// ("oci", "gvisor"), DefaultRuntime the one it gets otherwise. Empty:
	// the one driver there is, recorded as DefaultRuntime.
	Runtimes       []string
	DefaultRuntime string
	// TraceCreates logs, for every create, where its time went (see
	// trace.go); `hutch bench --breakdown` reads those lines.
	TraceCreates bool
	// Pools are the prepared sandboxes kept ahead of demand (pool.go).
	Pools PoolConfig
}

// DefaultConfig returns the embedded defaults: 1 cpu, 1024 MB, 256 pids,
// the offline "base" image, no auto-stop, never auto-delete.
func DefaultConfig() Config {
	return Config{
		DefaultImage:             "base",
		DefaultResources:         Resources{CPU: 1, MemoryMB: 1024, DiskMB: 10240, Pids: 256},
		DefaultAutoDeleteMinutes: -1,
		MaxResources:             Resources{CPU: 64, MemoryMB: 256 * 1024, DiskMB: 1024 * 1024, Pids: 65536},
		DefaultQuota:             NoQuota,
		MaxTimeout:               365 * 24 * time.Hour,
		StopGrace:                10 * time.Second,
		DeletedRetention:         time.Hour,
		Automation:               DefaultAutomation(),
		Pools:                    PoolConfig{DefaultSize: 2},
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	d, m := c.DefaultResources, c.MaxResources
	switch {
	case c.DefaultImage == "":
		return fmt.Errorf("default image is empty")
	case d.CPU < minCPU || d.CPU > m.CPU:
		return fmt.Errorf("default cpu %v outside [%v, %v]", d.CPU, minCPU, m.CPU)
	case d.MemoryMB < minMemoryMB || d.MemoryMB > m.MemoryMB:
		return fmt.Errorf("default memory %d MB outside [%d, %d]", d.MemoryMB, minMemoryMB, m.MemoryMB)
	case d.DiskMB < minDiskMB || d.DiskMB > m.DiskMB:
		return fmt.Errorf("default disk %d MB outside [%d, %d]", d.DiskMB, minDiskMB, m.DiskMB)
	case d.Pids < minPids || d.Pids > m.Pids:
		return fmt.Errorf("default pids %d outside [%d, %d]", d.Pids, minPids, m.Pids)
	case c.DefaultAutoStopMinutes < 0 || c.DefaultAutoPauseMinutes < 0 || c.DefaultAutoArchiveMinutes < 0 || c.DefaultAutoDeleteMinutes < -1:
		return fmt.Errorf("default auto intervals must be >= 0 (auto-delete >= -1)")
	case c.MaxTimeout <= 0 || c.StopGrace < 0 || c.DeletedRetention < 0:
		return fmt.Errorf("durations must not be negative")
	}
	if err := c.validatePause(); err != nil {
		return err
	}
	if err := c.Automation.validate(); err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	if err := c.DefaultQuota.validate("default quota "); err != nil {
		return err
	}
	if err := c.Pools.validate(); err != nil {
		return fmt.Errorf("pools: %w", err)
	}
	return nil
}

// Lower bounds below which a sandbox cannot boot usefully. minCPU is the
// smallest share the kernel's CFS bandwidth control takes: a quota of
// 1 ms in each 100 ms period (cpu.cfs_quota_us and cpu.max refuse less
// with EINVAL, which crun reports as a failed create).
const (
	minCPU      = 0.01
	minMemoryMB = 16
	minDiskMB   = 16
	minPids     = 8
)

// DefaultResources are the limits a sandbox gets when its create names
// none, for faces that describe what a template gives (E2B's templates).
func (s *Service) DefaultResources() Resources { return s.cfg.DefaultResources }
