package kubetest

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/mountinfo"
	"github.com/vishvananda/netlink"
)

// kernelTunables are the host-wide sysctls the kubelet sets once at its
// start (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1,
// ...). They are not namespaced, so the host's values are put back as soon
// as the node is Ready, and again on Close.
var kernelTunables = []string{
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
}

// hostState is what the cluster may change on the host, read before it
// starts.
type hostState struct {
	sysctls  map[string]string
	chains   map[string]bool // "table/chain" of iptables
	existing map[string]bool // host paths k3s or the kubelet create when missing
}

// createdPaths are host paths outside the data directory that k3s and the
// kubelet create when missing: the node password (k3s writes it outside
// its data directory unless rootless), the kubelet's container log
// links, and containerd 1.6's directory for its shims' sockets.
var createdPaths = []string{
	"/etc/rancher/node/password", "/etc/rancher/node", "/etc/rancher",
	"/var/log/containers", "/var/log/pods",
	"/run/containerd/s", "/run/containerd",
}

func snapshotHost() hostState {
	s := hostState{sysctls: map[string]string{}, existing: map[string]bool{}}
	for _, k := range kernelTunables {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			s.sysctls[k] = strings.TrimSpace(string(b))
		}
	}
	s.chains = iptablesChains()
	for _, p := range createdPaths {
		if _, err := os.Lstat(p); err == nil {
			s.existing[p] = true
		}
	}
	return s
}

func (s hostState) restoreSysctls() error {
	var errs []error
	for k, v := range s.sysctls {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil && strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// freePorts asks the kernel for eight distinct free TCP ports. Another
// process may take one before k3s binds it; k3s then fails to start and
// says so in its log.
func freePorts() (ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	n := make([]int, 8)
	for i := range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return ports{}, err
		}
		ls = append(ls, l)
		n[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{https: n[0], apiserver: n[1], lb: n[2], kubelet: n[3], healthz: n[4], controller: n[5], scheduler: n[6], stream: n[7]}, nil
}

// freeSubnet picks a 10.42.N.0/24 for the pods that no host route or
// address overlaps (the oci driver's sandboxes use 10.213.0.0/16; another
// cluster's bridge has its own route).
func freeSubnet() (string, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if p, err := netip.ParsePrefix(r.Dst.String()); err == nil {
			used = append(used, p)
		}
	}
	start := rand.IntN(250)
	for i := range 250 {
		p := netip.MustParsePrefix(fmt.Sprintf("10.42.%d.0/24", (start+i)%250+1))
		free := true
		for _, u := range used {
			if u.Bits() > 0 && u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p.String(), nil
		}
	}
	return "", errors.New("no free 10.42.N.0/24 for the pods")
}

// cgroupMounts lists the host's cgroup hierarchies (v1 controllers, the
// named systemd one and the unified v2 mount of the hybrid layout).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// mount ID, parent, dev, root, mount point, options, optional..., "-", fstype, ...
		for i, fl := range fields {
			if fl == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") && fields[3] == "/" {
				dirs = append(dirs, fields[4])
			}
		}
	}
	return dirs, sc.Err()
}

// makeCgroupRoot creates the cluster's cgroup root in every hierarchy:
// the kubelet refuses a root that does not exist and puts every pod below.
func (c *Cluster) makeCgroupRoot() error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, c.cgroupRoot)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("cgroup root: %w", err)
		}
		// A new v1 cpuset has no CPUs or memory nodes until given its
		// parent's.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(m, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					return fmt.Errorf("cgroup root: %w", err)
				}
			}
		}
	}
	return nil
}

// removeCgroupRoot removes the cluster's cgroup root, deepest first. The
// pods are normally gone by then; processes still in it (their shims were
// killed, or the test binary died) are killed first.
func (c *Cluster) removeCgroupRoot() error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		root := filepath.Join(m, c.cgroupRoot)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := removeCgroup(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroup kills what runs in dir and removes it, waiting a little for
// the killed processes to leave.
func removeCgroup(dir string) error {
	var err error
	for range 50 {
		_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644) // a frozen process cannot die
		if b, rerr := os.ReadFile(filepath.Join(dir, "cgroup.procs")); rerr == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, perr := strconv.Atoi(f); perr == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// mountsUnder lists mount points at or below dir, deepest first (none
// when the mount table cannot be read).
func mountsUnder(dir string) []string {
	out, _ := mountinfo.Under(dir)
	slices.Reverse(out)
	return out
}
