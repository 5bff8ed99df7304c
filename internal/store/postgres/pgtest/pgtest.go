// Package pgtest runs a throwaway PostgreSQL server for one test binary,
// so that the PostgreSQL store is tested against the real thing in CI
// without touching the machine's own clusters: the data directory is a
// temporary directory under /tmp, the server listens on a unix socket in
// it and on a free loopback port (never 5432), fsync is off, and the
// server goes with the test binary even when that dies (Pdeathsig).
//
// A test binary starts one server in TestMain with Main, and every test
// takes a fresh database from it with Database.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SkipEnv is the environment variable that, set to 1, skips the
// PostgreSQL tests instead of failing them where the server binaries are
// missing.
const SkipEnv = "HUTCH_SKIP_POSTGRES"

// superuser is the role initdb creates; every test connects as it.
const superuser = "hutch"

// Server is one running PostgreSQL cluster.
type Server struct {
	dir  string // owns everything: data, socket, log
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	n    atomic.Int64  // databases handed out
}

// binDir finds the newest installed PostgreSQL server's binaries
// (Debian keeps them in /usr/lib/postgresql/<major>/bin, off PATH).
func binDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	slices.SortFunc(found, func(a, b string) int { return major(a) - major(b) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (postgres, initdb) in /usr/lib/postgresql/*/bin or on PATH")
}

func major(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(bin))))
	return n
}

// Main runs a test binary's tests against a server it starts first and
// removes last, whatever the tests did, and returns the exit code for
// os.Exit. *srv is set for the tests to use; it stays nil when SkipEnv
// is 1 and the binaries are missing (Database then skips).
func Main(m *testing.M, srv **Server) int {
	s, err := Start()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			fmt.Fprintf(os.Stderr, "pgtest: %v; PostgreSQL tests skipped (%s=1)\n", err, SkipEnv)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "pgtest: %v\nrun scripts/setup.sh (it installs PostgreSQL), or set %s=1 to skip these tests\n", err, SkipEnv)
		return 1
	}
	*srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Start initialises a cluster in a new temporary directory and starts
// it. As root, the server runs as the postgres user, since PostgreSQL
// refuses to run as root.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	sweep()
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	// /tmp rather than $TMPDIR: the postgres user must reach the
	// directory, and a TMPDIR under /root is closed to it.
	dir, err := os.MkdirTemp("/tmp", "hutch-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", superuser,
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	// The port is free when picked and may be taken before the server
	// binds it; another try picks another.
	for try := 0; ; try++ {
		err = s.start(bin, cred)
		if err == nil {
			return s, nil
		}
		if try == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// serverUser returns the credential the server runs with: the postgres
// user's when running as root, none (the current user) otherwise.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// start runs the postmaster on a free port and waits until it answers.
// The postmaster is this process's child, not pg_ctl's daemon, so that
// Pdeathsig ends it (SIGQUIT: immediate shutdown) when the test binary
// dies without cleaning up, for example on a test timeout.
func (s *Server) start(bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", s.data(), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.port, s.done = cmd, port, make(chan struct{})
	go func() { cmd.Wait(); close(s.done) }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited at start: %s", s.logTail())
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("postgres did not answer within 30s: %v: %s", err, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// kill shuts the server down at once (SIGQUIT, what pg_ctl stop -m
// immediate sends) and waits for it; nothing in it needs to survive.
func (s *Server) kill() {
	s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Stop ends the server and removes its directory.
func (s *Server) Stop() error {
	s.kill()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove %s: %w", s.dir, err)
	}
	return nil
}

// Port is the loopback TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// url returns the URL of database db over the unix socket.
func (s *Server) url(db string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(s.port)}}
	return "postgres://" + superuser + "@/" + db + "?" + q.Encode()
}

// StartT starts a server for one test, stopped when the test ends.
// Without the server binaries the test fails (scripts/setup.sh installs
// them), or is skipped where SkipEnv is 1.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("%v (%s=1)", err, SkipEnv)
		}
		t.Fatalf("%v: run scripts/setup.sh, or set %s=1 to skip", err, SkipEnv)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TCPURL returns the URL of database db over the loopback port.
func (s *Server) TCPURL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, db)
}

// Database creates a new empty database for t, dropped when t ends, and
// returns its URL (over the unix socket). It skips t when srv is nil
// (Main found no server and SkipEnv is set).
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	if s == nil {
		t.Skipf("PostgreSQL tests skipped (%s=1)", SkipEnv)
	}
	name := fmt.Sprintf("test_%d", s.n.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err != nil {
			t.Errorf("pgtest: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return s.url(name)
}

// sweep removes the directories of earlier test binaries that died
// before removing their own (their server died with them).
func sweep() {
	dirs, _ := filepath.Glob("/tmp/hutch-pgtest-*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}
