package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestSetIntervals: a timer turned on after create runs from then, one
// left nil keeps its setting, and an out-of-range one is refused naming
// the field.
func TestSetIntervals(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	sb := r.create("later", sandbox.CreateRequest{AutoDeleteMinutes: ptr(5)})
	got, err := r.svc.SetIntervals(ctx, org, sb.ID, sandbox.Intervals{AutoStopMinutes: ptr(2)})
	if err != nil {
		t.Fatal(err)
	}
	if got.AutoStopMinutes != 2 || got.AutoDeleteMinutes != 5 {
		t.Fatalf("intervals = stop %d, delete %d", got.AutoStopMinutes, got.AutoDeleteMinutes)
	}
	for i := 0; i < 5; i++ {
		r.pass()
		r.clk.Advance(time.Second)
	}
	if st := r.state(sb.ID); st != sandbox.StateStopped {
		t.Fatalf("after its new auto-stop: %s", st)
	}
	for _, c := range []struct {
		iv    sandbox.Intervals
		field string
	}{
		{sandbox.Intervals{AutoStopMinutes: ptr(-1)}, "autoStopMinutes"},
		{sandbox.Intervals{AutoArchiveMinutes: ptr(-1)}, "autoArchiveMinutes"},
		{sandbox.Intervals{AutoDeleteMinutes: ptr(-2)}, "autoDeleteMinutes"},
	} {
		_, err := r.svc.SetIntervals(ctx, org, sb.ID, c.iv)
		var fe *errdefs.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s out of range: %v", c.field, err)
		}
	}
	if _, err := r.svc.SetIntervals(ctx, "org_other", sb.ID, sandbox.Intervals{AutoStopMinutes: ptr(1)}); !errors.Is(err, errdefs.ErrSandboxNotFound) {
		t.Fatalf("another organisation's sandbox: %v", err)
	}
}
