package kube

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A sandbox's pod and claim are found by their label (labelSandbox), not
// by name: a prepared pod of a warm pool and its claim keep their names
// (objects cannot be renamed) when a take gives them a user's key. Its
// network policy is always named for the key (objectName), as a take
// makes the user's one.

// onClaim is the claim a pod boots on: its name, and the host uid its
// files' root is owned by (the base of the sandbox's id range).
type onClaim struct {
	name string
	base int
}

// newClaim is where a sandbox made under key k keeps its files.
func newClaim(k string) onClaim { return onClaim{name: objectName(k), base: uidBase(k)} }

// claimOn is where claim c's sandbox boots: its uid base is the one the
// claim was made with (annotationUIDBase; a claim made before it existed
// has the base of the key in its name).
func claimOn(c *corev1.PersistentVolumeClaim) onClaim {
	if b, err := strconv.Atoi(c.Annotations[annotationUIDBase]); err == nil && b > 0 {
		return onClaim{name: c.Name, base: b}
	}
	return onClaim{name: c.Name, base: uidBase(strings.TrimPrefix(c.Name, "hutch-"))}
}

// selector selects the objects of key k.
func selector(k string) metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: labelSandbox + "=" + k}
}

// pod returns the sandbox's pod, nil when there is none (one being
// deleted only when no other is there). The pod a create or start made
// has the key's name, and a Get of it costs the API server nothing like
// a List by label (which filters the whole namespace's pods): the List
// is for a pod taken from a warm pool, or being replaced. The name of a
// taken pod found so is remembered (podNames), so the next lookups of its
// sandbox (each exec's, each port connection's) are a Get as well; a
// name that no longer fits only costs the List again.
func (d *Driver) pod(ctx context.Context, k string) (*corev1.Pod, error) {
	name := objectName(k)
	if n, ok := d.podNames.Load(k); ok {
		name = n.(string)
	}
	named, err := d.podNamed(ctx, name)
	if err != nil {
		return nil, err
	}
	if named != nil && named.Labels[labelSandbox] == k && named.DeletionTimestamp == nil {
		return named, nil
	}
	list, err := d.pods().List(ctx, selector(k))
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var found *corev1.Pod
	for i := range list.Items {
		if found == nil || found.DeletionTimestamp != nil {
			found = &list.Items[i]
		}
	}
	if found != nil && found.Name != objectName(k) && found.DeletionTimestamp == nil {
		d.podNames.Store(k, found.Name)
	} else {
		d.podNames.Delete(k)
	}
	return found, nil
}

// claim returns the sandbox's claim, nil when there is none.
func (d *Driver) claim(ctx context.Context, k string) (*corev1.PersistentVolumeClaim, error) {
	list, err := d.claims().List(ctx, selector(k))
	if err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	return &list.Items[0], nil
}

// podClaim is the name of the claim pod boots on.
func podClaim(pod *corev1.Pod) string {
	for _, v := range pod.Spec.Volumes {
		if v.Name == volumeClaim && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}
