package oci

import (
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// deniedSyscalls are refused with EPERM in every sandbox: they act on the
// whole machine (modules, kexec, clock, swap, reboot), open kernel attack
// surface a sandbox does not need (bpf, perf, userfaultfd, keyrings), escape
// file handles (open_by_handle_at), or make or join namespaces (unshare,
// setns): a nested user namespace would hand a sandboxed process every
// capability inside it, and with them far more of the kernel to probe. The
// profile is a deny list over a default of allow, which keeps it short and
// compatible with any workload; an allow list like Docker's is stricter.
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "get_kernel_syms", "init_module",
	"ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
	"nfsservctl", "open_by_handle_at", "perf_event_open",
	"pivot_root", "process_vm_readv", "process_vm_writev", "query_module",
	"quotactl", "reboot", "request_key", "settimeofday", "stime",
	"swapoff", "swapon", "sysfs", "_sysctl", "syslog", "uselib", "userfaultfd", "ustat",
	"vm86", "vm86old", "fsconfig", "fsmount", "fsopen", "fspick", "open_tree", "move_mount",
	"mount_setattr", "unshare", "setns",
}

// namespaceFlags are the clone flags that make a new namespace; clone with
// any of them is refused like unshare.
var namespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
	unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME,
}

func seccompProfile() *specs.LinuxSeccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	rules := []specs.LinuxSyscall{{Names: deniedSyscalls, Action: specs.ActErrno, ErrnoRet: &eperm}}
	// seccomp compares arguments one condition at a time with AND, so each
	// flag gets its own rule: "flags & F == F" refuses the call.
	for _, f := range namespaceFlags {
		rules = append(rules, specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}},
		})
	}
	// clone3 passes its flags in memory seccomp cannot read; ENOSYS makes
	// libc and Go fall back to clone, whose flags the rules above check.
	rules = append(rules, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      rules,
	}
}
