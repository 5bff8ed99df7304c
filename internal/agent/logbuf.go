package agent

import (
	"io"
	"sync"
)

// logCap bounds the output a background process keeps: the oldest is
// dropped first, so a chatty server cannot fill the sandbox's memory.
const logCap = 8 << 20

// chunk is one read of a process's stdout or stderr.
type chunk struct {
	stream string
	data   []byte
}

// logBuf is a process's output, in order across both streams, with
// followers woken on every write.
type logBuf struct {
	mu      sync.Mutex
	chunks  []chunk
	dropped int // chunks dropped from the front; indexes are absolute
	size    int
	limit   int
	closed  bool
	wake    chan struct{}
}

func newLogBuf(limit int) *logBuf { return &logBuf{limit: limit, wake: make(chan struct{})} }

func (b *logBuf) append(stream string, p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.chunks = append(b.chunks, chunk{stream, append([]byte(nil), p...)})
	b.size += len(p)
	for b.size > b.limit && len(b.chunks) > 1 {
		b.size -= len(b.chunks[0].data)
		b.chunks[0] = chunk{}
		b.chunks = b.chunks[1:]
		b.dropped++
	}
	close(b.wake)
	b.wake = make(chan struct{})
}

// close marks the end of output: the process exited.
func (b *logBuf) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	close(b.wake)
	b.wake = make(chan struct{})
}

// since returns the chunks from absolute index next on, the index after
// them, a channel closed on the next write, and whether the log is
// complete and fully returned.
func (b *logBuf) since(next int) ([]chunk, int, <-chan struct{}, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	next = max(next, b.dropped)
	out := append([]chunk(nil), b.chunks[next-b.dropped:]...)
	return out, b.dropped + len(b.chunks), b.wake, b.closed
}

// writer returns an io.Writer appending to stream.
func (b *logBuf) writer(stream string) io.Writer { return streamLog{b, stream} }

type streamLog struct {
	b      *logBuf
	stream string
}

func (w streamLog) Write(p []byte) (int, error) {
	w.b.append(w.stream, p)
	return len(p), nil
}
