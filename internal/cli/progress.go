package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hutchdev/hutch/api"
)

// progress shows an image pull or import on stderr: on a terminal one
// line rewritten in place, elsewhere (logs, CI) a plain line whenever a
// layer changes phase or finishes one, so logs stay short.
type progress struct {
	w       io.Writer
	tty     bool
	printed map[string]bool // plain mode: "layer status done" lines already written
	dirty   bool            // tty mode: a line is open and needs a newline
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), printed: map[string]bool{}}
}

// isTerminal reports whether w is a character device, which is how the
// standard library alone can tell a terminal from a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(ev api.ImageProgress) {
	if ev.Image != nil || ev.Error != nil {
		return // the caller prints the result or the error
	}
	line := clean(describe(ev))
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.dirty = true
		return
	}
	key := ev.Layer + " " + ev.Status
	if ev.Total > 0 && ev.Current >= ev.Total {
		key += " done"
	}
	if p.printed[key] {
		return
	}
	p.printed[key] = true
	fmt.Fprintln(p.w, line)
}

// finish ends the in-place line so later output starts on its own line.
func (p *progress) finish() {
	if p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}

// describe renders one event: the phase, the layer and its bytes.
func describe(ev api.ImageProgress) string {
	s := ev.Status
	if ev.Layer != "" {
		s = shortDigest(ev.Layer) + ": " + s
	}
	switch {
	case ev.Total > 0:
		s += fmt.Sprintf(" %s / %s", bytesHuman(ev.Current), bytesHuman(ev.Total))
	case ev.Current > 0:
		s += " " + bytesHuman(ev.Current)
	}
	return s
}
