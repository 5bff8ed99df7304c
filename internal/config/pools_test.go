package config

import (
	"io"
	"slices"
	"testing"

	"github.com/hutchdev/hutch/internal/sandbox"
)

func TestPoolFlags(t *testing.T) {
	c, err := LoadServe([]string{"--data-dir", t.TempDir(), "--pool-size", "3", "--pool", "python:3.12=1",
		"--pool", "gvisor:base=2,node=0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []sandbox.PoolSize{{Image: "python:3.12", Size: 1}, {Image: "base", Runtime: "gvisor", Size: 2}, {Image: "node", Size: 0}}
	if c.Sandbox.Pools.DefaultSize != 3 || !slices.Equal(c.Sandbox.Pools.Images, want) {
		t.Fatalf("pools %+v, want size 3 and %+v", c.Sandbox.Pools, want)
	}
	if d, _ := LoadServe([]string{"--data-dir", t.TempDir()}, io.Discard); d.Sandbox.Pools.DefaultSize != 2 {
		t.Fatalf("default pool size %d, want 2", d.Sandbox.Pools.DefaultSize)
	}
	for _, bad := range [][]string{{"--pool", "python"}, {"--pool", "python=x"}, {"--pool", "python=-1"}, {"--pool-size", "65"}} {
		if _, err := LoadServe(append([]string{"--data-dir", t.TempDir()}, bad...), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
