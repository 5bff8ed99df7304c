package sandbox

import (
	"errors"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

func TestResolveRuntime(t *testing.T) {
	c := Config{Runtimes: []string{"gvisor", "oci"}, DefaultRuntime: "oci"}
	for _, tc := range []struct{ want, got, errField string }{
		{"", "oci", ""},
		{"gvisor", "gvisor", ""},
		{"oci", "oci", ""},
		{"kata", "", "runtime"},
	} {
		sb := &Sandbox{}
		err := c.resolveRuntime(sb, tc.want)
		var fe *errdefs.FieldError
		switch {
		case tc.errField != "":
			if !errors.As(err, &fe) || fe.Field != tc.errField || !strings.Contains(err.Error(), "gvisor, oci") {
				t.Errorf("runtime %q: %v, want an error on %s naming the choices", tc.want, err, tc.errField)
			}
		case err != nil || sb.Runtime != tc.got:
			t.Errorf("runtime %q: %q %v, want %q", tc.want, sb.Runtime, err, tc.got)
		}
	}
	// A server with one runtime refuses the other by name.
	if err := (Config{}).resolveRuntime(&Sandbox{}, "gvisor"); err == nil {
		t.Error("gvisor accepted by a server without it")
	}
}
