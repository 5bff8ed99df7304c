package fakeruntime

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Checkpointing is the fake of a driver that can archive and checkpoint:
// Capabilities.Checkpoint declared and runtime.Checkpointer implemented.
// A checkpointed sandbox stays paused and is marked as on disk until it
// is restored, stopped or deleted.
type Checkpointing struct {
	*Archiving
	mu     sync.Mutex
	onDisk map[string]int64 // sandbox -> image size
}

var _ runtime.Checkpointer = (*Checkpointing)(nil)

// ImageSize is what every fake checkpoint reports writing.
const ImageSize = 3 << 20

// NewCheckpointing returns an empty fake that can archive and checkpoint.
func NewCheckpointing() *Checkpointing {
	return &Checkpointing{Archiving: NewArchiving(), onDisk: map[string]int64{}}
}

// Capabilities implements runtime.Runtime: the archiving fake's, and
// Checkpoint.
func (c *Checkpointing) Capabilities() runtime.Capabilities {
	caps := c.Archiving.Capabilities()
	caps.Checkpoint = true
	return caps
}

// OnDisk reports whether sandbox id is checkpointed.
func (c *Checkpointing) OnDisk(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.onDisk[id]
	return ok
}

// Checkpoint implements runtime.Checkpointer; the sandbox must be paused.
func (c *Checkpointing) Checkpoint(ctx context.Context, id string) (int64, error) {
	if err := c.op("checkpoint", id, []runtime.State{runtime.StatePaused}, runtime.StatePaused); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onDisk[id] = ImageSize
	return ImageSize, nil
}

// Restore implements runtime.Checkpointer.
func (c *Checkpointing) Restore(ctx context.Context, id string) error {
	if err := c.op("restore", id, []runtime.State{runtime.StatePaused}, runtime.StatePaused); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.onDisk[id]; !ok {
		return fmt.Errorf("fake: restore of %s, which has no checkpoint: %w", id, errdefs.ErrConflict)
	}
	delete(c.onDisk, id)
	return nil
}

// Resume implements runtime.Runtime; a checkpointed sandbox cannot
// resume before it is restored.
func (c *Checkpointing) Resume(ctx context.Context, id string) error {
	if c.OnDisk(id) {
		return fmt.Errorf("fake: resume of %s, which is on disk: %w", id, errdefs.ErrConflict)
	}
	return c.Archiving.Resume(ctx, id)
}

// Stop implements runtime.Runtime: a stop ends what a checkpoint held.
func (c *Checkpointing) Stop(ctx context.Context, id string, grace time.Duration) error {
	c.drop(id)
	return c.Archiving.Stop(ctx, id, grace)
}

// Start implements runtime.Runtime: as the oci driver does, a
// checkpointed sandbox boots fresh, its image dropped.
func (c *Checkpointing) Start(ctx context.Context, spec runtime.Spec) error {
	if c.OnDisk(spec.ID) {
		c.drop(spec.ID)
		c.Set(spec.ID, runtime.StateStopped)
	}
	return c.Archiving.Start(ctx, spec)
}

// Delete implements runtime.Runtime.
func (c *Checkpointing) Delete(ctx context.Context, id string) error {
	c.drop(id)
	return c.Archiving.Delete(ctx, id)
}

func (c *Checkpointing) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.onDisk, id)
}

// memoryMark ends the bytes of a writable layer in the stream of a
// checkpointed sandbox's Export; its image follows (as its size).
const memoryMark = "\x00fake-memory-image:"

// Export implements runtime.Archiver: a checkpointed sandbox's stream
// carries its image after its writable layer.
func (c *Checkpointing) Export(ctx context.Context, id string, w io.Writer) error {
	c.mu.Lock()
	size, ok := c.onDisk[id]
	c.mu.Unlock()
	if !ok {
		return c.Archiving.Export(ctx, id, w)
	}
	c.record("export " + id)
	b, _ := c.Disk(id)
	_, err := fmt.Fprintf(w, "%s%s%d", b, memoryMark, size)
	return err
}

// Discard implements runtime.Archiver: the image goes with the disk.
func (c *Checkpointing) Discard(ctx context.Context, id string) error {
	c.drop(id)
	return c.Archiving.Discard(ctx, id)
}

// Import implements runtime.Archiver: an image in the stream makes the
// sandbox checkpointed again.
func (c *Checkpointing) Import(ctx context.Context, id string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	disk, image, found := strings.Cut(string(b), memoryMark)
	if err := c.Archiving.Import(ctx, id, strings.NewReader(disk)); err != nil || !found {
		return err
	}
	size, err := strconv.ParseInt(image, 10, 64)
	if err != nil {
		return fmt.Errorf("fake: import of %s: image %q: %w", id, image, errdefs.ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onDisk[id] = size
	return nil
}
