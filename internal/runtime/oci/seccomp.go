package oci

import (
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The seccomp profile is an allow list with the semantics of the default
// profile container engines ship: the system calls an ordinary program
// needs are allowed, a few only with arguments that keep them harmless,
// and every other call the kernel knows is refused with EPERM. A call the
// table does not name at all (one newer than the table, or one the
// runtime's libseccomp does not know) answers ENOSYS, as on an older
// kernel, so that libc and language runtimes take their fallback path
// (glibc's fchmodat without fchmodat2, Go and glibc's clone without
// clone3). TestSeccompTableCoversKernelHeaders keeps the table complete
// against the host's kernel headers.

// allowedSyscalls are allowed without conditions, by area. Most names in
// the last group exist only in the 32-bit (i386) system call table.
var allowedSyscalls = [][]string{
	// Files and directories.
	{
		"access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat",
		"chown", "fchown", "fchownat", "lchown", "close", "close_range", "creat", "open", "openat", "openat2",
		"dup", "dup2", "dup3", "fcntl", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
		"truncate", "ftruncate", "fallocate", "fadvise64", "readahead", "getdents", "getdents64",
		"link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat",
		"rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "mknod", "mknodat",
		"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "umask",
		"utime", "utimes", "utimensat", "futimesat", "name_to_handle_at",
		"setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr",
		"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
		"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
		"chroot", // CAP_SYS_CHROOT is in the default set
	},
	// Reading, writing and waiting on descriptors.
	{
		"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
		"lseek", "ioctl", "pipe", "pipe2", "splice", "tee", "vmsplice", "sendfile", "copy_file_range",
		"select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
		"epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd", "signalfd4",
		"timerfd_create", "timerfd_settime", "timerfd_gettime", "memfd_create", "memfd_secret",
		"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	},
	// Memory.
	{
		"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "remap_file_pages",
		"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier",
		"pkey_alloc", "pkey_free", "pkey_mprotect",
	},
	// Processes, threads and signals. ptrace works on the sandbox's own
	// processes only: init and the agent are not dumpable, and no
	// sandbox holds CAP_SYS_PTRACE.
	{
		"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid",
		"kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "process_mrelease", "ptrace",
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
		"rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "pause", "restart_syscall",
		"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
		"set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv",
		"arch_prctl", "prctl", "seccomp", "set_thread_area", "get_thread_area", "modify_ldt",
		"capget", "capset", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times",
		"getpriority", "setpriority", "ioprio_get", "ioprio_set",
		"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
		"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
		"sched_rr_get_interval", "sched_getattr", "sched_setattr", "getcpu",
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	},
	// Credentials: all within the sandbox's user namespace.
	{
		"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
		"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
	},
	// Time.
	{
		"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "adjtimex",
		"alarm", "getitimer", "setitimer",
		"timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
	},
	// Sockets (socket itself is conditional, below) and System V and
	// POSIX IPC, all in the sandbox's own namespaces.
	{
		"socketpair", "bind", "listen", "accept", "accept4", "connect", "shutdown", "getsockname", "getpeername",
		"getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
		"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
		"msgget", "msgsnd", "msgrcv", "msgctl",
		"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
	},
	// The system.
	{"uname", "sysinfo", "getrandom"},
	// 32-bit spellings (i386, and the time64 calls of 32-bit programs).
	{
		"_llseek", "_newselect", "chown32", "fchown32", "lchown32", "fcntl64", "fstat64", "fstatat64", "lstat64",
		"stat64", "statfs64", "fstatfs64", "ftruncate64", "truncate64", "fadvise64_64", "sendfile64", "mmap2",
		"getuid32", "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32", "getgroups32",
		"setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32", "setresgid32", "setgroups32",
		"setfsuid32", "setfsgid32", "ugetrlimit", "waitpid", "sigreturn", "sigprocmask", "ipc", "recv", "send",
		"clock_gettime64", "clock_getres_time64", "clock_nanosleep_time64", "futex_time64",
		"io_pgetevents_time64", "mq_timedreceive_time64", "mq_timedsend_time64", "ppoll_time64",
		"pselect6_time64", "recvmmsg_time64", "rt_sigtimedwait_time64", "sched_rr_get_interval_time64",
		"semtimedop_time64", "timer_gettime64", "timer_settime64", "timerfd_gettime64", "timerfd_settime64",
		"utimensat_time64",
	},
}

// refusedSyscalls answer EPERM: they act on the whole machine (modules,
// kexec, clocks, swap, reboot, accounting, quotas), open kernel attack
// surface a sandbox does not need (bpf, perf, io_uring, userfaultfd,
// keyrings, NUMA policy), reach into other processes' memory or
// descriptors (process_vm_*, pidfd_getfd, kcmp), escape file handles
// (open_by_handle_at), or mount, make or join namespaces: a nested user
// namespace would hand a sandboxed process every capability inside it,
// and with them far more of the kernel to probe.
var refusedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "settimeofday", "stime",
	"create_module", "init_module", "finit_module", "delete_module", "get_kernel_syms", "query_module",
	"kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "syslog", "vhangup",
	"quotactl", "quotactl_fd", "lookup_dcookie", "nfsservctl", "_sysctl", "sysfs", "ustat", "uselib",
	"ioperm", "iopl", "vm86", "vm86old", "perf_event_open", "userfaultfd", "fanotify_init",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"keyctl", "request_key", "kcmp", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
	"open_by_handle_at", "mbind", "set_mempolicy", "get_mempolicy", "migrate_pages", "move_pages",
	"set_mempolicy_home_node", "mount", "umount", "umount2", "pivot_root", "mount_setattr", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "unshare", "setns", "sethostname", "setdomainname",
	// Never implemented or long gone; named so that the table is complete.
	"afs_syscall", "tuxcall", "security", "vserver", "getpmsg", "putpmsg", "epoll_ctl_old", "epoll_wait_old",
}

// namespaceFlags are the clone flags that make a new namespace.
var namespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
	unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME,
}

// personalities are the personality(2) arguments a program may pass: the
// Linux default, the 32-bit one, UNAME26 on either, and the query.
var personalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// afVsock is the socket family a sandbox must not open: AF_VSOCK talks to
// the hypervisor and the host beneath the sandbox's network namespace.
const afVsock = unix.AF_VSOCK

func seccompProfile() *specs.LinuxSeccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	var allowed []string
	for _, group := range allowedSyscalls {
		allowed = append(allowed, group...)
	}
	rules := []specs.LinuxSyscall{
		{Names: allowed, Action: specs.ActAllow},
		{Names: refusedSyscalls, Action: specs.ActErrno, ErrnoRet: &eperm},
	}
	// clone without a namespace flag is allowed; with any of them it is
	// refused like unshare. seccomp compares one condition at a time
	// with AND, so each flag gets its own refusing rule: "flags & F == F".
	var nsMask uint64
	for _, f := range namespaceFlags {
		nsMask |= f
		rules = append(rules, specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}},
		})
	}
	rules = append(rules, specs.LinuxSyscall{
		Names: []string{"clone"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: nsMask, ValueTwo: 0, Op: specs.OpMaskedEqual}},
	})
	// clone3 passes its flags in memory seccomp cannot read; ENOSYS makes
	// libc and Go fall back to clone, whose flags the rules above check.
	// socketcall (i386) hides its socket family the same way; glibc
	// falls back to the direct socket calls.
	rules = append(rules, specs.LinuxSyscall{Names: []string{"clone3", "socketcall"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	for _, p := range personalities {
		rules = append(rules, specs.LinuxSyscall{
			Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: p, Op: specs.OpEqualTo}},
		})
	}
	// socket(AF_VSOCK) answers the default ENOSYS: libseccomp refuses a
	// second rule with another action on the same argument.
	rules = append(rules, specs.LinuxSyscall{
		Names: []string{"socket"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: afVsock, Op: specs.OpNotEqual}},
	})
	return &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &enosys,
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:        rules,
	}
}
