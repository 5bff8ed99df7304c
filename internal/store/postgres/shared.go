package postgres

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
)

// SharedSecret returns the secret stored under name, storing fresh
// first when there is none: the first replica to ask chooses the secret
// for all of them, and a replica that asks later, or at the same moment,
// gets that one and not its own.
func (s *Store) SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	var out []byte
	err := s.write(ctx, func(tx pgx.Tx) error {
		// READ COMMITTED: the insert waits for a concurrent one of the same
		// name to commit and then does nothing, and the select, a new
		// statement, sees the row that won.
		if _, err := tx.Exec(ctx, `INSERT INTO server_secrets (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&out)
	})
	if err != nil {
		return nil, fmt.Errorf("shared secret %s: %w", name, err)
	}
	return out, nil
}

// Exclusive runs fn while this process holds the advisory lock of name,
// on a connection of its own for as long as fn runs: replicas that start
// together take turns through it (the first start's bootstrap of the
// default organisation and its key).
func (s *Store) Exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer conn.Release()
	key := exclusiveKey(name)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Conn().Close(context.Background()) // the session's lock state is unknown
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Conn().Close(context.Background()) // ends the session, and the lock with it
		}
	}()
	return fn(ctx)
}

// exclusiveKey is the advisory lock key of Exclusive's name, in a space
// apart from the elector's, the sandboxes' and migrationLock's.
func exclusiveKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hutch exclusive " + name))
	return int64(h.Sum64())
}
