package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
)

// newRuntime builds the driver cfg.Runtime names (config.Validate has
// refused any other).
func newRuntime(cfg config.Config, images *image.Store, seeds *seeder, log *slog.Logger) (runtime.Runtime, error) {
	switch cfg.Runtime {
	case config.RuntimeOCI, config.RuntimeGvisor: // gvisor runs beside oci (withGvisor)
		return newOCI(cfg, images, seeds, log)
	case config.RuntimeKube:
		return newKube(cfg, log)
	}
	return nil, fmt.Errorf("runtime %q has no constructor", cfg.Runtime)
}

// newOCI builds the oci driver. The running hutch binary doubles as every
// sandbox's PID 1 (`hutch init`), so it must be a static build, which
// scripts/setup.sh makes.
func newOCI(cfg config.Config, images *image.Store, seeds *seeder, log *slog.Logger) (runtime.Runtime, error) {
	if os.Geteuid() != 0 {
		return nil, errNotRoot
	}
	if err := traversable(cfg.DataDir); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the hutch binary for sandbox init: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, fmt.Errorf("find the hutch binary for sandbox init: %w", err)
	}
	d, err := oci.New(oci.Config{
		Runtime:    cfg.OCIRuntime,
		StateDir:   filepath.Join(cfg.DataDir, "runtime"),
		Images:     resolveOrPull(images, seeds, log),
		InitBinary: exe,
		StopGrace:  cfg.Sandbox.StopGrace,
		// The driver's own floor (initproc.MinConsoleBytes) is below 1 MiB.
		ConsoleBytes: cfg.ConsoleLogMB << 20,
		Subnet:       netip.MustParsePrefix(cfg.NetworkSubnet), // checked by config.Validate
	})
	if err != nil {
		return nil, err
	}
	log.Info("sandbox runtime ready", "runtime", d.Name(), "init", exe)
	return d, nil
}

// errNotRoot is why the oci driver does not start for another user.
var errNotRoot = errors.New("sandboxes need root (namespaces, cgroups, mounts); run hutch serve as root")

// resolveOrPull gives the driver an image's layers, pulling the image first
// when the local cache does not have it, as `docker run` does. A base
// image still being seeded is waited for (at most seedWait), and one that
// could not be seeded is not looked for on a registry: the error says
// why, and how to fix it. Errors name the image.
func resolveOrPull(images *image.Store, seeds *seeder, log *slog.Logger) func(ctx context.Context, ref string) (*image.Image, error) {
	return func(ctx context.Context, ref string) (*image.Image, error) {
		seedErr := seeds.wait(ctx, ref, seedWait)
		if errors.Is(seedErr, errdefs.ErrUnavailable) {
			// Still seeding, or seeding failed: a manual import may have
			// brought the image all the same.
			if img, err := images.Resolve(ctx, ref); err == nil {
				return img, nil
			}
			return nil, seedErr
		}
		if seedErr != nil {
			return nil, seedErr
		}
		img, err := images.Resolve(ctx, ref)
		if !errors.Is(err, errdefs.ErrNotFound) {
			return img, err
		}
		log.Info("image not cached; pulling", "image", ref)
		img, err = images.Pull(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("image %q is not cached and pulling it failed: %w", ref, err)
		}
		return img, nil
	}
}

// traversable checks that the sandbox's mapped root, an unprivileged host
// uid, can walk down to dir: crun fails deep inside otherwise, with a
// message that does not say which directory is at fault.
func traversable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return &notTraversableError{Dir: d, Mode: fi.Mode().Perm(), DataDir: abs}
		}
		if d == "/" {
			return nil
		}
	}
}

// notTraversableError is a parent of the data dir that the sandboxes'
// mapped uids cannot walk through (a data dir under /root, mode 0700).
type notTraversableError struct {
	Dir     string
	Mode    os.FileMode
	DataDir string
}

func (e *notTraversableError) Error() string {
	return fmt.Sprintf("%s (mode %v) is not traversable by others, so sandboxes cannot reach their files under %s: chmod o+x %s",
		e.Dir, e.Mode, e.DataDir, e.Dir)
}
