package sandbox

import (
	"context"
	"log/slog"

	"github.com/hutchdev/hutch/internal/trace"
)

// TraceMessage is the message of the log line a traced create ends with;
// its attributes are the sandbox, the state the create reached, the total
// and one span.<path>=<duration> per step (trace.Recorder.LogAttrs).
const TraceMessage = "create trace"

// traceCreate gives ctx a span recorder when Config.TraceCreates is on.
func (s *Service) traceCreate(ctx context.Context) context.Context {
	if !s.cfg.TraceCreates {
		return ctx
	}
	return trace.WithRecorder(ctx, trace.New())
}

// logTrace writes the spans of the create of sb, if it was traced, with
// the path that served it (CreatePathPool, CreatePathCold).
func (s *Service) logTrace(ctx context.Context, sb *Sandbox, path string) {
	r := trace.FromContext(ctx)
	if r == nil {
		return
	}
	attrs := append([]slog.Attr{slog.String("sandbox", sb.ID), slog.String("state", string(sb.State)),
		slog.String("createPath", path)}, r.LogAttrs()...)
	s.log.LogAttrs(ctx, slog.LevelInfo, TraceMessage, attrs...)
}
