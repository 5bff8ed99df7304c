package podinit

import (
	"errors"
	goruntime "runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The pod's RuntimeDefault seccomp profile is computed for a container
// holding CAP_SYS_ADMIN, so it allows what that capability needs. Boot
// drops the capability, and the calls a process without it may still
// make and that no sandbox process should (a user namespace, which gives
// every capability inside it, above all) are refused by this filter,
// stacked on the runtime's: new namespaces, joining namespaces, the
// mount API, BPF, perf events, keyrings and the kernel log. clone3
// answers ENOSYS, so that C libraries fall back to clone, whose flags a
// filter can read. Another architecture's calls (32-bit compat, x32) are
// refused whole.

const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

var deniedCalls = []uint32{
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT,
	unix.SYS_OPEN_TREE, unix.SYS_MOVE_MOUNT, unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_FANOTIFY_INIT, unix.SYS_LOOKUP_DCOOKIE,
	unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_QUOTACTL, unix.SYS_SYSLOG,
	unix.SYS_ADD_KEY, unix.SYS_KEYCTL, unix.SYS_REQUEST_KEY,
	unix.SYS_SETHOSTNAME, unix.SYS_SETDOMAINNAME,
}

// auditArch is this build's seccomp architecture.
func auditArch() (uint32, error) {
	switch goruntime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, nil
	}
	return 0, errors.New("no seccomp filter for " + goruntime.GOARCH)
}

func filter() ([]unix.SockFilter, error) {
	arch, err := auditArch()
	if err != nil {
		return nil, err
	}
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	// Jumps name their targets; the three returns end the program.
	const (
		next = iota
		allow
		eperm
		enosys
	)
	type insn struct {
		code   uint16
		jt, jf int
		k      uint32
	}
	prog := []insn{
		{ld, next, next, 4}, // arch
		{jeq, next, enosys, arch},
		{ld, next, next, 0}, // nr
	}
	if goruntime.GOARCH == "amd64" {
		prog = append(prog, insn{jge, enosys, next, 0x40000000}) // x32
	}
	for _, nr := range deniedCalls {
		prog = append(prog, insn{jeq, eperm, next, nr})
	}
	prog = append(prog,
		insn{jeq, enosys, next, unix.SYS_CLONE3},
		insn{jeq, next, allow, unix.SYS_CLONE},
		insn{ld, next, next, 16}, // the flags, args[0]'s low half
		insn{jset, eperm, allow, namespaceFlags},
	)
	end := len(prog)
	at := map[int]int{allow: end, eperm: end + 1, enosys: end + 2}
	out := make([]unix.SockFilter, 0, end+3)
	for i, in := range prog {
		off := func(target int) uint8 {
			if target == next {
				return 0
			}
			return uint8(at[target] - i - 1)
		}
		out = append(out, unix.SockFilter{Code: in.code, Jt: off(in.jt), Jf: off(in.jf), K: in.k})
	}
	return append(out,
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	), nil
}

// installSeccomp installs the filter on the calling thread (boot runs
// locked to it and executes init from it).
func installSeccomp() error {
	f, err := filter()
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
}
