package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/ids"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/trace"
)

// Service is the one lifecycle core behind every API face. It writes each
// transition to the store before it does runtime work, and serialises the
// actions on one sandbox.
type Service struct {
	cfg   Config
	store Store
	rt    runtime.Runtime // nil: no driver; creates are refused
	log   *slog.Logger
	now   func() time.Time
	locks keyedLocks
	conns connections
	// work tracks background transitions so Close can wait for them.
	work sync.WaitGroup
	// bus carries every stored event to subscribers (SSE, webhooks).
	bus *Bus
	// archives holds archived sandboxes' files; nil refuses archive.
	archives archive.Store
	// images is the door to the image cache; imageGate orders creates
	// against removals.
	images    *Images
	imageGate imageGate
	// host bounds one sandbox's resources (nil: only cfg.MaxResources);
	// quotaLocks serialise an organisation's creates from its usage
	// check to its insert.
	host       *Host
	quotaLocks keyedLocks
	// shared, when set, extends locks and quotaLocks to the other
	// replicas of the store (replicas.go).
	shared SharedLocker
	// pool holds the prepared sandboxes creates take (pool.go); nil when
	// the runtime cannot prepare any.
	pool *pool
	// drain refuses creates once the server is being drained.
	drain drainState
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces time.Now, for tests of expiry arithmetic.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// NewService returns the lifecycle service. rt may be nil when no runtime
// driver is available on this host: the service then refuses to create or
// boot sandboxes with errdefs.ErrUnavailable instead of pretending.
func NewService(cfg Config, st Store, rt runtime.Runtime, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox config: %w", err)
	}
	s := &Service{cfg: cfg, store: st, rt: rt, log: slog.Default(), now: time.Now, bus: NewBus()}
	for _, o := range opts {
		o(s)
	}
	s.store = publishing{Store: st, bus: s.bus}
	s.pool = newPool(s)
	return s, nil
}

// Close waits for background transitions to settle, then drops the
// prepared sandboxes of the warm pools.
func (s *Service) Close() {
	s.work.Wait()
	s.closePools()
}

func (s *Service) requireRuntime() error {
	if s.rt == nil {
		return fmt.Errorf("no sandbox runtime is available on this server (GET /readyz says why and how to fix it): %w", errdefs.ErrUnavailable)
	}
	return nil
}

// Create validates r, stores the new sandbox as creating, then boots it.
// With r.Wait the returned sandbox is running (or the error says why not);
// without, it is still creating and boots in the background.
func (s *Service) Create(ctx context.Context, r CreateRequest) (*Sandbox, error) {
	if err := s.requireRuntime(); err != nil {
		return nil, err
	}
	if err := s.refuseWhileDraining("new sandboxes"); err != nil {
		return nil, err
	}
	ctx = s.traceCreate(ctx)
	r, err := s.withOrgDefaults(ctx, r)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	sb, err := s.cfg.resolve(r, now)
	if err != nil {
		return nil, err
	}
	sb.ID = ids.New(IDPrefix)
	if sb.Name == "" {
		sb.Name = sb.ID
	}
	sb.State, sb.DesiredState = StateCreating, StateRunning
	sb.CreatedAt, sb.UpdatedAt, sb.LastActivityAt = now, now, now
	if err := s.checkHost(sb.Resources); err != nil {
		return nil, err
	}
	// The quota holds from the usage check until the record is stored,
	// so that concurrent creates of one organisation see each other.
	releaseQuota, err := s.reserveQuota(ctx, sb)
	if err != nil {
		return nil, err
	}
	// Lock before the record is visible: a delete that finds it must wait
	// for the boot, or it would delete nothing and the boot would follow.
	unlock, err := s.lock(ctx, sb.ID)
	if err != nil {
		releaseQuota()
		return nil, err
	}
	ev := Event{Type: EventState, To: StateCreating, Cause: CauseUser, Time: now}
	s.imageGate.RLock()
	endInsert := trace.Start(ctx, "store-insert")
	err = s.store.CreateSandbox(ctx, sb, ev)
	endInsert()
	s.imageGate.RUnlock()
	releaseQuota()
	if err != nil {
		unlock()
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			return nil, fmt.Errorf("a sandbox named %q already exists: %w", sb.Name, errdefs.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("store sandbox: %w", err)
	}
	s.pool.createBegins()
	boot := func(ctx context.Context) (*Sandbox, error) {
		defer unlock()
		defer s.pool.createEnds()
		var path string
		defer func() { s.logTrace(ctx, sb, path) }()
		return s.settle(ctx, sb, StateRunning, CauseUser, func(ctx context.Context) (note string, err error) {
			defer trace.Start(ctx, "runtime-create")()
			path, err = s.createRuntime(ctx, sb, !r.NoPool)
			return createPathMessage(path), err
		})
	}
	return s.run(ctx, sb, r.Wait, boot)
}

// run does the runtime half of a transition now (wait) or in the
// background. The work never runs under the caller's cancellation: a client
// that hangs up must not leave a sandbox half-made.
func (s *Service) run(ctx context.Context, sb *Sandbox, wait bool, work func(context.Context) (*Sandbox, error)) (*Sandbox, error) {
	detached := context.WithoutCancel(ctx)
	if wait {
		return work(detached)
	}
	snapshot := *sb
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		if _, err := work(detached); err != nil {
			s.log.Warn("background transition failed", "sandbox", sb.ID, "err", err)
		}
	}()
	return &snapshot, nil
}

// finish runs op and writes the settled state, or the error state with the
// reason when op fails.
func (s *Service) finish(ctx context.Context, sb *Sandbox, to State, cause string, op func(context.Context) error) (*Sandbox, error) {
	return s.settle(ctx, sb, to, cause, func(ctx context.Context) (string, error) { return "", op(ctx) })
}

// settle is finish whose op also says what the settling event's message
// is when it succeeds (a create's path).
func (s *Service) settle(ctx context.Context, sb *Sandbox, to State, cause string, op func(context.Context) (string, error)) (*Sandbox, error) {
	from := sb.State
	opCtx, cancel := context.WithTimeout(ctx, s.cfg.Automation.TransitionTimeout)
	note, opErr := op(opCtx)
	cancel()
	var kept *keptPaused // a release that failed: settled paused, still an error
	if errors.As(opErr, &kept) {
		opErr = nil
		if kept.in != "" {
			to = kept.in
		}
	}
	now := s.now().UTC()
	sb.UpdatedAt = now
	ev := Event{Type: EventState, From: from, Cause: cause, Time: now}
	if opErr != nil {
		sb.State, sb.StateReason = StateError, opErr.Error()
		ev.To, ev.Message = StateError, opErr.Error()
	} else {
		sb.State, sb.StateReason = to, ""
		ev.To, ev.Message = to, note
		if to == StateRunning && (from == StateCreating || from == StateStarting) {
			sb.StartedAt = &now
		}
	}
	settlePause(sb)
	endUpdate := trace.Start(ctx, "store-update")
	err := s.store.UpdateSandbox(ctx, sb, ev)
	endUpdate()
	if err != nil {
		return nil, fmt.Errorf("store %s state of %s: %w", sb.State, sb.ID, err)
	}
	if opErr != nil {
		return sb, fmt.Errorf("%s -> %s of %s: %w", from, to, sb.ID, opErr)
	}
	if kept != nil {
		return sb, fmt.Errorf("pause of %s: %w", sb.ID, kept)
	}
	return sb, nil
}

// Get returns a sandbox of orgID by ID or name.
func (s *Service) Get(ctx context.Context, orgID, idOrName string) (*Sandbox, error) {
	sb, err := s.store.GetSandbox(ctx, orgID, idOrName)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, fmt.Errorf("sandbox %q not found: %w", idOrName, errdefs.ErrSandboxNotFound)
	}
	return sb, err
}

// List pages through an organisation's sandboxes.
func (s *Service) List(ctx context.Context, f ListFilter) ([]*Sandbox, int, error) {
	for _, st := range f.States {
		if !st.Valid() {
			return nil, 0, errdefs.InvalidField("state", "unknown state %q", st)
		}
	}
	if err := validateMetadata("metadata", f.Metadata); err != nil {
		return nil, 0, err
	}
	return s.store.ListSandboxes(ctx, f)
}

// Events returns a sandbox's event log, oldest first.
func (s *Service) Events(ctx context.Context, orgID, idOrName string) ([]Event, error) {
	sb, err := s.Get(ctx, orgID, idOrName)
	if err != nil {
		return nil, err
	}
	return s.store.ListEvents(ctx, sb.ID)
}

func specOf(sb *Sandbox) runtime.Spec {
	return runtime.Spec{
		ID:         sb.ID,
		Image:      sb.Image,
		Entrypoint: sb.Entrypoint,
		Env:        sb.Env,
		CPU:        sb.Resources.CPU,
		MemoryMB:   sb.Resources.MemoryMB,
		DiskMB:     sb.Resources.DiskMB,
		Pids:       sb.Resources.Pids,
		Internet:   sb.Network.Internet,
		AllowCIDRs: sb.Network.AllowCIDRs,
		DenyCIDRs:  sb.Network.DenyCIDRs,
	}
}
