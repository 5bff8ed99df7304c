package server

import (
	"context"
	"log/slog"
	"sync"

	"github.com/hutchdev/hutch/internal/config"
	"github.com/hutchdev/hutch/internal/egress"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/webhook"
)

// startAutomation runs the reconciler (expiry, auto-actions, stuck
// transitions, purge of deleted records) and the webhook dispatcher until
// ctx ends: on a server alone at once, on replicas only on the elected
// leader (rep.lead). The returned function waits for them to finish their
// actions, so that the store is not closed under them.
func startAutomation(ctx context.Context, cfg config.Config, svc *sandbox.Service, hooks webhook.Store, guard *egress.Guard, rep *replicas, log *slog.Logger) (wait func()) {
	wcfg := webhook.DefaultConfig()
	wcfg.Backoff = cfg.WebhookBackoff
	wcfg.Egress = guard
	wcfg.Interval = min(wcfg.Interval, cfg.Sandbox.Automation.Interval)
	run := func(ctx context.Context) {
		var wg sync.WaitGroup
		rec := svc.NewReconciler()
		disp := webhook.NewDispatcher(hooks, wcfg, log.With("component", "webhooks"))
		wg.Add(2)
		go func() {
			defer wg.Done()
			rec.Run(ctx)
		}()
		go func() {
			defer wg.Done()
			disp.Run(ctx)
		}()
		log.Info("reconciler running", "interval", cfg.Sandbox.Automation.Interval, "minute", cfg.Sandbox.Automation.Minute)
		wg.Wait()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep.lead(ctx, log, run)
	}()
	return func() { <-done }
}
