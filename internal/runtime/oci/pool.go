package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Warm pools. A prepared sandbox is created as any other, under its pool
// id, with its record's Pool set: disk, id range, overlay root, network
// (with the internet, as a create's default) and agent up, default
// limits, and an init that holds the workload back until the host sends
// it over the take socket (initproc.TakeFDFlag). Take then makes it the
// user's sandbox: limits, policy, workload and environment applied, and
// its directory renamed to the user's id. Its container, cgroups and
// network keep the pool id (record.Key): none of them can be renamed.

var _ runtime.Pooler = (*Driver)(nil)

// takeFD is the descriptor a prepared sandbox's init finds the take
// socket on, after the agent's.
const takeFD = agentFD + 1

// noPoolUnderRunsc is why a runsc driver prepares nothing.
const noPoolUnderRunsc = "gVisor sandboxes are not prepared ahead: runsc passes no listening host socket in, which the take needs"

// takeSocket is the host path of a prepared sandbox's take socket, in
// its directory, which is never mounted into the sandbox.
func (p paths) takeSocket() string { return filepath.Join(p.dir, "take.sock") }

// preparedInitArgs is the command line of a prepared sandbox's init: no
// workload, the take socket.
func preparedInitArgs(console int64) []string {
	return append(initArgs(nil, console), initproc.TakeFDFlag, strconv.Itoa(takeFD))
}

func (d *Driver) poolUnsupported(what string) error {
	if d.runsc() {
		return fmt.Errorf("%s: %s: %w", what, noPoolUnderRunsc, errdefs.ErrNotImplemented)
	}
	return nil
}

// Prepare implements runtime.Pooler.
func (d *Driver) Prepare(ctx context.Context, ps runtime.PoolSpec) error {
	if err := d.poolUnsupported("prepare " + ps.ID); err != nil {
		return err
	}
	ps.Runtime = ""
	spec := runtime.Spec{ID: ps.ID, Image: ps.Image, DiskMB: ps.DiskMB, Internet: true}
	return d.create(ctx, spec, &ps)
}

// DropPrepared implements runtime.Pooler. A sandbox that is not a
// prepared one (a user's) is refused, and one that is gone is not looked
// for by name: a taken sandbox's host objects still bear it.
func (d *Driver) DropPrepared(ctx context.Context, ps runtime.PoolSpec) error {
	if err := checkID(ps.ID); err != nil {
		return err
	}
	defer d.locks.Lock(ps.ID)()
	if _, err := os.Lstat(d.paths(ps.ID).dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	rec, err := d.load(ps.ID)
	if errors.Is(err, errdefs.ErrNotFound) {
		return d.destroy(ctx, ps.ID, nil) // a prepare cut short
	}
	if err == nil && rec.Pool == nil && rec.ID == ps.ID {
		return fmt.Errorf("sandbox %s is not a prepared one: %w", ps.ID, errdefs.ErrConflict)
	}
	if err != nil {
		rec = nil
	}
	return d.destroy(ctx, ps.ID, rec)
}

// Prepared implements runtime.Pooler. What a crash left half-way is
// removed on the way: a prepared sandbox whose init is gone, and one a
// take had started on but not renamed (its record names the user's id;
// that sandbox never existed for the caller).
func (d *Driver) Prepared(ctx context.Context) ([]runtime.PoolSpec, error) {
	if d.runsc() {
		return nil, nil
	}
	entries, err := os.ReadDir(d.sandboxesDir())
	if err != nil {
		return nil, err
	}
	var out []runtime.PoolSpec
	for _, e := range entries {
		if ps, ok := d.preparedAt(ctx, e.Name()); ok {
			out = append(out, ps)
		}
	}
	return out, nil
}

// preparedAt checks the sandbox dir name: a prepared sandbox ready to be
// taken, debris of one (removed), or something else (left alone).
func (d *Driver) preparedAt(ctx context.Context, name string) (runtime.PoolSpec, bool) {
	if checkID(name) != nil {
		return runtime.PoolSpec{}, false
	}
	defer d.locks.Lock(name)()
	rec, err := loadRecord(d.paths(name).record)
	if err != nil {
		return runtime.PoolSpec{}, false
	}
	halfTaken := rec.Pool == nil && rec.ID != name
	if rec.Pool == nil && !halfTaken {
		return runtime.PoolSpec{}, false
	}
	if !halfTaken && rec.initAlive() {
		return *rec.Pool, true
	}
	d.log.Info("removing what a crash left of a prepared sandbox", "dir", name, "id", rec.ID)
	if err := d.destroy(ctx, name, rec); err != nil {
		d.log.Error("remove prepared sandbox", "dir", name, "err", err)
	}
	return runtime.PoolSpec{}, false
}
