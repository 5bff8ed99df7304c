package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// createNetns makes a new network namespace and bind-mounts it at path
// (an empty file), from a thread that enters it and leaves again. With
// from > 0 it binds the namespace process from is in instead, which
// re-attaches a running sandbox whose mount was lost.
func createNetns(path string, from int) error {
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	if from > 0 {
		src := fmt.Sprintf("/proc/%d/ns/net", from)
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", src, err)
		}
		return nil
	}
	return onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare netns: %w", err)
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind netns at %s: %w", path, err)
		}
		return nil
	})
}

// isNetns reports whether path is a mounted network namespace.
func isNetns(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// removeNetns unmounts and removes the namespace file; the namespace
// itself goes when its last process does.
func removeNetns(path string) error {
	for isNetns(path) {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// onLockedThread runs fn on a thread of its own and throws the thread
// away afterwards, so that whatever namespace fn entered never leaks to
// other goroutines.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread exits with the goroutine
		errc <- fn()
	}()
	return <-errc
}

// inNetns runs fn on a thread inside the namespace at path.
func inNetns(path string, fn func() error) error {
	return onLockedThread(func() error {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter %s: %w", path, err)
		}
		return fn()
	})
}

// writeSysctl sets a sysctl of the calling thread's network namespace.
func writeSysctl(name, value string) error {
	p := filepath.Join("/proc/sys", filepath.FromSlash(name))
	return os.WriteFile(p, []byte(value), 0o644)
}

// sandboxSysctls let the sandbox's root, an unprivileged uid on the host,
// bind low ports and ping in a namespace the host's user namespace owns,
// and switch IPv6 off: a link-local IPv6 path to the host would bypass the
// IPv4 firewall.
var sandboxSysctls = [][2]string{
	{"net/ipv4/ip_unprivileged_port_start", "0"},
	{"net/ipv4/ping_group_range", "0 2147483647"},
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{"net/ipv6/conf/default/disable_ipv6", "1"},
}

// DialNetns connects to address from inside the namespace at path: the
// socket belongs to the namespace it was made in, so the connection works
// for sandboxes without a veth and reaches servers that listen on the
// sandbox's loopback only.
func DialNetns(ctx context.Context, path, address string) (net.Conn, error) {
	var conn net.Conn
	err := inNetns(path, func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", address)
		conn = c
		return err
	})
	return conn, err
}
