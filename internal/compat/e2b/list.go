package e2b

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// Page sizes of GET /v2/sandboxes (E2B's paginationLimit).
const (
	defaultLimit = 100
	maxLimit     = 100
)

// listQuery is what GET /v2/sandboxes filters by.
type listQuery struct {
	metadata     map[string]string
	states       []sandbox.State
	ascending    bool
	startedAfter *time.Time
	template     string
	page, limit  int
}

// parseMetadata reads E2B's metadata filter: a query string of pairs
// ("user=abc&app=prod") carried in one parameter, whose keys and values
// the SDK percent-encodes before it builds it (so they are decoded once
// more here).
func parseMetadata(raw string) (map[string]string, error) {
	if raw == "" {
		return nil, nil
	}
	pairs, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errdefs.InvalidField("metadata", "is not a query string of key=value pairs: %v", err)
	}
	out := make(map[string]string, len(pairs))
	for k, vs := range pairs {
		key, err := url.PathUnescape(k)
		if err != nil {
			return nil, errdefs.InvalidField("metadata", "key %q is not URL-encoded text", k)
		}
		val, err := url.PathUnescape(vs[len(vs)-1])
		if err != nil {
			return nil, errdefs.InvalidField("metadata", "value of %q is not URL-encoded text", key)
		}
		out[key] = val
	}
	return out, nil
}

// parseStates reads the comma-joined state filter; none means running and
// paused (every sandbox that is not being deleted).
func parseStates(values []string) ([]sandbox.State, error) {
	var words []string
	for _, v := range values {
		for _, w := range strings.Split(v, ",") {
			if w = strings.TrimSpace(w); w != "" {
				words = append(words, w)
			}
		}
	}
	if len(words) == 0 {
		words = []string{"running", "paused"}
	}
	var out []sandbox.State
	for _, w := range words {
		if w != "running" && w != "paused" {
			return nil, errdefs.InvalidField("state", "unknown state %q (running or paused)", w)
		}
		for _, s := range statesOf(w) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func parseList(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	var lq listQuery
	var err error
	if lq.metadata, err = parseMetadata(q.Get("metadata")); err != nil {
		return lq, err
	}
	if lq.states, err = parseStates(q["state"]); err != nil {
		return lq, err
	}
	switch o := q.Get("order"); o {
	case "", "desc":
	case "asc":
		lq.ascending = true
	default:
		return lq, errdefs.InvalidField("order", "must be asc or desc, got %q", o)
	}
	if v := q.Get("startedAfter"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return lq, errdefs.InvalidField("startedAfter", "is not an RFC 3339 time: %q", v)
		}
		lq.startedAfter = &t
	}
	lq.template = q.Get("template")
	if lq.page, err = compat.DecodeCursor("nextToken", q.Get("nextToken")); err != nil {
		return lq, err
	}
	if lq.limit, err = compat.PageSize("limit", q.Get("limit"), defaultLimit, maxLimit); err != nil {
		return lq, err
	}
	return lq, nil
}

// inMemory reports whether the query filters or orders by something the
// store does not page by, so that the whole matching set is read and
// paged here.
func (q listQuery) inMemory() bool {
	return q.ascending || q.startedAfter != nil || q.template != ""
}

func (q listQuery) keep(sb *sandbox.Sandbox) bool {
	if q.template != "" && q.template != sb.Template && q.template != sb.Image {
		return false
	}
	if q.startedAfter != nil {
		started := sb.CreatedAt
		if sb.StartedAt != nil {
			started = *sb.StartedAt
		}
		if started.Before(*q.startedAfter) {
			return false
		}
	}
	return true
}

// listV2 answers a JSON array of one page; the x-next-token header names
// the next page, and its absence ends the list.
func (f *face) listV2(w http.ResponseWriter, r *http.Request) error {
	q, err := parseList(r)
	if err != nil {
		return err
	}
	filter := sandbox.ListFilter{OrganizationID: orgOf(r), States: q.states, Metadata: q.metadata}
	var items []*sandbox.Sandbox
	more := false
	if q.inMemory() {
		all, err := f.listAll(r, filter)
		if err != nil {
			return err
		}
		all = slices.DeleteFunc(all, func(sb *sandbox.Sandbox) bool { return !q.keep(sb) })
		if q.ascending {
			slices.Reverse(all)
		}
		start := min((q.page-1)*q.limit, len(all))
		end := min(start+q.limit, len(all))
		items, more = all[start:end], end < len(all)
	} else {
		filter.Page, filter.PageSize = q.page, q.limit
		var total int
		if items, total, err = f.Sandboxes.List(r.Context(), filter); err != nil {
			return err
		}
		more = q.page*q.limit < total
	}
	if more {
		w.Header().Set("X-Next-Token", compat.EncodeCursor(q.page+1))
	}
	out := make([]detailJSON, 0, len(items))
	for _, sb := range items {
		out = append(out, f.detail(r, sb, false))
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// listV1 is the deprecated list: running sandboxes, all of them, by
// metadata.
func (f *face) listV1(w http.ResponseWriter, r *http.Request) error {
	md, err := parseMetadata(r.URL.Query().Get("metadata"))
	if err != nil {
		return err
	}
	all, err := f.listAll(r, sandbox.ListFilter{OrganizationID: orgOf(r), States: statesOf("running"), Metadata: md})
	if err != nil {
		return err
	}
	out := make([]detailJSON, 0, len(all))
	for _, sb := range all {
		out = append(out, f.detail(r, sb, false))
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

// listAll reads every page of filter, newest first.
func (f *face) listAll(r *http.Request, filter sandbox.ListFilter) ([]*sandbox.Sandbox, error) {
	var all []*sandbox.Sandbox
	filter.PageSize = maxLimit
	for filter.Page = 1; ; filter.Page++ {
		items, total, err := f.Sandboxes.List(r.Context(), filter)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) == 0 || filter.Page*filter.PageSize >= total {
			return all, nil
		}
	}
}
