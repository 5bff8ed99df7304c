package agent

import (
	"os"
	"testing"
)

func TestResolve(t *testing.T) {
	wd, _ := os.Getwd()
	for in, want := range map[string]string{
		"/a/b/../c": "/a/c",
		"/a/./b/":   "/a/b",
		"x":         wd + "/x",
		"/":         "/",
	} {
		if got, err := resolve("path", in); err != nil || got != want {
			t.Errorf("resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	depth := 0
	for d := wd; d != "/"; d = d[:max(1, lastSlash(d))] {
		depth++
	}
	climb := ""
	for i := 0; i <= depth; i++ {
		climb += "../"
	}
	for _, bad := range []string{"", "/..", "/a/../../b", climb + "etc", "a\x00b"} {
		if _, err := resolve("path", bad); err == nil {
			t.Errorf("resolve(%q) succeeded", bad)
		}
	}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return 0
}
