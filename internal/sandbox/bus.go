package sandbox

import (
	"context"
	"sync"
)

// Notice is one stored event as the bus carries it, with what a
// subscriber needs to filter and show it without reading the store.
type Notice struct {
	Event          Event
	OrganizationID string
	SandboxName    string
	State          State
}

// Bus fans stored events out to in-process subscribers (the SSE stream).
// It is fed after each store write, so a subscriber never sees a change
// the store does not hold; on replicas, also with the other replicas'
// writes as the store tells of them (Service.Remote). Delivery is best effort: a subscriber that
// falls behind by a whole buffer is dropped (its channel closed) rather
// than slowing every transition down; it reconnects and reads the log.
type Bus struct {
	mu        sync.Mutex
	subs      map[*subscription]struct{}
	observers []func(Notice)
	// passObservers hear of every reconciler pass (reconcile_report.go).
	passObservers []func(PassReport)
}

type subscription struct {
	org string
	ch  chan Notice
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[*subscription]struct{}{}} }

// Bus returns the service's event bus.
func (s *Service) Bus() *Bus { return s.bus }

// Subscribe returns a channel of the organisation's notices and the
// function that ends the subscription.
func (b *Bus) Subscribe(orgID string, buffer int) (<-chan Notice, func()) {
	sub := &subscription{org: orgID, ch: make(chan Notice, buffer)}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return sub.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			if _, ok := b.subs[sub]; ok {
				delete(b.subs, sub)
				close(sub.ch)
			}
			b.mu.Unlock()
		})
	}
}

// Observe calls f with every notice of every organisation, in order and
// before the subscribers get it (the server's metrics). f must be quick.
func (b *Bus) Observe(f func(Notice)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observers = append(b.observers, f)
}

func (b *Bus) publish(n Notice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.observers {
		f(n)
	}
	b.fanOut(n)
}

// fanOut gives n to the subscribers of its organisation; the caller holds
// b.mu.
func (b *Bus) fanOut(n Notice) {
	for sub := range b.subs {
		if sub.org != n.OrganizationID {
			continue
		}
		select {
		case sub.ch <- n:
		default:
			delete(b.subs, sub)
			close(sub.ch)
		}
	}
}

// publishing is the Store the service writes through: after each write
// that logs an event, it tells the bus.
type publishing struct {
	Store
	bus *Bus
}

func (p publishing) notify(sb *Sandbox, ev Event) {
	if ev.Type == "" {
		return
	}
	ev.SandboxID = sb.ID
	p.bus.publish(Notice{Event: ev, OrganizationID: sb.OrganizationID, SandboxName: sb.Name, State: sb.State})
}

func (p publishing) CreateSandbox(ctx context.Context, sb *Sandbox, ev Event) error {
	if err := p.Store.CreateSandbox(ctx, sb, ev); err != nil {
		return err
	}
	p.notify(sb, ev)
	return nil
}

func (p publishing) UpdateSandbox(ctx context.Context, sb *Sandbox, ev Event) error {
	if err := p.Store.UpdateSandbox(ctx, sb, ev); err != nil {
		return err
	}
	p.notify(sb, ev)
	return nil
}

func (p publishing) AppendEvent(ctx context.Context, ev Event) error {
	if err := p.Store.AppendEvent(ctx, ev); err != nil {
		return err
	}
	if sb, err := p.Store.GetSandboxByID(ctx, ev.SandboxID); err == nil {
		p.notify(sb, ev)
	}
	return nil
}
