package postgres

import (
	"context"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// eventsChannel is the LISTEN/NOTIFY channel every write that logs an
// event notifies, in the transaction that logs it: PostgreSQL delivers a
// notification only when its transaction commits, so a listener never
// hears of a change the database does not hold.
const eventsChannel = "hutch_events"

// maxNotifiedMessage bounds the event message a notification carries;
// PostgreSQL refuses payloads of 8000 bytes or more. The event log keeps
// the whole message.
const maxNotifiedMessage = 2000

// notice is a notification's payload: the event and what a subscriber
// needs beside it (sandbox.Notice), and the store that wrote it, so that
// a replica skips its own (its bus heard of them already).
type notice struct {
	Origin  string        `json:"o"`
	ID      int64         `json:"id"`
	Sandbox string        `json:"sb"`
	Org     string        `json:"org"`
	Name    string        `json:"name"`
	State   sandbox.State `json:"state"`
	Type    string        `json:"type"`
	From    sandbox.State `json:"from,omitempty"`
	To      sandbox.State `json:"to,omitempty"`
	Cause   string        `json:"cause,omitempty"`
	Message string        `json:"msg,omitempty"`
	Time    time.Time     `json:"time"`
}

// notifyEvent tells the listeners of every replica of ev, logged as id in
// tx, on sb as it now is.
func notifyEvent(ctx context.Context, tx pgx.Tx, origin string, id int64, sb *sandbox.Sandbox, ev sandbox.Event) error {
	msg := ev.Message
	if len(msg) > maxNotifiedMessage {
		msg = msg[:maxNotifiedMessage]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	b, err := json.Marshal(notice{Origin: origin, ID: id, Sandbox: sb.ID, Org: sb.OrganizationID, Name: sb.Name,
		State: sb.State, Type: ev.Type, From: ev.From, To: ev.To, Cause: ev.Cause, Message: msg, Time: micro(ev.Time)})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, eventsChannel, string(b))
	return err
}

// Listen feeds deliver, until ctx ends, with the events other processes
// write to the database (the replicas' transitions), on a dedicated
// connection that LISTENs; events this store wrote are left out. A
// broken connection is opened again after a second, and the events
// logged meanwhile are read from the event log and delivered first
// (catchUp), so that a subscriber misses none but one whose transaction
// took a smaller id and committed only after the gap.
func (s *Store) Listen(ctx context.Context, deliver func(sandbox.Notice)) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "hutch events"
	var last int64 // the newest event id heard of; 0 before the first LISTEN
	for ctx.Err() == nil {
		s.listen(ctx, cfg, deliver, &last)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig, deliver func(sandbox.Notice), last *int64) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+eventsChannel); err != nil {
		return
	}
	// From here on every commit is notified; what committed before is in
	// the log.
	var caught map[int64]bool
	if *last == 0 {
		err = conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(last)
	} else {
		caught, err = s.catchUp(ctx, conn, last, deliver)
	}
	if err != nil {
		return
	}
	s.listening.Store(true)
	defer s.listening.Store(false)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		var p notice
		if json.Unmarshal([]byte(n.Payload), &p) != nil {
			continue
		}
		*last = max(*last, p.ID)
		if p.Origin == s.origin || caught[p.ID] {
			continue
		}
		deliver(sandbox.Notice{
			Event: sandbox.Event{ID: p.ID, SandboxID: p.Sandbox, Time: p.Time.UTC(), Type: p.Type,
				From: p.From, To: p.To, Cause: p.Cause, Message: p.Message},
			OrganizationID: p.Org, SandboxName: p.Name, State: p.State,
		})
	}
}

// catchUpLimit bounds the events one catch-up delivers; a listener away
// longer than that many events has subscribers that read the log anyway.
const catchUpLimit = 10000

// catchUp delivers the events logged after *last by other processes,
// with their sandboxes as they now are, and returns their ids: their
// notifications may still arrive on the new connection.
func (s *Store) catchUp(ctx context.Context, conn *pgx.Conn, last *int64, deliver func(sandbox.Notice)) (map[int64]bool, error) {
	rows, _ := conn.Query(ctx, `SELECT e.id, e.sandbox_id, e.time, e.type, e.from_state, e.to_state, e.cause,
		e.message, s.organization_id, s.name, s.state FROM events e JOIN sandboxes s ON s.id = e.sandbox_id
		WHERE e.id > $1 ORDER BY e.id LIMIT $2`, *last, catchUpLimit)
	missed, err := collect(rows, func(row pgx.CollectableRow) (sandbox.Notice, error) {
		var n sandbox.Notice
		err := row.Scan(&n.Event.ID, &n.Event.SandboxID, &n.Event.Time, &n.Event.Type, &n.Event.From, &n.Event.To,
			&n.Event.Cause, &n.Event.Message, &n.OrganizationID, &n.SandboxName, &n.State)
		n.Event.Time = n.Event.Time.UTC()
		return n, err
	})
	if err != nil {
		return nil, err
	}
	caught := make(map[int64]bool, len(missed))
	for _, n := range missed {
		caught[n.Event.ID] = true
		*last = max(*last, n.Event.ID)
		if !s.wrote(n.Event.ID) {
			deliver(n)
		}
	}
	return caught, nil
}

// ownEventsKept bounds the ids of its own events a store remembers, for
// catchUp to leave out: far more than one reconnect's second holds.
const ownEventsKept = 4096

// ownEvents are the ids of the events this store logged lately.
type ownEvents struct {
	mu    sync.Mutex
	order []int64
	ids   map[int64]bool
}

// remember notes that this store logged event id.
func (s *Store) remember(id int64) {
	o := &s.own
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ids == nil {
		o.ids = map[int64]bool{}
	}
	o.ids[id] = true
	o.order = append(o.order, id)
	if len(o.order) > ownEventsKept {
		delete(o.ids, o.order[0])
		o.order = o.order[1:]
	}
}

// wrote reports whether this store logged event id lately.
func (s *Store) wrote(id int64) bool {
	s.own.mu.Lock()
	defer s.own.mu.Unlock()
	return s.own.ids[id]
}

// Listening reports whether Listen has its connection up, for tests
// that must not write before it hears.
func (s *Store) Listening() bool { return s.listening.Load() }
