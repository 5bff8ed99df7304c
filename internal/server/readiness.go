package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hutchdev/hutch/api"
)

// readiness is what /readyz reports: whether sandboxes can be created now
// and, if not, why. It starts "starting" before anything is open, so that
// the listener can answer from the first moment.
type readiness struct {
	dataDir      string
	defaultImage string

	mu         sync.Mutex
	phase      string // what the server is doing before it serves; "" once it does
	runtime    string // the driver's name; "" when there is none
	runtimeErr error  // why there is no driver
	seeds      *seeder
	// leading, on replicas, reports whether this one is the leader.
	leading func() bool
}

func newReadiness(dataDir, defaultImage string) *readiness {
	return &readiness{dataDir: dataDir, defaultImage: defaultImage, phase: "starting"}
}

func (r *readiness) setPhase(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = p
}

// setLeading makes /readyz say whether this replica leads.
func (r *readiness) setLeading(leading func() bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leading = leading
}

func (r *readiness) setRuntime(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runtime, r.runtimeErr = name, err
}

func (r *readiness) setSeeds(s *seeder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seeds = s
}

// report runs every check; a failing check with a fix is one an operator
// must act on (status unavailable), the others pass on their own
// (starting).
func (r *readiness) report(ctx context.Context) api.Readiness {
	r.mu.Lock()
	phase, rtName, rtErr, seeds, leading := r.phase, r.runtime, r.runtimeErr, r.seeds, r.leading
	r.mu.Unlock()
	out := api.Readiness{Status: api.ReadinessReady, Ready: true}
	add := func(c api.ReadinessCheck, transient bool) {
		out.Checks = append(out.Checks, c)
		if c.OK {
			return
		}
		out.Ready = false
		if !transient || out.Status == api.ReadinessUnavailable {
			out.Status = api.ReadinessUnavailable
		} else {
			out.Status = api.ReadinessStarting
		}
	}
	if phase != "" {
		add(api.ReadinessCheck{Name: "server", Message: phase}, true)
		return out
	}
	add(api.ReadinessCheck{Name: "server", OK: true}, false)

	dirErr := traversable(r.dataDir)
	dc := api.ReadinessCheck{Name: "dataDir", OK: dirErr == nil, Message: r.dataDir}
	var nt *notTraversableError
	switch {
	case errors.As(dirErr, &nt):
		dc.Message = dirErr.Error()
		dc.Fix = "chmod o+x " + nt.Dir + ", or move the data dir (--data-dir) to a directory every user may traverse, such as /var/lib/hutch; then restart hutch serve"
	case dirErr != nil:
		dc.Message, dc.Fix = dirErr.Error(), "make the data dir (--data-dir) exist and be readable by root"
	}
	add(dc, false)

	rc := api.ReadinessCheck{Name: "runtime", OK: rtName != "", Message: rtName}
	if rtName == "" {
		rc.Message = "no sandbox runtime: sandboxes cannot be created"
		if rtErr != nil {
			rc.Message = "no sandbox runtime: " + rtErr.Error()
		}
		rc.Fix = runtimeFix(rtErr)
	}
	add(rc, false)

	if seeds != nil {
		c, transient := seeds.check(ctx, r.defaultImage)
		add(c, transient)
	}
	if leading != nil {
		c := api.ReadinessCheck{Name: "replica", OK: true,
			Message: "follower: the reconciler and the webhook dispatcher run on the leader, another replica"}
		if leading() {
			c.Message = "leader: the reconciler and the webhook dispatcher run here"
		}
		add(c, false)
	}
	return out
}

// runtimeFix is what an operator does about a driver that did not start.
func runtimeFix(err error) string {
	var nt *notTraversableError
	switch {
	case errors.As(err, &nt):
		return "see the dataDir check; then restart hutch serve"
	case errors.Is(err, errNotRoot):
		return "run hutch serve as root"
	}
	return "fix the cause above (scripts/setup.sh installs what the runtime needs); then restart hutch serve"
}

// retryAfter says, while the server is not ready only for reasons that
// pass on their own, how long a client should wait before it tries again.
// Without a runtime no wait helps.
func (r *readiness) retryAfter() (time.Duration, bool) {
	r.mu.Lock()
	phase, seeds, rt := r.phase, r.seeds, r.runtime
	r.mu.Unlock()
	if phase != "" {
		return time.Second, true
	}
	if seeds == nil || rt == "" {
		return 0, false
	}
	busy, d := seeds.busy()
	return d, busy
}

// withRetryAfter adds Retry-After to every 503 answered while the server
// is starting or seeding images, whichever face answers it.
func withRetryAfter(h http.Handler, r *readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		d, ok := r.retryAfter()
		if !ok {
			h.ServeHTTP(w, req)
			return
		}
		secs := int(d.Seconds() + 0.999)
		h.ServeHTTP(&retryWriter{ResponseWriter: w, secs: min(max(secs, 1), 60)}, req)
	})
}

type retryWriter struct {
	http.ResponseWriter
	secs int
}

func (w *retryWriter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(w.secs))
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *retryWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
