package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/trace"
)

// createRuntime boots a new sandbox on the image its reference names in
// its organisation: that organisation's own image of the name first, then
// the shared one. The image is pinned to the sandbox before the runtime
// sees it, and the runtime is handed its digest, so the sandbox runs
// exactly what was resolved and keeps its layers until it is deleted.
//
// A reference nobody has yet is fetched into the organisation's
// namespace, except a bare library name ("base", "python:3.12"): that
// goes to the runtime as it is, which may wait for the server to seed it
// or fetch the public image into the shared namespace, under a lease
// that pins whatever it took.
//
// With pool, a prepared sandbox of the same runtime, image digest and
// disk size (and limits, on a driver that fixes them at prepare) serves
// the create when there is one (takeFromPool). The path that served it
// is returned: CreatePathPool or CreatePathCold.
func (s *Service) createRuntime(ctx context.Context, sb *Sandbox, pool bool) (string, error) {
	spec := specOf(sb)
	st := s.Images().cache
	if st == nil {
		if pool && s.takeFromPool(ctx, sb, spec) {
			return CreatePathPool, nil
		}
		return CreatePathCold, s.rt.Create(ctx, spec)
	}
	v := st.In(sb.OrganizationID)
	endPin := trace.Start(ctx, "image-pin")
	img, err := v.Pin(ctx, sb.ID, sb.Image)
	endPin()
	switch {
	case err == nil:
	case !errors.Is(err, errdefs.ErrNotFound):
		return CreatePathCold, err
	case strings.HasPrefix(sb.Image, "sha256:"):
		return CreatePathCold, fmt.Errorf("image %s: %w", sb.Image, errdefs.ErrNotFound)
	case image.LibraryName(sb.Image):
		lease := v.Lease()
		err := s.rt.Create(ctx, spec)
		if rerr := lease.Release(context.WithoutCancel(ctx), sb.ID, sb.Image); rerr != nil {
			s.log.Error("pin the image of a new sandbox", "sandbox", sb.ID, "image", sb.Image, "err", rerr)
		}
		return CreatePathCold, err
	default:
		pctx, err := s.withImageQuota(ctx, sb.OrganizationID)
		if err != nil {
			return CreatePathCold, err
		}
		if _, err := v.Pull(pctx, sb.Image); err != nil {
			return CreatePathCold, fmt.Errorf("image %q is not cached and pulling it failed: %w", sb.Image, err)
		}
		if img, err = v.Pin(ctx, sb.ID, sb.Image); err != nil {
			return CreatePathCold, err
		}
	}
	spec.Image = img.Digest
	if pool && s.takeFromPool(ctx, sb, spec) {
		return CreatePathPool, nil
	}
	return CreatePathCold, s.rt.Create(ctx, spec)
}

// takeFromPool turns a prepared sandbox that can serve spec into sb, and
// reports whether it did. spec's image is resolved and pinned to sb
// already, so the member's own pin goes, and then the member itself
// (pool_owner.go), whatever the take's outcome. A failed take leaves
// nothing (runtime.Pooler), and the caller boots sb cold instead; so it
// does when the member is no longer this replica's (its lock ended with
// a session and another replica took it).
func (s *Service) takeFromPool(ctx context.Context, sb *Sandbox, spec runtime.Spec) bool {
	if s.pool == nil {
		return false
	}
	m, ok := s.pool.take(s.keyOf(runtime.PoolSpec{Runtime: RuntimeOf(sb), Image: spec.Image, DiskMB: spec.DiskMB,
		CPU: spec.CPU, MemoryMB: spec.MemoryMB}))
	if !ok {
		return false
	}
	defer s.pool.wake()
	if !s.pool.confirmed(ctx, m) {
		return false // another replica's now, or gone
	}
	end := trace.Start(ctx, "pool-take")
	err := s.pool.pl.Take(ctx, m, spec)
	end()
	s.releaseImages(context.WithoutCancel(ctx), m.ID)
	s.pool.disown(m.ID)
	if err != nil {
		s.log.Warn("take a pooled sandbox; booting it cold", "sandbox", sb.ID, "pooled", m.ID, "err", err)
		return false
	}
	return true
}

// releaseImages lets the images a deleted sandbox ran on go, with the
// layers nothing else keeps. The delete has happened: a failure here only
// leaves layers for the next change to the cache to collect.
func (s *Service) releaseImages(ctx context.Context, id string) {
	st := s.Images().cache
	if st == nil {
		return
	}
	if err := st.Unpin(ctx, id); err != nil {
		s.log.Warn("release the images of a deleted sandbox", "sandbox", id, "err", err)
	}
}
