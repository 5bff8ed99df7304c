package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestLoad: steps come back in version order (not name order), with
// their SQL; a file not named NNNN_ or two files of one version are
// refused, naming them.
func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/10_ten.sql":   {Data: []byte("ten")},
		"m/0002_two.sql": {Data: []byte("two")},
		"m/1_one.sql":    {Data: []byte("one")},
		"m/notes.txt":    {Data: []byte("not a step")},
	}
	steps, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.Name+"="+s.SQL)
	}
	if want := "1_one.sql=one 0002_two.sql=two 10_ten.sql=ten"; strings.Join(got, " ") != want {
		t.Fatalf("Load = %q, want %q", got, want)
	}
	for name, bad := range map[string]fstest.MapFS{
		"x_bad.sql":  {"m/x_bad.sql": {}},
		"0_zero.sql": {"m/0_zero.sql": {}},
		"1.sql":      {"m/1.sql": {}},
		"01_b.sql":   {"m/1_a.sql": {}, "m/01_b.sql": {}},
	} {
		if _, err := Load(bad, "m"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Load of %s = %v, want it refused by name", name, err)
		}
	}
}

// TestPending: the steps not applied, in order; a database with a
// version no step has is refused, the highest such version named.
func TestPending(t *testing.T) {
	steps := []Step{{Version: 1, Name: "1_a.sql"}, {Version: 2, Name: "2_b.sql"}, {Version: 3, Name: "3_c.sql"}}
	got, err := Pending(steps, []int{2})
	if err != nil || len(got) != 2 || got[0].Version != 1 || got[1].Version != 3 {
		t.Fatalf("Pending(applied 2) = %+v, %v; want steps 1 and 3", got, err)
	}
	if got, err := Pending(steps, []int{1, 2, 3}); err != nil || len(got) != 0 {
		t.Fatalf("Pending(all applied) = %+v, %v; want none", got, err)
	}
	if _, err := Pending(steps, []int{1, 9999, 4, 2}); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("Pending(applied 9999) = %v, want a refusal naming 9999", err)
	}
}
