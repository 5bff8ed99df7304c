// Package agent is `hutch agent`, the process inside every sandbox that
// runs commands, terminals, file operations and code for the control
// plane. It serves plain HTTP on a unix socket that the host bound and the
// sandbox's init handed down, so it needs no network and no other sandbox
// can reach it. The host side (internal/agentconn) forwards the native API's
// /v1/sandboxes/{id}/... calls to it after authentication and the state
// check; this package owns the calls' semantics and their validation.
//
// The agent runs in the sandbox's namespaces as the sandbox's root, so
// every path it opens resolves inside the sandbox: no host file is
// reachable through "..", or through any symlink.
package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/initproc"
)

// Server is the agent's HTTP API.
type Server struct {
	mux   *http.ServeMux
	procs *processTable
	ctxs  *contextTable
	log   *slog.Logger
}

// NewServer returns the agent's handler with its empty process and
// context tables.
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{mux: http.NewServeMux(), procs: newProcessTable(), ctxs: newContextTable(), log: log}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s.mux.HandleFunc("POST /exec", s.exec)

	s.mux.HandleFunc("POST /processes", s.startProcess)
	s.mux.HandleFunc("GET /processes", s.listProcesses)
	s.mux.HandleFunc("GET /processes/{pid}", s.getProcess)
	s.mux.HandleFunc("GET /processes/{pid}/logs", s.processLogs)
	s.mux.HandleFunc("POST /processes/{pid}/signal", s.signalProcess)
	s.mux.HandleFunc("POST /processes/{pid}/stdin", s.processStdin)

	s.mux.HandleFunc("GET /pty", s.pty)
	s.mux.HandleFunc("GET /tcp", s.tunnel)

	s.mux.HandleFunc("GET /files", s.download)
	s.mux.HandleFunc("PUT /files", s.upload)
	s.mux.HandleFunc("DELETE /files", s.remove)
	s.mux.HandleFunc("POST /files/upload", s.uploadMultipart)
	s.mux.HandleFunc("GET /files/list", s.list)
	s.mux.HandleFunc("GET /files/stat", s.stat)
	s.mux.HandleFunc("GET /files/search", s.search)
	s.mux.HandleFunc("POST /files/mkdir", s.mkdir)
	s.mux.HandleFunc("POST /files/move", s.move)
	s.mux.HandleFunc("POST /files/chmod", s.chmod)
	s.mux.HandleFunc("GET /files/archive", s.downloadArchive)
	s.mux.HandleFunc("PUT /files/archive", s.uploadArchive)

	s.mux.HandleFunc("POST /contexts", s.createContext)
	s.mux.HandleFunc("GET /contexts", s.listContexts)
	s.mux.HandleFunc("DELETE /contexts/{ctx}", s.deleteContext)
	s.mux.HandleFunc("POST /contexts/{ctx}/run", s.runCode)
}

// ServeHTTP names the agent's protocol and build on every answer (the
// host checks them when it connects) and answers unknown routes with the
// error envelope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(protocol.HeaderVersion, strconv.Itoa(protocol.Version()))
	w.Header().Set(protocol.HeaderBuild, protocol.Build)
	if _, pattern := s.mux.Handler(r); pattern == "" {
		writeError(w, r, &Error{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "no agent route for " + r.Method + " " + r.URL.Path})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends every background process and interpreter.
func (s *Server) Close() {
	s.procs.killAll()
	s.ctxs.closeAll()
}

// Main is `hutch agent --fd N`: serve on the inherited listener until
// SIGTERM. The listener comes from the host through init (see
// initproc.AgentFDFlag); --socket instead binds a path, for running the
// agent by hand, and --listen a TCP address, for the kube runtime's files
// pod (see listen).
func Main(args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fd := fs.Int("fd", 0, "inherited listening socket")
	sock := fs.String("socket", "", "unix socket path to listen on (instead of --fd)")
	listenAddr := fs.String("listen", "", "TCP address to listen on (instead of --fd), for a pod that serves a claim's files; needs the token in "+protocol.TokenEnv)
	execState := fs.String(initproc.AgentExecFlag, "", "what init's execve of the agent changed, to put back (JSON)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "agent")
	// Nothing in the sandbox may trace the agent or take its listening
	// socket through /proc; what it starts is traceable again.
	if err := initproc.Untraceable(); err != nil {
		log.Warn("agent stays dumpable", "err", err)
	}
	// Init executed the agent with another real gid, so that it is not
	// dumpable from its first instruction; what it runs gets init's.
	if *execState != "" {
		if err := initproc.RestoreAgentExec(*execState); err != nil {
			fmt.Fprintln(os.Stderr, "hutch agent:", err)
			return 1
		}
	}
	ln, err := listen(*fd, *sock, *listenAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hutch agent:", err)
		return 1
	}
	ln = withToken(ln)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s := NewServer(log)
	defer s.Close()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "hutch agent:", err)
		return 1
	}
	return 0
}

// listen is the agent's listener: the inherited descriptor fd (from 3),
// a unix socket at sock, or TCP on addr, which only a token keeps others
// out of, so it is refused without one in protocol.TokenEnv.
func listen(fd int, sock, addr string) (net.Listener, error) {
	switch {
	case fd >= 3:
		f := os.NewFile(uintptr(fd), "agent.sock")
		defer f.Close()
		return net.FileListener(f)
	case sock != "":
		return net.Listen("unix", sock)
	case addr != "":
		if os.Getenv(protocol.TokenEnv) == "" {
			return nil, errors.New("--listen needs a token in " + protocol.TokenEnv)
		}
		return net.Listen("tcp", addr)
	}
	return nil, errors.New("--fd, --socket or --listen is required")
}
