package tarcopy

import (
	"fmt"
	"path"
	"strings"
)

// Bounds of a name for BoundedEntryName: PATH_MAX, and a depth no real
// tree nears. Each operation resolves a name one component at a time, so
// a stream of names thousands of directories deep would cost minutes.
const (
	maxNameLen   = 4096
	maxNameDepth = 256
)

// EntryName is the one check every unpacker of a tar stream makes of an
// entry's name (and a hard link's target) before it writes anything: it
// turns the name into a clean path relative to the target ("" for the
// target itself) and refuses, with ErrBadArchive, an absolute name, a
// NUL, or any ".." component (even one that stays inside, as in
// "a/../b": no packer writes one). Symlinks are the unpacker's own
// affair: a name beneath one is refused by its os.Root or its own record
// of the stream's symlinks.
func EntryName(name string) (string, error) {
	switch {
	case strings.HasPrefix(name, "/"):
		return "", badf("absolute names are refused")
	case strings.ContainsRune(name, 0):
		return "", badf("names must not contain NUL")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", badf(`names must not contain ".."`)
		}
	}
	if p := path.Clean(name); p != "." {
		return p, nil
	}
	return "", nil
}

// BoundedEntryName is EntryName for a stream whose unpacking the server
// pays for (an image layer, a copy into a sandbox): it also refuses a
// name longer than PATH_MAX or deeper than 256 directories. A sandbox's
// own archive is not bounded, so that no tree a sandbox could make fails
// its restore.
func BoundedEntryName(name string) (string, error) {
	p, err := EntryName(name)
	if err == nil && (len(p) > maxNameLen || strings.Count(p, "/") >= maxNameDepth) {
		return "", badf("name longer than %d bytes or deeper than %d directories", maxNameLen, maxNameDepth)
	}
	return p, err
}

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadArchive}, args...)...)
}
