package kube

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/hutchdev/hutch/internal/runtime"
)

// relistDelay spaces the watch's restarts after the API server ends or
// refuses it.
const relistDelay = time.Second

// Watch reports each sandbox whose sandbox container ended while its pod
// was not being deleted (the driver's stops delete the pod first): its
// command done, the OOM killer, a kill from outside, a node lost. It
// lists the namespace's sandbox pods (reporting those ended already) and
// follows their changes, listing again whenever the API server ends the
// watch.
func (d *Driver) Watch(ctx context.Context) <-chan runtime.Exit {
	out := make(chan runtime.Exit)
	go func() {
		defer close(out)
		reported := map[types.UID]bool{}
		report := func(pod *corev1.Pod) bool {
			if pod.DeletionTimestamp != nil || reported[pod.UID] || ended(pod) == "" || pod.Annotations[annotationID] == "" || pod.Labels[labelPool] != "" {
				return true
			}
			select {
			case out <- runtime.Exit{ID: pod.Annotations[annotationID]}:
				reported[pod.UID] = true
				return true
			case <-ctx.Done():
				return false
			}
		}
		for ctx.Err() == nil {
			if !d.watchOnce(ctx, reported, report) {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(relistDelay):
			}
		}
	}()
	return out
}

// watchOnce lists and follows the sandbox pods until the watch ends;
// false when ctx ended.
func (d *Driver) watchOnce(ctx context.Context, reported map[types.UID]bool, report func(*corev1.Pod) bool) bool {
	sel := metav1.ListOptions{LabelSelector: labelManaged + "=" + managedBy}
	list, err := d.pods().List(ctx, sel)
	if err != nil {
		return ctx.Err() == nil
	}
	live := map[types.UID]bool{}
	for i := range list.Items {
		live[list.Items[i].UID] = true
		if !report(&list.Items[i]) {
			return false
		}
	}
	for uid := range reported {
		if !live[uid] {
			delete(reported, uid)
		}
	}
	sel.ResourceVersion = list.ResourceVersion
	w, err := d.pods().Watch(ctx, sel)
	if err != nil {
		return ctx.Err() == nil
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case ev, ok := <-w.ResultChan():
			if !ok {
				return true
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			switch {
			case !isPod:
				return true // an error event: list again
			case ev.Type == watch.Deleted:
				delete(reported, pod.UID)
			case !report(pod):
				return false
			}
		}
	}
}
