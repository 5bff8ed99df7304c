package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// baseImages are the offline images that scripts/build-base-images.sh
// leaves as rootfs tarballs; the server imports them on start when its
// store lacks them, so a fresh machine needs no registry.
var baseImages = []string{"base", "python", "node"}

var baseConfig = image.Config{
	Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
	WorkingDir: "/root",
}

// seedImages imports <dir>/<name>.tar for each base image not yet in st.
// An empty dir turns seeding off.
func seedImages(ctx context.Context, st *image.Store, dir string, log *slog.Logger) {
	if dir == "" {
		return
	}
	for _, name := range baseImages {
		if _, err := st.Resolve(ctx, name); err == nil {
			continue
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			log.Warn("check base image", "image", name, "err", err)
			continue
		}
		tar := filepath.Join(dir, name+".tar")
		if _, err := os.Stat(tar); err != nil {
			log.Warn("base image not built; run scripts/setup.sh (or hutch image import --rootfs)", "image", name, "missing", tar)
			continue
		}
		start := time.Now()
		if _, err := st.ImportRootfs(ctx, tar, name, baseConfig); err != nil {
			log.Error("import base image", "image", name, "err", err)
			continue
		}
		log.Info("imported base image", "image", name, "from", tar, "took", time.Since(start).Round(time.Millisecond))
	}
}
