package sandbox

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
)

// TestCheckAllowedServerRanges: an allowCIDRs entry inside a range the
// server protects besides its own (a cluster's, under the kube runtime)
// is a bad field naming that range; one outside it passes.
func TestCheckAllowedServerRanges(t *testing.T) {
	c := Config{ProtectedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")}}
	err := c.checkAllowed([]string{"10.42.1.0/24"})
	var fe *errdefs.FieldError
	if !errors.As(err, &fe) || fe.Field != "network.allowCIDRs" || !strings.Contains(fe.Reason, "10.42.0.0/16") {
		t.Fatalf("allow inside a protected cluster range: %v", err)
	}
	if err := c.checkAllowed([]string{"10.44.0.0/16"}); err != nil {
		t.Fatalf("allow outside it: %v", err)
	}
}
