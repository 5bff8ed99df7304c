package kubedeploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/runtime/kube/kubetest"
	"github.com/hutchdev/hutch/internal/store/postgres/pgtest"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestDeployOnCluster deploys the manifests as docs/kubernetes.md does,
// on a throwaway k3s: the image built by scripts/build-image.sh and
// imported into the node's containerd, a PostgreSQL the pods reach on the
// pod bridge's gateway, the Secret, `kubectl apply -k` of an overlay that
// sets the image (k3s's embedded kubectl). Two replicas become Ready,
// both answer with the one key the Secret bootstrapped, a key made
// through one works on the other, the four vendors' SDK suites (e2e/compat,
// unpatched) pass against the second, and a sandbox made through one runs
// `echo hi` through the other, before and after the first is killed, and
// leaves no pod or claim once deleted through the first's replacement.
//
// The test cluster has no kube-proxy and no DNS, so the Service's
// address does not route: the Service is checked through its endpoints
// (both pods, Ready) and each pod is called at its address; the pods
// reach the API server at its endpoint rather than the kubernetes
// Service.
func TestDeployOnCluster(t *testing.T) {
	c := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	k3s, err := kubetest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	layout := filepath.Join(t.TempDir(), "hutch-image.tar")
	build := exec.CommandContext(ctx, "../../scripts/build-image.sh", layout)
	build.Env = append(os.Environ(), "HUTCH_IMAGE="+ImageRef+":"+tag)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	// kubetest keeps the node's containerd socket in its data directory.
	ctr := exec.CommandContext(ctx, "ctr", "--address", filepath.Join(c.Dir, "containerd.sock"), "--namespace", "k8s.io", "images", "import", layout)
	if out, err := ctr.CombinedOutput(); err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}

	// The sandboxes' images, found on the node (IfNotPresent) as no
	// registry is reachable here: setup's base (the default image, which
	// the replicas' warm pools hold) and python for the SDK suites, named
	// with --kube-images.
	var names []string
	for _, name := range []string{"base", "python"} {
		ref := "hutch.local/" + name + ":e2e"
		if err := c.ImportRootfs(ref, filepath.Join(imageCache(), name+".tar")); err != nil {
			t.Fatalf("%v (scripts/setup.sh builds the image)", err)
		}
		names = append(names, name+"="+ref)
	}

	storeURL := database(t, c)
	apiHost, apiPort := apiServer(ctx, t, c)
	// Each replica's warm pool holds two pods of the default resources
	// (a CPU each): on this 2-core node their requests are overcommitted,
	// as a small cluster's would have to be.
	overlay := writeOverlay(t, tag, map[string]string{"KUBERNETES_SERVICE_HOST": apiHost, "KUBERNETES_SERVICE_PORT": apiPort},
		"--kube-images="+strings.Join(names, ","), "--kube-overcommit=20")
	kubectl(ctx, t, k3s, c.Kubeconfig, "apply", "-k", overlay)
	// Before PostgreSQL and its relay go: the replicas shut down while
	// their database still answers.
	t.Cleanup(func() { removeDeployment(t, c) })

	key := auth.NewSecret()
	_, err = c.Client.CoreV1().Secrets("hutch").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hutch"},
		StringData: map[string]string{"store-url": storeURL, "api-key": key},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := waitReady(ctx, t, c, 2)
	checkEndpoints(ctx, t, c, pods)

	a := replica(t, pods[0], key)
	for _, r := range []*client.Client{a, replica(t, pods[1], key)} {
		if _, err := r.Info(ctx); err != nil {
			t.Fatalf("info with the Secret's key: %v", err)
		}
	}
	org, err := a.CreateOrganization(ctx, api.CreateOrganizationRequest{Name: "through-replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := replica(t, pods[1], org.APIKey).Info(ctx)
	if err != nil {
		t.Fatalf("replica B refuses the key replica A made: %v", err)
	}
	t.Logf("2 replicas Ready; replica B answers /v1/info (runtime %s) with the key replica A made", info.Runtime)
	for _, script := range []string{"hopx.test.mjs", "e2b.test.mjs", "daytona.test.mjs", "opensandbox.test.mjs"} {
		t.Run(script, func(t *testing.T) { runSDK(ctx, t, pods[1], key, script) })
	}
	sandboxLifecycle(ctx, t, c, pods, key)
}

// sandboxLifecycle creates a sandbox of the default image through the
// first replica, once that replica's warm pool is full, so that it takes
// a prepared pod, and execs in it through the second; kills the first
// replica's pod at once (no grace) and execs through the second again;
// waits for the Deployment to replace the killed replica and deletes the
// sandbox through the new one, then waits until the sandbox's pod and
// claim are gone and the prepared pods are the live replicas' pools
// (those the killed one left adopted or removed).
func sandboxLifecycle(ctx context.Context, t *testing.T, c *kubetest.Cluster, replicas []*corev1.Pod, key string) {
	a, b := replica(t, replicas[0], key), replica(t, replicas[1], key)
	waitPoolFull(ctx, t, a)
	sb, err := a.CreateSandbox(ctx, api.CreateSandboxRequest{}, client.NoWait())
	if err != nil {
		t.Fatalf("create sandbox: %v\n%s", err, sandboxReport(ctx, c))
	}
	for sb.State != "running" {
		if sb.State != "creating" && sb.State != "starting" {
			t.Fatalf("sandbox %s is %s (%s), not running\n%s", sb.ID, sb.State, sb.StateReason, sandboxReport(ctx, c))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sandbox %s still %s\n%s", sb.ID, sb.State, sandboxReport(ctx, c))
		case <-time.After(250 * time.Millisecond):
		}
		if sb, err = b.GetSandbox(ctx, sb.ID); err != nil {
			t.Fatal(err)
		}
	}
	if evs, err := b.Events(ctx, sb.ID); err != nil || !slices.ContainsFunc(evs.Items, func(e api.Event) bool { return e.Message == "createPath: pool" }) {
		t.Errorf("the create through a replica with a full pool did not take a prepared pod: %+v %v", evs, err)
	}
	res, err := b.Exec(ctx, sb.ID, api.ExecRequest{Command: []string{"echo", "hi"}})
	if err != nil {
		t.Fatalf("exec through the other replica: %v\n%s", err, sandboxReport(ctx, c))
	}
	if res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "hi" {
		t.Fatalf("echo hi: exit %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}

	zero := int64(0)
	if err := c.Client.CoreV1().Pods("hutch").Delete(ctx, replicas[0].Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	res, err = b.Exec(ctx, sb.ID, api.ExecRequest{Command: []string{"echo", "still"}})
	if err != nil || strings.TrimSpace(res.Stdout) != "still" {
		t.Fatalf("exec through the surviving replica after the other's kill: %v %+v\n%s", err, res, sandboxReport(ctx, c))
	}
	var fresh *corev1.Pod
	for fresh == nil {
		for _, p := range waitReady(ctx, t, c, 2) {
			if p.UID != replicas[0].UID && p.UID != replicas[1].UID {
				fresh = p
			}
		}
		if fresh == nil {
			time.Sleep(250 * time.Millisecond) // the Deployment's status still counts the killed pod
		}
	}
	if _, err := replica(t, fresh, key).DeleteSandbox(ctx, sb.ID); err != nil {
		t.Fatalf("delete through the replacement replica: %v\n%s", err, sandboxReport(ctx, c))
	}
	t.Logf("sandbox %s: created through %s, exec through %s before and after %s was killed, deleted through its replacement %s",
		sb.ID, replicas[0].Name, replicas[1].Name, replicas[0].Name, fresh.Name)
	noneForbidden(ctx, t, c)
	// What is left is the two live replicas' pools: two prepared pods
	// each, with their claims.
	for {
		pods, perr := c.Client.CoreV1().Pods("hutch-sandboxes").List(ctx, metav1.ListOptions{})
		claims, cerr := c.Client.CoreV1().PersistentVolumeClaims("hutch-sandboxes").List(ctx, metav1.ListOptions{})
		if perr == nil && cerr == nil && prepared(pods.Items) == 4 && len(pods.Items) == 4 && len(claims.Items) == 4 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after delete: pods %v, claims %v in hutch-sandboxes, want the two replicas' two prepared pods each (%v, %v)", names(pods), names(claims), perr, cerr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// prepared counts the prepared pods of warm pools (not being deleted).
func prepared(pods []corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if p.Labels["hutch.dev/pool"] == "true" && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// waitPoolFull waits until the replica's /v1/info says its pool of the
// default image has all its members.
func waitPoolFull(ctx context.Context, t *testing.T, r *client.Client) {
	t.Helper()
	for {
		info, err := r.Info(ctx)
		if err == nil && len(info.Pools) == 1 && info.Pools[0].Size > 0 && info.Pools[0].Ready == info.Pools[0].Size {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the replica's pool never filled: %+v %v", info, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func names[L interface {
	*corev1.PodList | *corev1.PersistentVolumeClaimList
}](l L) []string {
	var out []string
	switch v := any(l).(type) {
	case *corev1.PodList:
		for _, p := range v.Items {
			out = append(out, p.Name)
		}
	case *corev1.PersistentVolumeClaimList:
		for _, p := range v.Items {
			out = append(out, p.Name)
		}
	}
	return out
}

func replica(t *testing.T, pod *corev1.Pod, key string) *client.Client {
	t.Helper()
	cl, err := client.New("http://"+net.JoinHostPort(pod.Status.PodIP, "7420"), key)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// database starts a PostgreSQL for the test and returns the URL the pods
// reach it at: the pod bridge's gateway (the host), forwarded to the
// server's loopback port.
func database(t *testing.T, c *kubetest.Cluster) string {
	pg, err := pgtest.Start()
	if err != nil {
		if os.Getenv(pgtest.SkipEnv) == "1" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	gw := netip.MustParsePrefix(c.PodSubnet).Masked().Addr().Next() // host-local's gateway
	addr := forward(t, gw.String(), "127.0.0.1:"+strconv.Itoa(pg.Port()))
	return fmt.Sprintf("postgres://hutch@%s%s?sslmode=disable", addr, u.Path)
}

// forward relays TCP connections from a listener on ip (which the bridge
// may not carry yet: IP_FREEBIND) to the address to, until the test ends.
func forward(t *testing.T, ip, to string) string {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	track := func(cs ...net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if conns == nil {
			return false
		}
		for _, c := range cs {
			conns[c] = true
		}
		return true
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil || !track(in, out) {
				in.Close()
				if out != nil {
					out.Close()
				}
				continue
			}
			wg.Add(2)
			relay := func(dst, src net.Conn) {
				defer wg.Done()
				io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go relay(in, out)
			go relay(out, in)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// apiServer returns the API server's endpoint, which pods reach without
// kube-proxy.
func apiServer(ctx context.Context, t *testing.T, c *kubetest.Cluster) (string, string) {
	list, err := c.Client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if len(s.Endpoints) > 0 && len(s.Endpoints[0].Addresses) > 0 && len(s.Ports) > 0 && s.Ports[0].Port != nil {
			return s.Endpoints[0].Addresses[0], strconv.Itoa(int(*s.Ports[0].Port))
		}
	}
	t.Fatalf("no endpoint of the kubernetes service: %+v", list.Items)
	return "", ""
}

// sdkDir holds the vendors' SDKs and the scripts e2e runs with them
// against one server (e2e/compat, linked to its packages by setup.sh).
const sdkDir = "../../e2e/compat"

// runSDK runs one vendor's SDK script, unpatched, against the replica in
// pod, as e2e does against a server on this machine.
func runSDK(ctx context.Context, t *testing.T, pod *corev1.Pod, key, script string) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (scripts/setup.sh installs it): %v", err)
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules")); err != nil {
		t.Fatalf("the SDKs are not installed in e2e/compat (scripts/setup.sh links them): %v", err)
	}
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec", script)
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), "HUTCH_COMPAT_URL=http://"+net.JoinHostPort(pod.Status.PodIP, "7420"), "HUTCH_API_KEY="+key)
	out, err := cmd.CombinedOutput()
	t.Logf("%s against replica %s:\n%s", script, pod.Name, out)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
}

// imageCache is where scripts/setup.sh keeps the base images.
func imageCache() string {
	if dir := os.Getenv("HUTCH_IMAGE_CACHE"); dir != "" {
		return dir
	}
	return "/var/cache/hutch/images"
}

// writeOverlay writes a kustomization over deploy/kubernetes that sets
// the image tag (repeating the base's replacements, as docs/kubernetes.md
// tells an overlay to), pulls never, gives the sandboxes kubetest's
// storage class, sets env in the control plane and adds args to its
// hutch serve.
func writeOverlay(t *testing.T, tag string, env map[string]string, args ...string) string {
	base, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ReadKustomization()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	const container = "/spec/template/spec/containers/0"
	ops := []map[string]any{{"op": "replace", "path": container + "/imagePullPolicy", "value": "Never"}}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		ops = append(ops, map[string]any{"op": "add", "path": container + "/env/-", "value": map[string]string{"name": name, "value": env[name]}})
	}
	for _, a := range append([]string{"--kube-storage-class=" + kubetest.StorageClass}, args...) {
		ops = append(ops, map[string]any{"op": "add", "path": container + "/args/-", "value": a})
	}
	patch, err := yaml.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(map[string]any{
		"apiVersion":   "kustomize.config.k8s.io/v1beta1",
		"kind":         "Kustomization",
		"resources":    []string{rel},
		"images":       []map[string]string{{"name": ImageRef, "newTag": tag}},
		"replacements": k.Replacements,
		"patches":      []map[string]any{{"target": map[string]string{"kind": "Deployment", "name": "hutch"}, "patch": string(patch)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// kubectl runs k3s's embedded kubectl (k3s picks it by the name it is
// run as) against the cluster.
func kubectl(ctx context.Context, t *testing.T, k3s, kubeconfig string, args ...string) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "kubectl")
	if err := os.Symlink(k3s, link); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, link, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// waitReady waits for the Deployment to have n Ready replicas of its
// current template and returns their pods; on timeout it fails with the
// pods' states and logs.
func waitReady(ctx context.Context, t *testing.T, c *kubetest.Cluster, n int32) []*corev1.Pod {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	for {
		d, err := c.Client.AppsV1().Deployments("hutch").Get(wctx, "hutch", metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == n && d.Status.UpdatedReplicas == n && d.Status.Replicas == n {
			pods, err := c.Client.CoreV1().Pods("hutch").List(wctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=hutch"})
			if err != nil {
				t.Fatal(err)
			}
			var ready []*corev1.Pod
			for i := range pods.Items {
				if p := &pods.Items[i]; podReady(p) && p.DeletionTimestamp == nil {
					ready = append(ready, p)
				}
			}
			if int32(len(ready)) == n {
				return ready
			}
		}
		select {
		case <-wctx.Done():
			t.Fatalf("deployment not %d Ready: %v\n%s", n, err, podReport(ctx, c))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeDeployment deletes the Deployment and waits for its pods to
// end: each replica gets SIGTERM and shuts down within the grace period.
func removeDeployment(t *testing.T, c *kubetest.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fg := metav1.DeletePropagationForeground
	if err := c.Client.AppsV1().Deployments("hutch").Delete(ctx, "hutch", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Errorf("delete deployment: %v", err)
		return
	}
	start := time.Now()
	for {
		pods, err := c.Client.CoreV1().Pods("hutch").List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			t.Logf("replicas gone %v after the deployment's deletion", time.Since(start).Round(time.Second))
			return
		}
		select {
		case <-ctx.Done():
			t.Errorf("replicas still there 2 minutes after the deployment's deletion: %v\n%s", err, podReport(context.Background(), c))
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podReport is each control plane pod's phase, container states and the
// end of its log.
func podReport(ctx context.Context, c *kubetest.Cluster) string {
	pods, err := c.Client.CoreV1().Pods("hutch").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s %s ip %s\n", p.Name, p.Status.Phase, p.Status.PodIP)
		for _, s := range p.Status.ContainerStatuses {
			fmt.Fprintf(&b, "  %s ready=%v restarts=%d state=%+v last=%+v\n", s.Name, s.Ready, s.RestartCount, s.State, s.LastTerminationState)
		}
		if p.Status.PodIP != "" {
			if resp, err := http.Get("http://" + net.JoinHostPort(p.Status.PodIP, "7420") + "/readyz"); err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				fmt.Fprintf(&b, "  /readyz %d %s\n", resp.StatusCode, body)
			}
		}
		tail := int64(200)
		logs, err := c.Client.CoreV1().Pods("hutch").GetLogs(p.Name, &corev1.PodLogOptions{Container: "hutch", TailLines: &tail}).DoRaw(ctx)
		fmt.Fprintf(&b, "  log, requests left out (%v):\n", err)
		for _, l := range strings.Split(string(logs), "\n") {
			if !strings.Contains(l, `"msg":"request"`) && l != "" {
				fmt.Fprintf(&b, "  %s\n", l)
			}
		}
	}
	return b.String()
}

// noneForbidden fails when a replica's log holds an API server refusal:
// the Role lacks something the driver did.
func noneForbidden(ctx context.Context, t *testing.T, c *kubetest.Cluster) {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods("hutch").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		logs, err := c.Client.CoreV1().Pods("hutch").GetLogs(p.Name, &corev1.PodLogOptions{Container: "hutch"}).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(logs), "\n") {
			if strings.Contains(l, "forbidden") && strings.Contains(l, "system:serviceaccount:") {
				t.Errorf("replica %s was refused by the API server: %s", p.Name, l)
			}
		}
	}
}

// sandboxReport is the state of every pod in the sandboxes' namespace,
// its init containers' too, and the control plane's report.
func sandboxReport(ctx context.Context, c *kubetest.Cluster) string {
	var b strings.Builder
	pods, err := c.Client.CoreV1().Pods("hutch-sandboxes").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "sandbox pod %s %s ip %s: %s\n", p.Name, p.Status.Phase, p.Status.PodIP, p.Status.Message)
		for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			fmt.Fprintf(&b, "  %s ready=%v state=%+v\n", s.Name, s.Ready, s.State)
		}
		for _, cond := range p.Status.Conditions {
			fmt.Fprintf(&b, "  %s=%s %s\n", cond.Type, cond.Status, cond.Message)
		}
	}
	claims, err := c.Client.CoreV1().PersistentVolumeClaims("hutch-sandboxes").List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, cl := range claims.Items {
			fmt.Fprintf(&b, "claim %s %s volume %q\n", cl.Name, cl.Status.Phase, cl.Spec.VolumeName)
		}
	}
	return b.String() + podReport(ctx, c)
}

// checkEndpoints: the Service's endpoints are exactly the Ready pods.
func checkEndpoints(ctx context.Context, t *testing.T, c *kubetest.Cluster, pods []*corev1.Pod) {
	t.Helper()
	var want []string
	for _, p := range pods {
		want = append(want, p.Status.PodIP)
	}
	slices.Sort(want)
	var got []string
	for {
		list, err := c.Client.DiscoveryV1().EndpointSlices("hutch").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=hutch"})
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					got = append(got, e.Addresses...)
				}
			}
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("service endpoints %q, want the Ready pods %q", got, want)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
