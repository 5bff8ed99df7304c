package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/store/postgres/pgtest"
)

// startPostgres runs a throwaway PostgreSQL for one test and returns the
// URL of a fresh database on it.
func startPostgres(t *testing.T) string {
	t.Helper()
	return pgtest.StartT(t).Database(t)
}

// replicaConfig is the config of one replica on the database url: its
// own data dir.
func replicaConfig(t *testing.T, url string) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Store = url
	return cfg
}

// TestReplicasBootstrapOnceAndShareSecrets starts the bootstrap of four
// replicas on one empty database at once: exactly one creates the default
// organisation and shows its key, none fails, and the key opens every
// replica. Each replica's proxy secret is the same (the one a server kept
// in its data dir before it had replicas), so that a URL or compat token
// signed on one is valid on all.
func TestReplicasBootstrapOnceAndShareSecrets(t *testing.T) {
	url := startPostgres(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const n = 4
	cfgs := make([]config.Config, n)
	for i := range cfgs {
		cfgs[i] = replicaConfig(t, url)
	}
	old := bytes.Repeat([]byte("k"), 32)
	if err := os.WriteFile(cfgs[0].DataDir+"/proxy-secret", old, 0o600); err != nil {
		t.Fatal(err)
	}

	var (
		wg      sync.WaitGroup
		shown   atomic.Int32
		secrets = make([][]byte, n)
		errs    = make([]error, n)
	)
	start := make(chan struct{})
	for i, cfg := range cfgs {
		if i == 1 {
			// The server that ran alone on this database before moves its
			// secret there as it starts again; then three more start at once.
			st, err := openStore(ctx, cfgs[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := proxyConfig(ctx, cfgs[0], st); err != nil {
				t.Fatal(err)
			}
			st.Close()
		}
		st, err := openStore(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rep, err := openReplicas(cfg, st)
		if err != nil || rep == nil {
			t.Fatalf("replicas of a postgres store: %v, %v", rep, err)
		}
		t.Cleanup(rep.close)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var out bytes.Buffer
			errs[i] = rep.exclusive(ctx, "bootstrap", func(ctx context.Context) error {
				return bootstrapKey(ctx, st, cfg, &out, log)
			})
			if strings.Contains(out.String(), "Created the default organization") {
				shown.Add(1)
			}
			if errs[i] == nil {
				var p httpapi.ProxyConfig
				p, errs[i] = proxyConfig(ctx, cfg, st)
				secrets[i] = p.Secret
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if shown.Load() != 1 {
		t.Fatalf("%d replicas created the default organisation, want 1", shown.Load())
	}

	var key string
	for _, cfg := range cfgs {
		if b, err := os.ReadFile(cfg.DataDir + "/api-key"); err == nil {
			key = strings.TrimSpace(string(b))
		}
	}
	for i, cfg := range cfgs {
		st, _ := openStore(ctx, cfg)
		if k, err := st.GetAPIKeyByHash(ctx, auth.Hash(key)); err != nil || k.OrganizationID != auth.DefaultOrganizationID {
			t.Fatalf("replica %d does not know the bootstrap key: %+v %v", i, k, err)
		}
		st.Close()
	}
	token := compat.Tokens{Secret: secrets[1]}.Issue("e2b", "sbx_1", time.Now().Add(time.Hour))
	for i, s := range secrets {
		if !bytes.Equal(s, old) {
			t.Fatalf("replica %d signs with another proxy secret than the one replica 0 kept", i)
		}
		if !(compat.Tokens{Secret: s}).Valid("e2b", "sbx_1", token) {
			t.Fatalf("replica %d refuses a token replica 1 signed", i)
		}
	}
}

// TestOneLeaderAtATime runs the leader's work on two replicas of one
// database: one runs it, and when its session ends (as when the process
// is killed) the other takes over. A server on SQLite leads at once.
// (Between the end of the session and the old leader's next check both
// may lead: the elector's documented window, not checked here.)
func TestOneLeaderAtATime(t *testing.T) {
	url := startPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	terms := make(chan int, 8)
	var wg sync.WaitGroup
	for i := range 2 {
		cfg := replicaConfig(t, url)
		st, err := openStore(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rep, err := openReplicas(cfg, st)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.lead(ctx, log, func(ctx context.Context) {
				terms <- i
				<-ctx.Done()
			})
		}()
	}
	first := <-terms
	if len(terms) != 0 { // the lock is held: no one else began a term
		t.Fatalf("both replicas lead: %d and %d", first, <-terms)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(a.pid, 10000)) FROM pg_stat_activity a
		WHERE a.application_name = 'hutch elector leader' AND a.datname = current_database()
		AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d leader sessions: %v", killed, err)
	}
	if next := <-terms; next == first {
		t.Fatalf("replica %d led again, want the other", next)
	}
	cancel()
	wg.Wait()

	var alone *replicas // SQLite
	ran := false
	alone.lead(context.Background(), log, func(context.Context) { ran = true })
	if !ran {
		t.Fatal("a server alone did not run the leader's work")
	}
}
