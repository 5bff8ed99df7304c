// Package trace records where the time of one operation goes. A Recorder
// travels in a context, so every layer an operation passes through (the
// lifecycle service, the image store, a runtime driver) can time its own
// steps without knowing whether anyone listens: without a recorder in the
// context, Start and Steps cost a context lookup and record nothing.
package trace

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Span is one timed step. Path names it with its enclosing spans,
// outermost first, joined by "/" ("runtime-create/rootfs-mount").
type Span struct {
	Path     string
	Start    time.Duration // since the recorder began
	Duration time.Duration
}

// Depth is how many spans enclose s.
func (s Span) Depth() int { return strings.Count(s.Path, "/") }

// Name is the last element of s's path.
func (s Span) Name() string { return s.Path[strings.LastIndex(s.Path, "/")+1:] }

// Recorder collects the spans of one operation. It is safe for concurrent
// use; nesting follows the order of Start and end, which is exact for the
// sequential code of one operation.
type Recorder struct {
	begin time.Time
	now   func() time.Time

	mu    sync.Mutex
	open  []string // paths of the spans started and not yet ended
	spans []Span
}

// New returns a recorder whose clock starts now.
func New() *Recorder { return newWithClock(time.Now) }

func newWithClock(now func() time.Time) *Recorder {
	return &Recorder{begin: now(), now: now}
}

type ctxKey struct{}

// WithRecorder returns ctx carrying r.
func WithRecorder(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the recorder ctx carries, or nil.
func FromContext(ctx context.Context) *Recorder {
	r, _ := ctx.Value(ctxKey{}).(*Recorder)
	return r
}

// Start begins the span name inside whatever span is open, and returns
// the function that ends it.
func Start(ctx context.Context, name string) (end func()) {
	r := FromContext(ctx)
	if r == nil {
		return func() {}
	}
	r.mu.Lock()
	path := r.pathOf(name)
	r.open = append(r.open, path)
	start := r.now()
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := len(r.open) - 1; i >= 0; i-- {
			if r.open[i] == path {
				r.open = append(r.open[:i], r.open[i+1:]...)
				break
			}
		}
		r.add(path, start, r.now())
	}
}

// Steps times a run of sequential steps with one line each: every call
// of the returned mark records the span name from the previous mark (or
// from Steps) to now. A step that fails returns before its mark, so it
// records nothing.
func Steps(ctx context.Context) (mark func(name string)) {
	r := FromContext(ctx)
	if r == nil {
		return func(string) {}
	}
	prev := r.now()
	return func(name string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		now := r.now()
		r.add(r.pathOf(name), prev, now)
		prev = now
	}
}

// pathOf is name inside the innermost open span; r.mu is held.
func (r *Recorder) pathOf(name string) string {
	if len(r.open) == 0 {
		return name
	}
	return r.open[len(r.open)-1] + "/" + name
}

func (r *Recorder) add(path string, start, end time.Time) {
	r.spans = append(r.spans, Span{Path: path, Start: start.Sub(r.begin), Duration: end.Sub(start)})
}

// Spans returns the finished spans in the order they began.
func (r *Recorder) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Span(nil), r.spans...)
	// Insertion order is end order; a parent ends after its children.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && before(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// before orders spans by start, an enclosing span first when two start
// at the same instant.
func before(a, b Span) bool {
	return a.Start < b.Start || a.Start == b.Start && a.Depth() < b.Depth()
}

// Elapsed is the time since the recorder began.
func (r *Recorder) Elapsed() time.Duration { return r.now().Sub(r.begin) }

// SpanKey prefixes each span's path in the attributes of LogAttrs, so a
// reader of the log can find them: span.runtime-create/rootfs-mount=2.1ms.
const SpanKey = "span"

// LogAttrs renders the recorder for a log line: the elapsed total and one
// attribute per span, in the order they began.
func (r *Recorder) LogAttrs() []slog.Attr {
	spans := r.Spans()
	attrs := make([]any, 0, len(spans))
	for _, s := range spans {
		attrs = append(attrs, slog.Duration(s.Path, s.Duration))
	}
	return []slog.Attr{slog.Duration("total", r.Elapsed()), slog.Group(SpanKey, attrs...)}
}
