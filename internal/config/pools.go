package config

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// poolFlags registers the warm pools: how many prepared sandboxes the
// server keeps of its default image, and of others.
func poolFlags(fs *flag.FlagSet, c *Config) {
	p := &c.Sandbox.Pools
	fs.IntVar(&p.DefaultSize, "pool-size", p.DefaultSize,
		fmt.Sprintf("prepared sandboxes kept of the default image, so that creates take one instead of booting (0: none; at most %d)", sandbox.MaxPoolSize))
	fs.Var((*poolFlag)(&p.Images), "pool",
		"a warm pool of another image, IMAGE=N or RUNTIME:IMAGE=N (RUNTIME oci or gvisor; default the default runtime); repeat the flag or separate with commas; a later entry for the same image wins, N=0 turns it off")
}

// poolFlag is a list of pools that each setting adds to: entries from
// the config file, the environment and flags all count, and a later one
// for the same image and runtime replaces an earlier one.
type poolFlag []sandbox.PoolSize

func (l *poolFlag) String() string {
	if l == nil {
		return ""
	}
	var out []string
	for _, p := range *l {
		out = append(out, p.Runtime+":"+p.Image+"="+strconv.Itoa(p.Size))
	}
	return strings.Join(out, ",")
}

func (l *poolFlag) Set(v string) error {
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "["), "]")
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		p, err := parsePool(f)
		if err != nil {
			return err
		}
		*l = append(*l, p)
	}
	return nil
}

// parsePool reads [RUNTIME:]IMAGE=N. The runtime prefix is taken only
// when it names a runtime, so "python:3.12=2" is the image python:3.12.
func parsePool(v string) (sandbox.PoolSize, error) {
	ref, n, ok := strings.Cut(v, "=")
	size, err := strconv.Atoi(n)
	if !ok || ref == "" || err != nil {
		return sandbox.PoolSize{}, fmt.Errorf("pool %q: want IMAGE=N or RUNTIME:IMAGE=N", v)
	}
	p := sandbox.PoolSize{Image: ref, Size: size}
	if rt, img, ok := strings.Cut(ref, ":"); ok && slices.Contains(runtimes, rt) && img != "" {
		p.Runtime, p.Image = rt, img
	}
	return p, nil
}
