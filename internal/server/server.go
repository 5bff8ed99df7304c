// Package server assembles `hutch serve`: the store, the auth bootstrap,
// the runtime driver, the lifecycle service and the HTTP API, and runs
// them until the context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hutchdev/hutch/internal/agentconn"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/dashboard"
	"github.com/hutchdev/hutch/internal/httpapi"
	"github.com/hutchdev/hutch/internal/image"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// Version is set by the build.
var Version = "dev"

// Run serves until ctx ends, then shuts down gracefully: in-flight
// requests and transitions finish before the store closes. The API
// listens before anything slow happens: /healthz answers at once, /readyz
// says what the server is doing (opening the store, starting the runtime,
// recovering sandboxes, seeding base images) and why sandboxes cannot be
// created yet, and other routes answer 503 with Retry-After until the API
// is built. Base images are seeded in the background; every other route
// is served during recovery, each sandbox's lock keeping its recovery and
// a request on it apart. ready, when not nil, receives the listening
// address once recovery is done.
func Run(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger, ready func(addr string)) error {
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return err
	}
	rd := newReadiness(cfg.DataDir, cfg.Sandbox.DefaultImage)
	ls := newListeners(cfg.HTTP, rd, log)
	obs, err := newObservability(cfg, log)
	if err != nil {
		return err
	}
	ls.entry = obs.entry(log)
	if ls.tls, err = tlsConfig(ctx, cfg, stdout, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fr := &front{readiness: rd}
	srv, served := ls.serve(ln, fr)
	defer srv.Close() // a start that fails; after Shutdown, nothing left to do
	log.Info("listening; not ready until the checks of /readyz pass", "addr", ln.Addr().String())

	rd.setPhase("opening the store")
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := openReplicas(cfg, st)
	if err != nil {
		return err
	}
	defer rep.close()
	if rep != nil {
		rd.setLeading(rep.elector.Leading)
	}

	if err := rep.exclusive(ctx, "bootstrap", func(ctx context.Context) error {
		return bootstrapKey(ctx, st, cfg, stdout, log)
	}); err != nil {
		return err
	}
	// One guard for every connection the server opens to an address a
	// tenant chose: image pulls (explicit or on create) and webhooks.
	guard, err := cfg.Egress()
	if err != nil {
		return err
	}
	images, err := openImages(cfg, guard, log, image.WithPullObserver(obs.metrics.ObservePull))
	if err != nil {
		return err
	}
	defer images.Close()
	seeds := startSeeding(ctx, images, cfg.SeedImages, cfg.Sandbox.DefaultImage, log)
	defer seeds.close()
	if cfg.Runtime != config.RuntimeKube { // the kubelet pulls a pod's images, not this store
		rd.setSeeds(seeds)
	}
	rd.setPhase("starting the sandbox runtime")
	rt, err := newRuntime(cfg, images, seeds, log)
	if err == nil {
		rt, err = withGvisor(&cfg, rt, images, seeds, st, log)
	}
	if err != nil {
		log.Error("no sandbox runtime: sandboxes cannot be created until this is fixed", "err", err)
		rt = nil
		rd.setRuntime("", err)
	} else if err := runtime.Check(rt); err != nil {
		return err
	} else {
		rd.setRuntime(rt.Name(), nil)
	}
	archives, err := openArchives(ctx, cfg.DataDir, st, log)
	if err != nil {
		return err
	}
	host, err := readHost(cfg.DataDir, cfg.MaxSandboxDiskMB)
	if err != nil {
		return err
	}
	opts := append(rep.serviceOptions(), sandbox.WithLogger(log), sandbox.WithArchive(archives), sandbox.WithHost(host))
	if cfg.Runtime != config.RuntimeKube { // a pod's image goes to the kubelet by its reference
		opts = append(opts, sandbox.WithImages(images))
	}
	svc, err := sandbox.NewService(cfg.Sandbox, st, rt, opts...)
	if err != nil {
		return err
	}
	defer svc.Close()
	rep.follow(ctx, svc, cfg.Sandbox.Automation.Interval, log)
	obs.watch(st, svc, host)

	var isReady atomic.Bool
	proxy, err := proxyConfig(ctx, cfg, st)
	if err != nil {
		return err
	}
	agents := agentconn.NewPool()
	api := httpapi.New(httpapi.Deps{Sandboxes: svc, Auth: st, Webhooks: webhook.NewService(st, webhook.WithEgress(guard)), Agents: agents,
		Log: log, Version: Version, Proxy: proxy, Readiness: rd.report, RateLimits: obs.limits}, isReady.Load)
	stopFaces, err := mountFaces(cfg, api.Router(), compatDeps(cfg, svc, st, agents, proxy, log), ls, log)
	if err != nil {
		return err
	}
	dashboard.Mount(api.Router(), dashboard.Deps{Sandboxes: svc, Auth: st, Agents: agents, Log: log})
	obs.mount(api.Router(), st)
	stopMetrics, err := serveMetrics(cfg.HTTP.MetricsListen, obs, ls, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	fr.set(api)

	rd.setPhase("recovering sandboxes")
	n, err := svc.Recover(ctx)
	if err != nil {
		log.Error("recovery", "err", err)
	}
	log.Info("recovered sandboxes", "changed", n)
	go svc.Watch(ctx) // settles sandboxes whose processes end on their own
	// The warm pools fill from here on; svc.Close drops their members.
	svc.StartPools(ctx)
	rd.setPhase("")
	isReady.Store(true)
	defer startAutomation(ctx, cfg, svc, countingDeliveries{Store: st, m: obs.metrics}, guard, rep, log)()
	log.Info("hutch serving", "addr", ln.Addr().String(), "dataDir", cfg.DataDir, "runtime", runtimeName(rt))
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	stopFaces(sctx)
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if cfg.CheckpointOnShutdown && rt != nil {
		// After the API: no request starts a sandbox behind the drain.
		// Checkpoints begin until ShutdownTimeout after the signal.
		deadline, _ := sctx.Deadline()
		svc.Drain(context.WithoutCancel(ctx), deadline)
	}
	return nil
}

// prepareDataDir makes the data dir traversable but not listable (0711):
// root inside a sandbox is an unprivileged uid on the host and must reach
// its own files below it.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// bootstrapKey creates the default organisation on first start and tells
// the operator its admin key once, on stdout and in <data-dir>/api-key.
func bootstrapKey(ctx context.Context, st auth.Store, cfg config.Config, stdout io.Writer, log *slog.Logger) error {
	secret, err := auth.Bootstrap(ctx, st, cfg.APIKey)
	if err != nil {
		return fmt.Errorf("bootstrap organization: %w", err)
	}
	if secret == "" {
		return nil
	}
	path := filepath.Join(cfg.DataDir, "api-key")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if cfg.APIKey == "" {
		fmt.Fprintf(stdout, "Created the default organization. Its admin API key (shown once, also in %s):\n\n    %s\n\n", path, secret)
	}
	log.Info("created default organization", "keyFile", path)
	return nil
}

func runtimeName(rt runtime.Runtime) string {
	if rt == nil {
		return "none"
	}
	return rt.Name()
}
