package postgres

import (
	"context"
	"encoding/json"
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
// broken connection is opened again after a short wait: notifications
// sent meanwhile are lost, as a bus subscriber that falls behind loses
// them (it reads the event log to catch up).
func (s *Store) Listen(ctx context.Context, deliver func(sandbox.Notice)) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "hutch events"
	for ctx.Err() == nil {
		s.listen(ctx, cfg, deliver)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig, deliver func(sandbox.Notice)) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+eventsChannel); err != nil {
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
		if json.Unmarshal([]byte(n.Payload), &p) != nil || p.Origin == s.origin {
			continue
		}
		deliver(sandbox.Notice{
			Event: sandbox.Event{ID: p.ID, SandboxID: p.Sandbox, Time: p.Time.UTC(), Type: p.Type,
				From: p.From, To: p.To, Cause: p.Cause, Message: p.Message},
			OrganizationID: p.Org, SandboxName: p.Name, State: p.State,
		})
	}
}

// Listening reports whether Listen has its connection up, for tests
// that must not write before it hears.
func (s *Store) Listening() bool { return s.listening.Load() }
