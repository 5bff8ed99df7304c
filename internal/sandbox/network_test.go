package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

func newNetworkService(t *testing.T, subnet string) *sandbox.Service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := sandbox.DefaultConfig()
	if subnet != "" {
		cfg.NetworkSubnet = netip.MustParsePrefix(subnet)
	}
	svc, err := sandbox.NewService(cfg, st, fakeruntime.New(), sandbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// hostAddr is one of this host's own non-loopback IPv4 addresses.
func hostAddr(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String() + "/32"
		}
	}
	t.Skip("this host has no non-loopback IPv4 address")
	return ""
}

func wantProtected(t *testing.T, what string, err error, rng string) {
	t.Helper()
	var fe *errdefs.FieldError
	if !errors.As(err, &fe) || fe.Field != "network.allowCIDRs" || !strings.Contains(fe.Reason, rng) {
		t.Errorf("%s: %v, want a network.allowCIDRs error naming %s", what, err, rng)
	}
}

// TestNetworkPolicyRefusesProtectedRanges: an allowCIDRs entry inside the
// sandbox subnet, a host address, loopback or link-local is a 400 naming
// the field and the range, at create and on a change; wider ranges and
// the internet are fine.
func TestNetworkPolicyRefusesProtectedRanges(t *testing.T) {
	ctx := context.Background()
	svc := newNetworkService(t, "")
	host := hostAddr(t)
	for _, c := range []struct{ cidr, rng string }{
		{"10.213.0.0/16", "10.213.0.0/16"}, {"10.213.0.2/32", "10.213.0.0/16"}, {"127.0.0.1/32", "127.0.0.0/8"},
		{"169.254.169.254/32", "169.254.0.0/16"}, {host, host},
	} {
		_, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_a", AllowCIDRs: []string{c.cidr}, Wait: true})
		wantProtected(t, "create allowing "+c.cidr, err, c.rng)
	}
	sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_a", AllowCIDRs: []string{"0.0.0.0/0"}, Wait: true})
	if err != nil {
		t.Fatalf("create allowing 0.0.0.0/0: %v", err)
	}
	stopped := sandbox.ActOptions{Wait: true}
	if _, err := svc.Act(ctx, "org_a", sb.ID, sandbox.ActionStop, stopped); err != nil {
		t.Fatal(err)
	}
	allow := []string{"10.0.0.0/8", "10.213.0.5/32"}
	_, err = svc.SetNetwork(ctx, "org_a", sb.ID, sandbox.NetworkUpdate{AllowCIDRs: &allow})
	wantProtected(t, "set allowing 10.213.0.5/32", err, "10.213.0.0/16")
	allow = []string{"10.0.0.0/8", "1.1.1.1/32"}
	if got, err := svc.SetNetwork(ctx, "org_a", sb.ID, sandbox.NetworkUpdate{AllowCIDRs: &allow}); err != nil || len(got.Network.AllowCIDRs) != 2 {
		t.Errorf("set allowing wider and public ranges: %+v, %v", got, err)
	}
}

// TestNetworkPolicyProtectsTheConfiguredSubnet: the subnet refused is the
// one the server's sandboxes live in.
func TestNetworkPolicyProtectsTheConfiguredSubnet(t *testing.T) {
	ctx := context.Background()
	svc := newNetworkService(t, "10.99.0.0/16")
	_, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_a", AllowCIDRs: []string{"10.99.3.0/24"}, Wait: true})
	wantProtected(t, "create allowing 10.99.3.0/24", err, "10.99.0.0/16")
	if _, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_a", AllowCIDRs: []string{"10.213.0.0/16"}, Wait: true}); err != nil {
		t.Errorf("10.213.0.0/16 refused on a server whose sandboxes live in 10.99.0.0/16: %v", err)
	}
}
