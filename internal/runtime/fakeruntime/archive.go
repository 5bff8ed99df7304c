package fakeruntime

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Archiving is the fake of a driver that can archive: the same sandboxes
// as Fake, with Capabilities.Archive declared and runtime.Archiver
// implemented, so that its flags and interfaces agree (runtime.Check).
// Each sandbox's writable layer is a byte slice.
type Archiving struct {
	*Fake
	mu    sync.Mutex
	disks map[string][]byte
}

var (
	_ runtime.Runtime  = (*Archiving)(nil)
	_ runtime.Archiver = (*Archiving)(nil)
)

// NewArchiving returns an empty fake that can archive.
func NewArchiving() *Archiving {
	return &Archiving{Fake: New(), disks: map[string][]byte{}}
}

// Capabilities implements runtime.Runtime: the fake's, and Archive.
func (a *Archiving) Capabilities() runtime.Capabilities {
	c := a.Fake.Capabilities()
	c.Archive = true
	return c
}

// WriteDisk sets the bytes standing for a sandbox's writable layer.
func (a *Archiving) WriteDisk(id string, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.disks[id] = append([]byte(nil), b...)
}

// Disk returns a sandbox's writable layer and whether it has one.
func (a *Archiving) Disk(id string) ([]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.disks[id]
	return b, ok
}

// Export implements runtime.Archiver.
func (a *Archiving) Export(ctx context.Context, id string, w io.Writer) error {
	a.record("export " + id)
	if st := a.State(id); st != runtime.StateStopped {
		return fmt.Errorf("fake: export of %s in state %s: %w", id, st, errdefs.ErrConflict)
	}
	b, _ := a.Disk(id)
	_, err := w.Write(b)
	return err
}

// Discard implements runtime.Archiver.
func (a *Archiving) Discard(ctx context.Context, id string) error {
	a.record("discard " + id)
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.disks, id)
	return nil
}

// Import implements runtime.Archiver.
func (a *Archiving) Import(ctx context.Context, id string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	a.WriteDisk(id, b)
	a.record("import " + id)
	return nil
}
