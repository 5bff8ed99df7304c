package oci

import specs "github.com/opencontainers/runtime-spec/specs-go"

// deniedSyscalls are refused with EPERM in every sandbox: they act on the
// whole machine (modules, kexec, clock, swap, reboot), open kernel attack
// surface a sandbox does not need (bpf, perf, userfaultfd, keyrings), or
// escape file handles (open_by_handle_at). The profile is a deny list
// over a default of allow, which keeps it short and compatible with any
// workload; an allow list like Docker's is stricter and left for later.
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "get_kernel_syms", "init_module",
	"ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
	"nfsservctl", "open_by_handle_at", "perf_event_open",
	"pivot_root", "process_vm_readv", "process_vm_writev", "query_module",
	"quotactl", "reboot", "request_key", "settimeofday", "stime",
	"swapoff", "swapon", "sysfs", "_sysctl", "syslog", "uselib", "userfaultfd", "ustat",
	"vm86", "vm86old", "fsconfig", "fsmount", "fsopen", "fspick", "open_tree", "move_mount",
	"mount_setattr",
}

func seccompProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{
			Names:    deniedSyscalls,
			Action:   specs.ActErrno,
			ErrnoRet: func() *uint { e := uint(1); return &e }(),
		}},
	}
}
