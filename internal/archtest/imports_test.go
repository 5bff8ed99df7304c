// Package archtest holds tests of the code's shape: which package may use
// which, so that every API face goes through the same doors.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hutchdev/hutch/"

// source is one non-test Go file of the module.
type source struct {
	dir  string // relative to the module root, slash-separated
	file *ast.File
	fset *token.FileSet
}

func sources(t *testing.T) []source {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out []source
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		out = append(out, source{dir: filepath.ToSlash(rel), file: f, fset: fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d Go files under %s", len(out), root)
	}
	return out
}

func under(dir string, prefixes ...string) bool {
	for _, p := range prefixes {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

// violations lists what a file of package dir does that only the domain
// may: import a driver or internal/runtime, or type-assert the runtime.
func violations(dir string, f *ast.File, fset *token.FileSet) []string {
	if strings.HasSuffix(path.Base(dir), "test") {
		return nil // test-support packages (runtimetest, compattest, ...) build their rigs from drivers
	}
	var out []string
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		rel, ok := strings.CutPrefix(path, module)
		switch {
		case !ok:
		case strings.HasPrefix(rel, "internal/runtime/"):
			if !under(dir, "internal/runtime", "internal/server") {
				out = append(out, dir+" imports the driver "+rel+"; only internal/server chooses drivers")
			}
		case rel == "internal/runtime":
			if !under(dir, "internal/runtime", "internal/sandbox", "internal/server") {
				out = append(out, dir+" imports internal/runtime; transports use internal/sandbox's doors")
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		ta, ok := n.(*ast.TypeAssertExpr)
		if !ok || ta.Type == nil {
			return true
		}
		if sel, ok := ta.Type.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "runtime" && !under(dir, "internal/runtime") {
				out = append(out, fset.Position(ta.Pos()).String()+" type-asserts the runtime (runtime."+sel.Sel.Name+"); use runtime.As"+sel.Sel.Name)
			}
		}
		return true
	})
	return out
}

// TestOnlyTheDomainReachesTheRuntime: drivers are chosen by the server's
// wiring and used by internal/sandbox; every transport (native, compat,
// dashboard) goes through internal/sandbox's doors, never to a driver or
// a type assertion on the runtime.
func TestOnlyTheDomainReachesTheRuntime(t *testing.T) {
	for _, src := range sources(t) {
		for _, v := range violations(src.dir, src.file, src.fset) {
			t.Error(v)
		}
	}
}

// TestRuleCatchesViolations feeds the rule files that break it, so that a
// rule that sees nothing cannot pass unnoticed.
func TestRuleCatchesViolations(t *testing.T) {
	for _, c := range []struct {
		dir, src string
		want     int
	}{
		{"internal/compat/x", `package x
import "github.com/hutchdev/hutch/internal/runtime"
func f(rt runtime.Runtime) { _, _ = rt.(runtime.Networker) }`, 2},
		{"internal/httpapi", `package x
import _ "github.com/hutchdev/hutch/internal/runtime/oci"`, 1},
		{"internal/sandbox", `package x
import "github.com/hutchdev/hutch/internal/runtime"
func f(rt runtime.Runtime) { _, _ = rt.(runtime.Networker) }`, 1},
		{"internal/server", `package x
import _ "github.com/hutchdev/hutch/internal/runtime/oci"`, 0},
		{"internal/compat/compattest", `package x
import _ "github.com/hutchdev/hutch/internal/runtime/fakeruntime"`, 0},
	} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", c.src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := violations(c.dir, f, fset); len(got) != c.want {
			t.Errorf("%s: %d violations %q, want %d", c.dir, len(got), got, c.want)
		}
	}
}
