package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
)

// newRuntime builds the sandbox runtime driver for this host.
func newRuntime(ctx context.Context, cfg config.Config, images *image.Store, log *slog.Logger) (runtime.Runtime, error) {
	return nil, errors.New("the OCI runtime driver is not wired in yet")
}
