package nettest

import (
	"errors"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ListenIn listens on address inside the network namespace bound at path
// (a sandbox's, or an Upstream's) until the test ends.
func ListenIn(t testing.TB, path, address string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := onThread(func() error {
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return err
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter %s: %w", path, err)
		}
		ln, err = net.Listen("tcp", address)
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", address, path, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// createNetns makes a network namespace bound at path, with lo up.
func createNetns(path string) error {
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	return onThread(func() error {
		ns, err := netns.New() // the thread is in it from here on
		if err != nil {
			return fmt.Errorf("new netns: %w", err)
		}
		defer ns.Close()
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind netns at %s: %w", path, err)
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
}

// removeNetns unmounts and removes what createNetns made.
func removeNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// onThread runs fn on a locked thread that exits with its goroutine, so
// that the namespace fn enters never leaks to other goroutines.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread goes with the goroutine
		errc <- fn()
	}()
	return <-errc
}
