package httpapi_test

import (
	"net/url"
	"sort"
	"testing"

	"github.com/hutchdev/hutch/api"
)

func TestListFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	mk := func(name string, md map[string]string) string {
		return e.must(201, "POST", "/v1/sandboxes", map[string]any{"name": name, "metadata": md}).sandbox(t).ID
	}
	a := mk("web-1", map[string]string{"team": "a", "env": "prod"})
	b := mk("web-2", map[string]string{"team": "a", "env": "dev"})
	c := mk("db-1", map[string]string{"team": "b", "env": "prod"})
	d := mk("web_3", nil)
	e.must(200, "POST", "/v1/sandboxes/"+b+"/pause", nil)
	e.must(200, "POST", "/v1/sandboxes/"+c+"/stop", nil)
	e.must(200, "DELETE", "/v1/sandboxes/"+d, nil)

	list := func(q string) ([]string, api.Pagination) {
		var l api.SandboxList
		e.must(200, "GET", "/v1/sandboxes?"+q, nil).decode(t, &l)
		var ids []string
		for _, it := range l.Items {
			ids = append(ids, it.ID)
		}
		return ids, l.Pagination
	}
	md := func(s string) string { return "metadata=" + url.QueryEscape(s) }
	cases := []struct {
		q    string
		want []string
	}{
		{"", []string{c, b, a}}, // newest first, deleted hidden
		{"state=running", []string{a}},
		{"state=running&state=paused", []string{b, a}},
		{"state=running,stopped", []string{c, a}},
		{"state=deleted", []string{d}},
		{md("team=a"), []string{b, a}},
		{md("team=a&env=prod"), []string{a}},
		{md("team=b&env=dev"), nil},
		{"name=web", []string{b, a}},
		{"name=web_", nil}, // '_' is not a wildcard
		{"name=web&state=paused", []string{b}},
	}
	for _, cs := range cases {
		got, _ := list(cs.q)
		if !equal(got, cs.want) {
			t.Errorf("list %q = %v, want %v", cs.q, got, cs.want)
		}
	}

	var all []string
	for p := 1; p <= 2; p++ {
		ids, pg := list("pageSize=2&page=" + string(rune('0'+p)))
		want := api.Pagination{Page: p, PageSize: 2, TotalItems: 3, TotalPages: 2, HasNextPage: p == 1}
		if pg != want {
			t.Fatalf("page %d pagination %+v, want %+v", p, pg, want)
		}
		all = append(all, ids...)
	}
	sort.Strings(all)
	want := []string{a, b, c}
	sort.Strings(want)
	if !equal(all, want) {
		t.Fatalf("pages cover %v, want %v", all, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
