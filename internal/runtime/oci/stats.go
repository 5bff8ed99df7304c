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
	rec, err := d.load(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	key := rec.key()
	var s runtime.Stats
	if ns, err := d.cg.readInt("cpuacct", key, "cpuacct.usage"); err == nil {
		s.CPUUsage = time.Duration(ns)
	}
	s.MemoryBytes, _ = d.cg.readInt("memory", key, "memory.usage_in_bytes")
	s.MemoryLimit, _ = d.cg.readInt("memory", key, "memory.limit_in_bytes")
	s.Pids, _ = d.cg.readInt("pids", key, "pids.current")
	if d.runsc() {
		if cpu, pids, err := d.runscUsage(ctx, id); err == nil {
			s.CPUUsage, s.Pids = cpu, pids
		}
	}
	s.OOMKills = d.cg.oomKills(key)
	diskNetStats(d.paths(id), key, &s)
	return s, nil
}
