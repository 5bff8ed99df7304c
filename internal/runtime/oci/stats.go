package oci

import (
	"context"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Stats implements runtime.Runtime from the sandbox's v1 cgroup files. A
// stopped sandbox has no cgroups and reports zeros.
func (d *Driver) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	if err := checkID(id); err != nil {
		return runtime.Stats{}, err
	}
	if _, err := d.load(id); err != nil {
		return runtime.Stats{}, err
	}
	var s runtime.Stats
	if ns, err := d.cg.readInt("cpuacct", id, "cpuacct.usage"); err == nil {
		s.CPUUsage = time.Duration(ns)
	}
	s.MemoryBytes, _ = d.cg.readInt("memory", id, "memory.usage_in_bytes")
	s.MemoryLimit, _ = d.cg.readInt("memory", id, "memory.limit_in_bytes")
	s.Pids, _ = d.cg.readInt("pids", id, "pids.current")
	if d.runsc() {
		if cpu, pids, err := d.runscUsage(ctx, id); err == nil {
			s.CPUUsage, s.Pids = cpu, pids
		}
	}
	s.OOMKills = d.cg.oomKills(id)
	return s, nil
}
