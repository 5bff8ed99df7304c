package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// Archives is the archive store of servers that share a database: each
// archived sandbox's packed files are a large object in it, so that the
// replica that starts a sandbox finds the archive another replica wrote
// (a directory of one replica's is out of the others' reach, and on
// Kubernetes it goes with the pod). The archives table names each key's
// object; a Put or Delete changes both in one transaction.
//
// Archives streams through a pool of its own (Store.archivePool): a
// stream holds its connection for as long as it runs, and a restore
// writes progress events while it reads, so that streams sharing the
// store's pool could hold every connection and wait for one more.
type Archives struct {
	pool *pgxpool.Pool
}

var _ archive.Store = (*Archives)(nil)

// Archives returns the archive store in s's database.
func (s *Store) Archives() *Archives { return &Archives{pool: s.archivePool} }

// chunk is the size of each write to and read from a large object: every
// one is a round trip to the database.
const chunk = 1 << 20

// Put implements archive.Store. The blob goes into a new large object,
// and the key's row is pointed at it in the same transaction, which
// unlinks the object the row named before. Until the commit, readers get
// the previous blob; a Put that fails (its reader, its context, the
// connection) rolls back with its object, leaving the previous blob and
// nothing else.
func (a *Archives) Put(ctx context.Context, key string, r io.Reader) (n int64, err error) {
	if err := archive.CheckKey(key); err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		los := tx.LargeObjects()
		oid, err := los.Create(ctx, 0)
		if err != nil {
			return err
		}
		obj, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
		if err != nil {
			return err
		}
		// ReadFrom fills the buffer before each write, however little
		// each read of r yields.
		w := bufio.NewWriterSize(obj, chunk)
		if n, err = w.ReadFrom(r); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := obj.Close(); err != nil {
			return err
		}
		return point(ctx, tx, key, oid, n)
	})
	if err != nil {
		return 0, fmt.Errorf("archive %s: %w", key, err)
	}
	return n, nil
}

// point makes key's row name object oid of size bytes and unlinks the
// object it named before. It locks the row, or inserts it when there is
// none; an insert that meets another Put's row for the key (committed
// meanwhile) goes round again to lock that one.
func point(ctx context.Context, tx pgx.Tx, key string, oid uint32, size int64) error {
	for {
		var old uint32
		err := tx.QueryRow(ctx, `SELECT object FROM archives WHERE key = $1 FOR UPDATE`, key).Scan(&old)
		if err == nil {
			if _, err := tx.Exec(ctx, `UPDATE archives SET object = $2, size = $3, created_at = now() WHERE key = $1`,
				key, oid, size); err != nil {
				return err
			}
			los := tx.LargeObjects()
			return los.Unlink(ctx, old)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO archives (key, object, size) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`,
			key, oid, size)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
	}
}

// Get implements archive.Store. The blob is read in a read-only
// REPEATABLE READ transaction that the reader's Close ends: its snapshot
// keeps the object it opened whole and readable, even when a Put
// replaces it or a Delete removes it meanwhile.
func (a *Archives) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := archive.CheckKey(key); err != nil {
		return nil, 0, err
	}
	tx, err := a.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, fmt.Errorf("archive %s: %w", key, err)
	}
	var (
		oid  uint32
		size int64
		obj  *pgx.LargeObject
	)
	err = tx.QueryRow(ctx, `SELECT object, size FROM archives WHERE key = $1`, key).Scan(&oid, &size)
	if errors.Is(err, pgx.ErrNoRows) {
		err = errdefs.ErrNotFound
	}
	if err == nil {
		los := tx.LargeObjects()
		obj, err = los.Open(ctx, oid, pgx.LargeObjectModeRead)
	}
	if err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, 0, fmt.Errorf("archive %s: %w", key, err)
	}
	return &blobReader{Reader: bufio.NewReaderSize(obj, chunk), ctx: ctx, tx: tx}, size, nil
}

// blobReader reads a large object and ends its transaction on Close.
type blobReader struct {
	*bufio.Reader
	ctx context.Context
	tx  pgx.Tx
}

// Close ends the read transaction, also after the context of the Get
// ended; it is safe to call twice.
func (b *blobReader) Close() error {
	err := b.tx.Rollback(context.WithoutCancel(b.ctx))
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}

// Delete implements archive.Store.
func (a *Archives) Delete(ctx context.Context, key string) error {
	if err := archive.CheckKey(key); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var oid uint32
		err := tx.QueryRow(ctx, `DELETE FROM archives WHERE key = $1 RETURNING object`, key).Scan(&oid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		los := tx.LargeObjects()
		return los.Unlink(ctx, oid)
	})
	if err != nil {
		return fmt.Errorf("delete archive %s: %w", key, err)
	}
	return nil
}
