package trace

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// tick is a clock that moves one millisecond per reading.
func tick() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

func TestNestedSpans(t *testing.T) {
	r := newWithClock(tick())
	ctx := WithRecorder(context.Background(), r)
	endInsert := Start(ctx, "store-insert")
	endInsert()
	endCreate := Start(ctx, "runtime-create")
	mark := Steps(ctx)
	mark("net-up")
	mark("run")
	endCreate()

	got := r.Spans()
	want := []struct {
		path  string
		depth int
		name  string
	}{
		{"store-insert", 0, "store-insert"},
		{"runtime-create", 0, "runtime-create"},
		{"runtime-create/net-up", 1, "net-up"},
		{"runtime-create/run", 1, "run"},
	}
	if len(got) != len(want) {
		t.Fatalf("spans = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].Path != w.path || got[i].Depth() != w.depth || got[i].Name() != w.name {
			t.Errorf("span %d = %+v (depth %d, name %q), want %+v", i, got[i], got[i].Depth(), got[i].Name(), w)
		}
	}
	// One tick per clock reading: insert 1 ms; create from its start to
	// its end spans Steps and the two marks (4 readings).
	if got[0].Duration != time.Millisecond || got[1].Duration != 4*time.Millisecond ||
		got[2].Duration != time.Millisecond || got[3].Duration != time.Millisecond {
		t.Errorf("durations = %v %v %v %v", got[0].Duration, got[1].Duration, got[2].Duration, got[3].Duration)
	}
}

func TestNoRecorderRecordsNothing(t *testing.T) {
	ctx := context.Background()
	Start(ctx, "x")()
	Steps(ctx)("y")
	if FromContext(ctx) != nil {
		t.Fatal("a bare context has a recorder")
	}
}

func TestLogAttrs(t *testing.T) {
	r := newWithClock(tick())
	ctx := WithRecorder(context.Background(), r)
	end := Start(ctx, "runtime-create")
	Steps(ctx)("rootfs-mount")
	end()
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).LogAttrs(ctx, slog.LevelInfo, "create trace", r.LogAttrs()...)
	line := buf.String()
	for _, want := range []string{"total=", "span.runtime-create=3ms", "span.runtime-create/rootfs-mount=1ms"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
}
