package oci

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/runtime"
)

// diskNetStats adds what the cgroups do not count: the use of the
// sandbox's disk, read from its filesystem while mounted, and the bytes
// through the host side of its veth (what the host sent it is what it
// received).
func diskNetStats(p paths, key string, s *runtime.Stats) {
	var disk, dir unix.Stat_t
	var fs unix.Statfs_t
	// A disk not mounted would report the filesystem under it.
	if unix.Stat(p.disk, &disk) == nil && unix.Stat(p.dir, &dir) == nil && disk.Dev != dir.Dev &&
		unix.Statfs(p.disk, &fs) == nil {
		s.DiskLimit = int64(fs.Blocks) * fs.Bsize
		s.DiskBytes = int64(fs.Blocks-fs.Bfree) * fs.Bsize
	}
	stat := filepath.Join("/sys/class/net", network.VethName(key), "statistics")
	s.NetRxBytes = readIntFile(filepath.Join(stat, "tx_bytes"))
	s.NetTxBytes = readIntFile(filepath.Join(stat, "rx_bytes"))
}

func readIntFile(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}
