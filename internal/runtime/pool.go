package runtime

import "context"

// PoolSpec names one sandbox prepared ahead of demand: booted on its image
// with its disk, network and agent up, but nothing of a user's yet (no
// entrypoint, env, limits or policy; a driver that declares
// Capabilities.PoolLimits applies the limits here at prepare).
type PoolSpec struct {
	// ID is the prepared sandbox's own id, never a user's sandbox id.
	ID string
	// Runtime is the driver under Multi ("oci", "gvisor"); a single
	// driver ignores it and Prepared leaves it empty.
	Runtime string
	Image   string
	DiskMB  int64
	// CPU and MemoryMB are the limits a PoolLimits driver prepares
	// with; zero (and ignored) for the others, which apply a spec's
	// limits at Take.
	CPU      float64
	MemoryMB int64
}

// Pooler is implemented by drivers that can prepare sandboxes ahead of
// demand (Capabilities.Pool), so that a create takes one instead of
// booting: the lifecycle keeps a few per image and refills them in the
// background.
type Pooler interface {
	// Prepare boots p ready to be taken. A failed Prepare leaves nothing
	// behind.
	Prepare(ctx context.Context, p PoolSpec) error
	// Take turns the prepared sandbox p into the sandbox spec.ID, which
	// is from then on the same as one Create made from spec: its
	// entrypoint runs with spec.Env, its limits and network policy are
	// spec's, and every other method knows it by spec.ID only. The caller
	// takes only p whose Image and DiskMB equal spec's (and, under
	// Capabilities.PoolLimits, whose CPU and MemoryMB). A failed Take
	// leaves neither p nor spec.ID behind, so that the caller can Create
	// spec.ID instead.
	Take(ctx context.Context, p PoolSpec, spec Spec) error
	// DropPrepared removes a prepared sandbox that was never taken.
	DropPrepared(ctx context.Context, p PoolSpec) error
	// Prepared lists the prepared sandboxes the driver holds, so that a
	// restarted server finds what a crash left.
	Prepared(ctx context.Context) ([]PoolSpec, error)
}

// AsPooler returns rt's pooler when it declares and has one.
func AsPooler(rt Runtime) (Pooler, bool) { return as[Pooler](rt, Capabilities.hasPool) }

func (c Capabilities) hasPool() bool { return c.Pool }
