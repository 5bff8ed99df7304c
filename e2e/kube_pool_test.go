package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/poll"
)

// TestWarmPoolOnKubeReplicas runs two replicas on PostgreSQL against
// k3s, each keeping a pool of two prepared (held) pods of the sandboxes'
// image. Each replica fills its own pool: four prepared pods in all. A
// create through A takes one of A's (createPath: pool) and runs its own
// entrypoint and environment, which B sees; A is killed (SIGKILL), and
// B, whose pool is full, removes the two A left, without waiting for a
// restart; a create through B takes one of B's; B's clean shutdown
// removes its own, and after the deletes nothing is left in the
// namespace.
func TestWarmPoolOnKubeReplicas(t *testing.T) {
	k := startKube(t)
	url := startPostgres(t)
	flags := append(k.flags(), "--store", url, "--pool-size", "2", "--default-image", k.image, "--trace-creates")
	a := startReplica(t, flags...)
	waitLogged(t, a, "elected leader")
	b := startReplica(t, flags...)
	waitPoolFull(t, a, k.image)
	waitPoolFull(t, b, k.image)
	if n := k.preparedPods(t); n != 4 {
		t.Fatalf("%d prepared pods in the namespace, want each replica's two", n)
	}

	sb, err := a.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Env: map[string]string{"GREETING": "from-the-pool"},
		Entrypoint: []string{"sh", "-c", "echo \"$GREETING $(hostname)\" > /tmp/greeting; exec sleep 3600"}})
	if err != nil {
		t.Fatal(err)
	}
	ids, deleted := []string{sb.ID}, false
	t.Cleanup(func() {
		if !deleted {
			deleteThrough(t, b, ids)
		}
	})
	if got := createPath(t, a, sb.ID); got != "pool" {
		t.Fatalf("create through A with its pool full: createPath %q, want pool", got)
	}
	var out string
	if !poll.Wait(time.Minute, func() bool {
		res, err := b.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"cat", "/tmp/greeting"}})
		if err == nil && res.ExitCode == 0 {
			out = strings.TrimSpace(res.Stdout)
		}
		return out != ""
	}) {
		t.Fatal("the taken sandbox's entrypoint never wrote /tmp/greeting")
	}
	greeting, host, _ := strings.Cut(out, " ")
	// The hostname is the sandbox's key: its id as a DNS label.
	if want := strings.ReplaceAll(sb.ID, "_", "-"); greeting != "from-the-pool" || !strings.HasPrefix(host, want) {
		t.Fatalf("the taken sandbox's entrypoint saw %q, want GREETING=from-the-pool and a hostname from %s", out, want)
	}

	a.crash()
	t.Log("replica A killed with its pool full")
	if !poll.Wait(3*time.Minute, func() bool { return k.preparedPods(t) == 2 }) {
		t.Fatalf("%d prepared pods after A's death, want B's two (A's removed by B)", k.preparedPods(t))
	}
	waitPoolFull(t, b, k.image)
	sb2, err := b.c.CreateSandbox(ctx(t), api.CreateSandboxRequest{Entrypoint: []string{"sleep", "3600"}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, sb2.ID)
	if got := createPath(t, b, sb2.ID); got != "pool" {
		t.Fatalf("create through B: createPath %q, want pool", got)
	}
	if res, err := b.c.Exec(ctx(t), sb.ID, api.ExecRequest{Command: []string{"echo", "alive"}}); err != nil || res.Stdout != "alive\n" {
		t.Fatalf("exec through B in the sandbox A took: %+v %v", res, err)
	}
	deleteThrough(t, b, ids)
	deleted = true
	b.stop()
	k.waitNoLeftovers(t)
}

// preparedPods counts the prepared pods of warm pools in the namespace.
func (k *kubeEnv) preparedPods(t *testing.T) int {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods, err := k.c.Client.CoreV1().Pods(k.ns).List(c, metav1.ListOptions{LabelSelector: "hutch.dev/pool=true"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}
