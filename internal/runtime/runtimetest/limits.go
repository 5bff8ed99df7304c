package runtimetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hutchdev/hutch/internal/runtime"
)

func testOOM(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec()
	s.MemoryMB = 32
	create(t, rt, s)
	// tail buffers a line that never ends: it grows until the OOM killer acts.
	_, _ = h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "head -c 256m /dev/zero | tail")
	st, err := rt.Stats(ctxT(t), s.ID)
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

func testPids(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec()
	s.Pids = 32
	create(t, rt, s)
	out, _ := h.Exec(ctxT(t), rt, s.ID, "sh", "-c",
		"for i in $(seq 1 100); do sleep 30 >/dev/null 2>&1 & done 2>&1; echo started")
	st, err := rt.Stats(ctxT(t), s.ID)
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

func testIsolation(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec()
	create(t, rt, s)
	out, err := h.Exec(ctxT(t), rt, s.ID, "cat", "/proc/net/dev")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var ifaces []string
	for _, line := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces = %v, want only lo", ifaces)
	}
	if out, _ := h.Exec(ctxT(t), rt, s.ID, "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("uid inside = %q, want 0", out)
	}
	pid, err := h.HostPID(rt, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	uids, err := procStatus(pid, "Uid")
	if err != nil {
		t.Fatal(err)
	}
	if hostUID, _ := strconv.Atoi(strings.Fields(uids)[0]); hostUID == 0 {
		t.Errorf("root inside is root on the host: Uid %s", uids)
	}
	if out, _ := h.Exec(ctxT(t), rt, s.ID, "hostname"); !strings.HasPrefix(s.ID, strings.TrimSpace(out)) || len(strings.TrimSpace(out)) < 8 {
		t.Errorf("hostname = %q, want a prefix of %s", out, s.ID)
	}
	if out, err := h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "echo 1 > /proc/sys/kernel/domainname"); err == nil {
		t.Errorf("/proc/sys is writable: %s", out)
	}
	if out, err := h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "echo hi > /tmp/x && cat /tmp/x"); err != nil || out != "hi\n" {
		t.Errorf("/tmp not writable: %q %v", out, err)
	}
	if out, err := h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "echo x > /.hutch/hutch"); err == nil {
		t.Errorf("init binary is writable: %s", out)
	}
	// No nested namespaces: a user namespace inside would give a process
	// every capability there. Forking still works.
	for _, flag := range []string{"-U", "-n", "-m", "-p"} {
		if out, err := h.Exec(ctxT(t), rt, s.ID, "unshare", flag, "true"); err == nil {
			t.Errorf("unshare %s succeeded inside a sandbox: %s", flag, out)
		}
	}
	if out, err := h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "(echo forked) | cat"); err != nil || out != "forked\n" {
		t.Errorf("fork under the seccomp profile: %q %v", out, err)
	}
}

func testDiskLimit(t *testing.T, h Harness) {
	rt := h.New(t, h.StateDir(t))
	s := h.spec()
	s.DiskMB = 32
	create(t, rt, s)
	out, err := h.Exec(ctxT(t), rt, s.ID, "dd", "if=/dev/zero", "of=/root/big", "bs=1M", "count=64")
	if err == nil || !strings.Contains(out, "No space left on device") {
		t.Fatalf("64 MB into a 32 MB disk: err %v, output %q", err, out)
	}
	// The sandbox stays usable once the space is freed.
	if out, err := h.Exec(ctxT(t), rt, s.ID, "sh", "-c", "rm /root/big && echo ok > /root/small && cat /root/small"); err != nil || out != "ok\n" {
		t.Fatalf("after freeing: %q %v", out, err)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const n = 50
	rt := h.New(t, h.StateDir(t))
	specs := make([]runtime.Spec, n)
	for i := range specs {
		specs[i] = h.spec()
		specs[i].MemoryMB, specs[i].DiskMB = 32, 16
	}
	t.Cleanup(func() {
		for _, s := range specs {
			_ = rt.Delete(context.Background(), s.ID) // after a failure half-way
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Create(ctxT(t), s); err != nil {
				errs <- fmt.Errorf("create %s: %w", s.ID, err)
			}
		}()
	}
	wg.Wait()
	for _, s := range specs {
		if st := mustRecover(t, rt, s.ID); st.State != runtime.StateRunning {
			t.Errorf("%s: %+v", s.ID, st)
		}
	}
	for _, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Delete(ctxT(t), s.ID); err != nil {
				errs <- fmt.Errorf("delete %s: %w", s.ID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range specs {
		AssertGone(t, s.ID)
	}
}
