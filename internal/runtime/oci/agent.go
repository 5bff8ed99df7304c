package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.AgentDialer = (*Driver)(nil)

// agentFD is the descriptor the sandbox's init finds the agent's listening
// socket on: the runtime passes stdio plus --preserve-fds more, from 3.
const agentFD = 3

// maxSockPath is the longest path bind and connect take directly
// (sun_path is 108 bytes with its NUL); longer ones go through a
// directory descriptor.
const maxSockPath = 100

// agentSocket is the host path of a sandbox's agent socket. It lies in the
// sandbox directory, which is never mounted into the sandbox: the host
// binds it and passes the listener in, so nothing inside can rename,
// replace or symlink it, and no other sandbox can reach it.
func (p paths) agentSocket() string { return filepath.Join(p.dir, "agent.sock") }

// initArgs is the command line of every sandbox's PID 1; console is the
// size cap of its console log (see console.go).
func initArgs(entry []string, console int64) []string {
	args := []string{initPath, "init", initproc.AgentFDFlag, strconv.Itoa(agentFD),
		initproc.ConsoleDirFlag, consolePath, initproc.ConsoleMaxFlag, strconv.FormatInt(console, 10)}
	if len(entry) == 0 {
		return args
	}
	return append(append(args, "--"), entry...)
}

// listenAgent binds a fresh agent socket for the sandbox at p and returns
// the listener as a file for the runtime to pass on. Connections made
// before the agent accepts wait in the backlog, so a call right after
// create needs no readiness poll on the create path.
func listenAgent(p paths) (*os.File, error) { return listenSocket(p.agentSocket()) }

// listenSocket binds a fresh unix socket at path, readable by root only,
// and returns the listener as a file for the runtime to pass on.
func listenSocket(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	addr, done, err := shortPath(path)
	if err != nil {
		return nil, err
	}
	defer done()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", filepath.Base(path), err)
	}
	ln.SetUnlinkOnClose(false) // the sandbox keeps listening after we close our copy
	defer ln.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	return ln.File()
}

// DialAgent implements runtime.AgentDialer.
func (d *Driver) DialAgent(ctx context.Context, id string) (net.Conn, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	c, err := d.dialAgent(ctx, id, d.paths(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("the agent of sandbox %s is not running: %w", id, errdefs.ErrUnavailable)
		}
		return nil, fmt.Errorf("dial the agent of sandbox %s: %w", id, err)
	}
	return c, nil
}

func (d *Driver) dialAgent(ctx context.Context, id string, p paths) (net.Conn, error) {
	if d.runsc() {
		return dialRunscAgent(ctx, p)
	}
	addr, done, err := shortPath(p.agentSocket())
	if err != nil {
		return nil, err
	}
	defer done()
	return d.dialAgentIn(ctx, id, addr)
}

// shortPath returns a name for path that fits in a sockaddr: path itself,
// or /proc/self/fd/N/<base> through an O_PATH descriptor of its directory,
// valid until done is called.
func shortPath(path string) (addr string, done func(), err error) {
	if len(path) <= maxSockPath {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("agent socket dir: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path)), func() { unix.Close(fd) }, nil
}
