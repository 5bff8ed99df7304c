package sandbox

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hutchdev/hutch/internal/runtime"
)

// Warm pools. For each image and runtime configured (PoolConfig), the
// service keeps a few sandboxes the driver prepared ahead of demand
// (runtime.Pooler): booted on the image, with network and agent up, but
// no user's entrypoint, env or limits yet. A create whose image (resolved
// as the cold path resolves it, to a digest), runtime and disk size match
// takes one instead of booting (createRuntime); the pool refills in the
// background, one prepare at a time and only once creates have gone quiet
// (pool_fill.go).
//
// Prepared sandboxes are no organisation's: they have no record, so no
// list, get, event or quota sees them. Each pins its image under its pool
// id (PoolIDPrefix), so an image removal cannot take its layers; a take
// moves the pin to the sandbox, and a removal of the image drops its
// members. Shutdown drops every member; a restart keeps the members the
// driver still holds that match the configuration and drops the rest.

// PoolIDPrefix starts the id of every prepared sandbox, so that no
// sandbox id is ever one and the image pins of the pool are told apart.
const PoolIDPrefix = "pool_"

// Create paths, named in the event that settles a create.
const (
	CreatePathPool = "pool"
	CreatePathCold = "cold"
)

// createPathMessage is the message of the event a create settles with.
func createPathMessage(path string) string { return "createPath: " + path }

// poolKey is what a prepared sandbox can serve: creates on its runtime,
// its image's digest (the reference when there is no image cache) and
// its disk size.
type poolKey struct {
	Runtime, Image string
	DiskMB         int64
}

// pool is the service's warm pools.
type pool struct {
	s  *Service
	pl runtime.Pooler

	mu         sync.Mutex
	ready      map[poolKey][]runtime.PoolSpec
	creating   int       // creates in flight
	lastCreate time.Time // when the last create began or ended
	closed     bool

	kick     chan struct{} // wakes the filler: a take, a create's end
	failures atomic.Int64  // prepares that failed, for /metrics
	stop     context.CancelFunc
	done     chan struct{}
}

func newPool(s *Service) *pool {
	if s.rt == nil {
		return nil
	}
	pl, ok := runtime.AsPooler(s.rt)
	if !ok {
		return nil
	}
	return &pool{s: s, pl: pl, ready: map[poolKey][]runtime.PoolSpec{}, kick: make(chan struct{}, 1)}
}

func (p *pool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// createBegins and createEnds bracket a create, so that the filler waits
// for creates instead of competing with them.
func (p *pool) createBegins() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.creating++
	p.lastCreate = time.Now()
	p.mu.Unlock()
}

func (p *pool) createEnds() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.creating--
	p.lastCreate = time.Now()
	p.mu.Unlock()
	p.wake()
}

// take removes and returns a member that can serve k.
func (p *pool) take(k poolKey) (runtime.PoolSpec, bool) {
	if p == nil {
		return runtime.PoolSpec{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ms := p.ready[k]
	if p.closed || len(ms) == 0 {
		return runtime.PoolSpec{}, false
	}
	m := ms[len(ms)-1]
	p.ready[k] = ms[:len(ms)-1]
	return m, true
}

// add makes m a member, unless the pool closed meanwhile.
func (p *pool) add(k poolKey, m runtime.PoolSpec) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.ready[k] = append(p.ready[k], m)
	return true
}

// remove takes out every member keep refuses and returns them.
func (p *pool) remove(keep func(poolKey) bool) []runtime.PoolSpec {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []runtime.PoolSpec
	for k, ms := range p.ready {
		if !keep(k) {
			out = append(out, ms...)
			delete(p.ready, k)
		}
	}
	return out
}

func (p *pool) count(k poolKey) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready[k])
}

// PoolStatus is one configured pool: its size and how many prepared
// sandboxes are ready in it.
type PoolStatus struct {
	Image, Runtime string
	Size, Ready    int
}

// Pools lists the configured pools of the runtimes that can prepare
// sandboxes, with how many members are ready. It is empty when the
// runtime cannot.
func (s *Service) Pools(ctx context.Context) []PoolStatus {
	p := s.pool
	if p == nil {
		return nil
	}
	var out []PoolStatus
	for _, t := range s.cfg.poolTargets() {
		if t.Size == 0 || !s.canPool(t.Runtime) {
			continue
		}
		st := PoolStatus{Image: t.Image, Runtime: t.Runtime, Size: t.Size}
		if k, err := s.poolKeyOf(ctx, t); err == nil {
			st.Ready = p.count(k)
		}
		out = append(out, st)
	}
	return out
}

// PoolFailures counts the prepares that failed since the server started.
func (s *Service) PoolFailures() int64 {
	if s.pool == nil {
		return 0
	}
	return s.pool.failures.Load()
}

// canPool says whether the driver called name prepares sandboxes.
func (s *Service) canPool(name string) bool {
	if m, ok := s.rt.(*runtime.Multi); ok {
		d, ok := m.Driver(name)
		return ok && d.Capabilities().Pool
	}
	return s.rt.Capabilities().Pool && slices.Contains(s.cfg.availableRuntimes(), name)
}

// poolKeyOf is what t's members are now: its reference resolved in the
// shared namespace.
func (s *Service) poolKeyOf(ctx context.Context, t PoolSize) (poolKey, error) {
	k := poolKey{Runtime: t.Runtime, Image: t.Image, DiskMB: s.cfg.DefaultResources.DiskMB}
	if st := s.Images().cache; st != nil {
		img, err := st.In("").Resolve(ctx, t.Image)
		if err != nil {
			return k, err
		}
		k.Image = img.Digest
	}
	return k, nil
}
