package oci

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/runtime"
)

var (
	_ runtime.Networker  = (*Driver)(nil)
	_ runtime.PortDialer = (*Driver)(nil)
)

func policyOf(s runtime.Spec) network.Policy {
	return network.Policy{Internet: s.Internet, AllowCIDRs: s.AllowCIDRs, DenyCIDRs: s.DenyCIDRs}
}

// netUp makes the sandbox's network namespace, veth and rules before its
// container runs; crun joins the namespace by path. It builds only what is
// missing, so a start after a reboot rebuilds the network with the same
// address when that is free.
func (d *Driver) netUp(ctx context.Context, p paths, s runtime.Spec, rec *record) error {
	if !d.joinsNetns() {
		// runc makes the namespace itself; the one of a previous boot goes.
		if err := d.net.Remove(rec.key()); err != nil {
			return err
		}
		return os.WriteFile(p.resolv(), d.net.ResolvConf(), 0o644)
	}
	a, err := d.net.Ensure(ctx, rec.key(), policyOf(s), rec.Net, 0)
	if err != nil {
		return err
	}
	rec.Net = a
	if err := os.WriteFile(p.resolv(), d.net.ResolvConf(), 0o644); err != nil {
		return err
	}
	return rec.save(p.record)
}

// joinsNetns reports whether the container joins a namespace made before
// it (crun). runc 1.1 enters the container's user namespace before its
// network namespace on exec, so it cannot exec into a sandbox whose
// namespace the host owns: with runc the container makes its own, and the
// driver binds and plumbs it right after start (the entrypoint may run a
// moment before its veth is up).
func (d *Driver) joinsNetns() bool { return d.cfg.Runtime == RuntimeCrun || d.runsc() }

// netAfterStart binds and plumbs the namespace runc made.
func (d *Driver) netAfterStart(ctx context.Context, p paths, s runtime.Spec, rec *record, pid int) error {
	if d.joinsNetns() {
		return nil
	}
	a, err := d.net.Ensure(ctx, rec.key(), policyOf(s), rec.Net, pid)
	if err != nil {
		return err
	}
	rec.Net = a
	return nil
}

// netSpec puts the sandbox in its namespace and gives it the resolver.
func (d *Driver) netSpec(p paths, rec *record, spec *specs.Spec) {
	if _, err := os.Stat(p.resolv()); err == nil {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: p.resolv(),
			Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
	}
	if rec.Net == nil || !d.joinsNetns() {
		return
	}
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			spec.Linux.Namespaces[i].Path = rec.Net.Netns
		}
	}
	// A fresh sysfs may only be mounted by the owner of the network
	// namespace, which is the host here (so that the sandbox's root
	// cannot change its own addresses or routes): runc fails, crun falls
	// back to a read-write bind. Both get a read-only bind, with the
	// host's interfaces (other sandboxes' veths) masked.
	for i, m := range spec.Mounts {
		if m.Destination == "/sys" {
			spec.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
				Options: []string{"rbind", "ro", "nosuid", "noexec", "nodev"}}
		}
	}
	spec.Linux.MaskedPaths = append(spec.Linux.MaskedPaths, "/sys/class/net", "/sys/devices/virtual/net")
}

// netRecover re-attaches a running sandbox's network after a server
// restart: rules flushed by someone or a lost namespace mount are rebuilt.
func (d *Driver) netRecover(ctx context.Context, id string, rec *record) {
	if rec.Net == nil {
		return
	}
	a, err := d.net.Ensure(ctx, rec.key(), rec.Net.Policy, rec.Net, rec.InitPID)
	if err != nil {
		d.log.Error("rebuild sandbox network", "id", id, "err", err)
		return
	}
	rec.Net = a
	if err := rec.save(d.paths(id).record); err != nil {
		d.log.Error("save record", "id", id, "err", err)
	}
}

// DialPort implements runtime.PortDialer: the connection is made from
// inside the sandbox's namespace to its loopback.
func (d *Driver) DialPort(ctx context.Context, id string, port int) (net.Conn, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if d.runsc() {
		return d.dialRunscPort(ctx, id, port)
	}
	key := id
	if rec, err := d.load(id); err == nil {
		key = rec.key()
	}
	path := d.net.NetnsPath(key)
	if _, err := os.Stat(path); err != nil {
		return nil, errNotFound(id)
	}
	return network.DialNetns(ctx, path, network.PortAddress(port))
}

// SetNetwork implements runtime.Networker.
func (d *Driver) SetNetwork(ctx context.Context, id string, pol runtime.NetworkPolicy) error {
	if err := checkID(id); err != nil {
		return err
	}
	defer d.locks.Lock(id)()
	rec, err := d.load(id)
	if err != nil {
		return err
	}
	p := network.Policy{Internet: pol.Internet, AllowCIDRs: pol.AllowCIDRs, DenyCIDRs: pol.DenyCIDRs}
	if rec.Net == nil {
		rec.Net = &network.Attachment{Netns: d.net.NetnsPath(rec.key())}
	}
	if !rec.initAlive() {
		// Applied by the next start, which rebuilds what is missing.
		rec.Net.Policy = p
		return rec.save(d.paths(id).record)
	}
	a, err := d.net.SetPolicy(ctx, rec.key(), rec.Net, p)
	if err != nil {
		return fmt.Errorf("set network of %s: %w", id, err)
	}
	rec.Net = a
	return rec.save(d.paths(id).record)
}

// netDown removes the veth, rules and namespace mount that key names.
func (d *Driver) netDown(key string) error {
	if d.net == nil {
		return nil
	}
	return d.net.Remove(key)
}

// Network returns the driver's network manager, for tools and tests that
// look at sandbox addresses.
func (d *Driver) Network() *network.Manager { return d.net }

// Attachment returns what sandbox id's network is made of.
func (d *Driver) Attachment(id string) (*network.Attachment, error) {
	rec, err := d.load(id)
	if err != nil {
		return nil, err
	}
	if rec.Net == nil {
		return nil, fmt.Errorf("sandbox %s has no network: %w", id, errdefs.ErrNotFound)
	}
	return rec.Net, nil
}

func (p paths) resolv() string { return filepath.Join(p.dir, "resolv.conf") }
