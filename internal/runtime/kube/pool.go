package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/podinit"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Warm pools map to prepared pods. Prepare makes a claim and a pod under
// the pool id's key, labelled labelPool, with the PoolSpec as an
// annotation: the image seeded onto the claim, the pod scheduled, its
// containers started, the agent's and the control ports bound and its
// CPU and memory the pod's resources; but its boot is held (podinit's
// --held) and runs nothing of a sandbox yet. A pod's QoS class cannot
// change in place, so its CPU and memory are fixed at prepare and only a
// spec with the same ones takes it (Capabilities.PoolLimits); the pids
// limit and the hostname are boot's to set at the take.
//
// Take (pool_take.go) relabels the pod, then its claim, to the user's key
// and id, and sends the workload to the held boot. The pod and claim keep
// their names, so the driver finds every sandbox's objects by label
// (objects.go). Every replica of the control plane sees every prepared
// pod; which replica keeps which is the lifecycle's business (it holds a
// lock per member across replicas), and the pod's relabelling names the
// resourceVersion it read, so that two takes of one pod cannot both win.

const (
	// labelPool marks a prepared pod and its claim until a take.
	labelPool = "hutch.dev/pool"
	// annotationPool is the PoolSpec a prepared pod and claim were made
	// for, as JSON.
	annotationPool = "hutch.dev/pool-spec"
)

// markPool labels a prepared pod's or claim's metadata.
func markPool(m *metav1.ObjectMeta, spec []byte) {
	m.Labels[labelPool] = "true"
	m.Annotations[annotationPool] = string(spec)
}

// poolSpecOf reads the PoolSpec of a prepared object; false when it is
// not one.
func poolSpecOf(m metav1.ObjectMeta) (runtime.PoolSpec, bool) {
	var ps runtime.PoolSpec
	if m.Labels[labelPool] == "" || json.Unmarshal([]byte(m.Annotations[annotationPool]), &ps) != nil || ps.ID == "" {
		return runtime.PoolSpec{}, false
	}
	return ps, true
}

// Prepare implements runtime.Pooler: claim and held pod, and returns
// once the pod's boot answers that it is held. A failed prepare removes
// what it made.
func (d *Driver) Prepare(ctx context.Context, ps runtime.PoolSpec) error {
	return d.afresh(ctx, ps.ID, "prepare", func(pk string) error { return d.prepare(ctx, pk, ps) })
}

func (d *Driver) prepare(ctx context.Context, pk string, ps runtime.PoolSpec) error {
	ps.Runtime = ""
	spec, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	on := newClaim(pk)
	claim := d.claimFor(pk, ps.ID, ps.DiskMB, on)
	markPool(&claim.ObjectMeta, spec)
	if _, err := d.claims().Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create claim: %w", err)
	}
	sp := runtime.Spec{ID: ps.ID, Image: ps.Image, DiskMB: ps.DiskMB, CPU: ps.CPU, MemoryMB: ps.MemoryMB}
	pod := d.podFor(pk, sp, newToken(), on, true)
	markPool(&pod.ObjectMeta, spec)
	if _, err := d.pods().Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod: %w", err)
	}
	return d.waitBoot(ctx, pod.Name, d.held)
}

// held says whether pod's boot waits for a take (nil) or why not.
func (d *Driver) held(ctx context.Context, pod *corev1.Pod) error {
	state, err := d.control(ctx, pod, podinit.ControlState)
	if err == nil && state != podinit.StateHeld {
		err = fmt.Errorf("pod %s is %s, not held for a take", pod.Name, state)
	}
	return err
}

// DropPrepared implements runtime.Pooler. A sandbox that is not a
// prepared one (a user's, a taken one) is refused, and so is one a take
// wins meanwhile, whatever the replicas' locks say: the pod is deleted
// only at the version read while it was prepared (a take's relabel
// changes it), and the claim only while no other pod boots on it (a
// relabelled pod whose claim a take has not relabelled yet).
func (d *Driver) DropPrepared(ctx context.Context, ps runtime.PoolSpec) error {
	pk, err := key(ps.ID)
	if err != nil {
		return err
	}
	defer d.locks.Lock(pk)()
	notPrepared := fmt.Errorf("sandbox %s is not a prepared one: %w", ps.ID, errdefs.ErrConflict)
	if err := d.deletePrepared(ctx, pk, notPrepared); err != nil {
		return err
	}
	claim, err := d.claim(ctx, pk)
	if err != nil {
		return err
	}
	if claim != nil {
		if claim.Labels[labelPool] == "" {
			return notPrepared
		}
		if used, err := d.claimInUse(ctx, claim.Name); err != nil || used {
			return errors.Join(notPrepared, err)
		}
	}
	return d.remove(ctx, pk)
}

// deletePrepared deletes key pk's pod, if it has one, at the version
// read while it is a prepared one (notPrepared when it is not), and
// waits until it is gone.
func (d *Driver) deletePrepared(ctx context.Context, pk string, notPrepared error) error {
	for {
		pod, err := d.pod(ctx, pk)
		if err != nil || pod == nil {
			return err
		}
		if pod.Labels[labelPool] == "" {
			return notPrepared
		}
		grace, uid, version := int64(1), pod.UID, pod.ResourceVersion
		err = d.pods().Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace,
			Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &version}})
		switch {
		case err == nil || apierrors.IsNotFound(err):
			return d.waitPodGone(ctx, pk)
		case !apierrors.IsConflict(err):
			return fmt.Errorf("delete pod: %w", err)
		}
		// Changed since it was read: the kubelet's status, or a take.
	}
}

// Prepared implements runtime.Pooler: every prepared pod in the
// namespace, whichever replica made it, and every prepared claim whose
// pod a crash kept from being made (a take of it fails, and the caller
// drops it). Nothing is removed here: which replica owns a prepared pod
// is the caller's to know.
func (d *Driver) Prepared(ctx context.Context) ([]runtime.PoolSpec, error) {
	sel := metav1.ListOptions{LabelSelector: labelManaged + "=" + managedBy + "," + labelPool + "=true"}
	pods, err := d.pods().List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("list prepared pods: %w", err)
	}
	claims, err := d.claims().List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("list prepared claims: %w", err)
	}
	seen := map[string]bool{}
	var out []runtime.PoolSpec
	add := func(m metav1.ObjectMeta) {
		if ps, ok := poolSpecOf(m); ok && !seen[ps.ID] {
			seen[ps.ID] = true
			out = append(out, ps)
		}
	}
	for i := range pods.Items {
		add(pods.Items[i].ObjectMeta)
	}
	for i := range claims.Items {
		add(claims.Items[i].ObjectMeta)
	}
	return out, nil
}
