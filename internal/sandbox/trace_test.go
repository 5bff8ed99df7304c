package sandbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime/fakeruntime"
	"github.com/hutchdev/hutch/internal/sandbox"
	"github.com/hutchdev/hutch/internal/store/sqlite"
)

// lockedBuffer is a log destination the background boot may write to
// while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func traceService(t *testing.T, on bool) (*sandbox.Service, *lockedBuffer) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hutch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := sandbox.DefaultConfig()
	cfg.TraceCreates = on
	logs := &lockedBuffer{}
	svc, err := sandbox.NewService(cfg, st, fakeruntime.New(), sandbox.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc, logs
}

// TestCreateTrace: with TraceCreates each create logs one line naming the
// sandbox and the spans of its path; without it, none.
func TestCreateTrace(t *testing.T) {
	ctx := context.Background()
	svc, logs := traceService(t, true)
	sb, err := svc.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_a", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="`+sandbox.TraceMessage+`"`) {
			if line != "" {
				t.Fatalf("two trace lines for one create:\n%s\n%s", line, l)
			}
			line = l
		}
	}
	for _, want := range []string{"sandbox=" + sb.ID, "state=running", " total=", " span.store-insert=", " span.runtime-create=", " span.store-update="} {
		if !strings.Contains(line, want) {
			t.Errorf("trace line %q lacks %q", line, want)
		}
	}

	quiet, quietLogs := traceService(t, false)
	if _, err := quiet.Create(ctx, sandbox.CreateRequest{OrganizationID: "org_a", Wait: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(quietLogs.String(), sandbox.TraceMessage) {
		t.Errorf("a create traced with TraceCreates off:\n%s", quietLogs.String())
	}
}
