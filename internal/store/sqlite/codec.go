package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// timeLayout is how times are stored: UTC, fixed width, nanoseconds. Fixed
// width makes text order equal time order, which ORDER BY created_at and
// the purge and touch comparisons rely on.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func parseTimePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	return &t, err
}

// encodeJSON stores slices and maps as JSON text; nil encodes as null so
// that it reads back as nil rather than as an empty value.
func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
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

// sandboxArgs returns sb's values in sandboxColumns order.
func sandboxArgs(sb *sandbox.Sandbox) ([]any, error) {
	entrypoint, err := encodeJSON(sb.Entrypoint)
	if err != nil {
		return nil, err
	}
	env, err := encodeJSON(sb.Env)
	if err != nil {
		return nil, err
	}
	metadata, err := encodeJSON(sb.Metadata)
	if err != nil {
		return nil, err
	}
	cidrs, err := encodeJSON(sb.Network.AllowCIDRs)
	if err != nil {
		return nil, err
	}
	deny, err := encodeJSON(sb.Network.DenyCIDRs)
	if err != nil {
		return nil, err
	}
	public, err := encodeJSON(sb.Network.PublicPorts)
	if err != nil {
		return nil, err
	}
	var timeout, releaseAfter any
	if sb.TimeoutSeconds != nil {
		timeout = *sb.TimeoutSeconds
	}
	if sb.PauseReleaseAfterSeconds != nil {
		releaseAfter = *sb.PauseReleaseAfterSeconds
	}
	var pauseMemory, pauseSince, pauseReleaseAt any
	var pauseSize int64
	if p := sb.Pause; p != nil {
		pauseMemory, pauseSince, pauseSize, pauseReleaseAt = string(p.Memory), formatTime(p.Since), p.SizeBytes, formatTimePtr(p.ReleaseAt)
	}
	return []any{
		sb.ID, sb.Name, sb.OrganizationID, sb.Image, sb.Template, entrypoint, env, metadata,
		sb.Resources.CPU, sb.Resources.MemoryMB, sb.Resources.DiskMB, sb.Resources.Pids,
		sb.Network.Internet, cidrs,
		string(sb.State), string(sb.DesiredState), sb.StateReason, timeout, formatTimePtr(sb.ExpiresAt),
		sb.AutoStopMinutes, sb.AutoArchiveMinutes, sb.AutoDeleteMinutes,
		formatTime(sb.CreatedAt), formatTime(sb.UpdatedAt), formatTimePtr(sb.StartedAt),
		formatTime(sb.LastActivityAt), sb.Version,
		deny, public, sb.AutoResume,
		pauseMemory, pauseSince, pauseSize, pauseReleaseAt, releaseAfter,
		sb.Runtime, sb.AutoPauseMinutes,
	}, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanSandbox reads one row selected with sandboxColumns.
func scanSandbox(row scanner) (*sandbox.Sandbox, error) {
	var (
		sb                               sandbox.Sandbox
		entrypoint, env, metadata, cidrs string
		state, desired                   string
		timeout                          sql.NullInt64
		expires, started                 sql.NullString
		created, updated, activity       string
		deny, public                     string
		pauseMemory, pauseSince          sql.NullString
		pauseSize                        int64
		pauseReleaseAt                   sql.NullString
		releaseAfter                     sql.NullInt64
	)
	err := row.Scan(&sb.ID, &sb.Name, &sb.OrganizationID, &sb.Image, &sb.Template,
		&entrypoint, &env, &metadata,
		&sb.Resources.CPU, &sb.Resources.MemoryMB, &sb.Resources.DiskMB, &sb.Resources.Pids,
		&sb.Network.Internet, &cidrs,
		&state, &desired, &sb.StateReason, &timeout, &expires,
		&sb.AutoStopMinutes, &sb.AutoArchiveMinutes, &sb.AutoDeleteMinutes,
		&created, &updated, &started, &activity, &sb.Version,
		&deny, &public, &sb.AutoResume,
		&pauseMemory, &pauseSince, &pauseSize, &pauseReleaseAt, &releaseAfter,
		&sb.Runtime, &sb.AutoPauseMinutes)
	if err != nil {
		return nil, err
	}
	sb.State, sb.DesiredState = sandbox.State(state), sandbox.State(desired)
	if timeout.Valid {
		sb.TimeoutSeconds = &timeout.Int64
	}
	if releaseAfter.Valid {
		sb.PauseReleaseAfterSeconds = &releaseAfter.Int64
	}
	for _, j := range []struct {
		text string
		dst  any
	}{{entrypoint, &sb.Entrypoint}, {env, &sb.Env}, {metadata, &sb.Metadata}, {cidrs, &sb.Network.AllowCIDRs},
		{deny, &sb.Network.DenyCIDRs}, {public, &sb.Network.PublicPorts}} {
		if err := json.Unmarshal([]byte(j.text), j.dst); err != nil {
			return nil, fmt.Errorf("sandbox %s: stored JSON: %w", sb.ID, err)
		}
	}
	var errs []error
	var e error
	sb.ExpiresAt, e = parseTimePtr(expires)
	errs = append(errs, e)
	sb.StartedAt, e = parseTimePtr(started)
	errs = append(errs, e)
	sb.CreatedAt, e = parseTime(created)
	errs = append(errs, e)
	sb.UpdatedAt, e = parseTime(updated)
	errs = append(errs, e)
	sb.LastActivityAt, e = parseTime(activity)
	errs = append(errs, e)
	if pauseMemory.Valid {
		sb.Pause = &sandbox.PauseInfo{Memory: sandbox.MemoryTier(pauseMemory.String), SizeBytes: pauseSize}
		sb.Pause.Since, e = parseTime(pauseSince.String)
		errs = append(errs, e)
		sb.Pause.ReleaseAt, e = parseTimePtr(pauseReleaseAt)
		errs = append(errs, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", sb.ID, err)
	}
	return &sb, nil
}

// constraint returns the extended SQLite result code of a constraint
// violation in err, or 0 when err is something else.
func constraint(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return se.Code()
	}
	return 0
}

// Extended constraint codes the store turns into error classes.
const (
	codeUnique     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	codePrimaryKey = sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	codeForeignKey = sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
)
