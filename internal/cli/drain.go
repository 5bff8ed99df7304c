package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/hutchdev/hutch/api"
)

// drainPoll is how often hutch drain asks for the drain's progress.
const drainPoll = 500 * time.Millisecond

// runDrain begins the server's drain and follows it to its end, a line
// of progress on stderr for each sandbox dealt with; --status only reads
// it.
func runDrain(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("drain")
	status := fs.Bool("status", false, "only show the drain's progress; begin nothing")
	pos, _, err := e.parse(fs, "drain", "", "Drain the server before a restart (platform-admin key): creates, starts and resumes are refused, "+
		"running sandboxes are checkpointed to disk, and the server's next start resumes them.", args)
	if err != nil {
		return err
	}
	if err := needArgs("drain", pos, 0, 0, ""); err != nil {
		return err
	}
	c, err := e.client("drain")
	if err != nil {
		return err
	}
	var st *api.DrainStatus
	if *status {
		st, err = c.DrainStatus(ctx)
	} else {
		st, err = c.Drain(ctx)
	}
	for done := -1; err == nil && !*status && st.FinishedAt == nil; st, err = c.DrainStatus(ctx) {
		if st.Done != done {
			done = st.Done
			fmt.Fprintf(e.stderr, "drained %d of %d (%d on disk, %d left running)\n", st.Done, st.Total, st.OnDisk, len(st.LeftRunning))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(drainPoll):
		}
	}
	if err != nil {
		return err
	}
	return printDrain(e, st)
}

func printDrain(e *env, st *api.DrainStatus) error {
	if e.json {
		return printJSON(e.stdout, st)
	}
	tw := table(e.stdout)
	row(tw, "draining:", fmt.Sprint(st.Draining))
	row(tw, "started:", timeOrDash(st.StartedAt))
	row(tw, "finished:", timeOrDash(st.FinishedAt))
	row(tw, "sandboxes:", fmt.Sprintf("%d of %d dealt with", st.Done, st.Total))
	row(tw, "on disk:", fmt.Sprint(st.OnDisk))
	row(tw, "left running:", fmt.Sprint(len(st.LeftRunning)))
	for _, l := range st.LeftRunning {
		row(tw, "  "+l.SandboxID, l.Reason)
	}
	return tw.Flush()
}
