package oci

import (
	"strings"
	"testing"
)

// TestCgroupMountsKeepTheHostsFirst: a hierarchy mounted a second time
// later (the cgroup yard CRIU mounts for a moment while it dumps another
// sandbox) does not replace the host's mount: a driver that started
// meanwhile took the yard's paths, and lost every sandbox's freezer when
// CRIU unmounted it.
func TestCgroupMountsKeepTheHostsFirst(t *testing.T) {
	table := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
900 880 0:33 / /tmp/ck/checkpoint/.criu.cgyard.x/freezer rw,relatime - cgroup cgroup rw,freezer
901 880 0:32 / /tmp/ck/checkpoint/.criu.cgyard.x/memory rw,relatime - cgroup cgroup rw,memory
`
	c, err := parseCgroupMounts(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	for ctrl, want := range map[string]string{"freezer": "/sys/fs/cgroup/freezer", "memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu"} {
		if got := c.byController[ctrl]; got != want {
			t.Errorf("%s at %q, want the host's %q", ctrl, got, want)
		}
	}
	if c.unified != "/sys/fs/cgroup/unified" {
		t.Errorf("cgroup2 at %q", c.unified)
	}
}
