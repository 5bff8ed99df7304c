package kube

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The scheduler turns a pod away while its claim is not bound yet ("pod
// has unbound immediate PersistentVolumeClaims") and should try it again
// when the claim binds. Now and then it misses that event and leaves the
// pod Pending until its periodic flush, five minutes later
// (kubernetes/kubernetes#87145; seen here on k3s 1.33 with the pods of
// a create or a prepare). Any later change to the claim requeues the pod,
// so a wait for a pod that the scheduler holds back for a claim bound
// since annotates the claim (annotationNudge), at most every nudgeEvery.

const (
	annotationNudge = "hutch.dev/scheduling-nudge"
	nudgeEvery      = 3 * time.Second
	unboundClaims   = "unbound immediate PersistentVolumeClaims"
)

// nudger remembers, for one wait, when it last nudged.
type nudger struct{ last time.Time }

// nudge annotates the claim of pod when the scheduler turned the pod away
// for an unbound claim at least nudgeEvery ago and the claim is bound.
func (n *nudger) nudge(ctx context.Context, d *Driver, pod *corev1.Pod) {
	if pod.Spec.NodeName != "" || time.Since(n.last) < nudgeEvery {
		return
	}
	var turnedAway time.Time
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, unboundClaims) {
			turnedAway = c.LastTransitionTime.Time
		}
	}
	if turnedAway.IsZero() || time.Since(turnedAway) < nudgeEvery {
		return
	}
	claim, err := d.claims().Get(ctx, podClaim(pod), metav1.GetOptions{})
	if err != nil || claim.Status.Phase != corev1.ClaimBound {
		return
	}
	n.last = time.Now()
	if claim.Annotations == nil {
		claim.Annotations = map[string]string{}
	}
	claim.Annotations[annotationNudge] = n.last.UTC().Format(time.RFC3339Nano)
	_, _ = d.claims().Update(ctx, claim, metav1.UpdateOptions{}) // a conflict: the claim changed, which requeues too
}
