package kube

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestPodLookup checks what a sandbox's pod costs to find: a pod with
// the key's name is one Get; a pod taken from a warm pool (another name)
// is a Get and a List the first time, then a Get of the name found; once
// that pod is gone and a start made one with the key's name, the List
// finds it and the lookups are one Get of it again.
func TestPodLookup(t *testing.T) {
	const k = "k1"
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace,
			Labels: map[string]string{labelSandbox: k}}}
	}
	client := fake.NewClientset(pod("hutch-pool-abc"))
	d, err := New(Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lookup := func(wantName string, wantCalls ...string) {
		t.Helper()
		client.ClearActions()
		p, err := d.pod(ctx, k)
		if err != nil || p == nil || p.Name != wantName {
			t.Fatalf("pod of %s: %v %v, want %s", k, p, err, wantName)
		}
		var calls []string
		for _, a := range client.Actions() {
			c := a.GetVerb()
			if g, ok := a.(k8stesting.GetAction); ok {
				c += " " + g.GetName()
			}
			calls = append(calls, c)
		}
		if !slices.Equal(calls, wantCalls) {
			t.Fatalf("calls %v, want %v", calls, wantCalls)
		}
	}
	lookup("hutch-pool-abc", "get "+objectName(k), "list")
	lookup("hutch-pool-abc", "get hutch-pool-abc")
	lookup("hutch-pool-abc", "get hutch-pool-abc")

	if err := client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), DefaultNamespace, "hutch-pool-abc"); err != nil {
		t.Fatal(err)
	}
	if err := client.Tracker().Add(pod(objectName(k))); err != nil {
		t.Fatal(err)
	}
	lookup(objectName(k), "get hutch-pool-abc", "list")
	lookup(objectName(k), "get "+objectName(k))
}
