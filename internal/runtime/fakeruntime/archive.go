package fakeruntime

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.Archiver = (*Fake)(nil)

// EnableArchive makes the fake declare Capabilities.Archive; without it
// the fake is a runtime that cannot archive, as the API must handle too.
func (f *Fake) EnableArchive() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canArchive = true
}

// AddCPU adds d to a sandbox's cumulative CPU time, as its processes
// working would.
func (f *Fake) AddCPU(id string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cpu == nil {
		f.cpu = map[string]time.Duration{}
	}
	f.cpu[id] += d
}

// WriteDisk sets the bytes standing for a sandbox's writable layer.
func (f *Fake) WriteDisk(id string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.disks == nil {
		f.disks = map[string][]byte{}
	}
	f.disks[id] = append([]byte(nil), b...)
}

// Disk returns a sandbox's writable layer and whether it has one.
func (f *Fake) Disk(id string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.disks[id]
	return b, ok
}

// Export implements runtime.Archiver.
func (f *Fake) Export(ctx context.Context, id string, w io.Writer) error {
	f.mu.Lock()
	f.Calls = append(f.Calls, "export "+id)
	st, b := f.states[id], f.disks[id]
	f.mu.Unlock()
	if st != runtime.StateStopped {
		return fmt.Errorf("fake: export of %s in state %s: %w", id, st, errdefs.ErrConflict)
	}
	_, err := w.Write(b)
	return err
}

// Discard implements runtime.Archiver.
func (f *Fake) Discard(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, "discard "+id)
	delete(f.disks, id)
	return nil
}

// Import implements runtime.Archiver.
func (f *Fake) Import(ctx context.Context, id string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.WriteDisk(id, b)
	f.mu.Lock()
	f.Calls = append(f.Calls, "import "+id)
	f.mu.Unlock()
	return nil
}
