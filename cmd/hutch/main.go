// Command hutch is the Hutch server (`hutch serve`), the in-sandbox init,
// and the command-line client for every other verb.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hutchdev/hutch/internal/agent"
	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/cli"
	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/podinit"
	"github.com/hutchdev/hutch/internal/server"
)

// version is stamped by scripts/setup.sh (-ldflags -X main.version=...).
var version = "dev"

func main() {
	cli.Version, server.Version, protocol.Build = version, version, version
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serve(args[1:])
		case "init": // PID 1 inside a sandbox; the runtime driver starts it
			return initproc.Run(args[1:])
		case "agent": // the in-sandbox agent; init starts it
			return agent.Main(args[1:])
		case "kube": // a kube sandbox's pod: install, seed, boot (before init)
			return podinit.Main(args[1:])
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Run(ctx, args, os.Stdout, os.Stderr)
}

func serve(args []string) int {
	cfg, err := config.LoadServe(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 2
	}
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})
	if cfg.HTTP.LogFormat == "json" {
		handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})
	}
	log := slog.New(handler)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, cfg, os.Stdout, log, nil); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}
