package kube

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/podinit"
	"github.com/hutchdev/hutch/internal/runtime"
)

// pollEvery spaces the driver's reads while it waits for the cluster.
const pollEvery = 100 * time.Millisecond

// Create makes the sandbox's claim, network policy and pod, and returns
// once its agent answers. What a create cut short left is removed first;
// a failed create removes what it made.
func (d *Driver) Create(ctx context.Context, sp runtime.Spec) error {
	return d.afresh(ctx, sp.ID, "create", func(k string) error { return d.create(ctx, k, sp) })
}

// afresh runs step (build) under id's key, locked, after removing what an
// earlier one cut short left there, and removes what a failed one made.
func (d *Driver) afresh(ctx context.Context, id, step string, build func(k string) error) error {
	k, err := key(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(k)()
	if err := d.remove(ctx, k); err != nil {
		return err
	}
	return d.undoFailed(ctx, k, step, build(k))
}

// undoFailed removes what the failed step (err) made under key k, even
// when ctx has ended, and returns err with any failure to.
func (d *Driver) undoFailed(ctx context.Context, k, step string, err error) error {
	if err == nil {
		return nil
	}
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
	defer cancel()
	if rerr := d.remove(cleanup, k); rerr != nil {
		err = errors.Join(err, fmt.Errorf("removing what the %s made: %w", step, rerr))
	}
	return err
}

func (d *Driver) create(ctx context.Context, k string, sp runtime.Spec) error {
	on := newClaim(k)
	if _, err := d.claims().Create(ctx, d.claimFor(k, sp.ID, sp.DiskMB, on), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create claim: %w", err)
	}
	if err := d.applyPolicy(ctx, k, sp.ID, policyOf(sp), on); err != nil {
		return err
	}
	return d.boot(ctx, k, sp, on)
}

// boot creates the pod on claim on and waits until its agent answers.
func (d *Driver) boot(ctx context.Context, k string, sp runtime.Spec, on onClaim) error {
	pod, err := d.pods().Create(ctx, d.podFor(k, sp, newToken(), on, false), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod: %w", err)
	}
	return d.waitReady(ctx, pod.Name)
}

// Start boots a stopped sandbox again on its claim, which must exist. A
// pod whose processes ended (a crash, a kill from outside) is replaced.
func (d *Driver) Start(ctx context.Context, sp runtime.Spec) error {
	k, err := key(sp.ID)
	if err != nil {
		return err
	}
	defer d.locks.Lock(k)()
	claim, err := d.claim(ctx, k)
	if err != nil {
		return err
	}
	if claim == nil {
		return fmt.Errorf("sandbox %s has no claim: %w", sp.ID, errdefs.ErrNotFound)
	}
	pod, err := d.pod(ctx, k)
	if err != nil {
		return err
	}
	if pod != nil && podRunning(pod) && pod.DeletionTimestamp == nil {
		if state, err := d.bootState(ctx, pod); err == nil && state != podinit.StateHeld {
			return nil // already running
		}
	}
	if err := d.stopPod(ctx, k, pod, 0); err != nil {
		return err
	}
	on := claimOn(claim)
	if err := d.applyPolicy(ctx, k, sp.ID, policyOf(sp), on); err != nil {
		return err
	}
	if err := d.boot(ctx, k, sp, on); err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
		defer cancel()
		return errors.Join(err, d.stop(cleanup, k, 0))
	}
	return nil
}

// Stop deletes the pod (its processes get SIGTERM, then SIGKILL after
// grace) and waits until the kubelet has ended them; the claim stays.
func (d *Driver) Stop(ctx context.Context, id string, grace time.Duration) error {
	k, err := key(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(k)()
	return d.stop(ctx, k, grace)
}

func (d *Driver) stop(ctx context.Context, k string, grace time.Duration) error {
	pod, err := d.pod(ctx, k)
	if err != nil {
		return err
	}
	return d.stopPod(ctx, k, pod, grace)
}

// stopPod deletes key k's pod, as read by the caller (nil: none), and
// waits until it is gone.
func (d *Driver) stopPod(ctx context.Context, k string, pod *corev1.Pod, grace time.Duration) error {
	if pod == nil {
		return nil
	}
	// Frozen processes cannot die: boot thaws the sandbox when the
	// kubelet's termination signal comes, before passing it on.
	// A grace of 0 would be a forced deletion: the API object goes at
	// once, before the kubelet has killed anything.
	secs := max(1, int64(math.Ceil(grace.Seconds())))
	uid := pod.UID
	err := d.pods().Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &secs, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod: %w", err)
	}
	return d.waitPodGone(ctx, k)
}

// Delete removes the pod, the network policy and the claim.
func (d *Driver) Delete(ctx context.Context, id string) error {
	k, err := key(id)
	if err != nil {
		return err
	}
	defer d.locks.Lock(k)()
	return d.remove(ctx, k)
}

// remove deletes everything of key k: pod, files pod, network policy
// and claim, and the pool's claim its pod boots on when a take was cut
// short before it relabelled the claim.
func (d *Driver) remove(ctx context.Context, k string) error {
	pod, err := d.pod(ctx, k)
	if err != nil {
		return err
	}
	if err := d.stopPod(ctx, k, pod, 0); err != nil {
		return err
	}
	if err := d.dropFilesPod(ctx, k); err != nil {
		return err
	}
	if err := d.policies().Delete(ctx, objectName(k), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete network policy: %w", err)
	}
	if err := d.deleteClaim(ctx, k); err != nil {
		return err
	}
	d.podNames.Delete(k)
	if pod == nil || pod.Labels[labelPool] != "" {
		return nil
	}
	c, err := d.claims().Get(ctx, podClaim(pod), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Labels[labelPool] == "" {
		return nil // another sandbox's (never: a pod boots on its own claim)
	}
	return d.deleteClaimNamed(ctx, c.Name)
}

// Recover reads the pod: running (or paused, by its freezer), stopped
// (no pod but the claim, or a pod whose sandbox container ended, with the
// reason) or missing.
func (d *Driver) Recover(ctx context.Context, id string) (runtime.Status, error) {
	k, err := key(id)
	if err != nil {
		return runtime.Status{}, err
	}
	pod, err := d.pod(ctx, k)
	if err != nil {
		return runtime.Status{}, err
	}
	if pod == nil {
		if claim, err := d.claim(ctx, k); err != nil || claim == nil {
			if err != nil {
				return runtime.Status{}, err
			}
			// Without its claim a sandbox is stopped only when Discard
			// sent the claim to the archive store.
			if gone, err := d.discarded(ctx, k); err != nil || !gone {
				return runtime.Status{State: runtime.StateMissing}, err
			}
		}
		return runtime.Status{State: runtime.StateStopped}, nil
	}
	if reason := ended(pod); reason != "" {
		return runtime.Status{State: runtime.StateStopped, Reason: reason}, nil
	}
	if pod.DeletionTimestamp != nil {
		return runtime.Status{State: runtime.StateStopped, Reason: "pod being deleted"}, nil
	}
	switch state, err := d.bootState(ctx, pod); {
	case err != nil:
		return runtime.Status{}, err
	case state == podinit.StateFrozen:
		return runtime.Status{State: runtime.StatePaused}, nil
	case state == podinit.StateHeld:
		// A prepared pod relabelled by a take that was cut short
		// before it sent the workload: nothing of the user's runs.
		return runtime.Status{State: runtime.StateStopped, Reason: "its take from the warm pool was cut short"}, nil
	}
	return runtime.Status{State: runtime.StateRunning}, nil
}

// ended says why the pod's sandbox container (or the boot before it)
// ended; "" while it runs or is still booting.
func ended(pod *corev1.Pod) string {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && (cs.Name == containerSandbox || cs.Name == containerFiles || t.ExitCode != 0) {
				return fmt.Sprintf("%s exited with status %d (%s)", cs.Name, t.ExitCode, t.Reason)
			}
		}
	}
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		return fmt.Sprintf("pod %s: %s", pod.Status.Phase, pod.Status.Reason)
	}
	return ""
}

func podRunning(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == containerSandbox || cs.Name == containerFiles {
			return cs.State.Running != nil
		}
	}
	return false
}

// waitReady waits until pod name runs and its agent answers, failing at
// once when the pod ends.
func (d *Driver) waitReady(ctx context.Context, name string) error {
	return d.waitBoot(ctx, name, d.healthz)
}

// waitBoot waits until pod name runs and ready says it is, failing at
// once when the pod ends.
func (d *Driver) waitBoot(ctx context.Context, name string, ready func(context.Context, *corev1.Pod) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	var last error
	var nudge nudger
	err := d.wait(ctx, "the agent of pod "+name, func() (bool, error) {
		pod, err := d.podNamed(ctx, name)
		if err != nil {
			return false, err
		}
		if pod == nil {
			return false, errors.New("the pod disappeared")
		}
		if reason := ended(pod); reason != "" {
			return false, fmt.Errorf("the sandbox did not boot: %s%s", reason, message(pod))
		}
		if reason := stuck(pod); reason != "" {
			return false, fmt.Errorf("the sandbox cannot boot: %s", reason)
		}
		nudge.nudge(ctx, d, pod)
		if !podRunning(pod) {
			last = fmt.Errorf("pod %s%s", pod.Status.Phase, waiting(pod))
			return false, nil
		}
		last = ready(ctx, pod)
		return last == nil, nil
	})
	if err != nil && last != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (last: %v)", err, last)
	}
	return err
}

// stuckReasons are the reasons a container waits for something only a
// new spec (or an operator) changes: its image cannot be had (a pull
// failed and backs off, a pull is forbidden, the name is wrong) or its
// container cannot be made.
var stuckReasons = map[string]bool{
	"ErrImageNeverPull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true,
}

// stuck says why the pod will not boot without help; "" while it may.
func stuck(pod *corev1.Pod) string {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && stuckReasons[w.Reason] {
				return fmt.Sprintf("%s (%s): %s: %s", cs.Name, cs.Image, w.Reason, w.Message)
			}
		}
	}
	return ""
}

// waiting says what a pending pod waits for (unscheduled, a container
// waiting), for errors.
func waiting(pod *corev1.Pod) string {
	var parts []string
	for _, c := range pod.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			parts = append(parts, string(c.Type)+": "+c.Message)
		}
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				parts = append(parts, cs.Name+" waiting: "+w.Reason+" "+w.Message)
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// message is the termination message of the pod's failed container.
func message(pod *corev1.Pod) string {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && t.Message != "" {
				return ": " + t.Message
			}
		}
	}
	return ""
}

func (d *Driver) waitPodGone(ctx context.Context, k string) error {
	return d.wait(ctx, "the pod to go", func() (bool, error) {
		pod, err := d.pod(ctx, k)
		return pod == nil && err == nil, err
	})
}

// wait polls cond until it holds, fails, or ctx ends.
func (d *Driver) wait(ctx context.Context, what string, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// podNamed returns pod name, nil when there is none.
func (d *Driver) podNamed(ctx context.Context, name string) (*corev1.Pod, error) {
	pod, err := d.pods().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get pod: %w", err)
	}
	return pod, nil
}

func policyOf(sp runtime.Spec) runtime.NetworkPolicy {
	return runtime.NetworkPolicy{Internet: sp.Internet, AllowCIDRs: sp.AllowCIDRs, DenyCIDRs: sp.DenyCIDRs}
}

// applyPolicy creates or replaces the sandbox's network policy, which
// also keeps the uid base of its claim's files (for an import after a
// discard).
func (d *Driver) applyPolicy(ctx context.Context, k, id string, p runtime.NetworkPolicy, on onClaim) error {
	np, err := d.policyFor(k, id, p)
	if err != nil {
		return err
	}
	np.Annotations[annotationUIDBase] = strconv.Itoa(on.base)
	_, err = d.policies().Create(ctx, np, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		old, gerr := d.policies().Get(ctx, np.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		np.ResourceVersion = old.ResourceVersion
		_, err = d.policies().Update(ctx, np, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("network policy: %w", err)
	}
	return nil
}
