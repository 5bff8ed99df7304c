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
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// withGvisor adds the gvisor runtime beside oci when cfg.Runsc exists (a
// server whose default is gvisor fails without it), and returns the
// runtime the lifecycle holds with the names of those it has: oci alone,
// or both behind a runtime.Multi that finds each sandbox's driver in its
// stored record. cfg.Sandbox learns the names and the default.
func withGvisor(cfg *config.Config, ociRT runtime.Runtime, images *image.Store, seeds *seeder,
	sandboxes interface {
		GetSandboxByID(ctx context.Context, id string) (*sandbox.Sandbox, error)
	}, log *slog.Logger) (runtime.Runtime, error) {
	cfg.Sandbox.DefaultRuntime = cfg.Runtime
	if cfg.Runtime == config.RuntimeKube { // the cluster runs every sandbox
		cfg.Sandbox.Runtimes = []string{config.RuntimeKube}
		return ociRT, nil
	}
	cfg.Sandbox.Runtimes = []string{config.RuntimeOCI}
	if _, err := os.Stat(cfg.Runsc); err != nil {
		if cfg.Runtime == config.RuntimeGvisor {
			return nil, fmt.Errorf("runtime gvisor: runsc %s: %w (scripts/build-runsc.sh builds it)", cfg.Runsc, err)
		}
		log.Info("gvisor runtime off: no runsc", "runsc", cfg.Runsc)
		return ociRT, nil
	}
	if ociRT == nil {
		return nil, errors.New("the gvisor runtime runs beside oci, which did not start")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, err
	}
	g, err := oci.NewGvisor(oci.Config{
		RuntimePath: cfg.Runsc,
		StateDir:    filepath.Join(cfg.DataDir, "runtime-gvisor"),
		Images:      resolveOrPull(images, seeds, log),
		InitBinary:  exe,
		StopGrace:   cfg.Sandbox.StopGrace,
		Subnet:      netip.MustParsePrefix(cfg.NetworkSubnet), // checked by config.Validate
	})
	if err != nil {
		return nil, fmt.Errorf("runtime gvisor: %w", err)
	}
	m, err := runtime.NewMulti(map[string]runtime.Runtime{config.RuntimeOCI: ociRT, config.RuntimeGvisor: g},
		func(ctx context.Context, id string) (string, error) {
			sb, err := sandboxes.GetSandboxByID(ctx, id)
			if err != nil {
				return "", err
			}
			return sandbox.RuntimeOf(sb), nil
		})
	if err != nil {
		return nil, err
	}
	cfg.Sandbox.Runtimes = m.Names()
	log.Info("gvisor runtime ready", "runsc", cfg.Runsc, "default", cfg.Runtime)
	return m, nil
}
