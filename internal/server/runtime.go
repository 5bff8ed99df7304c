package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
)

// newRuntime builds the OCI driver. The running hutch binary doubles as
// every sandbox's PID 1 (`hutch init`), so it must be a static build, which
// scripts/setup.sh makes.
func newRuntime(ctx context.Context, cfg config.Config, images *image.Store, log *slog.Logger) (runtime.Runtime, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("sandboxes need root (namespaces, cgroups, mounts); run hutch serve as root")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the hutch binary for sandbox init: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, fmt.Errorf("find the hutch binary for sandbox init: %w", err)
	}
	d, err := oci.New(oci.Config{
		Runtime:    cfg.Runtime,
		StateDir:   filepath.Join(cfg.DataDir, "runtime"),
		Images:     images.Resolve,
		InitBinary: exe,
		StopGrace:  cfg.Sandbox.StopGrace,
	})
	if err != nil {
		return nil, err
	}
	log.Info("sandbox runtime ready", "runtime", d.Name(), "init", exe)
	return d, nil
}
