package config

import (
	"flag"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// automationFlags registers the lifecycle automation settings of `hutch
// serve`: the server-wide defaults of new sandboxes' auto intervals, and
// the reconciler's clock (shortened to seconds by tests).
func automationFlags(fs *flag.FlagSet, c *Config) {
	s := &c.Sandbox
	a := &s.Automation
	fs.IntVar(&s.DefaultAutoStopMinutes, "default-auto-stop-minutes", s.DefaultAutoStopMinutes,
		"stop sandboxes idle this many minutes unless they say otherwise (0: never)")
	fs.IntVar(&s.DefaultAutoPauseMinutes, "default-auto-pause-minutes", s.DefaultAutoPauseMinutes,
		"pause sandboxes idle this many minutes unless they say otherwise (0: never); the pause keeps or releases memory as --pause-memory or the organisation says")
	fs.IntVar(&s.DefaultAutoArchiveMinutes, "default-auto-archive-minutes", s.DefaultAutoArchiveMinutes,
		"archive sandboxes stopped this many minutes unless they say otherwise (0: never)")
	fs.IntVar(&s.DefaultAutoDeleteMinutes, "default-auto-delete-minutes", s.DefaultAutoDeleteMinutes,
		"delete sandboxes stopped this many minutes unless they say otherwise (-1: never, 0: on stop)")
	fs.Func("pause-memory", `what a pause that names no memory mode does: "keep" (frozen in RAM) or "release" (checkpointed to disk, RAM freed); an organisation's setting wins`,
		func(v string) error { s.DefaultPauseMemory = sandbox.PauseMemory(v); return nil })
	fs.DurationVar(&s.DefaultPauseReleaseAfter, "pause-release-after", s.DefaultPauseReleaseAfter,
		"tiered pause: move a sandbox paused in memory to disk after this long, unless it or its organisation says otherwise (0: never)")
	fs.BoolVar(&c.CheckpointOnShutdown, "checkpoint-on-shutdown", c.CheckpointOnShutdown,
		"on SIGTERM or SIGINT, checkpoint running sandboxes to disk (memory released) and resume them when the server starts again; those that cannot be checkpointed keep running")
	fs.DurationVar(&s.DeletedRetention, "deleted-retention", s.DeletedRetention,
		"how long a deleted sandbox stays readable before it is purged")
	fs.DurationVar(&a.Minute, "minute", a.Minute,
		"length of one minute of the auto-stop, auto-archive and auto-delete intervals (tests shorten it)")
	fs.DurationVar(&a.Interval, "reconcile-interval", a.Interval,
		"time between two passes of the reconciler (expiry, auto-actions, stuck transitions)")
	fs.BoolVar(&a.ExpirePaused, "expire-paused", a.ExpirePaused,
		"paused sandboxes expire too; when false a paused sandbox's expiry waits until it is resumed")
	fs.DurationVar(&a.TransitionTimeout, "transition-timeout", a.TransitionTimeout,
		"longest a transition's runtime work may take before the sandbox goes to error")
	fs.DurationVar(&a.StaleAfter, "stale-after", a.StaleAfter,
		"how long a transitional state with no work under way is left before the reconciler settles it")
	fs.DurationVar(&c.WebhookBackoff, "webhook-backoff", c.WebhookBackoff,
		"wait after a webhook delivery's first failure; doubles with each retry up to 10m")
	fs.Float64Var(&a.IdleCPU, "idle-cpu", a.IdleCPU,
		"CPU use (cores) below which a sandbox's processes do not count as activity for auto-stop")
}
