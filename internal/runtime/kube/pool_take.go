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
	"github.com/hutchdev/hutch/internal/trace"
)

// errTakenElsewhere is a take that lost the prepared pod to another
// take or a drop (another replica's): the pod is left alone.
var errTakenElsewhere = fmt.Errorf("the prepared pod was taken by another: %w", errdefs.ErrConflict)

// Take implements runtime.Pooler. The steps, and what a crash between
// them leaves:
//
//  1. the user's key is cleared (what a cut-short create left) and its
//     network policy made; nothing selects it yet;
//  2. the pod is relabelled to the user's key and id, naming the
//     resourceVersion read (the commit: from here the pod is the user's,
//     and another take of it fails); a crash leaves a user's pod whose
//     boot is still held, which Recover reports stopped ("take cut
//     short") and a create again removes, with the claim below;
//  3. the claim is relabelled; until then remove finds it through the
//     pod;
//  4. the held boot gets the workload, environment, pids limit and
//     hostname, and starts init; Take returns once the agent answers.
//
// A failed take removes the prepared pod (or, after step 2, the user's
// sandbox), unless another take won the pod.
func (d *Driver) Take(ctx context.Context, ps runtime.PoolSpec, sp runtime.Spec) (err error) {
	pk, err := key(ps.ID)
	if err != nil {
		return err
	}
	uk, err := key(sp.ID)
	if err != nil {
		return err
	}
	if pk == uk {
		return errdefs.InvalidField("id", "a sandbox cannot take its own prepared id %q", sp.ID)
	}
	defer d.locks.Lock(pk)()
	defer d.locks.Lock(uk)()
	committed := false
	defer func() {
		if err == nil {
			return
		}
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
		defer cancel()
		var rerr error
		if !committed && !errors.Is(err, errTakenElsewhere) {
			rerr = d.remove(cleanup, pk)
		}
		if rerr = errors.Join(rerr, d.remove(cleanup, uk)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing what the take left: %w", rerr))
		}
	}()
	mark := trace.Steps(ctx)
	pod, err := d.takeable(ctx, ps.ID, pk, sp)
	if err != nil {
		return err
	}
	mark("take-check")
	if err := d.remove(ctx, uk); err != nil {
		return err
	}
	mark("take-clear")
	claim, err := d.claims().Get(ctx, podClaim(pod), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("take %s: its claim: %w", ps.ID, err)
	}
	if err := d.applyPolicy(ctx, uk, sp.ID, policyOf(sp), claimOn(claim)); err != nil {
		return err
	}
	mark("take-policy")
	if pod, err = d.relabelPod(ctx, pod, ps.ID, uk, sp.ID); err != nil {
		return err
	}
	committed = true
	mark("take-relabel-pod")
	if err := d.relabelClaim(ctx, claim.Name, uk, sp.ID); err != nil {
		return err
	}
	mark("take-relabel-claim")
	req, _ := json.Marshal(podinit.TakeRequest{Args: sp.Entrypoint, Env: sp.Env, Pids: sp.Pids, Hostname: hostname(uk)})
	state, err := d.control(ctx, pod, podinit.ControlTake+" "+string(req))
	if err == nil && state != podinit.StateTaken {
		err = fmt.Errorf("the held boot answered %s", state)
	}
	if err != nil {
		return fmt.Errorf("take %s: %w", ps.ID, err)
	}
	mark("take-boot")
	err = d.waitReady(ctx, pod.Name)
	mark("take-agent")
	return err
}

// takeable returns the prepared pod of pool id, running and held, after
// checking that sp can take it (the image, the disk, the CPU and memory
// its resources fixed; the pids limit is boot's to set).
func (d *Driver) takeable(ctx context.Context, id, pk string, sp runtime.Spec) (*corev1.Pod, error) {
	pod, err := d.pod(ctx, pk)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		// A prepare cut short, or a pod another take relabelled (its
		// claim not yet): only the first is to be removed.
		if claim, err := d.claim(ctx, pk); err == nil && claim != nil {
			if used, err := d.claimInUse(ctx, claim.Name); err != nil || used {
				return nil, errors.Join(errTakenElsewhere, err)
			}
		}
		return nil, fmt.Errorf("prepared sandbox %s has no pod: %w", id, errdefs.ErrNotFound)
	}
	ps, ok := poolSpecOf(pod.ObjectMeta)
	if !ok {
		return nil, fmt.Errorf("sandbox %s is not a prepared one: %w", id, errTakenElsewhere)
	}
	if sp.Image != ps.Image || (sp.DiskMB > 0 && sp.DiskMB != ps.DiskMB) || sp.CPU != ps.CPU || sp.MemoryMB != ps.MemoryMB {
		return nil, errdefs.InvalidField("image", "sandbox %s (%s, %d MB disk, %g CPU, %d MB memory) cannot take %s, prepared with %s, %d MB, %g CPU and %d MB",
			sp.ID, sp.Image, sp.DiskMB, sp.CPU, sp.MemoryMB, id, ps.Image, ps.DiskMB, ps.CPU, ps.MemoryMB)
	}
	if !podRunning(pod) || pod.DeletionTimestamp != nil || ended(pod) != "" {
		return nil, fmt.Errorf("prepared sandbox %s is not running: %w", id, errdefs.ErrConflict)
	}
	if err := d.held(ctx, pod); err != nil {
		return nil, fmt.Errorf("take %s: %w", id, err)
	}
	return pod, nil
}

// relabelPod gives the prepared pod of pool id the user's key and id,
// naming the version read: a conflict is the kubelet's status update
// (read again and retry) or another take (errTakenElsewhere).
func (d *Driver) relabelPod(ctx context.Context, pod *corev1.Pod, id, uk, userID string) (*corev1.Pod, error) {
	for {
		p := pod.DeepCopy()
		p.Labels[labelSandbox] = uk
		delete(p.Labels, labelPool)
		p.Annotations[annotationID] = userID
		out, err := d.pods().Update(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			return out, nil
		}
		if !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("relabel pod %s: %w", pod.Name, err)
		}
		if pod, err = d.podNamed(ctx, pod.Name); err != nil {
			return nil, err
		}
		if pod == nil || pod.Labels[labelPool] == "" || pod.Annotations[annotationID] != id || pod.DeletionTimestamp != nil {
			return nil, errTakenElsewhere // or dropped meanwhile
		}
	}
}

// relabelClaim gives claim name the user's key and id.
func (d *Driver) relabelClaim(ctx context.Context, name, uk, userID string) error {
	for {
		c, err := d.claims().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("relabel claim %s: %w", name, err)
		}
		c.Labels[labelSandbox] = uk
		delete(c.Labels, labelPool)
		c.Annotations[annotationID] = userID
		_, err = d.claims().Update(ctx, c, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}

// claimInUse says whether a pod of the driver's boots on claim name.
func (d *Driver) claimInUse(ctx context.Context, name string) (bool, error) {
	pods, err := d.pods().List(ctx, metav1.ListOptions{LabelSelector: labelManaged + "=" + managedBy})
	if err != nil {
		return false, err
	}
	for i := range pods.Items {
		if podClaim(&pods.Items[i]) == name {
			return true, nil
		}
	}
	return false, nil
}
