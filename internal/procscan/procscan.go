// Package procscan finds host processes by their command line
// (/proc/<pid>/cmdline), for code that must kill what a crashed run left
// behind: shims, sentries, gofers.
package procscan

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc is one process found by Find.
type Proc struct {
	PID  int
	Argv []string
}

// Find lists the processes whose argv match says yes to. A process that
// exits while /proc is read, or whose cmdline cannot be read, is skipped;
// kernel threads (an empty cmdline) are never offered to match.
func Find(match func(argv []string) bool) ([]Proc, error) {
	return find("/proc", match)
}

func find(proc string, match func(argv []string) bool) ([]Proc, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if match(argv) {
			out = append(out, Proc{PID: pid, Argv: argv})
		}
	}
	return out, nil
}
