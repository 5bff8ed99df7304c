package postgres

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// micro is t at the precision timestamptz keeps. The store writes times
// at that precision and puts them back into the caller's record, so that
// what a write leaves in memory is what a read returns.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func microPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	m := micro(*t)
	return &m
}

// sandboxCols are the sandboxes columns in the order sandboxArgs writes
// and scanSandbox reads them.
var sandboxCols = []string{
	"id", "name", "organization_id", "image", "template", "entrypoint", "env", "metadata",
	"cpu", "memory_mb", "disk_mb", "pids", "internet", "allow_cidrs",
	"state", "desired_state", "state_reason", "timeout_seconds", "expires_at",
	"auto_stop_minutes", "auto_archive_minutes", "auto_delete_minutes",
	"created_at", "updated_at", "started_at", "last_activity_at", "version",
	"deny_cidrs", "public_ports", "auto_resume",
	"pause_memory", "pause_since", "pause_size_bytes", "pause_release_at", "pause_release_after_seconds",
	"runtime", "auto_pause_minutes",
}

// sandboxColumns is sandboxCols as a select list.
var sandboxColumns = strings.Join(sandboxCols, ", ")

// jsonText encodes a list or map column's value for jsonb, nil as JSON
// null (not SQL NULL), which reads back as nil; pgx unmarshals it on the
// way out. The values are string slices and maps and int slices, which
// always marshal.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sandboxArgs returns sb's values in sandboxColumns order, its times at
// microsecond precision.
func sandboxArgs(sb *sandbox.Sandbox) []any {
	var pauseMemory *string
	var pauseSince, pauseReleaseAt *time.Time
	var pauseSize int64
	if p := sb.Pause; p != nil {
		m := string(p.Memory)
		pauseMemory, pauseSince, pauseSize, pauseReleaseAt = &m, microPtr(&p.Since), p.SizeBytes, microPtr(p.ReleaseAt)
	}
	return []any{
		sb.ID, sb.Name, sb.OrganizationID, sb.Image, sb.Template,
		jsonText(sb.Entrypoint), jsonText(sb.Env), jsonText(sb.Metadata),
		sb.Resources.CPU, sb.Resources.MemoryMB, sb.Resources.DiskMB, sb.Resources.Pids,
		sb.Network.Internet, jsonText(sb.Network.AllowCIDRs),
		string(sb.State), string(sb.DesiredState), sb.StateReason, sb.TimeoutSeconds, microPtr(sb.ExpiresAt),
		sb.AutoStopMinutes, sb.AutoArchiveMinutes, sb.AutoDeleteMinutes,
		micro(sb.CreatedAt), micro(sb.UpdatedAt), microPtr(sb.StartedAt),
		micro(sb.LastActivityAt), sb.Version,
		jsonText(sb.Network.DenyCIDRs), jsonText(sb.Network.PublicPorts), sb.AutoResume,
		pauseMemory, pauseSince, pauseSize, pauseReleaseAt, sb.PauseReleaseAfterSeconds,
		sb.Runtime, sb.AutoPauseMinutes,
	}
}

// scanSandbox reads one row selected with sandboxColumns.
func scanSandbox(row pgx.CollectableRow) (*sandbox.Sandbox, error) {
	return scanSandboxRow(row)
}

func scanSandboxRow(row pgx.Row) (*sandbox.Sandbox, error) {
	var (
		sb             sandbox.Sandbox
		state, desired string
		pauseMemory    *string
		pauseSince     *time.Time
		pauseSize      int64
		pauseReleaseAt *time.Time
	)
	err := row.Scan(&sb.ID, &sb.Name, &sb.OrganizationID, &sb.Image, &sb.Template,
		&sb.Entrypoint, &sb.Env, &sb.Metadata,
		&sb.Resources.CPU, &sb.Resources.MemoryMB, &sb.Resources.DiskMB, &sb.Resources.Pids,
		&sb.Network.Internet, &sb.Network.AllowCIDRs,
		&state, &desired, &sb.StateReason, &sb.TimeoutSeconds, &sb.ExpiresAt,
		&sb.AutoStopMinutes, &sb.AutoArchiveMinutes, &sb.AutoDeleteMinutes,
		&sb.CreatedAt, &sb.UpdatedAt, &sb.StartedAt, &sb.LastActivityAt, &sb.Version,
		&sb.Network.DenyCIDRs, &sb.Network.PublicPorts, &sb.AutoResume,
		&pauseMemory, &pauseSince, &pauseSize, &pauseReleaseAt, &sb.PauseReleaseAfterSeconds,
		&sb.Runtime, &sb.AutoPauseMinutes)
	if err != nil {
		return nil, err
	}
	sb.State, sb.DesiredState = sandbox.State(state), sandbox.State(desired)
	if pauseMemory != nil {
		if pauseSince == nil {
			return nil, fmt.Errorf("sandbox %s: paused with memory %s and no pause_since", sb.ID, *pauseMemory)
		}
		sb.Pause = &sandbox.PauseInfo{Memory: sandbox.MemoryTier(*pauseMemory), Since: *pauseSince,
			SizeBytes: pauseSize, ReleaseAt: pauseReleaseAt}
	}
	return &sb, nil
}

// params numbers n placeholders from $first: "$3, $4, $5".
func params(first, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(first+i)
	}
	return strings.Join(ps, ", ")
}

// statesArg is a set of states as the text[] of state = ANY($n).
func statesArg(states []sandbox.State) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}
