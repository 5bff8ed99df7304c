package server

import (
	"bufio"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// readHost measures this machine for sandbox.WithHost: its cores, its
// memory (MemTotal of /proc/meminfo) and, at each create, the free space
// of the file system holding dataDir (where sandbox disks live), unless
// maxDiskMB bounds disks instead.
func readHost(dataDir string, maxDiskMB int64) (sandbox.Host, error) {
	mem, err := memTotalMB("/proc/meminfo")
	if err != nil {
		return sandbox.Host{}, err
	}
	return sandbox.Host{
		CPU:       float64(goruntime.NumCPU()),
		MemoryMB:  mem,
		MaxDiskMB: maxDiskMB,
		FreeDiskMB: func() (int64, error) {
			var st unix.Statfs_t
			if err := unix.Statfs(dataDir, &st); err != nil {
				return 0, fmt.Errorf("free space of %s: %w", dataDir, err)
			}
			return int64(st.Bavail) * st.Bsize >> 20, nil
		},
	}, nil
}

func memTotalMB(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("host memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("host memory: %s: %w", path, err)
			}
			return kb >> 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("host memory: %w", err)
	}
	return 0, fmt.Errorf("host memory: no MemTotal in %s", path)
}
