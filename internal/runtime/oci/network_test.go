package oci_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/network/nettest"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/oci"
	"github.com/hutchdev/hutch/internal/runtime/oci/ocitest"
)

// netSandbox boots a busybox sandbox with the given policy and deletes it
// (checking that nothing is left) at the end of the test.
func netSandbox(t *testing.T, d *oci.Driver, pol runtime.NetworkPolicy, argv ...string) runtime.Spec {
	t.Helper()
	s := runtime.Spec{ID: fmt.Sprintf("net%d", time.Now().UnixNano()), Image: testImage, Entrypoint: argv,
		MemoryMB: 64, DiskMB: 64, Internet: pol.Internet, AllowCIDRs: pol.AllowCIDRs, DenyCIDRs: pol.DenyCIDRs}
	t.Cleanup(func() {
		if err := d.Delete(context.Background(), s.ID); err != nil {
			t.Errorf("delete %s: %v", s.ID, err)
		}
		ocitest.AssertGone(t, s.ID)
		for _, l := range d.Network().Leftovers(s.ID) {
			t.Errorf("sandbox %s left behind: %s", s.ID, l)
		}
	})
	if err := d.Create(ctxT(t), s); err != nil {
		t.Fatalf("create: %v", err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fetch makes an HTTP/1.0 request with busybox nc from the sandbox (its
// static wget crashes resolving) and returns the body; a REJECT fails it
// at once.
func fetch(t *testing.T, d *oci.Driver, id, url string) (string, error) {
	t.Helper()
	hostport := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	host, port, _ := net.SplitHostPort(hostport)
	out, err := d.Exec(ctxT(t), id, "sh", "-c", fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 %s %s", host, port))
	if err != nil {
		return string(out), err
	}
	_, body, ok := strings.Cut(string(out), "\r\n\r\n")
	if !ok {
		return string(out), fmt.Errorf("no HTTP answer: %q", out)
	}
	return body, nil
}

func addrs(t *testing.T, d *oci.Driver, id string) (gw, sbx netip.Addr) {
	t.Helper()
	a, err := d.Attachment(id)
	if err != nil {
		t.Fatal(err)
	}
	gw, sbx, ok := d.Network().Addresses(a)
	if !ok {
		t.Fatalf("sandbox %s has no veth: %+v", id, a)
	}
	return gw, sbx
}

// serveOn answers "host" on addr of the host, for the gateway checks.
func serveOn(t *testing.T, addr netip.Addr) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "host\n") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

func TestNetworkInternetAndNAT(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	d := newDriver(t, oci.RuntimeCrun, stateDir(t))
	up := nettest.NewUpstream(t, netip.MustParsePrefix("198.18.7.0/30"))
	on := netSandbox(t, d, runtime.NetworkPolicy{Internet: true})
	off := netSandbox(t, d, runtime.NetworkPolicy{Internet: false})

	out, err := fetch(t, d, on.ID, up.URL)
	if err != nil || strings.TrimSpace(out) != "upstream saw "+up.HostAddr.String() {
		t.Fatalf("sandbox with internet: %q %v (want the upstream to see the host's address: NAT)", out, err)
	}
	if rules := network.RulesOf(on.ID); !strings.Contains(strings.Join(rules, "\n"), "MASQUERADE") {
		t.Errorf("no MASQUERADE rule for %s: %v", on.ID, rules)
	}
	if out, err := d.Exec(ctxT(t), on.ID, "cat", "/etc/resolv.conf"); err != nil || !strings.Contains(string(out), "nameserver") {
		t.Errorf("resolv.conf: %q %v", out, err)
	}
	if out, err := fetch(t, d, off.ID, up.URL); err == nil {
		t.Fatalf("sandbox without internet reached the upstream: %q", out)
	}
	out2, _ := d.Exec(ctxT(t), off.ID, "cat", "/proc/net/dev")
	if strings.Contains(string(out2), "eth0") {
		t.Errorf("sandbox without internet has a veth:\n%s", out2)
	}
}

func TestNetworkHostIsProtected(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	d := newDriver(t, oci.RuntimeCrun, stateDir(t))
	open := netSandbox(t, d, runtime.NetworkPolicy{Internet: true})
	gw, _ := addrs(t, d, open.ID)
	url := serveOn(t, gw)
	if out, err := fetch(t, d, open.ID, url); err == nil {
		t.Fatalf("sandbox reached the host's own address %s: %q", gw, out)
	}
	// No policy opens the host: not 0.0.0.0/0, not the gateway itself
	// (the API refuses that policy; the driver is given it here, as a
	// policy stored before that check would be).
	for _, allow := range []string{"0.0.0.0/0", gw.String() + "/32"} {
		if err := d.SetNetwork(ctxT(t), open.ID, runtime.NetworkPolicy{Internet: true, AllowCIDRs: []string{allow}}); err != nil {
			t.Fatal(err)
		}
		if out, err := fetch(t, d, open.ID, url); err == nil {
			t.Fatalf("allowing %s opened the host: %q", allow, out)
		}
	}
	if out, err := fetch(t, d, open.ID, "http://169.254.169.254/"); err == nil {
		t.Fatalf("metadata address reachable: %q", out)
	}
}

func TestNetworkAllowAndDenyLists(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	d := newDriver(t, oci.RuntimeCrun, stateDir(t))
	a := nettest.NewUpstream(t, netip.MustParsePrefix("198.18.8.0/30"))
	b := nettest.NewUpstream(t, netip.MustParsePrefix("198.18.9.0/30"))
	allow := netSandbox(t, d, runtime.NetworkPolicy{Internet: true, AllowCIDRs: []string{"198.18.8.0/24"}})
	if _, err := fetch(t, d, allow.ID, a.URL); err != nil {
		t.Fatalf("allowed range blocked: %v", err)
	}
	if out, err := fetch(t, d, allow.ID, b.URL); err == nil {
		t.Fatalf("range outside the allow list reached: %q", out)
	}
	deny := netSandbox(t, d, runtime.NetworkPolicy{Internet: true, DenyCIDRs: []string{"198.18.9.0/24"}})
	if _, err := fetch(t, d, deny.ID, a.URL); err != nil {
		t.Fatalf("range not denied blocked: %v", err)
	}
	if out, err := fetch(t, d, deny.ID, b.URL); err == nil {
		t.Fatalf("denied range reached: %q", out)
	}
}

// TestNetworkSandboxesIsolated: one sandbox cannot open a connection to
// another, even when both policies allow each other (which the API
// refuses; the driver is given them here, as stored policies from before
// that check would be), while the port proxy's way in, a dial inside the
// namespace, reaches both.
func TestNetworkSandboxesIsolated(t *testing.T) {
	requireHost(t, oci.RuntimeCrun)
	d := newDriver(t, oci.RuntimeCrun, stateDir(t))
	serve := []string{"sh", "-c", "mkdir -p /tmp/www && echo hello > /tmp/www/index.html && httpd -f -p 8080 -h /tmp/www"}
	a := netSandbox(t, d, runtime.NetworkPolicy{Internet: true}, serve...)
	b := netSandbox(t, d, runtime.NetworkPolicy{Internet: true}, serve...)
	_, addrA := addrs(t, d, a.ID)
	gwB, addrB := addrs(t, d, b.ID)
	waitServing(t, d, a.ID)
	waitServing(t, d, b.ID)
	if out, err := fetch(t, d, a.ID, fmt.Sprintf("http://%s:8080/", addrB)); err == nil {
		t.Fatalf("one sandbox reached another: %q", out)
	}
	for _, c := range []struct {
		id    string
		allow []string
	}{{a.ID, []string{addrB.String() + "/32", "10.213.0.0/16"}}, {b.ID, []string{addrA.String() + "/32", "10.213.0.0/16"}}} {
		if err := d.SetNetwork(ctxT(t), c.id, runtime.NetworkPolicy{Internet: true, AllowCIDRs: c.allow}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ from, to string }{
		{a.ID, fmt.Sprintf("http://%s:8080/", addrB)}, {b.ID, fmt.Sprintf("http://%s:8080/", addrA)},
		{a.ID, fmt.Sprintf("http://%s:8080/", gwB)}, // the other's gateway, an address of the host
	} {
		if out, err := fetch(t, d, c.from, c.to); err == nil {
			t.Errorf("%s reached %s though both asked: %q", c.from, c.to, out)
		}
	}
	// Nor does the host itself open a connection to a sandbox.
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(addrB.String(), "8080"), 5*time.Second); err == nil {
		c.Close()
		t.Errorf("the host connected to sandbox %s's port", b.ID)
	}
	for _, id := range []string{a.ID, b.ID} {
		c, err := d.DialPort(ctxT(t), id, 8080)
		if err != nil {
			t.Fatalf("the proxy's dial into %s: %v", id, err)
		}
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		out, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasSuffix(string(out), "\r\n\r\nhello\n") {
			t.Errorf("the proxy's dial into %s answered %q", id, out)
		}
	}
}

// waitServing waits until the sandbox answers on its own port 8080,
// dialled from inside its namespace.
func waitServing(t *testing.T, d *oci.Driver, id string) {
	t.Helper()
	var err error
	if !poll.Wait(time.Minute, func() bool {
		var c net.Conn
		if c, err = d.DialPort(ctxT(t), id, 8080); err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("sandbox %s never served on 8080: %v", id, err)
	}
}

// TestNetworkSurvives checks pause/resume, stop/start and a restart of
// the driver: the sandbox keeps its address and its reach.
func TestNetworkSurvives(t *testing.T) {
	for _, rt := range []string{oci.RuntimeCrun, oci.RuntimeRunc} {
		t.Run(rt, func(t *testing.T) { testNetworkSurvives(t, rt) })
	}
}

func testNetworkSurvives(t *testing.T, rt string) {
	requireHost(t, rt)
	dir := stateDir(t)
	d := newDriver(t, rt, dir)
	up := nettest.NewUpstream(t, netip.MustParsePrefix("198.18.10.0/30"))
	s := netSandbox(t, d, runtime.NetworkPolicy{Internet: true})
	_, before := addrs(t, d, s.ID)
	check := func(when string, d *oci.Driver) {
		t.Helper()
		if _, err := fetch(t, d, s.ID, up.URL); err != nil {
			t.Fatalf("%s: upstream unreachable: %v", when, err)
		}
		if _, now := addrs(t, d, s.ID); now != before {
			t.Fatalf("%s: address moved %s -> %s", when, before, now)
		}
	}
	if err := d.Pause(ctxT(t), s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Resume(ctxT(t), s.ID); err != nil {
		t.Fatal(err)
	}
	check("after resume", d)
	if err := d.Stop(ctxT(t), s.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
	check("after stop and start", d)
	d2 := newDriver(t, rt, dir) // the server restarted
	if st, err := d2.Recover(ctxT(t), s.ID); err != nil || st.State != runtime.StateRunning {
		t.Fatalf("recover: %+v %v", st, err)
	}
	check("after a restart", d2)
	// Rules lost (someone flushed them) come back with Recover.
	if err := d2.SetNetwork(ctxT(t), s.ID, runtime.NetworkPolicy{Internet: false}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(t, d2, s.ID, up.URL); err == nil {
		t.Fatal("internet still reachable after it was switched off")
	}
	if err := d2.SetNetwork(ctxT(t), s.ID, runtime.NetworkPolicy{Internet: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(t, d2, s.ID, up.URL); err != nil {
		t.Fatalf("internet switched back on: %v", err)
	}
}
