package e2b

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

const mib = 1 << 20

// metricJSON is E2B's SandboxMetric with what Hutch measures: memory and
// CPU from the sandbox's cgroup, the disk limit. Page cache and disk use
// are not measured and are left out rather than answered as zeros.
type metricJSON struct {
	Timestamp     time.Time `json:"timestamp"`
	TimestampUnix int64     `json:"timestampUnix"`
	CPUCount      int       `json:"cpuCount"`
	CPUUsedPct    float64   `json:"cpuUsedPct"`
	MemUsed       int64     `json:"memUsed"`
	MemTotal      int64     `json:"memTotal"`
	DiskTotal     int64     `json:"diskTotal"`
}

// sample measures a sandbox now; ok is false for a sandbox that has no
// resource use to read (not running or paused). cpuUsedPct is the
// average since the sandbox started: Hutch keeps no history of samples.
func (f *face) sample(r *http.Request, sb *sandbox.Sandbox) (metricJSON, bool, error) {
	sb, st, err := f.Sandboxes.Stats(r.Context(), orgOf(r), sb.ID)
	var te *sandbox.TransitionError
	if errors.As(err, &te) {
		return metricJSON{}, false, nil
	}
	if err != nil {
		return metricJSON{}, false, err
	}
	now := time.Now().UTC()
	cpus := cpuCount(sb.Resources.CPU)
	m := metricJSON{Timestamp: now, TimestampUnix: now.Unix(), CPUCount: cpus, MemUsed: st.MemoryBytes,
		MemTotal: st.MemoryLimit, DiskTotal: sb.Resources.DiskMB * mib}
	if m.MemTotal <= 0 {
		m.MemTotal = sb.Resources.MemoryMB * mib
	}
	if sb.StartedAt != nil {
		if up := now.Sub(*sb.StartedAt); up > 0 {
			m.CPUUsedPct = 100 * st.CPUUsage.Seconds() / up.Seconds() / float64(cpus)
		}
	}
	return m, true, nil
}

// unixParam reads an optional query parameter of epoch seconds.
func unixParam(r *http.Request, name string) (*time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, errdefs.InvalidField(name, "must be a Unix time in seconds, got %q", v)
	}
	t := time.Unix(n, 0)
	return &t, nil
}

// metrics answers the sandbox's one current sample, or an empty list when
// it is outside [start, end] or the sandbox runs nothing to measure.
func (f *face) metrics(w http.ResponseWriter, r *http.Request) error {
	start, err := unixParam(r, "start")
	if err != nil {
		return err
	}
	end, err := unixParam(r, "end")
	if err != nil {
		return err
	}
	sb, err := f.lookup(r)
	if err != nil {
		return err
	}
	out := []metricJSON{}
	m, ok, err := f.sample(r, sb)
	if err != nil {
		return err
	}
	if ok && (start == nil || !m.Timestamp.Before(*start)) && (end == nil || !m.Timestamp.After(end.Add(time.Second))) {
		out = append(out, m)
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// metricsMany answers E2B's SandboxesWithMetrics for the listed sandboxes
// of the caller's organisation that can be measured.
func (f *face) metricsMany(w http.ResponseWriter, r *http.Request) error {
	var ids []string
	for _, v := range r.URL.Query()["sandbox_ids"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 || len(ids) > 100 {
		return errdefs.InvalidField("sandbox_ids", "must list 1 to 100 sandbox IDs, comma-separated")
	}
	out := map[string]metricJSON{}
	for _, id := range ids {
		sb, err := f.Sandboxes.Get(r.Context(), orgOf(r), id)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		m, ok, err := f.sample(r, sb)
		if err != nil {
			return err
		}
		if ok {
			out[sb.ID] = m
		}
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"sandboxes": out})
	return nil
}

// logEntry is E2B's SandboxLogEntry. Hutch has no log of what runs in a
// sandbox; what it has is the sandbox's event log (created, paused,
// resumed, expiry set, ...), which is what these routes answer.
type logEntry struct {
	Timestamp time.Time         `json:"timestamp"`
	Level     string            `json:"level"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields"`
}

func logEntryOf(ev sandbox.Event) logEntry {
	msg := ev.Type
	if ev.Type == sandbox.EventState {
		msg = fmt.Sprintf("%s -> %s", ev.From, ev.To)
		if ev.From == "" {
			msg = string(ev.To)
		}
	}
	if ev.Message != "" {
		msg += ": " + ev.Message
	}
	level := "info"
	if ev.To == sandbox.StateError {
		level = "error"
	}
	fields := map[string]string{"type": ev.Type, "cause": ev.Cause}
	if ev.To != "" {
		fields["from"], fields["to"] = string(ev.From), string(ev.To)
	}
	return logEntry{Timestamp: ev.Time.UTC(), Level: level, Message: msg, Fields: fields}
}

var levels = map[string]int{"debug": 0, "info": 1, "warn": 2, "error": 3}

// events reads the sandbox's event log as E2B log entries, oldest first.
func (f *face) events(r *http.Request) ([]logEntry, error) {
	sb, err := f.lookup(r)
	if err != nil {
		return nil, err
	}
	evs, err := f.Sandboxes.Events(r.Context(), orgOf(r), sb.ID)
	if err != nil {
		return nil, err
	}
	out := make([]logEntry, 0, len(evs))
	for _, ev := range evs {
		out = append(out, logEntryOf(ev))
	}
	return out, nil
}

func intParam(r *http.Request, name string, def, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, errdefs.InvalidField(name, "must be an integer from 0 to %d, got %q", max, v)
	}
	return n, nil
}

// logsV1 is E2B's deprecated SandboxLogs: lines and entries from start
// (epoch milliseconds), at most limit.
func (f *face) logsV1(w http.ResponseWriter, r *http.Request) error {
	start, err := intParam(r, "start", 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 1000, 1<<31-1)
	if err != nil {
		return err
	}
	all, err := f.events(r)
	if err != nil {
		return err
	}
	type line struct {
		Timestamp time.Time `json:"timestamp"`
		Line      string    `json:"line"`
	}
	lines, entries := []line{}, []logEntry{}
	for _, e := range all {
		if e.Timestamp.UnixMilli() < start || int64(len(entries)) >= limit {
			continue
		}
		lines = append(lines, line{Timestamp: e.Timestamp, Line: e.Message})
		entries = append(entries, e)
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"logs": lines, "logEntries": entries})
	return nil
}

// logsV2 is E2B's SandboxLogsV2Response: entries from cursor (epoch
// milliseconds) forward or backward, at or above level, containing
// search.
func (f *face) logsV2(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	cursor, err := intParam(r, "cursor", -1, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 1000, 1000)
	if err != nil {
		return err
	}
	backward := false
	switch d := q.Get("direction"); d {
	case "", "forward":
	case "backward":
		backward = true
	default:
		return errdefs.InvalidField("direction", "must be forward or backward, got %q", d)
	}
	minLevel := 0
	if l := q.Get("level"); l != "" {
		n, ok := levels[l]
		if !ok {
			return errdefs.InvalidField("level", "must be debug, info, warn or error, got %q", l)
		}
		minLevel = n
	}
	search := q.Get("search")
	if len(search) > 256 {
		return errdefs.InvalidField("search", "must be at most 256 characters")
	}
	all, err := f.events(r)
	if err != nil {
		return err
	}
	if backward {
		slices.Reverse(all)
	}
	out := []logEntry{}
	for _, e := range all {
		ms := e.Timestamp.UnixMilli()
		switch {
		case int64(len(out)) >= limit:
		case cursor >= 0 && !backward && ms < cursor, cursor >= 0 && backward && ms > cursor:
		case levels[e.Level] < minLevel, !strings.Contains(e.Message, search):
		default:
			out = append(out, e)
		}
	}
	compat.WriteJSON(w, http.StatusOK, map[string]any{"logs": out})
	return nil
}
