package sandbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestOrgDefaultRuntime: a create naming no runtime gets its
// organisation's defaultRuntime, else the server's; a create's own choice
// wins; a runtime the server lacks is refused naming defaultRuntime.
func TestOrgDefaultRuntime(t *testing.T) {
	var r *pauseRig
	m, err := runtime.NewMulti(map[string]runtime.Runtime{"oci": fakeruntime.New(), "gvisor": fakeruntime.New()},
		func(ctx context.Context, id string) (string, error) {
			sb, err := r.st.GetSandboxByID(ctx, id)
			if err != nil {
				return "", err
			}
			return sandbox.RuntimeOf(sb), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	r = newPauseRig(t, m, func(c *sandbox.Config) { c.Runtimes, c.DefaultRuntime = []string{"gvisor", "oci"}, "oci" })
	ctx := context.Background()
	if sb := r.create(sandbox.CreateRequest{}); sb.Runtime != "oci" {
		t.Fatalf("without an organisation default: %q, want the server's oci", sb.Runtime)
	}
	set := func(v *string) error { return r.setOrg(func(o *sandbox.OrgSettings) { o.DefaultRuntime = v }) }
	kata := "kata"
	var fe *errdefs.FieldError
	if err := set(&kata); !errors.As(err, &fe) || fe.Field != "defaultRuntime" {
		t.Fatalf("an unknown default runtime: %v, want a 400 on defaultRuntime", err)
	}
	gvisor := "gvisor"
	if err := set(&gvisor); err != nil {
		t.Fatal(err)
	}
	if sb := r.create(sandbox.CreateRequest{}); sb.Runtime != "gvisor" {
		t.Fatalf("with the organisation's default gvisor: %q", sb.Runtime)
	}
	if sb := r.create(sandbox.CreateRequest{Runtime: "oci"}); sb.Runtime != "oci" {
		t.Fatalf("a create naming oci under an organisation default of gvisor: %q", sb.Runtime)
	}
	empty := ""
	if err := set(&empty); err != nil {
		t.Fatal(err)
	}
	if o, _ := r.svc.OrgSettings(ctx, org); o.DefaultRuntime != nil {
		t.Fatalf("an empty default runtime was kept as %q, want cleared", *o.DefaultRuntime)
	}
	if sb := r.create(sandbox.CreateRequest{}); sb.Runtime != "oci" {
		t.Fatalf("after clearing the organisation default: %q, want oci", sb.Runtime)
	}
	// A default stored while the server had gvisor, read by one without
	// it: the create is refused, not run on a weaker runtime.
	one := newPauseRig(t, fakeruntime.New(), nil)
	if err := one.st.PutOrgSettings(ctx, &sandbox.OrgSettings{OrganizationID: org, DefaultRuntime: &gvisor}); err != nil {
		t.Fatal(err)
	}
	_, err = one.svc.Create(ctx, sandbox.CreateRequest{OrganizationID: org, Wait: true})
	if !errors.As(err, &fe) || fe.Field != "defaultRuntime" {
		t.Fatalf("a create under a default runtime the server lacks: %v, want a 400 on defaultRuntime", err)
	}
}
