package fakeruntime

import (
	"context"
	"fmt"
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
