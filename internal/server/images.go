package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// baseImages are the offline images that scripts/build-base-images.sh
// leaves as rootfs tarballs; the server imports them in the background
// when its store lacks them, so a fresh machine needs no registry.
var baseImages = []string{"base", "python", "node"}

var baseConfig = image.Config{
	Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
	WorkingDir: "/root",
}

// seedWait bounds how long a create waits for the base image it needs
// while that image is still being seeded.
const seedWait = 2 * time.Minute

// Seed states, as /readyz shows them.
const (
	seedQueued    = "queued"
	seedImporting = "importing"
	seedReady     = "ready"
	seedMissing   = "missing"
	seedFailed    = "failed"
)

// seed is one base image's way into the store.
type seed struct {
	name, tar, key string
	state          string
	done, total    int64
	fromCache      bool
	err            error
	started        time.Time
	settled        chan struct{} // closed once state is ready, missing or failed
}

// seeder imports the base images the store lacks, one at a time and the
// default image first, while the server already answers. A create that
// needs one of them waits for it (see wait); /readyz shows the progress.
type seeder struct {
	store *image.Store
	log   *slog.Logger

	mu    sync.Mutex
	seeds []*seed

	stop     context.CancelFunc
	finished chan struct{}
}

// startSeeding looks up each base image in st at once (a restart finds
// them all and seeds nothing) and imports the missing ones from
// <dir>/<name>.tar in the background; first is imported before the
// others. An empty dir turns seeding off.
func startSeeding(ctx context.Context, st *image.Store, dir, first string, log *slog.Logger) *seeder {
	s := &seeder{store: st, log: log, finished: make(chan struct{})}
	ctx, s.stop = context.WithCancel(ctx)
	if dir == "" {
		close(s.finished)
		return s
	}
	names := append([]string(nil), baseImages...)
	for i, n := range names {
		if sameImage(n, first) {
			copy(names[1:i+1], names[:i])
			names[0] = n
			break
		}
	}
	var queue []*seed
	for _, name := range names {
		key, _ := image.Key(name)
		sd := &seed{name: name, key: key, tar: filepath.Join(dir, name+".tar"), state: seedQueued, settled: make(chan struct{})}
		s.seeds = append(s.seeds, sd)
		_, err := st.Resolve(ctx, name)
		switch {
		case err == nil:
			s.settle(sd, seedReady, nil)
		case !errors.Is(err, errdefs.ErrNotFound):
			log.Warn("check base image", "image", name, "err", err)
			s.settle(sd, seedFailed, err)
		default:
			fi, err := os.Stat(sd.tar)
			if err != nil {
				log.Warn("base image not built; run scripts/setup.sh (or hutch image import --rootfs)", "image", name, "missing", sd.tar)
				s.settle(sd, seedMissing, nil)
				continue
			}
			sd.total = fi.Size()
			queue = append(queue, sd)
		}
	}
	go func() {
		defer close(s.finished)
		for _, sd := range queue {
			s.importOne(ctx, sd)
		}
	}()
	return s
}

func (s *seeder) importOne(ctx context.Context, sd *seed) {
	s.mu.Lock()
	sd.state, sd.started = seedImporting, time.Now()
	s.mu.Unlock()
	img, fromCache, err := s.store.SeedRootfs(ctx, sd.tar, sd.name, baseConfig, func(n int64) {
		s.mu.Lock()
		sd.done = n
		s.mu.Unlock()
	})
	took := time.Since(sd.started).Round(time.Millisecond)
	switch {
	case errors.Is(err, image.ErrNotShared):
		s.log.Warn("imported base image, but could not add it to the shared image cache", "image", sd.name, "err", err)
		err = nil
	case err != nil:
		s.log.Error("import base image", "image", sd.name, "from", sd.tar, "err", err)
		s.settle(sd, seedFailed, err)
		return
	}
	s.mu.Lock()
	sd.fromCache = fromCache
	s.mu.Unlock()
	s.settle(sd, seedReady, nil)
	s.log.Info("imported base image", "image", img.Ref, "from", sd.tar, "linkedFromCache", fromCache, "took", took)
}

func (s *seeder) settle(sd *seed, state string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sd.state, sd.err = state, err
	if state == seedReady {
		sd.done = sd.total
	}
	close(sd.settled)
}

// close stops an import under way (its half-written layer is dropped, and
// the next start imports again) and waits for the seeder to end.
func (s *seeder) close() {
	s.stop()
	<-s.finished
}

// find is the seed of ref, if ref names a base image.
func (s *seeder) find(ref string) *seed {
	key, err := image.Key(ref)
	if err != nil {
		return nil
	}
	for _, sd := range s.seeds {
		if sd.key == key {
			return sd
		}
	}
	return nil
}

// wait holds a create that needs a base image still being seeded until
// it is there, for at most bound. It answers nil when ref is no base
// image or its seed is ready; an unavailable error (503, with Retry-After
// while seeding goes on) when the bound passes first; and the seed's own
// failure, naming the fix, when the image could not be seeded.
func (s *seeder) wait(ctx context.Context, ref string, bound time.Duration) error {
	sd := s.find(ref)
	if sd == nil {
		return nil
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-sd.settled:
	case <-t.C:
		return fmt.Errorf("image %q is still being imported by this server (%s); retry shortly (GET /readyz shows the progress): %w",
			sd.name, s.progress(sd), errdefs.ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch sd.state {
	case seedMissing:
		return fmt.Errorf("image %q was never built on this host (%s is missing): run scripts/setup.sh, or hutch image import --rootfs: %w",
			sd.name, sd.tar, errdefs.ErrUnavailable)
	case seedFailed:
		return fmt.Errorf("image %q could not be imported from %s: %v (see the server log; restarting the server tries again): %w",
			sd.name, sd.tar, sd.err, errdefs.ErrUnavailable)
	}
	return nil
}

// progress describes a seed under way, for messages.
func (s *seeder) progress(sd *seed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sd.state == seedQueued {
		return "queued behind the other base images"
	}
	return fmt.Sprintf("%s, %d of %d MB", percent(sd.done, sd.total), sd.done>>20, sd.total>>20)
}

func percent(done, total int64) string {
	if total <= 0 {
		return "0%"
	}
	return fmt.Sprintf("%d%%", done*100/total)
}

// busy reports whether any seed is still queued or importing, and a guess
// of how long the rest will take from the rate so far.
func (s *seeder) busy() (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var left, rate float64
	busy := false
	for _, sd := range s.seeds {
		switch sd.state {
		case seedQueued:
			busy, left = true, left+float64(sd.total)
		case seedImporting:
			busy, left = true, left+float64(sd.total-sd.done)
			if el := time.Since(sd.started).Seconds(); el > 0 && sd.done > 0 {
				rate = float64(sd.done) / el
			}
		}
	}
	if !busy {
		return false, 0
	}
	if rate <= 0 {
		return true, 5 * time.Second
	}
	return true, time.Duration(left / rate * float64(time.Second))
}

// check is the images condition of /readyz: ready when every base image is
// settled and the default one is in the store.
func (s *seeder) check(ctx context.Context, defaultImage string) (api.ReadinessCheck, bool) {
	c := api.ReadinessCheck{Name: "images", OK: true}
	transient := false
	s.mu.Lock()
	for _, sd := range s.seeds {
		si := api.SeedImage{Name: sd.name, State: sd.state, TotalBytes: sd.total, FromCache: sd.fromCache}
		switch sd.state {
		case seedImporting:
			si.DoneBytes = sd.done
			c.OK, transient = false, true
		case seedQueued:
			c.OK, transient = false, true
		case seedMissing:
			si.Message = sd.tar + " is missing"
		case seedFailed:
			si.Message = sd.err.Error()
		}
		c.Images = append(c.Images, si)
	}
	s.mu.Unlock()
	if transient {
		var parts []string
		for _, si := range c.Images {
			if si.State == seedImporting {
				parts = append(parts, fmt.Sprintf("%s %s", si.Name, percent(si.DoneBytes, si.TotalBytes)))
			}
		}
		c.Message = "importing the base images"
		if len(parts) > 0 {
			c.Message += ": " + parts[0]
		}
		return c, true
	}
	if _, err := s.store.Resolve(ctx, defaultImage); err != nil && errors.Is(err, errdefs.ErrNotFound) {
		c.OK = false
		c.Message = fmt.Sprintf("the default image %q is not in the image store, so sandboxes created without an image fail", defaultImage)
		c.Fix = "run scripts/setup.sh to build the base images, or hutch image import --rootfs / hutch image pull it, or set --default-image"
		for _, si := range c.Images {
			if sameImage(si.Name, defaultImage) && si.State == seedFailed {
				c.Message = fmt.Sprintf("the default image %q could not be imported: %s", defaultImage, si.Message)
				c.Fix = "see the server log; restart hutch serve to try again"
			}
		}
	}
	return c, false
}

func sameImage(a, b string) bool {
	ka, err1 := image.Key(a)
	kb, err2 := image.Key(b)
	return err1 == nil && err2 == nil && ka == kb
}

// openImages opens the data dir's image store, linked to the host's
// shared cache of seeded layers when there is one (a shared cache that
// cannot be opened only costs the speed-up, with a warning).
func openImages(cfg config.Config, guard *egress.Guard, log *slog.Logger, more ...image.OpenOption) (*image.Store, error) {
	il := cfg.ImageLimits
	opts := append([]image.OpenOption{image.WithEgress(guard),
		image.WithLimits(image.Limits{Compressed: il.CompressedMB << 20, Unpacked: il.UnpackedMB << 20})}, more...)
	if cfg.ImageCache != "" && cfg.SeedImages != "" {
		sh, err := image.OpenShared(cfg.ImageCache)
		if err != nil {
			log.Warn("no shared image cache: each data dir unpacks its own base images", "err", err)
		} else {
			opts = append(opts, image.WithShared(sh))
		}
	}
	st, err := image.Open(filepath.Join(cfg.DataDir, "images"), opts...)
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	return st, nil
}
