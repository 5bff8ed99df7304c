# probe.py prints, as JSON, what a sandbox's root gets from system calls
# the seccomp profile decides and from its own init and agent: the errno
# of each call (0 when it succeeded). The e2e test compares it to what the
# profile promises.
import ctypes, json, os, signal, socket, sys, time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}


def sys_errno(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == 0 and name.startswith("clone"):
        os._exit(0)  # a clone that went through: the child leaves at once
    out[name] = 0 if r >= 0 else ctypes.get_errno()
    if r > 0 and name.startswith("clone"):
        os.waitpid(r, 0)


CLONE_NEWUSER, CLONE_NEWUTS, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x04000000, 0x00020000, 17
sys_errno("unshare_user", 272, CLONE_NEWUSER)
sys_errno("unshare_mount", 272, CLONE_NEWNS)
uts = os.open("/proc/self/ns/uts", os.O_RDONLY)
sys_errno("setns", 308, uts, 0)
sys_errno("clone_newuts", 56, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0)
sys_errno("clone_plain", 56, SIGCHLD, 0, 0, 0, 0)
params = ctypes.create_string_buffer(120)
sys_errno("clone3", 435, ctypes.addressof(params), 88)
sys_errno("io_uring_setup", 425, 1, ctypes.addressof(params))
sys_errno("keyctl", 250, 0, 0, 0, 0, 0)
sys_errno("bpf", 321, 0, 0, 0)
sys_errno("perf_event_open", 298, 0, 0, -1, -1, 0)
sys_errno("userfaultfd", 323, 0)
sys_errno("mount", 165, 0, 0, 0, 0, 0)
sys_errno("process_vm_readv", 310, os.getpid(), 0, 0, 0, 0, 0)
sys_errno("pidfd_getfd", 438, -1, 0, 0)
sys_errno("kcmp", 312, os.getpid(), os.getpid(), 0, 0, 0)
sys_errno("personality_query", 135, 0xFFFFFFFF)
sys_errno("personality_addr_no_randomize", 135, 0x0040000)
sys_errno("listmount", 458, 0, 0, 0, 0)  # newer than the table: ENOSYS
try:
    socket.socket(40, socket.SOCK_STREAM).close()  # AF_VSOCK
    out["socket_vsock"] = 0
except OSError as e:
    out["socket_vsock"] = e.errno
socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()
out["socket_inet_unix"] = 0

# Init and the agent: not traceable, their descriptors closed.
libc.ptrace.restype = ctypes.c_long
PTRACE_ATTACH, PTRACE_DETACH = 16, 17


def attach(pid):
    ctypes.set_errno(0)
    r = libc.ptrace(ctypes.c_long(PTRACE_ATTACH), ctypes.c_long(pid), None, None)
    if r != 0:
        return ctypes.get_errno()
    os.waitpid(pid, getattr(os, "__WALL", 0x40000000))
    libc.ptrace(ctypes.c_long(PTRACE_DETACH), ctypes.c_long(pid), None, None)
    return 0


def cmdline(pid):
    try:
        return open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
    except OSError:
        return []


agent = [p for p in os.listdir("/proc") if p.isdigit() and cmdline(p)[1:2] == [b"agent"]]
out["agent_found"] = len(agent)
agent = int(agent[0])
out["ptrace_init"] = attach(1)
out["ptrace_agent"] = attach(agent)
for name, path in [("init_fd", "/proc/1/fd/3"), ("agent_fd", "/proc/%d/fd/3" % agent)]:
    try:
        os.readlink(path)
        out[name] = 0
    except OSError as e:
        out[name] = e.errno
try:
    open("/proc/1/fd/1", "w").close()
    out["init_stdout"] = 0
except OSError as e:
    out["init_stdout"] = e.errno
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
out["ptrace_own_child"] = attach(child)
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)

adj = lambda p: int(open("/proc/%s/oom_score_adj" % p).read())
out["oom_user_above_init"] = int(adj("self") > adj(1))
out["oom_user_above_agent"] = int(adj("self") > adj(agent))
out["cgroup_paths_own"] = int(all(l.rstrip("\n").split(":", 2)[2] == "/" for l in open("/proc/self/cgroup")))
json.dump(out, sys.stdout, sort_keys=True)
