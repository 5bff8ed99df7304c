package oci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchdev/hutch/internal/initproc"
)

// consolePath is where a sandbox's init keeps its console log: the output
// of init, the agent and the entrypoint, which init reads from a pipe and
// writes to a size-capped pair of rotated files (initproc.Console). The
// directory lies on the sandbox's own disk, outside its writable layer, so
// it counts against the sandbox's disk and never reaches a host file the
// sandbox could grow without bound. A pipe and a file inside the
// container's own mounts are also what CRIU can checkpoint, and the log
// goes on after a restart of the server, which reads the files from the
// host.
const consolePath = "/.hutch/console"

// console is the host path of the sandbox's console directory.
func (p paths) console() string { return filepath.Join(p.disk, "console") }

// prepareConsole makes the console directory on the mounted disk, owned by
// the root of the sandbox's user namespace (spec's mapping), so that init
// can write there without any host privilege.
func prepareConsole(p paths, spec *specs.Spec) error {
	dir := p.console()
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("console directory: %w", err)
	}
	uid, gid := 0, 0
	if m := spec.Linux.UIDMappings; len(m) > 0 {
		uid = int(m[0].HostID)
	}
	if m := spec.Linux.GIDMappings; len(m) > 0 {
		gid = int(m[0].HostID)
	}
	// Lchown: a sandbox that replaced the directory with a symlink while
	// it was stopped gets the link chowned, not its target.
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("console directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("console directory %s is not a directory", dir)
	}
	return nil
}

// ConsoleLog returns the last limit bytes of sandbox id's console log (both
// rotated files, oldest first). The files are the sandbox's to write, so
// they are read as untrusted: through an os.Root (no link leads out of the
// directory), without blocking on a fifo, regular files only, and never
// more than limit bytes.
func (d *Driver) ConsoleLog(id string, limit int64) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return consoleTail(d.paths(id), limit)
}

func consoleTail(p paths, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(p.console())
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []byte
	for _, name := range []string{initproc.ConsoleFile + ".1", initproc.ConsoleFile} {
		b, err := readTail(root, name, limit)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		out = append(out, b...)
	}
	if int64(len(out)) > limit {
		out = out[int64(len(out))-limit:]
	}
	return out, nil
}

func readTail(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("console log %s is not a regular file", name)
	}
	off := max(fi.Size()-limit, 0)
	return io.ReadAll(io.NewSectionReader(f, off, limit))
}
