package oci

import (
	"context"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.Watcher = (*Driver)(nil)

// initWatches follows the init of every running sandbox through a pidfd,
// which becomes readable the moment the process ends, whether or not this
// server is its parent (after a restart it is not). An init that ends
// without the driver having been asked to stop it (the OOM killer, a kill
// from outside, its command done) is queued for Watch, so that the
// sandbox is settled at once instead of reported running until the next
// restart.
type initWatches struct {
	mu    sync.Mutex
	byID  map[string]*initWatch
	ended []string      // sandboxes whose init ended, not yet delivered
	wake  chan struct{} // one token: ended grew
}

// initWatch is one followed init; a nil pidfd means it had ended before
// it could be opened.
type initWatch struct {
	proc  procID
	pidfd *os.File
}

func newInitWatches() initWatches {
	return initWatches{byID: map[string]*initWatch{}, wake: make(chan struct{}, 1)}
}

// Watch implements runtime.Watcher. The driver keeps what it noticed
// while nobody watched, so a Watch started after recovery misses nothing;
// it is meant for one consumer.
func (d *Driver) Watch(ctx context.Context) <-chan runtime.Exit {
	out := make(chan runtime.Exit)
	go func() {
		defer close(out)
		for {
			for _, id := range d.watch.take() {
				select {
				case out <- runtime.Exit{ID: id}:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-d.watch.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// follow starts watching p, the init of sandbox id, unless it is watched
// already; the caller holds the sandbox's lock.
func (d *Driver) follow(id string, p procID) {
	d.watch.mu.Lock()
	if w := d.watch.byID[id]; w != nil {
		if w.proc == p {
			d.watch.mu.Unlock()
			return
		}
		w.close()
	}
	d.reaper.expect(p)
	w := &initWatch{proc: p}
	if fd, err := unix.PidfdOpen(p.pid, unix.PIDFD_NONBLOCK); err == nil {
		w.pidfd = os.NewFile(uintptr(fd), "pidfd")
		// Opened by pid: the process must still be the one p names.
		if start, _, err := procStart(p.pid); err != nil || start != p.start {
			w.close()
		}
	}
	d.watch.byID[id] = w
	pidfd := w.pidfd // close, under the lock, may clear the field
	d.watch.mu.Unlock()
	go func() {
		if pidfd == nil || waitExit(pidfd) {
			d.initEnded(id, w)
		}
	}()
}

// unfollow stops watching sandbox id's init, before the driver ends it
// itself (stop, delete) or once it is found dead.
func (d *Driver) unfollow(id string) {
	d.watch.mu.Lock()
	defer d.watch.mu.Unlock()
	if w := d.watch.byID[id]; w != nil {
		w.close()
		delete(d.watch.byID, id)
	}
}

// initEnded queues sandbox id for Watch when w is still its followed init
// and its record still names it as running.
func (d *Driver) initEnded(id string, w *initWatch) {
	defer d.locks.Lock(id)()
	d.watch.mu.Lock()
	current := d.watch.byID[id] == w
	if current {
		w.close()
		delete(d.watch.byID, id)
	}
	d.watch.mu.Unlock()
	if !current {
		return // unfollowed meanwhile: the driver ended it on purpose
	}
	rec, err := d.load(id)
	if err != nil || rec.Stopped || rec.InitPID != w.proc.pid || rec.InitStart != w.proc.start {
		return
	}
	d.log.Info("sandbox init ended on its own", "id", id, "pid", w.proc.pid)
	d.watch.push(id)
}

func (w *initWatch) close() {
	if w.pidfd != nil {
		w.pidfd.Close()
		w.pidfd = nil
	}
}

func (ws *initWatches) push(id string) {
	ws.mu.Lock()
	ws.ended = append(ws.ended, id)
	ws.mu.Unlock()
	select {
	case ws.wake <- struct{}{}:
	default:
	}
}

func (ws *initWatches) take() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := ws.ended
	ws.ended = nil
	return out
}

// waitExit blocks until the process behind pidfd has ended (true) or
// pidfd is closed (false), in the runtime's poller: no thread is held per
// sandbox.
func waitExit(pidfd *os.File) bool {
	rc, err := pidfd.SyscallConn()
	if err != nil {
		return false
	}
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err != nil || n > 0
		}
	})
	return err == nil
}
