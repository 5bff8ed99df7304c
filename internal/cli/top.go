package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
)

// runTop shows the running and paused sandboxes' use, refreshed every
// interval until interrupted; --once takes two readings one interval apart
// (the CPU share needs two) and prints them once, for scripts.
func runTop(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("top")
	interval := fs.Duration("interval", 2*time.Second, "time between readings")
	once := fs.Bool("once", false, "print one table (after two readings) and exit")
	pos, _, err := e.parse(fs, "top", "[ID...]", "Show CPU, memory and process counts of running and paused sandboxes (all of them, or those named).", args)
	if err != nil {
		return err
	}
	if *interval < 250*time.Millisecond {
		return usagef("top", "--interval must be at least 250ms")
	}
	c, err := e.client("top")
	if err != nil {
		return err
	}
	prev := map[string]api.SandboxMetrics{}
	for round := 0; ; round++ {
		ids := pos
		if len(ids) == 0 {
			if ids, err = measurable(ctx, c); err != nil {
				return err
			}
		}
		now := map[string]api.SandboxMetrics{}
		for _, id := range ids {
			m, err := c.SandboxMetrics(ctx, id)
			var ae *client.Error
			if errors.As(err, &ae) && ae.Status == 409 && len(pos) == 0 {
				continue // stopped since the list
			}
			if err != nil {
				return err
			}
			if p, ok := prev[m.SandboxID]; ok {
				if el := m.Time.Sub(p.Time).Seconds(); el > 0 {
					pct := (m.CPUSeconds - p.CPUSeconds) / el * 100
					m.CPUPercent = &pct
				}
			}
			now[m.SandboxID] = *m
		}
		prev = now
		if round > 0 || !*once {
			if err := e.printTop(now, !*once && round > 0); err != nil {
				return err
			}
		}
		if *once && round > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// measurable lists the IDs of the caller's running and paused sandboxes.
func measurable(ctx context.Context, c *client.Client) ([]string, error) {
	var ids []string
	for page := 1; ; page++ {
		list, err := c.ListSandboxes(ctx, client.ListOptions{States: []string{"running", "paused"}, Page: page, PageSize: 200})
		if err != nil {
			return nil, err
		}
		for _, sb := range list.Items {
			ids = append(ids, sb.ID)
		}
		if len(list.Items) < 200 {
			return ids, nil
		}
	}
}

func (e *env) printTop(ms map[string]api.SandboxMetrics, clear bool) error {
	rows := make([]api.SandboxMetrics, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, m)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].SandboxID < rows[j].SandboxID })
	if e.json {
		return printJSON(e.stdout, rows)
	}
	if clear {
		fmt.Fprint(e.stdout, "\x1b[H\x1b[2J")
	}
	tw := table(e.stdout, "ID", "STATE", "CPU%", "MEM", "MEM LIMIT", "PIDS", "OOM KILLS", "DISK", "NET RX", "NET TX")
	for _, m := range rows {
		cpu := "-"
		if m.CPUPercent != nil {
			cpu = fmt.Sprintf("%.1f", *m.CPUPercent)
		}
		row(tw, m.SandboxID, m.State, cpu, mib(m.MemoryBytes), mib(m.MemoryLimitBytes), fmt.Sprint(m.Pids), fmt.Sprint(m.OOMKills),
			mib(m.DiskBytes), kibOrMib(m.NetRxBytes), kibOrMib(m.NetTxBytes))
	}
	return tw.Flush()
}

func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

// kibOrMib is mib for what a few packets make too small to show in MiB.
func kibOrMib(b int64) string {
	if b > 0 && b < 1<<20 {
		return fmt.Sprintf("%.1fKiB", float64(b)/(1<<10))
	}
	return mib(b)
}
