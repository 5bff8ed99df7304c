package daytona

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// Page sizes of both list forms (the spec's default and maximum).
const (
	defaultLimit = 100
	maxLimit     = 200
)

// listQuery is what a list asks for: the store's filters (labels as a
// subset, states, name prefix) and the checks the store has no column
// for, applied to each page as it comes.
type listQuery struct {
	filter sandbox.ListFilter
	// none is set when every state asked for is one of Daytona's that no
	// Hutch sandbox is ever in: nothing can match.
	none bool
	keep []func(*sandbox.Sandbox) bool
}

// values reads a repeated parameter, also split at commas (the SDK
// repeats it; people write states=started,stopped).
func values(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func parseListQuery(r *http.Request, org string) (*listQuery, error) {
	q := r.URL.Query()
	lq := &listQuery{filter: sandbox.ListFilter{OrganizationID: org, NamePrefix: q.Get("name")}}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &lq.filter.Metadata); err != nil {
			return nil, errdefs.InvalidField("labels", "must be a JSON object of strings, such as {\"env\":\"dev\"}")
		}
	}
	if ws := values(q, "states"); len(ws) > 0 {
		lq.none = true
		for _, w := range ws {
			st, ok := stateOf(w)
			if !ok {
				return nil, errdefs.InvalidField("states", "unknown state %q", w)
			}
			if st != "" {
				lq.filter.States = append(lq.filter.States, st)
				lq.none = false
			}
		}
	}
	if id := strings.ToLower(q.Get("id")); id != "" {
		lq.keep = append(lq.keep, func(sb *sandbox.Sandbox) bool { return strings.HasPrefix(strings.ToLower(sb.ID), id) })
	}
	if snaps := values(q, "snapshots"); len(snaps) > 0 {
		lq.keep = append(lq.keep, func(sb *sandbox.Sandbox) bool {
			for _, s := range snaps {
				if sb.Image == s {
					return true
				}
			}
			return false
		})
	}
	if v := q.Get("isRecoverable"); v != "" {
		recoverable, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errdefs.InvalidField("isRecoverable", "must be true or false")
		}
		lq.keep = append(lq.keep, func(sb *sandbox.Sandbox) bool { return (sb.State == sandbox.StateError) == recoverable })
	}
	if v := q.Get("isPublic"); v != "" {
		public, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errdefs.InvalidField("isPublic", "must be true or false")
		}
		lq.keep = append(lq.keep, func(*sandbox.Sandbox) bool { return !public })
	}
	for _, b := range []struct {
		param string
		of    func(*sandbox.Sandbox) float64
		min   bool
	}{
		{"minCpu", func(sb *sandbox.Sandbox) float64 { return sb.Resources.CPU }, true},
		{"maxCpu", func(sb *sandbox.Sandbox) float64 { return sb.Resources.CPU }, false},
		{"minMemoryGiB", func(sb *sandbox.Sandbox) float64 { return float64(sb.Resources.MemoryMB) / gib }, true},
		{"maxMemoryGiB", func(sb *sandbox.Sandbox) float64 { return float64(sb.Resources.MemoryMB) / gib }, false},
		{"minDiskGiB", func(sb *sandbox.Sandbox) float64 { return float64(sb.Resources.DiskMB) / gib }, true},
		{"maxDiskGiB", func(sb *sandbox.Sandbox) float64 { return float64(sb.Resources.DiskMB) / gib }, false},
	} {
		v := q.Get(b.param)
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) {
			return nil, errdefs.InvalidField(b.param, "must be a number, got %q", v)
		}
		of, min := b.of, b.min
		lq.keep = append(lq.keep, func(sb *sandbox.Sandbox) bool { return min && of(sb) >= n || !min && of(sb) <= n })
	}
	for _, t := range []struct {
		param string
		of    func(*sandbox.Sandbox) time.Time
		after bool
	}{
		{"createdAtAfter", func(sb *sandbox.Sandbox) time.Time { return sb.CreatedAt }, true},
		{"createdAtBefore", func(sb *sandbox.Sandbox) time.Time { return sb.CreatedAt }, false},
		{"lastEventAfter", func(sb *sandbox.Sandbox) time.Time { return sb.LastActivityAt }, true},
		{"lastEventBefore", func(sb *sandbox.Sandbox) time.Time { return sb.LastActivityAt }, false},
		{"autoDestroyAtAfter", expiry, true},
		{"autoDestroyAtBefore", expiry, false},
	} {
		v := q.Get(t.param)
		if v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, errdefs.InvalidField(t.param, "must be an RFC 3339 time such as 2024-01-01T00:00:00Z")
		}
		of, after := t.of, t.after
		lq.keep = append(lq.keep, func(sb *sandbox.Sandbox) bool {
			t := of(sb)
			return !t.IsZero() && (after && t.After(at) || !after && t.Before(at))
		})
	}
	// The store pages newest first; other orders would need its support.
	if v := q.Get("sort"); v != "" && v != "createdAt" {
		return nil, errdefs.InvalidField("sort", "only createdAt is supported")
	}
	if v := q.Get("order"); v != "" && v != "desc" {
		return nil, errdefs.InvalidField("order", "only desc (newest first) is supported")
	}
	// Every sandbox here is a container of the one local runner.
	if cls := values(q, "sandboxClasses"); len(cls) > 0 && !slices.Contains(cls, sandboxClass) {
		lq.none = true
	}
	if regions := append(values(q, "regionIds"), values(q, "regions")...); len(regions) > 0 && !slices.Contains(regions, target) {
		lq.none = true
	}
	return lq, nil
}

// expiry is when a sandbox's TTL destroys it (zero: never).
func expiry(sb *sandbox.Sandbox) time.Time {
	if sb.ExpiresAt == nil {
		return time.Time{}
	}
	return *sb.ExpiresAt
}

// page lists one page of the query's sandboxes and the store's total.
func (f *face) page(r *http.Request, lq *listQuery, page, size int) ([]sandboxBody, int, error) {
	if lq.none {
		return []sandboxBody{}, 0, nil
	}
	fl := lq.filter
	fl.Page, fl.PageSize = page, size
	sbs, total, err := f.Sandboxes.List(r.Context(), fl)
	if err != nil {
		return nil, 0, vendorField(err)
	}
	items := make([]sandboxBody, 0, len(sbs))
next:
	for _, sb := range sbs {
		for _, keep := range lq.keep {
			if !keep(sb) {
				continue next
			}
		}
		items = append(items, f.body(r, sb))
	}
	return items, total, nil
}

// list is GET /sandbox: {items, nextCursor}, newest first.
func (f *face) list(w http.ResponseWriter, r *http.Request) error {
	org, err := organization(r)
	if err != nil {
		return err
	}
	lq, err := parseListQuery(r, org)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := compat.DecodeCursor("cursor", q.Get("cursor"))
	if err != nil {
		return err
	}
	size, err := compat.PageSize("limit", q.Get("limit"), defaultLimit, maxLimit)
	if err != nil {
		return err
	}
	items, total, err := f.page(r, lq, page, size)
	if err != nil {
		return err
	}
	var next *string
	if page*size < total {
		c := compat.EncodeCursor(page + 1)
		next = &c
	}
	compat.WriteJSON(w, http.StatusOK, struct {
		Items      []sandboxBody `json:"items"`
		NextCursor *string       `json:"nextCursor"`
	}{items, next})
	return nil
}

// listPaginated is the deprecated GET /sandbox/paginated: numbered pages
// with a total.
func (f *face) listPaginated(w http.ResponseWriter, r *http.Request) error {
	org, err := organization(r)
	if err != nil {
		return err
	}
	lq, err := parseListQuery(r, org)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := compat.PageSize("page", q.Get("page"), 1, math.MaxInt32)
	if err != nil {
		return err
	}
	size, err := compat.PageSize("limit", q.Get("limit"), defaultLimit, maxLimit)
	if err != nil {
		return err
	}
	items, total, err := f.page(r, lq, page, size)
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, struct {
		Items      []sandboxBody `json:"items"`
		Total      int           `json:"total"`
		Page       int           `json:"page"`
		TotalPages int           `json:"totalPages"`
	}{items, total, page, (total + size - 1) / size})
	return nil
}
