package image

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// Progress is one report on one layer of a pull, for the CLI's progress
// display. Reports for a pull are delivered one at a time, never
// concurrently, though layers download in parallel.
type Progress struct {
	Ref      string // normalised reference being pulled
	Layer    string // compressed digest of the layer
	Index    int    // position of the layer, 0 = lowest
	Count    int    // layers in the image
	Total    int64  // compressed bytes of the layer
	Done     int64  // bytes downloaded so far
	Cached   bool   // the layer was already unpacked: nothing downloaded
	Complete bool   // the layer is verified and unpacked (or was cached)
}

// PullOption configures Pull.
type PullOption func(*pullOptions)

type pullOptions struct {
	auth     authn.Authenticator
	progress func(Progress)
	platform v1.Platform
	// namespace is where the image goes (set by View.Pull).
	namespace string
}

// WithBasicAuth sends registry credentials; without it pulls are anonymous.
func WithBasicAuth(user, pass string) PullOption {
	return func(o *pullOptions) { o.auth = &authn.Basic{Username: user, Password: pass} }
}

// WithProgress receives per-layer download reports.
func WithProgress(fn func(Progress)) PullOption {
	return func(o *pullOptions) { o.progress = fn }
}

// Pull downloads ref from its registry into the cache and returns it.
// Layers already unpacked are not downloaded again. A multi-arch index
// resolves to linux on this machine's architecture. The image is stored
// in the shared namespace under Normalize(ref), so Resolve(ref) finds it
// afterwards; View.Pull stores it in an organisation's. The store's
// Limits hold while the layers stream in.
func (s *Store) Pull(ctx context.Context, ref string, opts ...PullOption) (*Image, error) {
	start := time.Now()
	img, err := s.pull(ctx, ref, opts...)
	if s.pulled != nil {
		s.pulled(time.Since(start), err)
	}
	return img, err
}

// WithPullObserver tells f the duration and outcome of every Pull (the
// server counts pulls in its metrics).
func WithPullObserver(f func(time.Duration, error)) OpenOption {
	return func(s *Store) { s.pulled = f }
}

func (s *Store) pull(ctx context.Context, ref string, opts ...PullOption) (*Image, error) {
	o := pullOptions{auth: authn.Anonymous, platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}
	for _, opt := range opts {
		opt(&o)
	}
	r, err := parseRemote(ref)
	if err != nil {
		return nil, err
	}
	key := remoteKey(r)
	ctx = s.withBudget(ctx)
	img, err := s.fetch(ctx, r, o)
	if err != nil {
		return nil, classify("pull", key, scrub(err))
	}
	ao := addOptions{compressed: true, platform: &o.platform, download: true}
	if o.progress != nil {
		ao.report = serialise(key, o.progress)
	}
	out, err := s.addImage(ctx, nsKey(o.namespace, key), img, ao)
	if err != nil {
		return nil, classify("pull", key, scrub(err))
	}
	return out, nil
}

// fetch resolves r to one image manifest, choosing o.platform from an index.
func (s *Store) fetch(ctx context.Context, r name.Reference, o pullOptions) (v1.Image, error) {
	ropts := []remote.Option{
		remote.WithContext(ctx), remote.WithAuth(o.auth),
		remote.WithPlatform(o.platform), remote.WithUserAgent("hutch"),
		remote.WithTransport(s.registries),
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() && m.Platform != nil && m.Platform.Satisfies(o.platform) {
			return idx.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("no %s image in the index: %w", o.platform, errdefs.ErrNotFound)
}
