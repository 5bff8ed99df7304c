package bench

import (
	"fmt"
	"io"
	"os"
)

// progress shows how far a phase is on stderr: on a terminal one line
// rewritten in place; elsewhere (CI logs) a line at the start, at every
// tenth and at the end of each phase.
type progress struct {
	w     io.Writer
	tty   bool
	dirty bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	tty := false
	if ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, tty: tty}
}

// step reports that done of total units of phase are finished.
func (p *progress) step(phase string, done, total int) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[Kbench: %s %d/%d", phase, done, total)
		p.dirty = true
		if done == total {
			p.end()
		}
		return
	}
	tenth := max(total/10, 1)
	if done == 0 || done == total || done%tenth == 0 {
		fmt.Fprintf(p.w, "bench: %s %d/%d\n", phase, done, total)
	}
}

// say prints a line of its own.
func (p *progress) say(format string, args ...any) {
	p.end()
	fmt.Fprintf(p.w, "bench: "+format+"\n", args...)
}

func (p *progress) end() {
	if p.dirty {
		fmt.Fprintln(p.w)
		p.dirty = false
	}
}
