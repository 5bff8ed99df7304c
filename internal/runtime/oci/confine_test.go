package oci

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestSeccompTableCoversKernelHeaders checks that every system call the
// host's kernel headers name is decided by the profile (allowed, refused,
// allowed with conditions, or ENOSYS on purpose), that none is decided
// twice, and that the profile's default is ENOSYS for what is newer.
func TestSeccompTableCoversKernelHeaders(t *testing.T) {
	const header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
	f, err := os.Open(header)
	if err != nil {
		t.Skipf("no kernel headers (linux-libc-dev): %v", err)
	}
	defer f.Close()
	prof := seccompProfile()
	decided := map[string]int{}
	for _, r := range prof.Syscalls {
		if len(r.Args) > 0 {
			for _, n := range r.Names {
				decided[n] = max(decided[n], 1) // one syscall, several conditional rules
			}
			continue
		}
		for _, n := range r.Names {
			decided[n]++
		}
	}
	for n, c := range decided {
		if c > 1 {
			t.Errorf("%s is in more than one unconditional rule", n)
		}
	}
	re := regexp.MustCompile(`^#define __NR_(\w+) \d+`)
	sc := bufio.NewScanner(f)
	known := 0
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		known++
		if decided[m[1]] == 0 {
			t.Errorf("the profile does not decide %s (add it to allowedSyscalls or refusedSyscalls)", m[1])
		}
	}
	if known < 300 {
		t.Fatalf("read only %d system calls from %s", known, header)
	}
	if prof.DefaultAction != specs.ActErrno || prof.DefaultErrnoRet == nil || *prof.DefaultErrnoRet != uint(syscall.ENOSYS) {
		t.Errorf("default action %s/%v, want ENOSYS for calls the table does not know", prof.DefaultAction, prof.DefaultErrnoRet)
	}
	for _, must := range []string{"unshare", "setns", "mount", "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "keyctl", "userfaultfd", "pidfd_getfd"} {
		if !slices.Contains(refusedSyscalls, must) {
			t.Errorf("%s is not refused", must)
		}
	}
}

// TestDeviceCgroupDeniesByDefault reads the sandbox's device cgroup from
// the host: everything is denied but the standard devices.
func TestDeviceCgroupDeniesByDefault(t *testing.T) {
	d := newInternalDriver(t)
	s := testSpec("dev-")
	create(t, d, s)
	list, err := d.cg.read("devices", s.ID, "devices.list")
	if err != nil {
		t.Skipf("no v1 devices hierarchy: %v", err)
	}
	got := strings.Fields(strings.ReplaceAll(list, "\n", " "))
	if slices.Contains(got, "a") {
		t.Fatalf("devices.list allows every device:\n%s", list)
	}
	for _, want := range []string{"c 1:3 rwm", "c 1:5 rwm", "c 1:9 rwm", "c 5:2 rwm", "c 136:* rwm"} {
		if !strings.Contains(list, want) {
			t.Errorf("devices.list lacks %q:\n%s", want, list)
		}
	}
	for _, refused := range []string{"c 10:200", "b 7:", "c 1:1 "} {
		if strings.Contains(list+" ", refused) {
			t.Errorf("devices.list allows %q:\n%s", refused, list)
		}
	}
}

// TestConsoleBounded lets a 100 MB sandbox write 300 MB to its stdout and
// try its init's stdout through /proc/1/fd/1: the console log stays
// within its cap on the sandbox's disk, the host keeps nothing the
// sandbox wrote, and the log still ends with what came last.
func TestConsoleBounded(t *testing.T) {
	d := newInternalDriver(t)
	s := testSpec("con-")
	s.DiskMB = 100
	s.Entrypoint = []string{"sh", "-c",
		"if (echo x >> /proc/1/fd/1) 2>/dev/null; then echo open > /tmp/proc1; else echo refused > /tmp/proc1; fi; " +
			"head -c 300m /dev/zero; head -c 300m /dev/zero >&2; echo wrote-all; exec sleep 3600"}
	create(t, d, s)
	p := d.paths(s.ID)
	var tail []byte
	poll.Until(t, "the entrypoint to write all it had", func() bool {
		tail, _ = consoleTail(p, 64)
		return strings.Contains(string(tail), "wrote-all")
	})
	if out, err := d.Exec(context.Background(), s.ID, "cat", "/tmp/proc1"); err != nil || string(out) != "refused\n" {
		t.Errorf("init's stdout through /proc/1/fd/1: %q %v, want refused", out, err)
	}
	var logged int64
	for _, name := range []string{initproc.ConsoleFile, initproc.ConsoleFile + ".1"} {
		if fi, err := os.Stat(filepath.Join(p.console(), name)); err == nil {
			logged += fi.Size()
		}
	}
	if logged > d.cfg.ConsoleBytes || logged == 0 {
		t.Errorf("console log holds %d bytes, cap %d", logged, d.cfg.ConsoleBytes)
	}
	// The host side: the runtime's own log and the sandbox's disk image,
	// which can hold no more than the sandbox's disk.
	if fi, err := os.Stat(p.log); err == nil && fi.Size() > 64<<10 {
		t.Errorf("host-side log %s grew to %d bytes", p.log, fi.Size())
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p.diskImg, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > (s.DiskMB+8)<<20 {
		t.Errorf("disk image takes %d bytes on the host for a %d MB disk", used, s.DiskMB)
	}
	// The log outlives a driver (a server restart) and is read again.
	d2 := newInternalDriverOn(t, d)
	if b, err := d2.ConsoleLog(s.ID, 64); err != nil || !strings.Contains(string(b), "wrote-all") {
		t.Errorf("console after a restart: %q %v", b, err)
	}
}
