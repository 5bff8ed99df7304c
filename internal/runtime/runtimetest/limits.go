package runtimetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
)

func testOOM(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	sp.MemoryMB = 32
	s.create(t, rt, sp)
	// tail buffers a line that never ends: it grows until the OOM killer acts.
	_, _ = s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "head -c 256m /dev/zero | tail")
	st, err := rt.Stats(ctxT(t), sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.OOMKills < 1 {
		t.Fatalf("no OOM kill reported: %+v", st)
	}
	if st.MemoryLimit != 32<<20 {
		t.Errorf("memory limit = %d, want %d", st.MemoryLimit, 32<<20)
	}
}

func testPids(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	sp.Pids = 32
	s.create(t, rt, sp)
	out, _ := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c",
		"for i in $(seq 1 100); do sleep 30 >/dev/null 2>&1 & done 2>&1; echo started")
	st, err := rt.Stats(ctxT(t), sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids > 32 || st.Pids < 20 {
		t.Fatalf("pids = %d with a limit of 32 (output %q)", st.Pids, out)
	}
	if !strings.Contains(out, "fork") && !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("fork bomb did not hit the limit: %q", out)
	}
}

func testIsolation(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	s.create(t, rt, sp)
	if out, _ := s.Exec(ctxT(t), rt, sp.ID, "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("uid inside = %q, want 0", out)
	}
	if uid, err := s.probe.HostUID(ctxT(t), rt, sp.ID); observed(t, "the host uid", err) && uid == 0 {
		t.Errorf("root inside is root where the sandbox runs")
	}
	if out, _ := s.Exec(ctxT(t), rt, sp.ID, "hostname"); !strings.HasPrefix(sp.ID, strings.TrimSpace(out)) || len(strings.TrimSpace(out)) < 8 {
		t.Errorf("hostname = %q, want a prefix of %s", out, sp.ID)
	}
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "echo 1 > /proc/sys/kernel/domainname"); err == nil {
		t.Errorf("/proc/sys is writable: %s", out)
	}
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "echo hi > /tmp/x && cat /tmp/x"); err != nil || out != "hi\n" {
		t.Errorf("/tmp not writable: %q %v", out, err)
	}
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "echo x > /.hutch/hutch"); err == nil {
		t.Errorf("init binary is writable: %s", out)
	}
	// No nested namespaces: a user namespace inside would give a process
	// every capability there. Forking still works.
	for _, flag := range []string{"-U", "-n", "-m", "-p"} {
		if out, err := s.Exec(ctxT(t), rt, sp.ID, "unshare", flag, "true"); err == nil {
			t.Errorf("unshare %s succeeded inside a sandbox: %s", flag, out)
		}
	}
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "(echo forked) | cat"); err != nil || out != "forked\n" {
		t.Errorf("fork under the seccomp profile: %q %v", out, err)
	}
}

func testDiskLimit(t *testing.T, s *suite) {
	rt := s.New(t, s.StateDir(t))
	sp := s.spec()
	sp.DiskMB = 32
	s.create(t, rt, sp)
	out, err := s.Exec(ctxT(t), rt, sp.ID, "dd", "if=/dev/zero", "of=/root/big", "bs=1M", "count=64")
	if err == nil || !strings.Contains(out, "No space left on device") {
		t.Fatalf("64 MB into a 32 MB disk: err %v, output %q", err, out)
	}
	// The sandbox stays usable once the space is freed.
	if out, err := s.Exec(ctxT(t), rt, sp.ID, "sh", "-c", "rm /root/big && echo ok > /root/small && cat /root/small"); err != nil || out != "ok\n" {
		t.Fatalf("after freeing: %q %v", out, err)
	}
}

func testConcurrent(t *testing.T, s *suite) {
	n := 50
	if s.ConcurrentCreates > 0 {
		n = s.ConcurrentCreates
	}
	rt := s.New(t, s.StateDir(t))
	specs := make([]runtime.Spec, n)
	for i := range specs {
		specs[i] = s.spec()
		specs[i].MemoryMB, specs[i].DiskMB = 32, 16
	}
	t.Cleanup(func() {
		for _, sp := range specs {
			_ = rt.Delete(context.Background(), sp.ID) // after a failure half-way
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Create(ctxT(t), sp); err != nil {
				errs <- fmt.Errorf("create %s: %w", sp.ID, err)
			}
		}()
	}
	wg.Wait()
	for _, sp := range specs {
		if st := mustRecover(t, rt, sp.ID); st.State != runtime.StateRunning {
			t.Errorf("%s: %+v", sp.ID, st)
		}
	}
	for _, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Delete(ctxT(t), sp.ID); err != nil {
				errs <- fmt.Errorf("delete %s: %w", sp.ID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, sp := range specs {
		s.assertGone(t, rt, sp.ID)
	}
}
