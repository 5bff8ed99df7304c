package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/hutchdev/hutch/api"
)

// TestSandboxConfinement runs testdata/confine/probe.py as the root of a
// real sandbox (through the agent, as a user's command runs): every system
// call the seccomp allow list refuses is refused with the errno it
// promises (EPERM for known calls, ENOSYS for clone3, AF_VSOCK and calls
// newer than the table), the sandbox's init and agent cannot be traced
// and their descriptors cannot be opened while the user's own processes
// can be traced, the OOM killer prefers the user's processes, and
// /proc/self/cgroup shows no host path.
func TestSandboxConfinement(t *testing.T) {
	s := startServer(t, "")
	sb := ownSandbox(t, s.c, api.CreateSandboxRequest{Name: "confine", Image: "python"})
	probe, err := os.ReadFile("testdata/confine/probe.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.UploadFiles(ctx(t), sb.ID, "/tmp", map[string]io.Reader{"probe.py": bytes.NewReader(probe)}); err != nil {
		t.Fatal(err)
	}
	res, err := s.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"python3", "/tmp/probe.py"}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("probe: %v exit %d: %s %s", err, res.ExitCode, res.Stdout, res.Stderr)
	}
	var got map[string]int
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		t.Fatalf("probe output %q: %v", res.Stdout, err)
	}
	eperm, enosys, eacces := int(syscall.EPERM), int(syscall.ENOSYS), int(syscall.EACCES)
	want := map[string]int{
		"unshare_user": eperm, "unshare_mount": eperm, "setns": eperm, "clone_newuts": eperm, "clone_plain": 0,
		"clone3": enosys, "io_uring_setup": eperm, "keyctl": eperm, "bpf": eperm, "perf_event_open": eperm,
		"userfaultfd": eperm, "mount": eperm, "process_vm_readv": eperm, "pidfd_getfd": eperm, "kcmp": eperm,
		"personality_query": 0, "personality_addr_no_randomize": enosys, "listmount": enosys,
		"socket_vsock": enosys, "socket_inet_unix": 0,
		"agent_found": 1, "ptrace_init": eperm, "ptrace_agent": eperm, "init_fd": eacces, "agent_fd": eacces,
		"init_stdout": eacces, "ptrace_own_child": 0,
		"oom_user_above_init": 1, "oom_user_above_agent": 1, "cgroup_paths_own": 1,
	}
	var names []string
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if g, ok := got[k]; !ok || g != want[k] {
			t.Errorf("%s: got %d (present %v), want %d", k, g, ok, want[k])
		}
	}
}

// TestSandboxWorkloadsUnderSeccomp runs what users run under the allow
// list: a shell and its pipes, perl, python (threads, processes, sqlite,
// ssl, a local server), pip installing a local package, and node (child
// processes, workers, fs, a local HTTP server). gcc, make, git, pip
// building a C extension and npm are in TestSandboxToolchainsUnderSeccomp.
func TestSandboxWorkloadsUnderSeccomp(t *testing.T) {
	s := startServer(t, "")
	py := ownSandbox(t, s.c, api.CreateSandboxRequest{Name: "seccomp-py", Image: "python"})
	for _, line := range []string{
		`set -e; echo a b c | tr ' ' '\n' | sort -r | head -1; bash -c 'x=$(echo sub); echo $x'; ls / >/dev/null; mkfifo /tmp/f; (echo fifo > /tmp/f &); cat /tmp/f`,
		`perl -e 'my $p = fork(); if ($p == 0) { exit 0 } waitpid($p, 0); print "perl ok\n"'`,
		`python3 -c '
import concurrent.futures, hashlib, json, multiprocessing, sqlite3, ssl, subprocess, threading, socket, http.server, urllib.request
with multiprocessing.Pool(2) as p: assert p.map(abs, [-1, -2]) == [1, 2]
with concurrent.futures.ThreadPoolExecutor(4) as e: assert list(e.map(len, ["a", "bb"])) == [1, 2]
db = sqlite3.connect("/tmp/x.db"); db.execute("create table t (x)"); db.commit()
ssl.create_default_context(); hashlib.sha256(b"x").hexdigest()
assert subprocess.run(["true"]).returncode == 0
srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.handle_request, daemon=True).start()
assert urllib.request.urlopen("http://127.0.0.1:%d/" % srv.server_port).status == 200
print("python ok")'`,
		`set -e; mkdir -p /tmp/pkg/hello; echo 'def greet(): return "hello ok"' > /tmp/pkg/hello/__init__.py
printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "hello"\nversion = "1.0"\n' > /tmp/pkg/pyproject.toml
pip install --no-index --no-build-isolation -q /tmp/pkg 2>&1 | tail -3; cd / && python3 -c 'import hello; print(hello.greet())'`,
	} {
		res, err := s.c.Exec(ctx(t), py.ID, api.ExecRequest{Command: []string{"bash", "-c", line}})
		if err != nil || res.ExitCode != 0 {
			t.Errorf("%.60q: %v exit %d: %s %s", line, err, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
	node := ownSandbox(t, s.c, api.CreateSandboxRequest{Name: "seccomp-node", Image: "node"})
	script := `
const { execSync } = require("child_process");
const { Worker } = require("worker_threads");
const fs = require("fs"), http = require("http");
fs.writeFileSync("/tmp/n.txt", execSync("echo child").toString());
new Worker("require('worker_threads').parentPort.postMessage(6*7)", { eval: true }).on("message", (v) => {
  if (v !== 42) process.exit(2);
  const srv = http.createServer((q, r) => r.end(fs.readFileSync("/tmp/n.txt"))).listen(0, "127.0.0.1", async () => {
    const body = await (await fetch("http://127.0.0.1:" + srv.address().port)).text();
    console.log(body.trim() === "child" ? "node ok" : "bad " + body);
    srv.close();
  });
});`
	res, err := s.c.Exec(ctx(t), node.ID, api.ExecRequest{Command: []string{"node", "-e", script}})
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "node ok" {
		t.Errorf("node: %v exit %d: %s %s", err, res.ExitCode, res.Stdout, res.Stderr)
	}
}
