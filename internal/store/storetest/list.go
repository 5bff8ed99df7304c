package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store"
)

// listTests cover filters, order and paging of ListSandboxes, and
// ListAllSandboxes.
var listTests = []test{
	{"ListFilters", testListFilters},
	{"ListOrder", testListOrder},
	{"ListPagination", testListPagination},
	{"ListNamePrefixIsLiteral", testListLikeEscaping},
	{"ListAll", testListAll},
}

// seed creates sandboxes in org with the given names, states and metadata,
// one second apart in CreatedAt so that the list order is the reverse of
// the seed order.
type seed struct {
	name  string
	state sandbox.State
	md    map[string]string
}

func seedAll(t *testing.T, s store.Store, org string, seeds []seed) {
	t.Helper()
	base := now().Add(-time.Hour)
	for i, sd := range seeds {
		sb := newSandbox(org, sd.name)
		sb.Metadata = sd.md
		sb.CreatedAt = base.Add(time.Duration(i) * time.Second)
		mustCreate(t, s, sb)
		if sd.state != sandbox.StateRunning {
			setState(t, s, sb, sd.state)
		}
	}
}

func testListFilters(t *testing.T, s store.Store) {
	org := newOrg()
	seedAll(t, s, org, []seed{
		{"web-1", sandbox.StateRunning, map[string]string{"team": "ml", "env": "prod"}},
		{"web-2", sandbox.StatePaused, map[string]string{"team": "ml", "env": "dev"}},
		{"api-1", sandbox.StateRunning, map[string]string{"team": "infra", "env": "prod"}},
		{"api-2", sandbox.StateStopped, nil},
		{"web-3", sandbox.StateDeleted, map[string]string{"team": "ml", "env": "prod"}},
		{"job", sandbox.StateError, map[string]string{"team": "ml", "env": ""}},
	})
	mustCreate(t, s, newSandbox(newOrg(), "web-other-org")) // never listed

	states := func(ss ...sandbox.State) []sandbox.State { return ss }
	md := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		f    sandbox.ListFilter
		want []string // newest first
	}{
		{"none hides deleted", sandbox.ListFilter{}, []string{"job", "api-2", "api-1", "web-2", "web-1"}},
		{"one state", sandbox.ListFilter{States: states(sandbox.StateRunning)}, []string{"api-1", "web-1"}},
		{"states OR", sandbox.ListFilter{States: states(sandbox.StatePaused, sandbox.StateStopped)}, []string{"api-2", "web-2"}},
		{"deleted only when asked", sandbox.ListFilter{States: states(sandbox.StateDeleted)}, []string{"web-3"}},
		{"deleted with others", sandbox.ListFilter{States: states(sandbox.StateDeleted, sandbox.StateRunning)}, []string{"web-3", "api-1", "web-1"}},
		{"state with none", sandbox.ListFilter{States: states(sandbox.StateArchived)}, nil},
		{"one label", sandbox.ListFilter{Metadata: md("team", "ml")}, []string{"job", "web-2", "web-1"}},
		{"labels AND", sandbox.ListFilter{Metadata: md("team", "ml", "env", "prod")}, []string{"web-1"}},
		{"labels AND none", sandbox.ListFilter{Metadata: md("team", "infra", "env", "dev")}, nil},
		{"label empty value", sandbox.ListFilter{Metadata: md("env", "")}, []string{"job"}},
		{"label unknown key", sandbox.ListFilter{Metadata: md("owner", "x")}, nil},
		{"prefix", sandbox.ListFilter{NamePrefix: "web-"}, []string{"web-2", "web-1"}},
		{"prefix is case-sensitive", sandbox.ListFilter{NamePrefix: "WEB"}, nil},
		{"prefix whole name", sandbox.ListFilter{NamePrefix: "job"}, []string{"job"}},
		{"all combined", sandbox.ListFilter{
			States:     states(sandbox.StateRunning, sandbox.StatePaused, sandbox.StateDeleted),
			Metadata:   md("team", "ml", "env", "prod"),
			NamePrefix: "web",
		}, []string{"web-3", "web-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.OrganizationID, f.Page, f.PageSize = org, 1, 50
			items, total, err := s.ListSandboxes(context.Background(), f)
			if err != nil {
				t.Fatalf("ListSandboxes: %v", err)
			}
			if got := names(items); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if total != len(tc.want) {
				t.Fatalf("total %d, want %d", total, len(tc.want))
			}
		})
	}
}

func testListOrder(t *testing.T, s store.Store) {
	org := newOrg()
	at := now()
	// Equal creation times fall back to ID, descending.
	for _, id := range []string{"sbx_a", "sbx_c", "sbx_b"} {
		sb := newSandbox(org, "n-"+id)
		sb.ID, sb.CreatedAt = id, at
		mustCreate(t, s, sb)
	}
	older := newSandbox(org, "older")
	older.CreatedAt = at.Add(-time.Millisecond)
	mustCreate(t, s, older)
	newer := newSandbox(org, "newer")
	newer.CreatedAt = at.Add(time.Microsecond)
	mustCreate(t, s, newer)
	want := []string{"newer", "n-sbx_c", "n-sbx_b", "n-sbx_a", "older"}

	items, _, err := s.ListSandboxes(context.Background(), sandbox.ListFilter{OrganizationID: org, Page: 1, PageSize: 10})
	if err != nil {
		t.Fatalf("ListSandboxes: %v", err)
	}
	if got := names(items); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func testListPagination(t *testing.T, s store.Store) {
	org := newOrg()
	var seeds []seed
	for i := range 7 {
		seeds = append(seeds, seed{fmt.Sprintf("sb-%d", i), sandbox.StateRunning, nil})
	}
	seeds = append(seeds, seed{"sb-deleted", sandbox.StateDeleted, nil}) // not counted
	seedAll(t, s, org, seeds)
	all := []string{"sb-6", "sb-5", "sb-4", "sb-3", "sb-2", "sb-1", "sb-0"}

	tests := []struct {
		page, size int
		want       []string
	}{
		{1, 3, all[0:3]},
		{2, 3, all[3:6]},
		{3, 3, all[6:7]}, // last, partial
		{4, 3, nil},      // past the end: empty, total still known
		{1, 7, all},
		{1, 100, all},
		{2, 7, nil},
		{0, 0, all}, // unset: first page of 20
		{0, 2, all[0:2]},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("page=%d,size=%d", tc.page, tc.size), func(t *testing.T) {
			items, total, err := s.ListSandboxes(context.Background(),
				sandbox.ListFilter{OrganizationID: org, Page: tc.page, PageSize: tc.size})
			if err != nil {
				t.Fatalf("ListSandboxes: %v", err)
			}
			if total != 7 {
				t.Fatalf("total %d, want 7", total)
			}
			if got := names(items); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// Paging through with a small size visits every sandbox exactly once.
	var seen []string
	for page := 1; ; page++ {
		items, total, err := s.ListSandboxes(context.Background(),
			sandbox.ListFilter{OrganizationID: org, Page: page, PageSize: 2})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		seen = append(seen, names(items)...)
		if page*2 >= total {
			break
		}
	}
	if !slices.Equal(seen, all) {
		t.Fatalf("paged through %v, want %v", seen, all)
	}
}

func testListLikeEscaping(t *testing.T, s store.Store) {
	org := newOrg()
	seedAll(t, s, org, []seed{
		{"a_b", sandbox.StateRunning, nil},
		{"axb", sandbox.StateRunning, nil},
		{"50%", sandbox.StateRunning, nil},
		{"50x", sandbox.StateRunning, nil},
		{`c\d`, sandbox.StateRunning, nil},
		{`c\\d`, sandbox.StateRunning, nil},
		{"cd", sandbox.StateRunning, nil},
	})
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a_", []string{"a_b"}},
		{"50%", []string{"50%"}},
		{"5", []string{"50x", "50%"}},
		{`c\`, []string{`c\\d`, `c\d`}},
		{`c\d`, []string{`c\d`}},
		{"%", nil},
		{"_", nil},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			items, total, err := s.ListSandboxes(context.Background(),
				sandbox.ListFilter{OrganizationID: org, NamePrefix: tc.prefix, Page: 1, PageSize: 20})
			if err != nil {
				t.Fatalf("ListSandboxes: %v", err)
			}
			if got := names(items); total != len(tc.want) || (!slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0) {
				t.Fatalf("prefix %q: got %v (total %d), want %v", tc.prefix, got, total, tc.want)
			}
		})
	}
}

func testListAll(t *testing.T, s store.Store) {
	a, b := newOrg(), newOrg()
	seedAll(t, s, a, []seed{{"a1", sandbox.StateRunning, nil}, {"a2", sandbox.StateDeleted, nil}, {"a3", sandbox.StateStopping, nil}})
	seedAll(t, s, b, []seed{{"b1", sandbox.StatePaused, nil}, {"b2", sandbox.StateError, nil}})

	items, err := s.ListAllSandboxes(context.Background())
	if err != nil {
		t.Fatalf("ListAllSandboxes: %v", err)
	}
	got := names(items)
	slices.Sort(got)
	if want := []string{"a1", "a3", "b1", "b2"}; !slices.Equal(got, want) {
		t.Fatalf("ListAllSandboxes = %v, want %v (every org, deleted left out)", got, want)
	}
}
