package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Pins. A sandbox's root filesystem is built over the layers of the image
// it was created from, for as long as the sandbox exists: stopped,
// archived or running. Its record keeps the reference ("base"), which may
// name another image tomorrow (a newer pull, an import under the same
// name, a removal). So the store keeps, per sandbox (an owner), the
// manifest digests it runs on, and a copy of each such image's record:
// a collection never deletes a layer of a pinned image, whatever
// happened to its name since. Unpin, when the sandbox is deleted, lets
// them go.
//
// Pins are written with the index, so they survive restarts.

// Pin resolves ref in the view and pins owner to that image, in one step
// under the store's lock: no replacement can come between the lookup and
// the pin. The image it returns is the one to hand the runtime, by its
// Digest (Store.Resolve finds pinned digests). Any earlier pins of owner
// are replaced.
func (v View) Pin(ctx context.Context, owner, ref string) (*Image, error) {
	return v.pin(ctx, owner, ref, true)
}

// Adopt pins owner to what ref names now unless owner has pins already,
// for sandboxes made before pins existed; it reports whether it pinned.
func (v View) Adopt(ctx context.Context, owner, ref string) (bool, error) {
	img, err := v.pin(ctx, owner, ref, false)
	return img != nil, err
}

func (v View) pin(ctx context.Context, owner, ref string, replace bool) (*Image, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.idx.Pins[owner]; ok && !replace {
		return nil, nil
	}
	rec, err := s.lookupLocked(v.namespaces(), ref, false)
	if err != nil {
		return nil, err
	}
	img, err := s.imageLocked(rec)
	if err != nil {
		return nil, err
	}
	old := s.idx.Pins[owner]
	s.idx.Pins[owner] = []string{rec.Digest}
	s.keepLocked(rec)
	if err := s.saveLocked(); err != nil {
		return nil, fmt.Errorf("pin image %s for %s: %w", rec.Ref, owner, err)
	}
	if len(old) > 0 && !slices.Equal(old, s.idx.Pins[owner]) {
		// The replaced pins' images may have nothing else keeping them.
		s.forgetUnpinnedLocked()
		if err := s.gcLocked(); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// keepLocked records rec as a pinned image, unless its digest is there.
func (s *Store) keepLocked(rec *record) {
	if _, ok := s.idx.Pinned[rec.Digest]; !ok {
		cp := *rec
		s.idx.Pinned[rec.Digest] = &cp
	}
}

// Unpin drops every pin of the owners and collects the layers no image
// and no other pin keeps.
func (s *Store) Unpin(ctx context.Context, owners ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, o := range owners {
		if _, ok := s.idx.Pins[o]; ok {
			delete(s.idx.Pins, o)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	s.forgetUnpinnedLocked()
	if err := s.saveLocked(); err != nil {
		return fmt.Errorf("unpin images: %w", err)
	}
	return s.gcLocked()
}

// forgetUnpinnedLocked drops the pinned records no pin names any more.
func (s *Store) forgetUnpinnedLocked() {
	used := map[string]bool{}
	for _, ds := range s.idx.Pins {
		for _, d := range ds {
			used[d] = true
		}
	}
	for d := range s.idx.Pinned {
		if !used[d] {
			delete(s.idx.Pinned, d)
		}
	}
}

// Pins returns, per owner, the manifest digests it is pinned to.
func (s *Store) Pins() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.idx.Pins))
	for o, ds := range s.idx.Pins {
		out[o] = slices.Clone(ds)
	}
	return out
}

// Lease postpones every collection of the store until it is released,
// and remembers the images that leave the index meanwhile (replaced or
// removed). It is for a sandbox whose image someone else resolves after
// the lease is taken: a runtime that waits for a base image being seeded,
// or fetches one that is not cached. Release then pins the sandbox to
// every image its reference could have named during the lease, so the
// one the runtime took is among them, whichever it was.
type Lease struct {
	v    View
	left []*record
}

// Lease opens a lease on the view (see Lease).
func (v View) Lease() *Lease {
	l := &Lease{v: v}
	v.s.mu.Lock()
	v.s.leases[l] = struct{}{}
	v.s.mu.Unlock()
	return l
}

// Release closes the lease, pinning owner (in addition to any pins it
// has) to the images ref names now in the view's namespace and in the
// shared one, and to those that left the index under one of ref's names
// during the lease; then runs the collection the lease postponed. A
// release without an owner only closes the lease.
func (l *Lease) Release(ctx context.Context, owner, ref string) error {
	s := l.v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.leases[l]; !ok {
		return nil
	}
	delete(s.leases, l)
	var pinErr, gcErr error
	if owner != "" {
		pinErr = l.pinLocked(owner, ref)
	}
	if len(s.leases) == 0 && s.gcPending {
		gcErr = s.gcLocked()
	}
	return errors.Join(pinErr, gcErr)
}

func (l *Lease) pinLocked(owner, ref string) error {
	s := l.v.s
	keys, err := lookupKeys(ref)
	if err != nil {
		return err
	}
	var recs []*record
	for _, ns := range l.v.namespaces() {
		if rec, err := s.lookupLocked([]string{ns}, ref, false); err == nil {
			recs = append(recs, rec)
		}
		for _, rec := range l.left {
			if rec.Namespace == ns && slices.Contains(keys, rec.Ref) {
				recs = append(recs, rec)
			}
		}
	}
	if len(recs) == 0 {
		return nil
	}
	digests := slices.Clone(s.idx.Pins[owner])
	for _, rec := range recs {
		s.keepLocked(rec)
		if !slices.Contains(digests, rec.Digest) {
			digests = append(digests, rec.Digest)
		}
	}
	sort.Strings(digests)
	s.idx.Pins[owner] = digests
	return s.saveLocked()
}
