package config

import (
	"io"
	"strings"
	"testing"
)

func TestLoadServeFlags(t *testing.T) {
	t.Setenv("HUTCH_LISTEN", "127.0.0.1:9999")
	c, err := LoadServe([]string{"--data-dir", "/tmp/x", "--runtime", "runc"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.DataDir != "/tmp/x" || c.Runtime != "runc" {
		t.Fatalf("config %+v", c)
	}
	c, err = LoadServe([]string{"--listen", "127.0.0.1:1"}, io.Discard)
	if err != nil || c.Listen != "127.0.0.1:1" {
		t.Fatalf("flag does not override env: %v %v", c.Listen, err)
	}
}

func TestLoadServeRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "nonsense"},
		{"--runtime", "docker"},
		{"--log-level", "loud"},
		{"--data-dir", ""},
		{"--stop-grace", "-1s"},
		{"extra"},
	} {
		if _, err := LoadServe(args, io.Discard); err == nil {
			t.Errorf("LoadServe(%q) accepted", strings.Join(args, " "))
		}
	}
}
