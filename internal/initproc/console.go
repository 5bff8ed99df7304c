package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Flags that give init its console log: the directory (on the sandbox's
// own disk) and the most bytes the log may take there.
const (
	ConsoleDirFlag = "--console-dir"
	ConsoleMaxFlag = "--console-max"
)

// ConsoleFile is the console log's name in its directory; the older half
// is ConsoleFile+".1".
const ConsoleFile = "console.log"

// MinConsoleBytes is the smallest cap a console takes: two pipe buffers
// per half.
const MinConsoleBytes = 256 << 10

// Console is the sandbox's console log. Init, the agent and the
// entrypoint write to a pipe whose read end only init holds; init copies
// what arrives into ConsoleFile and, when that reaches half the cap,
// renames it to ConsoleFile.1 (dropping the previous one), so the two
// together never exceed the cap. Whatever the sandbox writes, and however
// fast, the pipe is always drained: a write the file system refuses (the
// sandbox's disk is full) is dropped, not waited for.
type Console struct {
	mu   sync.Mutex
	dir  string
	half int64
	f    *os.File
	size int64

	r    *os.File // the pipe's read end, init's alone
	done chan struct{}
}

// openConsole makes the pipe and the log in dir. The write end becomes
// this process's fds 1 and 2, in place of what the runtime gave it (a
// host file), so that nothing in the sandbox keeps that file open.
func openConsole(dir string, limit int64) (*Console, error) {
	c, err := newConsole(dir, limit)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		c.f.Close()
		return nil, err
	}
	for _, fd := range []int{1, 2} {
		if err := syscall.Dup3(int(w.Fd()), fd, 0); err != nil {
			c.f.Close()
			r.Close()
			w.Close()
			return nil, fmt.Errorf("console on fd %d: %w", fd, err)
		}
	}
	w.Close() // fds 1 and 2 are the write end now
	c.r = r
	go c.drain()
	return c, nil
}

// newConsole opens the log in dir, without a pipe.
func newConsole(dir string, limit int64) (*Console, error) {
	limit = max(limit, MinConsoleBytes)
	c := &Console{dir: dir, half: limit / 2, done: make(chan struct{})}
	if err := c.reopen(false); err != nil {
		return nil, err
	}
	return c, nil
}

// reopen opens ConsoleFile for appending, first moving it to
// ConsoleFile.1 when rotate is set. The sandbox may have put anything at
// those names: no link is followed, and a fifo does not block.
func (c *Console) reopen(rotate bool) error {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
	cur := filepath.Join(c.dir, ConsoleFile)
	if rotate {
		_ = os.Remove(cur + ".1")
		if err := os.Rename(cur, cur+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("%s is not a regular file", cur)
	}
	c.f, c.size = f, fi.Size()
	if c.size >= c.half && !rotate {
		return c.reopen(true)
	}
	return nil
}

// Write appends p to the log, rotating first when p would take the
// current file past half the cap. Only the last half-cap of a longer p
// is kept.
func (c *Console) Write(p []byte) (int, error) {
	n := len(p)
	if int64(len(p)) > c.half {
		p = p[int64(len(p))-c.half:]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil || c.size+int64(len(p)) > c.half {
		if err := c.reopen(c.f != nil); err != nil {
			return n, nil // dropped: the sandbox broke its own log
		}
	}
	w, _ := c.f.Write(p)
	c.size += int64(w)
	return n, nil
}

// drain copies the pipe into the log until the pipe's read end is closed
// or its deadline passes (flush).
func (c *Console) drain() {
	defer close(c.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.r.Read(buf)
		if n > 0 {
			_, _ = c.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// flush waits (at most wait) until drain has taken everything that is
// in the pipe now, then stops it; init calls it just before it exits.
func (c *Console) flush(wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && c.pending() > 0 {
		time.Sleep(time.Millisecond)
	}
	_ = c.r.SetReadDeadline(time.Now())
	<-c.done
}

// pending is how many bytes wait in the pipe (FIONREAD, which Linux spells TIOCINQ).
func (c *Console) pending() int {
	n := 0
	rc, err := c.r.SyscallConn()
	if err != nil {
		return 0
	}
	_ = rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
	return n
}

// console returns the console the options ask for, or nil when they ask
// for none (init run by hand or by an older host) or it cannot be made;
// init then writes where the runtime pointed its stdout and stderr.
func console(opts []string) *Console {
	dir, limit := consoleOpts(opts)
	if dir == "" {
		return nil
	}
	c, err := openConsole(dir, limit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch-init: console: %v\n", err)
		return nil
	}
	return c
}

// consoleOpts reads ConsoleDirFlag and ConsoleMaxFlag.
func consoleOpts(opts []string) (dir string, limit int64) {
	for i := 0; i+1 < len(opts); i++ {
		switch opts[i] {
		case ConsoleDirFlag:
			dir = opts[i+1]
		case ConsoleMaxFlag:
			limit, _ = strconv.ParseInt(opts[i+1], 10, 64)
		}
	}
	return dir, limit
}

// exitWait bounds how long init, once its command has ended, copies what
// is still on its way through the pipe before it writes its exit status.
const exitWait = 100 * time.Millisecond

// exit writes the ExitMarker line with status last in the log, after
// what the pipe still holds, so that a restarted server finds it at the
// end. Without a console (c is nil) the line goes to stderr.
func (c *Console) exit(status int) {
	line := fmt.Sprintf("%s%d\n", ExitMarker, status)
	if c == nil {
		fmt.Fprint(os.Stderr, line)
		return
	}
	c.flush(exitWait)
	_, _ = c.Write([]byte(line))
}
