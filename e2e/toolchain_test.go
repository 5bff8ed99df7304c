package e2e

import (
	"io"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/api"
)

// threadsC starts threads and forks: a program built in a sandbox must run there.
const threadsC = `#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void *work(void *arg) { *(int *)arg *= 2; return NULL; }

int main(void) {
	pthread_t th[4];
	int v[4] = {1, 2, 3, 4}, sum = 0, st;
	for (int i = 0; i < 4; i++) if (pthread_create(&th[i], NULL, work, &v[i]) != 0) return 1;
	for (int i = 0; i < 4; i++) { pthread_join(th[i], NULL); sum += v[i]; }
	pid_t p = fork();
	if (p < 0) return 2;
	if (p == 0) _exit(sum == 20 ? 7 : 3);
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 7) return 4;
	printf("c ok %d\n", sum);
	return 0;
}
`

// cextC is a CPython extension module pip builds from source.
const cextC = `#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
	long a, b;
	if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
	return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "add two ints"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "fastadd", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fastadd(void) { return PyModule_Create(&mod); }
`

// TestSandboxToolchainsUnderSeccomp runs, under the seccomp allow list,
// the tools users build with that the offline images carry: gcc building
// and running a program with threads and fork, make, git, pip building a
// C extension from a local package, and npm installing local packages (a
// directory and a packed tarball) without the network.
func TestSandboxToolchainsUnderSeccomp(t *testing.T) {
	s := startServer(t, "")
	py := ownSandbox(t, s.c, api.CreateSandboxRequest{Name: "tools-py", Image: "python"})
	upload(t, s, py.ID, "/tmp/w", "t.c", threadsC, "Makefile", "t: t.c\n\tgcc -O2 -pthread -o $@ t.c\n")
	upload(t, s, py.ID, "/tmp/w/cext", "fastadd.c", cextC,
		"setup.py", "from setuptools import Extension, setup\nsetup(name=\"fastadd\", version=\"1.0\", ext_modules=[Extension(\"fastadd\", [\"fastadd.c\"])])\n")
	upload(t, s, py.ID, "/tmp/w/repo", "README", "hello\n", "main.py", "print('hi')\n")
	pyRuns := []struct{ name, line, want string }{
		{"gcc", `set -e; cd /tmp/w; gcc -Wall -Werror -pthread -o /tmp/t1 t.c; /tmp/t1`, "c ok 20"},
		{"make", `set -e; cd /tmp/w; make -s t; ./t; make t`, "c ok 20\nmake: 't' is up to date."},
		{"git", `set -e; cd /tmp/w/repo; git init -q -b main; git add -A
git -c user.name=u -c user.email=u@example.com commit -qm first
echo more >> README; git -c user.name=u -c user.email=u@example.com commit -qam second
git log --format=%s; git status --porcelain | wc -l`, "second\nfirst\n0"},
		{"pip C extension", `set -e; pip install --no-index --no-build-isolation /tmp/w/cext >/tmp/pip.log 2>&1 || { cat /tmp/pip.log >&2; exit 1; }
cd / && python3 -c 'import fastadd; print("cext", fastadd.add(40, 2), fastadd.__file__.endswith(".so"))'`, "cext 42 True"},
	}
	for _, r := range pyRuns {
		res, err := s.c.Exec(ctx(t), py.ID, api.ExecRequest{Command: []string{"bash", "-c", r.line}})
		if err != nil {
			t.Errorf("%s: %v", r.name, err)
		} else if res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != r.want {
			t.Errorf("%s: exit %d: stdout %q stderr %q, want %q", r.name, res.ExitCode, res.Stdout, res.Stderr, r.want)
		}
	}

	node := ownSandbox(t, s.c, api.CreateSandboxRequest{Name: "tools-node", Image: "node"})
	upload(t, s, node.ID, "/tmp/w/lib", "package.json", `{"name": "mylib", "version": "1.0.0", "main": "index.js"}`,
		"index.js", "exports.answer = () => 42;\n")
	upload(t, s, node.ID, "/tmp/w/app", "package.json", `{"name": "app", "version": "1.0.0", "private": true}`,
		"main.js", "console.log('npm ok', require('mylib').answer(), require('mylib-packed').answer());\n")
	// The tarball is a second package name so both installs stay in
	// node_modules: a linked directory and an unpacked archive.
	line := `set -e; export npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false
npm --version
cd /tmp/w && cp -a lib packed && sed -i 's/"mylib"/"mylib-packed"/' packed/package.json
cd packed && tgz=$(npm pack --silent) && cd ../app
npm install --offline --silent ../lib "../packed/$tgz"
test -L node_modules/mylib && test -f node_modules/mylib-packed/index.js
node main.js`
	res, err := s.c.Exec(ctx(t), node.ID, api.ExecRequest{Command: []string{"bash", "-c", line}})
	if err != nil {
		t.Fatalf("npm: %v", err)
	}
	out := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || len(out) != 2 || !strings.HasPrefix(out[0], "9.") || out[1] != "npm ok 42 42" {
		t.Errorf("npm: exit %d: stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// upload writes name, content pairs into dir in a sandbox.
func upload(t *testing.T, s *server, id, dir string, pairs ...string) {
	t.Helper()
	files := map[string]io.Reader{}
	for i := 0; i+1 < len(pairs); i += 2 {
		files[pairs[i]] = strings.NewReader(pairs[i+1])
	}
	if _, err := s.c.UploadFiles(ctx(t), id, dir, files); err != nil {
		t.Fatalf("upload to %s: %v", dir, err)
	}
}
