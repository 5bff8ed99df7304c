package runtime_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// recorder is bare with every optional interface, declaring what caps
// says, and the IDs it created.
type recorder struct {
	bare
	created  []string
	prepared []string
}

func (r *recorder) Create(_ context.Context, s runtime.Spec) error {
	r.created = append(r.created, s.ID)
	return nil
}
func (*recorder) DialAgent(context.Context, string) (net.Conn, error)             { return nil, nil }
func (*recorder) DialPort(context.Context, string, int) (net.Conn, error)         { return nil, nil }
func (*recorder) SetNetwork(context.Context, string, runtime.NetworkPolicy) error { return nil }
func (*recorder) Export(context.Context, string, io.Writer) error                 { return nil }
func (*recorder) Discard(context.Context, string) error                           { return nil }
func (*recorder) Import(context.Context, string, io.Reader) error                 { return nil }
func (*recorder) Checkpoint(context.Context, string) (int64, error)               { return 7, nil }
func (*recorder) Restore(context.Context, string) error                           { return nil }
func (*recorder) Watch(context.Context) <-chan runtime.Exit                       { return nil }
func (r *recorder) Prepare(_ context.Context, p runtime.PoolSpec) error {
	r.prepared = append(r.prepared, p.ID)
	return nil
}
func (*recorder) Take(context.Context, runtime.PoolSpec, runtime.Spec) error { return nil }
func (*recorder) DropPrepared(context.Context, runtime.PoolSpec) error       { return nil }
func (r *recorder) Prepared(context.Context) ([]runtime.PoolSpec, error) {
	var out []runtime.PoolSpec
	for _, id := range r.prepared {
		out = append(out, runtime.PoolSpec{ID: id})
	}
	return out, nil
}

func TestMultiRoutesBySandboxRecord(t *testing.T) {
	all := runtime.Capabilities{Pause: true, DiskLimit: true, Archive: true, Network: true, Ports: true, Agent: true, Checkpoint: true, Watch: true, Pool: true}
	noCkpt := all
	noCkpt.Checkpoint, noCkpt.Pause, noCkpt.Pool = false, false, false
	oci := &recorder{bare: bare{caps: noCkpt}}
	gv := &recorder{bare: bare{caps: all}}
	owners := map[string]string{"a": "oci", "b": "gvisor", "c": "kata"}
	m, err := runtime.NewMulti(map[string]runtime.Runtime{"oci": ignoreUndeclared{oci}, "gvisor": gv},
		func(_ context.Context, id string) (string, error) {
			if o, ok := owners[id]; ok {
				return o, nil
			}
			return "", errdefs.ErrSandboxNotFound
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Check(m); err != nil {
		t.Fatal(err)
	}
	if got := m.Capabilities(); got != all {
		t.Errorf("capabilities = %+v, want the union %+v", got, all)
	}
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if err := m.Create(ctx, runtime.Spec{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if len(oci.created) != 1 || oci.created[0] != "a" || len(gv.created) != 1 || gv.created[0] != "b" {
		t.Fatalf("created: oci %v, gvisor %v", oci.created, gv.created)
	}
	if err := m.Create(ctx, runtime.Spec{ID: "c"}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("create on a runtime the server lacks: %v", err)
	}
	if err := m.Pause(ctx, "a"); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("pause on a driver without Pause: %v", err)
	}
	if _, err := m.Checkpoint(ctx, "a"); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("checkpoint on a driver without Checkpoint: %v", err)
	}
	if n, err := m.Checkpoint(ctx, "b"); err != nil || n != 7 {
		t.Errorf("checkpoint on gvisor: %d %v", n, err)
	}
	if st, err := m.Recover(ctx, "gone"); err != nil || st.State != runtime.StateMissing {
		t.Errorf("recover of a sandbox without a record: %+v %v", st, err)
	}
	if err := m.Prepare(ctx, runtime.PoolSpec{ID: "p1", Runtime: "oci"}); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("prepare on a driver without Pool: %v", err)
	}
	if err := m.Prepare(ctx, runtime.PoolSpec{ID: "p2", Runtime: "gvisor"}); err != nil {
		t.Fatal(err)
	}
	if ps, err := m.Prepared(ctx); err != nil || len(ps) != 1 || ps[0] != (runtime.PoolSpec{ID: "p2", Runtime: "gvisor"}) {
		t.Errorf("prepared = %+v %v, want p2 on gvisor", ps, err)
	}
	// A taken sandbox runs on the prepared one's driver without a record.
	if err := m.Take(ctx, runtime.PoolSpec{ID: "p2", Runtime: "gvisor"}, runtime.Spec{ID: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Checkpoint(ctx, "d"); err != nil {
		t.Errorf("checkpoint of a taken sandbox: %v", err)
	}
}

// ignoreUndeclared hides the interfaces its driver does not declare, so
// that Check accepts it.
type ignoreUndeclared struct{ *recorder }

func (i ignoreUndeclared) Checkpoint() {}
func (i ignoreUndeclared) Prepare()    {}
