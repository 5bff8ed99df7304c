package kubedeploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// driverDir is the kube runtime driver's package.
const driverDir = "../../internal/runtime/kube"

// TestRoleMatchesDriver: the Role grants, resource by resource, exactly
// the verbs the kube driver calls through client-go, no more and no
// fewer.
func TestRoleMatchesDriver(t *testing.T) {
	calls, err := clientCalls(driverDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 {
		t.Skip("no kube runtime driver in this tree yet")
	}
	_, m := load(t)
	granted := map[string][]string{}
	for _, r := range m.role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				k := qualified(g, res)
				granted[k] = slices.Sorted(slices.Values(append(granted[k], r.Verbs...)))
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(calls)) {
		if !slices.Equal(granted[k], calls[k]) {
			t.Errorf("%s: the driver calls %q, the Role grants %q", k, calls[k], granted[k])
		}
	}
	for k, verbs := range granted {
		if calls[k] == nil {
			t.Errorf("%s: the Role grants %q, the driver calls nothing on it", k, verbs)
		}
	}
}

// TestClientCalls pins what clientCalls recognises: a typed client's
// verb called on the getter's chain, on a variable, field or accessor
// holding it; a REST request's subresource; a ListWatch.
func TestClientCalls(t *testing.T) {
	dir := t.TempDir()
	src := `package x

func (d *D) pods() typed.PodInterface { return d.c.CoreV1().Pods(d.ns) }

type D struct{ c kubernetes.Interface; ns string; pol typed.NetworkPolicyInterface }

func (d *D) run(ctx context.Context) {
	d.pods().Create(ctx, nil, metav1.CreateOptions{})
	d.pods().Get(ctx, "a", metav1.GetOptions{})
	claims := d.c.CoreV1().PersistentVolumeClaims(d.ns)
	claims.Delete(ctx, "a", metav1.DeleteOptions{})
	d.pol = d.c.NetworkingV1().NetworkPolicies(d.ns)
	d.pol.Update(ctx, nil, metav1.UpdateOptions{})
	d.c.CoreV1().Pods(d.ns).Watch(ctx, metav1.ListOptions{})
	d.c.CoreV1().RESTClient().Post().Resource("pods").Namespace(d.ns).Name("a").SubResource("exec")
	d.c.CoreV1().Pods(d.ns).GetLogs("a", nil)
	cache.NewListWatchFromClient(d.c.CoreV1().RESTClient(), "persistentvolumeclaims", d.ns, nil)
}
`
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte("package x\nfunc f() { c.CoreV1().Secrets(ns).List(ctx, o) }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := clientCalls(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"pods":                              {"create", "get", "watch"},
		"pods/exec":                         {"create"},
		"pods/log":                          {"get"},
		"persistentvolumeclaims":            {"delete", "list", "watch"},
		"networking.k8s.io/networkpolicies": {"update"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("clientCalls = %q, want %q", got, want)
	}
}

// groups maps a typed client's group accessor (CoreV1 without its
// version) to its API group.
var groups = map[string]string{
	"Core": "", "Apps": "apps", "Batch": "batch", "Policy": "policy",
	"Networking": "networking.k8s.io", "Coordination": "coordination.k8s.io",
	"Storage": "storage.k8s.io", "Discovery": "discovery.k8s.io", "Events": "events.k8s.io",
	"Rbac": "rbac.authorization.k8s.io",
}

// groupVersion matches a group accessor (CoreV1, NetworkingV1beta1).
var groupVersion = regexp.MustCompile(`^([A-Z][A-Za-z]*?)V[0-9]+((alpha|beta)[0-9]+)?$`)

// verbs maps a typed client's methods to the RBAC verbs (and, after a
// slash, the subresource) they need.
var verbs = map[string]string{
	"Get": "get", "List": "list", "Watch": "watch", "Create": "create", "Update": "update",
	"Patch": "patch", "Apply": "patch", "Delete": "delete", "DeleteCollection": "deletecollection",
	"UpdateStatus": "status/update", "ApplyStatus": "status/patch", "GetLogs": "log/get",
	"Evict": "eviction/create", "EvictV1": "eviction/create", "Bind": "binding/create",
	"UpdateEphemeralContainers": "ephemeralcontainers/update", "UpdateResize": "resize/update",
}

// requestVerbs maps a REST request's method to the verb it needs.
var requestVerbs = map[string]string{"Get": "get", "Post": "create", "Put": "update", "Patch": "patch", "Delete": "delete"}

func qualified(group, resource string) string {
	if group == "" {
		return resource
	}
	return group + "/" + resource
}

// clientCalls reads the non-test Go files of dir and returns, by
// resource (group/resource, or resource for the core group; a
// subresource after a slash), the sorted RBAC verbs of the client-go
// calls they make.
func clientCalls(dir string) (map[string][]string, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	// Names (variables, fields, accessor functions) bound to a resource's
	// typed client anywhere in the package.
	bound := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.AssignStmt:
				for i, lhs := range v.Lhs {
					if i < len(v.Rhs) {
						if res := getter(v.Rhs[i], nil); res != "" {
							bound[leafName(lhs)] = res
						}
					}
				}
			case *ast.FuncDecl:
				if v.Body != nil && len(v.Body.List) == 1 {
					if ret, ok := v.Body.List[0].(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
						if res := getter(ret.Results[0], nil); res != "" {
							bound[v.Name.Name+"()"] = res
						}
					}
				}
			}
			return true
		})
	}
	out := map[string][]string{}
	add := func(res, verb string) {
		if sub, v, ok := strings.Cut(verb, "/"); ok {
			res, verb = res+"/"+sub, v
		}
		if !slices.Contains(out[res], verb) {
			out[res] = append(out[res], verb)
			slices.Sort(out[res])
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch {
			case sel.Sel.Name == "SubResource":
				if res, verb := request(call); res != "" {
					add(res, verb)
				}
			case sel.Sel.Name == "NewListWatchFromClient" && len(call.Args) > 1:
				if lit, ok := call.Args[1].(*ast.BasicLit); ok {
					res, _ := strconv.Unquote(lit.Value)
					add(res, "list")
					add(res, "watch")
				}
			case verbs[sel.Sel.Name] != "":
				if res := getter(sel.X, bound); res != "" {
					add(res, verbs[sel.Sel.Name])
				}
			}
			return true
		})
	}
	return out, nil
}

// getter returns the resource whose typed client e is: a getter call on
// a group accessor (c.CoreV1().Pods(ns)), or a name bound to one.
func getter(e ast.Expr, bound map[string]string) string {
	switch v := e.(type) {
	case *ast.CallExpr:
		sel, ok := v.Fun.(*ast.SelectorExpr)
		if !ok {
			if id, ok := v.Fun.(*ast.Ident); ok {
				return bound[id.Name+"()"]
			}
			return ""
		}
		if g, ok := sel.X.(*ast.CallExpr); ok {
			if gs, ok := g.Fun.(*ast.SelectorExpr); ok {
				if m := groupVersion.FindStringSubmatch(gs.Sel.Name); m != nil {
					if group, ok := groups[m[1]]; ok {
						return qualified(group, strings.ToLower(sel.Sel.Name))
					}
				}
			}
		}
		return bound[sel.Sel.Name+"()"]
	case *ast.Ident, *ast.SelectorExpr:
		return bound[leafName(v)]
	}
	return ""
}

func leafName(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.Ident:
		return v.Name
	case *ast.SelectorExpr:
		return v.Sel.Name
	}
	return ""
}

// request reads a REST request chain ending in SubResource("x"):
// c.Post().Resource("pods")...SubResource("exec") is pods/exec create.
func request(call *ast.CallExpr) (string, string) {
	var resource, sub, verb string
	for e := ast.Expr(call); ; {
		c, ok := e.(*ast.CallExpr)
		if !ok {
			break
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok {
			break
		}
		arg := ""
		if len(c.Args) == 1 {
			if lit, ok := c.Args[0].(*ast.BasicLit); ok {
				arg, _ = strconv.Unquote(lit.Value)
			}
		}
		switch sel.Sel.Name {
		case "SubResource":
			sub = arg
		case "Resource":
			resource = arg
		default:
			if v, ok := requestVerbs[sel.Sel.Name]; ok && len(c.Args) == 0 {
				verb = v
			}
		}
		e = sel.X
	}
	if resource == "" || sub == "" || verb == "" {
		return "", ""
	}
	return resource + "/" + sub, verb
}
