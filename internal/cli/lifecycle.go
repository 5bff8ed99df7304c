package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// lifecycleSummaries describe each lifecycle verb in its usage text.
var lifecycleSummaries = map[string]string{
	"pause":   "Freeze running sandboxes; memory and files are kept (--release: memory to disk, RAM freed).",
	"resume":  "Continue paused sandboxes where they stopped.",
	"stop":    "End sandboxes' processes and free their memory; the filesystem is kept.",
	"start":   "Boot stopped or archived sandboxes again.",
	"archive": "Move stopped sandboxes' filesystems to the archive store.",
	"rm":      "Delete sandboxes and everything they hold.",
}

// errSomeFailed is returned when some of several items failed; each
// failure has already been printed on its own line.
var errSomeFailed = errors.New("some items failed")

// lifecycle returns the command for one action verb. Each takes several
// IDs, goes on past a failure and reports every failure on its own line.
func lifecycle(verb string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var noWait, force, release, keep bool
		fs := e.flagSet(verb)
		fs.BoolVar(&noWait, "no-wait", false, "return once the work has started")
		if verb == "stop" {
			fs.BoolVar(&force, "force", false, "kill at once instead of SIGTERM and a grace period")
		}
		if verb == "pause" {
			fs.BoolVar(&release, "release", false, "checkpoint to disk and free the memory (a sandbox paused in memory moves to disk)")
			fs.BoolVar(&keep, "keep", false, "keep the memory resident whatever the defaults say")
		}
		ids, _, err := e.parse(fs, verb, "ID...", lifecycleSummaries[verb], args)
		if err != nil {
			return err
		}
		if err := needArgs(verb, ids, 1, -1, "sandbox ID"); err != nil {
			return err
		}
		c, err := e.client(verb)
		if err != nil {
			return err
		}
		if release && keep {
			return usagef(verb, "--release and --keep exclude each other")
		}
		opts := waitOpt(noWait)
		if release {
			opts = append(opts, client.ReleaseMemory())
		}
		if keep {
			opts = append(opts, client.KeepMemory())
		}
		return e.each(ids, func(id string) error {
			sb, err := doAction(ctx, c, verb, id, force, opts)
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.stdout, sb)
			}
			if sb.Pause != nil && sb.Pause.Memory == "on-disk" {
				fmt.Fprintf(e.stdout, "%s\t%s\t%s on disk\n", clean(sb.ID), clean(sb.State), bytesHuman(sb.Pause.SizeBytes))
				return nil
			}
			fmt.Fprintf(e.stdout, "%s\t%s\n", clean(sb.ID), clean(sb.State))
			return nil
		})
	}
}

func doAction(ctx context.Context, c *client.Client, verb, id string, force bool, opts []client.CallOption) (*api.Sandbox, error) {
	switch verb {
	case "pause":
		return c.Pause(ctx, id, opts...)
	case "resume":
		return c.Resume(ctx, id, opts...)
	case "stop":
		return c.Stop(ctx, id, client.StopOptions{Force: force}, opts...)
	case "start":
		return c.Start(ctx, id, opts...)
	case "archive":
		return c.Archive(ctx, id, opts...)
	case "rm":
		return c.DeleteSandbox(ctx, id, opts...)
	}
	return nil, fmt.Errorf("unknown action %q", verb)
}
