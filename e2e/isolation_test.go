package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// orgClient makes an organisation and returns a client with its admin
// key, and one with a member (non-admin) key of it.
func orgClient(t *testing.T, s *server, name string) (admin, member *client.Client, adminKey, memberKey string) {
	t.Helper()
	org, err := s.c.CreateOrganization(ctx(t), api.CreateOrganizationRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if admin, err = client.New(s.url, org.APIKey); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateAPIKey(ctx(t), api.CreateAPIKeyRequest{Name: name + "-member"})
	if err != nil {
		t.Fatal(err)
	}
	if k.Admin {
		t.Fatalf("member key of %s is an admin key", name)
	}
	if member, err = client.New(s.url, k.APIKey); err != nil {
		t.Fatal(err)
	}
	return admin, member, org.APIKey, k.APIKey
}

// ownSandbox creates a sandbox with c and deletes it with c at the end of
// the test (the server's own cleanup deletes as the default
// organisation only).
func ownSandbox(t *testing.T, c *client.Client, req api.CreateSandboxRequest) *api.Sandbox {
	t.Helper()
	sb, err := c.CreateSandbox(ctx(t), req)
	if err != nil {
		t.Fatalf("create %s: %v", req.Name, err)
	}
	t.Cleanup(func() {
		cx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.DeleteSandbox(cx, sb.ID); err != nil {
			t.Errorf("delete %s: %v", sb.ID, err)
		}
		waitGone(t, sb.ID)
	})
	return sb
}

// shWith runs a shell line in a sandbox with c and returns its exit code
// and output.
func shWith(t *testing.T, c *client.Client, id, line string) (int, string) {
	t.Helper()
	res, err := c.Exec(ctx(t), id, api.ExecRequest{Command: []string{"sh", "-c", line}})
	if err != nil {
		t.Fatalf("exec %q in %s: %v", line, id, err)
	}
	return res.ExitCode, res.Stdout + res.Stderr
}

// sandboxAddr is the sandbox's own address on its veth.
func sandboxAddr(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	code, out := shWith(t, c, id, `python3 -c "import socket,fcntl,struct; s=socket.socket(); print(socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, struct.pack('256s', b'eth0'))[20:24]))"`)
	ip := strings.TrimSpace(out)
	if code != 0 || net.ParseIP(ip) == nil {
		t.Fatalf("address of %s: exit %d %q", id, code, out)
	}
	return ip
}

// reaches reports whether a TCP connection from sandbox id to addr opens.
func reaches(t *testing.T, c *client.Client, id, addr string) (bool, string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	code, out := shWith(t, c, id, fmt.Sprintf(`python3 -c "import socket; socket.create_connection(('%s', %s), timeout=5); print('open')"`, host, port))
	return code == 0 && strings.Contains(out, "open"), out
}

// hostAddress is one of the host's own non-loopback IPv4 addresses that
// is not a sandbox gateway.
func hostAddress(t *testing.T) string {
	t.Helper()
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if strings.HasPrefix(ifc.Name, "hv") || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	t.Skip("the host has no non-loopback IPv4 address")
	return ""
}

// wantProtected checks that a create or a change was a 400 on
// network.allowCIDRs naming rng.
func wantProtected(t *testing.T, what string, err error, rng string) {
	t.Helper()
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != api.CodeInvalidArgument ||
		!strings.Contains(ae.Message, "network.allowCIDRs") || !strings.Contains(ae.Message, rng) {
		t.Errorf("%s: %v, want a 400 on network.allowCIDRs naming %s", what, err, rng)
	}
}

// TestNetworkProtectedRangesRefused: a member key asking for the sandbox
// subnet, a gateway, the host, loopback or link-local in allowCIDRs gets
// a 400 naming the field and the range, at create and on PUT /network.
func TestNetworkProtectedRangesRefused(t *testing.T) {
	s := startServer(t, "")
	_, member, _, memberKey := orgClient(t, s, "tenant-b")
	host := hostAddress(t)
	for _, c := range []struct{ cidr, rng string }{
		{"10.213.0.0/16", "10.213.0.0/16"}, {"10.213.0.2/32", "10.213.0.0/16"}, {host + "/32", host},
		{"127.0.0.1/32", "127.0.0.0/8"}, {"169.254.169.254/32", "169.254.0.0/16"},
	} {
		_, err := member.CreateSandbox(ctx(t), api.CreateSandboxRequest{Network: &api.NetworkRequest{AllowCIDRs: []string{"1.1.1.1/32", c.cidr}}})
		wantProtected(t, "create allowing "+c.cidr, err, c.rng)
	}
	sb := ownSandbox(t, member, api.CreateSandboxRequest{Name: "wide", Network: &api.NetworkRequest{AllowCIDRs: []string{"10.0.0.0/8"}}})
	for _, cidr := range []string{"10.213.0.0/16", "10.213.0.3/32"} {
		r := call(t, s, "PUT", s.url+"/v1/sandboxes/"+sb.ID+"/network", `{"allowCIDRs": ["`+cidr+`"]}`, memberKey, "")
		if r.status != 400 || !strings.Contains(r.body, "network.allowCIDRs") || !strings.Contains(r.body, "10.213.0.0/16") {
			t.Errorf("PUT /network allowing %s: %d %s", cidr, r.status, r.body)
		}
	}
	if r := call(t, s, "PUT", s.url+"/v1/sandboxes/"+sb.ID+"/network", `{"allowCIDRs": ["0.0.0.0/0"]}`, memberKey, ""); r.status != 200 {
		t.Errorf("PUT /network allowing 0.0.0.0/0: %d %s", r.status, r.body)
	}

	// The subnet refused is the server's own. (A data dir of its own: the
	// shared image cache is the first server's while it runs; no sandbox
	// boots here.)
	dir, err := os.MkdirTemp("", "hutch-e2e-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711)
	other := startServer(t, dir, "--network-subnet", "10.77.0.0/16")
	_, err = other.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Network: &api.NetworkRequest{AllowCIDRs: []string{"10.77.5.0/24"}}})
	wantProtected(t, "create allowing 10.77.5.0/24 on a 10.77.0.0/16 server", err, "10.77.0.0/16")
}

// TestNetworkSandboxesCannotReachEachOther: two organisations' sandboxes,
// both allowed as wide as the API lets them (10.0.0.0/8, which holds the
// sandbox subnet), cannot open a connection to each other's port or to a
// host port on either gateway, nor can the host open one to them; nor
// when their stored policies name the subnet, each other and the
// gateways outright, as an older server let them; the port proxy reaches
// both.
func TestNetworkSandboxesCannotReachEachOther(t *testing.T) {
	if _, err := os.Stat(filepath.Join(filepath.Dir(baseTar), "python.tar")); err != nil {
		t.Skip("python.tar is missing (run scripts/setup.sh)")
	}
	s := startServer(t, "")
	_, member, _, memberKey := orgClient(t, s, "tenant-b")
	serve := []string{"python3", "-m", "http.server", "8080", "--directory", "/etc"}
	wide := &api.NetworkRequest{AllowCIDRs: []string{"10.0.0.0/8", "0.0.0.0/0"}}
	a := ownSandbox(t, s.c, api.CreateSandboxRequest{Name: "iso-a", Image: "python", Entrypoint: serve, Network: wide})
	b := ownSandbox(t, member, api.CreateSandboxRequest{Name: "iso-b", Image: "python", Entrypoint: serve, Network: wide})
	for _, c := range []struct {
		key string
		sb  *api.Sandbox
	}{{s.key, a}, {memberKey, b}} {
		poll.Until(t, "the server of "+c.sb.Name+" to answer through the proxy", func() bool {
			return call(t, s, "GET", portURL(s, c.sb.ID, 8080, "/"), "", c.key, "").status == 200
		})
	}
	addrA, addrB := sandboxAddr(t, s.c, a.ID), sandboxAddr(t, member, b.ID)
	gateway := func(addr string) string { // the host side of a sandbox's /31
		ip := net.ParseIP(addr).To4()
		ip[3]--
		return ip.String()
	}
	// A host port on 0.0.0.0, so on every gateway address too.
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	hostSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "host") })}
	go hostSrv.Serve(ln)
	t.Cleanup(func() { hostSrv.Close() })
	_, hostPort, _ := net.SplitHostPort(ln.Addr().String())

	unreachable(t, []probe{
		{"A to B's port", s.c, a.ID, net.JoinHostPort(addrB, "8080")},
		{"B to A's port", member, b.ID, net.JoinHostPort(addrA, "8080")},
		{"A to a host port on its gateway", s.c, a.ID, net.JoinHostPort(gateway(addrA), hostPort)},
		{"B to a host port on A's gateway", member, b.ID, net.JoinHostPort(gateway(addrA), hostPort)},
	})
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(addrB, "8080"), 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("the host opened a connection to B's port %s", addrB)
	}

	// Policies as the API took them before it refused protected ranges
	// (each sandbox allowed to the subnet, the other and the other's
	// gateway), written into the store as an older server left them and
	// booted by a stop and a start: the firewall opens none of it.
	stale := map[string][]string{
		a.ID: {"10.213.0.0/16", addrB + "/32", gateway(addrB) + "/32"},
		b.ID: {"10.213.0.0/16", addrA + "/32", gateway(addrA) + "/32"},
	}
	writeStalePolicies(t, s, stale)
	for _, c := range []struct {
		client *client.Client
		sb     *api.Sandbox
	}{{s.c, a}, {member, b}} {
		if _, err := c.client.Stop(ctx(t), c.sb.ID, client.StopOptions{}); err != nil {
			t.Fatal(err)
		}
		started, err := c.client.Start(ctx(t), c.sb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(started.Network.AllowCIDRs, ",") != strings.Join(stale[c.sb.ID], ",") {
			t.Fatalf("%s started with %v, not the stale policy", c.sb.Name, started.Network.AllowCIDRs)
		}
	}
	for _, c := range []struct {
		key string
		sb  *api.Sandbox
	}{{s.key, a}, {memberKey, b}} {
		poll.Until(t, "the server of "+c.sb.Name+" to answer again", func() bool {
			return call(t, s, "GET", portURL(s, c.sb.ID, 8080, "/"), "", c.key, "").status == 200
		})
	}
	addrA, addrB = sandboxAddr(t, s.c, a.ID), sandboxAddr(t, member, b.ID)
	unreachable(t, []probe{
		{"A to B's port, both allowing the subnet", s.c, a.ID, net.JoinHostPort(addrB, "8080")},
		{"B to A's port, both allowing the subnet", member, b.ID, net.JoinHostPort(addrA, "8080")},
		{"A to a host port on B's gateway, allowed", s.c, a.ID, net.JoinHostPort(gateway(addrB), hostPort)},
		{"B to a host port on A's gateway, allowed", member, b.ID, net.JoinHostPort(gateway(addrA), hostPort)},
	})

	// The proxy, which dials inside each sandbox's namespace, reaches
	// both (it did above, to see them serving).
	for _, c := range []struct {
		key string
		sb  *api.Sandbox
	}{{s.key, a}, {memberKey, b}} {
		if r := call(t, s, "GET", portURL(s, c.sb.ID, 8080, "/"), "", c.key, ""); r.status != 200 {
			t.Errorf("the proxy to %s: %d %s", c.sb.Name, r.status, r.body)
		}
	}
}

// writeStalePolicies sets sandboxes' allowCIDRs in the server's store
// directly, past the API's checks.
func writeStalePolicies(t *testing.T, s *server, allow map[string][]string) {
	t.Helper()
	st, err := sqlite.Open(ctx(t), filepath.Join(s.dataDir, "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, cidrs := range allow {
		sb, err := st.GetSandboxByID(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		sb.Network.AllowCIDRs = cidrs
		ev := sandbox.Event{SandboxID: id, Type: "network", Cause: "test", Message: "stale policy", Time: time.Now().UTC()}
		if err := st.UpdateSandbox(ctx(t), sb, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// probe is a connection one sandbox tries (through its owner's client).
type probe struct {
	what   string
	client *client.Client
	from   string
	to     string
}

// unreachable fails for each probe whose target answered.
func unreachable(t *testing.T, probes []probe) {
	t.Helper()
	for _, c := range probes {
		if ok, out := reaches(t, c.client, c.from, c.to); ok {
			t.Errorf("%s (%s) answered: %s", c.what, c.to, out)
		}
	}
}
