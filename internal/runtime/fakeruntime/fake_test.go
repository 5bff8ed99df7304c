package fakeruntime_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
)

// TestFakesPassCheck keeps both fakes honest: the one that cannot archive
// declares no Archive and has no Archiver methods, the other has both.
func TestFakesPassCheck(t *testing.T) {
	for _, tc := range []struct {
		rt      runtime.Runtime
		archive bool
	}{
		{fakeruntime.New(), false},
		{fakeruntime.NewArchiving(), true},
	} {
		if err := runtime.Check(tc.rt); err != nil {
			t.Errorf("%T: %v", tc.rt, err)
		}
		if _, ok := runtime.AsArchiver(tc.rt); ok != tc.archive {
			t.Errorf("%T: AsArchiver = %v, want %v", tc.rt, ok, tc.archive)
		}
	}
}

func TestArchivingRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := fakeruntime.NewArchiving()
	spec := runtime.Spec{ID: "sb1"}
	if err := f.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	f.WriteDisk(spec.ID, []byte("files"))
	var buf bytes.Buffer
	if err := f.Export(ctx, spec.ID, &buf); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("export of a running sandbox: %v, want a conflict", err)
	}
	if err := f.Stop(ctx, spec.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.Export(ctx, spec.ID, &buf); err != nil {
		t.Fatal(err)
	}
	if err := f.Discard(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Disk(spec.ID); ok {
		t.Fatal("disk kept after discard")
	}
	if err := f.Import(ctx, spec.ID, &buf); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.Disk(spec.ID); string(b) != "files" {
		t.Fatalf("imported %q", b)
	}
	want := []string{"create sb1", "export sb1", "stop sb1", "export sb1", "discard sb1", "import sb1"}
	if got := f.Calls; len(got) != len(want) {
		t.Fatalf("calls %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("calls %v, want %v", got, want)
			}
		}
	}
}
