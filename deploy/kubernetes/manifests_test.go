package kubedeploy

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// manifests decodes every file the kustomization lists, by kind.
type manifests struct {
	namespaces map[string]*corev1.Namespace
	sa         *corev1.ServiceAccount
	role       *rbacv1.Role
	binding    *rbacv1.RoleBinding
	deploy     *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
}

func load(t *testing.T) (Kustomization, manifests) {
	t.Helper()
	k, err := ReadKustomization()
	if err != nil {
		t.Fatal(err)
	}
	m := manifests{namespaces: map[string]*corev1.Namespace{}}
	for _, name := range k.Resources {
		objs, err := Decode(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			switch v := obj.(type) {
			case *corev1.Namespace:
				m.namespaces[v.Name] = v
			case *corev1.ServiceAccount:
				m.sa = v
			case *rbacv1.Role:
				m.role = v
			case *rbacv1.RoleBinding:
				m.binding = v
			case *appsv1.Deployment:
				m.deploy = v
			case *corev1.Service:
				m.service = v
			case *policyv1.PodDisruptionBudget:
				m.pdb = v
			default:
				t.Fatalf("%s: unexpected %T", name, obj)
			}
		}
	}
	if m.sa == nil || m.role == nil || m.binding == nil || m.deploy == nil || m.service == nil || m.pdb == nil {
		t.Fatalf("the kustomization lacks an object: %+v", m)
	}
	return k, m
}

// TestKustomizationListsEveryManifest: every YAML file but the Secret's
// example is a resource, and the two namespaces are set in the files (a
// kustomization namespace would move the Role out of the sandboxes'
// namespace).
func TestKustomizationListsEveryManifest(t *testing.T) {
	k, _ := load(t)
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range names {
		if n != "kustomization.yaml" && n != "secret.example.yaml" {
			want = append(want, n)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Fatalf("resources %q, want every manifest %q", got, want)
	}
	if k.Namespace != "" {
		t.Fatalf("kustomization namespace %q: the files set hutch and hutch-sandboxes themselves", k.Namespace)
	}
	if _, err := Decode("secret.example.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestDeployment(t *testing.T) {
	k, m := load(t)
	d := m.deploy
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Fatalf("replicas %v, want 2 or more", d.Spec.Replicas)
	}
	if d.Namespace != "hutch" || m.namespaces[d.Namespace] == nil {
		t.Fatalf("deployment in namespace %q, which the manifests do not make", d.Namespace)
	}
	if d.Spec.Template.Spec.ServiceAccountName != m.sa.Name || m.sa.Namespace != d.Namespace {
		t.Fatalf("service account %q, manifests make %s/%s", d.Spec.Template.Spec.ServiceAccountName, m.sa.Namespace, m.sa.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pod := labels.Set(d.Spec.Template.Labels)
	if !sel.Matches(pod) || !labels.SelectorFromSet(m.service.Spec.Selector).Matches(pod) {
		t.Fatal("the deployment's or the service's selector misses the pod template's labels")
	}
	if pdbSel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || !pdbSel.Matches(pod) {
		t.Fatalf("the disruption budget's selector misses the pods (%v)", err)
	}
	c, err := ControlPlane(d)
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(c.Image, ":")
	if len(k.Images) != 1 || k.Images[0].Name != name || name != ImageRef {
		t.Fatalf("image %q; kustomization images %+v; the image is %s", c.Image, k.Images, ImageRef)
	}
	if env(c, "HUTCH_KUBE_AGENT_IMAGE") != c.Image || len(k.Replacements) == 0 {
		t.Fatalf("HUTCH_KUBE_AGENT_IMAGE %q, want the control plane's image %q kept equal by a replacement", env(c, "HUTCH_KUBE_AGENT_IMAGE"), c.Image)
	}

	// Probes on the server's health endpoints, on a port the container
	// declares and the service targets.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || m.service.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Fatalf("ports %+v, service ports %+v", c.Ports, m.service.Spec.Ports)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.StrVal != "http" {
			t.Fatalf("probe %+v, want GET %s on port http", probe, path)
		}
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Fatal("no CPU request")
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		t.Fatal("no memory request")
	}

	// Restricted: unprivileged as the image's user, nothing to escalate
	// to, a read-only root with writable scratch directories only.
	ps, cs := d.Spec.Template.Spec.SecurityContext, c.SecurityContext
	if ps == nil || cs == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != UID ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Fatalf("pod security context %+v", ps)
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0 || cs.Privileged != nil {
		t.Fatalf("container security context %+v", cs)
	}
	if m.namespaces[d.Namespace].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("namespace %s does not enforce the restricted pod security standard", d.Namespace)
	}
}

// TestSecretKeys: every key the Deployment reads is in the example Secret
// the docs tell the operator to make, and nothing is read from elsewhere.
func TestSecretKeys(t *testing.T) {
	_, m := load(t)
	objs, err := Decode("secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := objs[0].(*corev1.Secret)
	c, _ := ControlPlane(m.deploy)
	var read []string
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if ref := e.ValueFrom.SecretKeyRef; ref != nil {
			if ref.Name != secret.Name {
				t.Errorf("%s reads secret %q, not %q", e.Name, ref.Name, secret.Name)
			}
			read = append(read, ref.Key)
		}
	}
	var have []string
	for key := range secret.StringData {
		have = append(have, key)
	}
	slices.Sort(read)
	slices.Sort(have)
	if !slices.Equal(read, have) {
		t.Fatalf("the deployment reads keys %q, the example secret has %q", read, have)
	}
}

// TestServeFlagsExist: every argument the Deployment passes to hutch
// serve, and every HUTCH_ variable it sets, names a real setting.
func TestServeFlagsExist(t *testing.T) {
	_, m := load(t)
	c, _ := ControlPlane(m.deploy)
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %q, want serve first", c.Args)
	}
	known := serveFlags(t)
	for _, a := range c.Args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") || !known[name] {
			t.Errorf("hutch serve has no flag %q", a)
		}
	}
	args := append([]string{"--config=/dev/null"}, c.Args[1:]...)
	for _, e := range c.Env {
		name, ok := strings.CutPrefix(e.Name, "HUTCH_")
		flag := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if ok && !known[flag] {
			t.Errorf("hutch serve has no setting for %s", e.Name)
		}
		if ok && e.ValueFrom != nil { // the Secret's: a value of the right form
			args = append(args, "--"+flag+"="+map[string]string{"store": "postgres://hutch@db.example/hutch"}[flag])
		} else if ok {
			args = append(args, "--"+flag+"="+e.Value)
		}
	}
	// Together, the settings are valid ones (LoadServe validates them).
	if _, err := config.LoadServe(args, io.Discard); err != nil {
		t.Fatalf("hutch serve %q: %v", args, err)
	}
}

// serveFlags lists hutch serve's flags from its usage.
func serveFlags(t *testing.T) map[string]bool {
	var usage bytes.Buffer
	if _, err := config.LoadServe([]string{"-h"}, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("hutch serve -h: %v", err)
	}
	known := map[string]bool{}
	for _, l := range strings.Split(usage.String(), "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(l), "-"); ok {
			known[strings.Fields(f)[0]] = true
		}
	}
	if !known["store"] || !known["listen"] {
		t.Fatalf("no flags read from the usage of hutch serve:\n%s", usage.String())
	}
	return known
}

func env(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestRBACScope: one Role in the sandboxes' namespace (the one
// --kube-namespace names), bound to the control plane's service account
// and to nothing else; no cluster-wide grant anywhere.
func TestRBACScope(t *testing.T) {
	_, m := load(t)
	c, _ := ControlPlane(m.deploy)
	ns := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--kube-namespace="); ok {
			ns = v
		}
	}
	if ns == "" || ns == m.deploy.Namespace || m.namespaces[ns] == nil {
		t.Fatalf("--kube-namespace %q: want a namespace of its own that the manifests make", ns)
	}
	if m.role.Namespace != ns || m.binding.Namespace != ns {
		t.Fatalf("role in %q, binding in %q; the sandboxes are in %q", m.role.Namespace, m.binding.Namespace, ns)
	}
	if m.binding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: m.role.Name}) {
		t.Fatalf("binding refers to %+v", m.binding.RoleRef)
	}
	want := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: m.sa.Name, Namespace: m.sa.Namespace}}
	if !slices.Equal(m.binding.Subjects, want) {
		t.Fatalf("binding subjects %+v, want only %+v", m.binding.Subjects, want)
	}
	for _, r := range m.role.Rules {
		for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			if slices.Contains(list, "*") {
				t.Fatalf("rule %+v grants a wildcard", r)
			}
		}
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Fatalf("rule %+v", r)
		}
	}
}
