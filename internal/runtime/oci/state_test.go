package oci

import "testing"

// TestInCgroup reads /proc/<pid>/cgroup as the kernel writes it for a
// live task and for zombies, whose cgroup2 entry may be a deleted cgroup:
// reapZombies must know those as the sandbox's too.
func TestInCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, cgroup string
		want         bool
	}{
		{"live", "6:freezer:/hutch/sb1\n4:memory:/hutch/sb1\n0::/hutch/sb1\n", true},
		{"zombie, cgroup2 deleted", "6:freezer:/\n4:memory:/\n0::/hutch/sb1 (deleted)\n", true},
		{"zombie, cgroup2 kept", "6:freezer:/\n0::/hutch/sb1\n", true},
		{"another sandbox", "6:freezer:/hutch/sb10\n0::/hutch/sb10 (deleted)\n", false},
		{"a host process", "6:freezer:/\n0::/\n", false},
	} {
		if got := inCgroup(tc.cgroup, "sb1"); got != tc.want {
			t.Errorf("%s: inCgroup = %v, want %v", tc.name, got, tc.want)
		}
	}
}
