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
// A driver that declares Capabilities.PoolLimits fixes a member's CPU
// and memory at prepare (a pod's QoS class cannot change): its
// members are prepared with the configured default resources, and only a
// create with exactly those limits takes one; a create with others boots
// cold. For the other drivers the limits are no part of the key and are
// zero in PoolSpec, since Take applies the create's own.
//
// Prepared sandboxes are no organisation's: they have no record, so no
// list, get, event or quota sees them. Each pins its image under its pool
// id (PoolIDPrefix), so an image removal cannot take its layers; a take
// moves the pin to the sandbox, and a removal of the image drops its
// members. Shutdown drops every member; a restart keeps the members the
// driver still holds that match the configuration and drops the rest.
//
// Replicas that share a driver (kube: one cluster, one PostgreSQL) all
// see every member. Each member is owned by exactly one live replica,
// which holds its shared lock ("pool <id>", SharedLocker) from before
// its prepare until it is taken or dropped; a replica adopts or drops
// only members whose lock it can take, so the members of a replica that
// died are taken in by another's next pass (pool_adopt.go), and a live
// replica's are left alone. A session can also end under a live replica
// (a broken connection): it then confirms that it still owns a member
// before it takes or drops it (pool_owner.go). Without a SharedLocker the server is alone
// and owns whatever its driver holds.

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
// its image's digest (the reference when there is no image cache), its
// disk size and, when its driver declares PoolLimits, its CPU and
// memory limits (zero otherwise).
type poolKey struct {
	Runtime, Image string
	DiskMB         int64
	CPU            float64
	MemoryMB       int64
}

// keyOf is the key of a member with p's runtime, image, disk and limits:
// the limits count only on a driver that fixes them at prepare.
func (s *Service) keyOf(p runtime.PoolSpec) poolKey {
	k := poolKey{Runtime: p.Runtime, Image: p.Image, DiskMB: p.DiskMB}
	if s.poolLimits(p.Runtime) {
		k.CPU, k.MemoryMB = p.CPU, p.MemoryMB
	}
	return k
}

// spec is the PoolSpec of a new member id of k.
func (k poolKey) spec(id string) runtime.PoolSpec {
	return runtime.PoolSpec{ID: id, Runtime: k.Runtime, Image: k.Image, DiskMB: k.DiskMB,
		CPU: k.CPU, MemoryMB: k.MemoryMB}
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
	// owned holds, for every member this replica owns (preparing, ready
	// or being taken), the release of its shared lock (pool_owner.go).
	owned map[string]func()

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
	return &pool{s: s, pl: pl, ready: map[poolKey][]runtime.PoolSpec{}, owned: map[string]func(){},
		kick: make(chan struct{}, 1)}
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

// readyMembers lists the members ready to be taken.
func (p *pool) readyMembers() []runtime.PoolSpec {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []runtime.PoolSpec
	for _, ms := range p.ready {
		out = append(out, ms...)
	}
	return out
}

// removeIDs takes out the ready members whose id is in ids and returns
// them.
func (p *pool) removeIDs(ids map[string]bool) []runtime.PoolSpec {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []runtime.PoolSpec
	for k, ms := range p.ready {
		p.ready[k] = slices.DeleteFunc(ms, func(m runtime.PoolSpec) bool {
			if ids[m.ID] {
				out = append(out, m)
				return true
			}
			return false
		})
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
	c, ok := s.capsOf(name)
	return ok && c.Pool
}

// poolLimits says whether the driver called name fixes a prepared
// sandbox's limits at prepare.
func (s *Service) poolLimits(name string) bool {
	c, ok := s.capsOf(name)
	return ok && c.PoolLimits
}

// capsOf is what the driver called name can do; false when this server
// has no such runtime.
func (s *Service) capsOf(name string) (runtime.Capabilities, bool) {
	if m, ok := s.rt.(*runtime.Multi); ok {
		d, ok := m.Driver(name)
		if !ok {
			return runtime.Capabilities{}, false
		}
		return d.Capabilities(), true
	}
	return s.rt.Capabilities(), slices.Contains(s.cfg.availableRuntimes(), name)
}

// defaultKey is the key of t's members with its reference as it is:
// pools are filled with the configured default resources.
func (s *Service) defaultKey(t PoolSize) poolKey {
	d := s.cfg.DefaultResources
	return s.keyOf(runtime.PoolSpec{Runtime: t.Runtime, Image: t.Image, DiskMB: d.DiskMB,
		CPU: d.CPU, MemoryMB: d.MemoryMB})
}

// poolKeyOf is what t's members are now: its reference resolved in the
// shared namespace.
func (s *Service) poolKeyOf(ctx context.Context, t PoolSize) (poolKey, error) {
	k := s.defaultKey(t)
	if st := s.Images().cache; st != nil {
		img, err := st.In("").Resolve(ctx, t.Image)
		if err != nil {
			return k, err
		}
		k.Image = img.Digest
	}
	return k, nil
}
