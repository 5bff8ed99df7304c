package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestNudge checks when a wait annotates a pod's claim to requeue the
// pod: only for an unscheduled pod the scheduler turned away for an
// unbound claim at least nudgeEvery ago, whose claim is bound by now,
// and then not again within nudgeEvery.
func TestNudge(t *testing.T) {
	old := metav1.NewTime(time.Now().Add(-10 * time.Second))
	pending := func(msg string, since metav1.Time, node string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "hutch-k", Namespace: DefaultNamespace},
			Spec: corev1.PodSpec{NodeName: node, Volumes: []corev1.Volume{{Name: volumeClaim,
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "hutch-k"}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: msg, LastTransitionTime: since}}},
		}
	}
	turnedAway := "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available"
	for _, tc := range []struct {
		name  string
		pod   *corev1.Pod
		phase corev1.PersistentVolumeClaimPhase
		want  bool
	}{
		{"bound since", pending(turnedAway, old, ""), corev1.ClaimBound, true},
		{"claim still pending", pending(turnedAway, old, ""), corev1.ClaimPending, false},
		{"turned away just now", pending(turnedAway, metav1.Now(), ""), corev1.ClaimBound, false},
		{"another reason", pending("0/1 nodes are available: 1 Insufficient cpu", old, ""), corev1.ClaimBound, false},
		{"scheduled", pending(turnedAway, old, "node-1"), corev1.ClaimBound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "hutch-k", Namespace: DefaultNamespace},
				Status: corev1.PersistentVolumeClaimStatus{Phase: tc.phase}}
			d, err := New(Config{Client: fake.NewClientset(claim)})
			if err != nil {
				t.Fatal(err)
			}
			var n nudger
			ctx := context.Background()
			nudged := func() string {
				c, err := d.claims().Get(ctx, "hutch-k", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return c.Annotations[annotationNudge]
			}
			n.nudge(ctx, d, tc.pod)
			first := nudged()
			if got := first != ""; got != tc.want {
				t.Fatalf("nudged: %v, want %v", got, tc.want)
			}
			n.nudge(ctx, d, tc.pod)
			if again := nudged(); again != first {
				t.Errorf("nudged again within %v: %q then %q", nudgeEvery, first, again)
			}
		})
	}
}
