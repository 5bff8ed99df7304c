package tarcopy

import (
	"errors"
	"strings"
	"testing"
)

// TestEntryName: the names every unpacker refuses (absolute, NUL, any
// ".." component) and the clean relative path of the rest, "" for the
// target itself; BoundedEntryName also refuses names past PATH_MAX or 256
// directories deep, which EntryName lets through.
func TestEntryName(t *testing.T) {
	deep := strings.Repeat("d/", 256) + "f"
	long := strings.Repeat("x", 4097)
	for _, c := range []struct {
		name, want string
		bad        bool // refused by both
		unbounded  bool // refused by BoundedEntryName only
	}{
		{name: "../x", bad: true},
		{name: "a/../../x", bad: true},
		{name: "a/../b", bad: true},
		{name: "a/..", bad: true},
		{name: "..", bad: true},
		{name: "/abs", bad: true},
		{name: "//abs", bad: true},
		{name: "a\x00b", bad: true},
		{name: "./", want: ""},
		{name: ".", want: ""},
		{name: "./a//b/", want: "a/b"},
		{name: "a/./b", want: "a/b"},
		{name: "..a/b..", want: "..a/b.."},
		{name: deep, want: deep, unbounded: true},
		{name: long, want: long, unbounded: true},
	} {
		got, err := EntryName(c.name)
		if c.bad {
			if !errors.Is(err, ErrBadArchive) {
				t.Errorf("EntryName(%.40q) = %q, %v; want ErrBadArchive", c.name, got, err)
			}
		} else if got != c.want || err != nil {
			t.Errorf("EntryName(%.40q) = %.40q, %v; want %.40q", c.name, got, err, c.want)
		}
		got, err = BoundedEntryName(c.name)
		if c.bad || c.unbounded {
			if !errors.Is(err, ErrBadArchive) {
				t.Errorf("BoundedEntryName(%.40q) = %.40q, %v; want ErrBadArchive", c.name, got, err)
			}
		} else if got != c.want || err != nil {
			t.Errorf("BoundedEntryName(%.40q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
