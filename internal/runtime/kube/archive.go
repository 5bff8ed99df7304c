package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/podinit"
	"github.com/hutchdev/hutch/internal/runtime"
)

var _ runtime.Archiver = (*Driver)(nil)

const (
	// containerFiles is the one container of a files pod: the agent
	// image's hutch serving the claim's files (hutch agent --listen).
	containerFiles = "files"
	// filesDir is where a files pod mounts the claim.
	filesDir = "/claim"
	// labelFiles marks a files pod, with the key of its sandbox. It
	// carries no annotationID, so Watch never takes it for a sandbox.
	labelFiles = "hutch.dev/files"
	// annotationDiscarded, on the network policy of a sandbox whose claim
	// Discard removed, is that claim's size: the sandbox is still there
	// (stopped, its files in the archive store) and Import makes the
	// claim again at that size.
	annotationDiscarded = "hutch.dev/discarded-claim-size"
)

func filesPodName(k string) string { return objectName(k) + "-files" }

// Export implements runtime.Archiver: the stopped sandbox's whole root
// filesystem (on a pod its claim holds all of it, not a layer) as a tar
// stream, its entries under "root", owners as they are on the claim.
// A files pod mounts the claim meanwhile and is removed afterwards.
func (d *Driver) Export(ctx context.Context, id string, w io.Writer) error {
	k, unlock, err := d.lockStopped(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	claim, err := d.claim(ctx, k)
	if err != nil {
		return err
	}
	if claim == nil {
		return fmt.Errorf("sandbox %s has no claim to export: %w", id, errdefs.ErrNotFound)
	}
	return d.withFiles(ctx, k, claim.Name, func(pod *corev1.Pod) error {
		q := url.Values{"path": {filesDir + "/root"}, "name": {"root"}}
		resp, err := d.filesCall(ctx, pod, "GET", "/files/archive?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("export %s: %w", id, err)
		}
		return nil
	})
}

// Discard implements runtime.Archiver: the claim goes, and the network
// policy, which stays until Delete, records its size for Import.
func (d *Driver) Discard(ctx context.Context, id string) error {
	k, unlock, err := d.lockStopped(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	claim, err := d.claim(ctx, k)
	if err != nil || claim == nil {
		return err // nil: discarded already
	}
	np, err := d.policies().Get(ctx, objectName(k), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("discard %s: its network policy: %w", id, err)
	}
	if np.Annotations == nil {
		np.Annotations = map[string]string{}
	}
	size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	np.Annotations[annotationDiscarded] = size.String()
	np.Annotations[annotationUIDBase] = strconv.Itoa(claimOn(claim).base)
	if _, err := d.policies().Update(ctx, np, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("discard %s: %w", id, err)
	}
	return d.deleteClaim(ctx, k)
}

// Import implements runtime.Archiver: a fresh claim (the size the
// discarded one had, or the present one's) receives the stream Export
// wrote, marked seeded so that the next boot keeps it. An import that
// fails removes its claim, so that a start cannot boot a half-filled one
// (nor seed it afresh from the image over the user's files).
func (d *Driver) Import(ctx context.Context, id string, r io.Reader) error {
	k, unlock, err := d.lockStopped(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	// The claim's size and its files' uid base: the present claim's, or
	// what Discard kept on the network policy; else the smallest and the
	// key's.
	old, err := d.claim(ctx, k)
	if err != nil {
		return err
	}
	on, size := newClaim(k), resource.Quantity{}
	if old != nil {
		on, size = claimOn(old), old.Spec.Resources.Requests[corev1.ResourceStorage]
	} else if np, err := d.policies().Get(ctx, objectName(k), metav1.GetOptions{}); err == nil {
		size, _ = resource.ParseQuantity(np.Annotations[annotationDiscarded])
		if b, err := strconv.Atoi(np.Annotations[annotationUIDBase]); err == nil && b > 0 {
			on.base = b
		}
	}
	claim := d.claimFor(k, id, 0, on)
	if !size.IsZero() {
		claim.Spec.Resources.Requests[corev1.ResourceStorage] = size
	}
	if err := d.deleteClaim(ctx, k); err != nil {
		return err
	}
	if _, err := d.claims().Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("import %s: create claim: %w", id, err)
	}
	err = d.withFiles(ctx, k, on.name, func(pod *corev1.Pod) error {
		resp, err := d.filesCall(ctx, pod, "PUT", "/files/archive?"+url.Values{"path": {filesDir}}.Encode(), r)
		if err != nil {
			return err
		}
		resp.Body.Close()
		marker := url.Values{"path": {filesDir + "/" + podinit.SeededMarker}, "mode": {"0600"}}.Encode()
		resp, err = d.filesCall(ctx, pod, "PUT", "/files?"+marker, http.NoBody)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	if err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
		defer cancel()
		return errors.Join(fmt.Errorf("import %s: %w", id, err), d.deleteClaim(cleanup, k))
	}
	return nil
}

// lockStopped locks sandbox id's key and returns it, refusing a sandbox
// whose pod is there.
func (d *Driver) lockStopped(ctx context.Context, id string) (k string, unlock func(), err error) {
	if k, err = key(id); err != nil {
		return "", nil, err
	}
	unlock = d.locks.Lock(k)
	pod, err := d.pod(ctx, k)
	if err == nil && pod != nil {
		err = fmt.Errorf("sandbox %s is not stopped: %w", id, errdefs.ErrConflict)
	}
	if err != nil {
		unlock()
		return "", nil, err
	}
	return k, unlock, nil
}

// discarded says whether the sandbox's claim went to the archive store
// (its network policy says so).
func (d *Driver) discarded(ctx context.Context, k string) (bool, error) {
	np, err := d.policies().Get(ctx, objectName(k), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return np.Annotations[annotationDiscarded] != "", nil
}

// deleteClaim removes the sandbox's claim and waits until it is gone.
func (d *Driver) deleteClaim(ctx context.Context, k string) error {
	c, err := d.claim(ctx, k)
	if err != nil || c == nil {
		return err
	}
	return d.deleteClaimNamed(ctx, c.Name)
}

// deleteClaimNamed removes claim name and waits until it is gone.
func (d *Driver) deleteClaimNamed(ctx context.Context, name string) error {
	if err := d.claims().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete claim: %w", err)
	}
	return d.wait(ctx, "the claim to go", func() (bool, error) {
		_, err := d.claims().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// withFiles runs fn with a files pod on the sandbox's claim (named
// claim), made for it (a stale one from a replica that died is replaced)
// and removed after.
func (d *Driver) withFiles(ctx context.Context, k, claim string, fn func(*corev1.Pod) error) error {
	if err := d.dropFilesPod(ctx, k); err != nil {
		return err
	}
	defer func() {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyTimeout)
		defer cancel()
		_ = d.dropFilesPod(cleanup, k)
	}()
	if _, err := d.pods().Create(ctx, d.filesPodFor(k, claim, newToken()), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create files pod: %w", err)
	}
	if err := d.waitReady(ctx, filesPodName(k)); err != nil {
		return err
	}
	pod, err := d.podNamed(ctx, filesPodName(k))
	if err != nil {
		return err
	}
	if pod == nil {
		return errors.New("the files pod disappeared")
	}
	return fn(pod)
}

// dropFilesPod deletes the sandbox's files pod, if any, and waits until
// it is gone.
func (d *Driver) dropFilesPod(ctx context.Context, k string) error {
	name := filesPodName(k)
	grace := int64(1)
	if err := d.pods().Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete files pod: %w", err)
	}
	return d.wait(ctx, "the files pod to go", func() (bool, error) {
		pod, err := d.podNamed(ctx, name)
		return pod == nil && err == nil, err
	})
}

// filesPodFor is the pod that serves a stopped sandbox's claim: the
// agent image's hutch as the agent on the agent's port, behind a token
// of its own, as root with only the capabilities that keep owners and
// modes (the claim's files belong to the sandbox's shifted ids).
func (d *Driver) filesPodFor(k, claim, token string) *corev1.Pod {
	no, root, grace := false, int64(0), int64(1)
	pull := corev1.PullPolicy(d.cfg.PullPolicy)
	if pull == "" {
		pull = corev1.PullIfNotPresent
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: filesPodName(k), Namespace: d.cfg.Namespace,
			Labels: map[string]string{labelManaged: managedBy, labelFiles: k}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: containerFiles, Image: d.cfg.AgentImage, ImagePullPolicy: pull,
				Command:                  []string{"/hutch", "agent", "--listen", ":" + strconv.Itoa(d.cfg.AgentPort)},
				Env:                      []corev1.EnvVar{{Name: protocol.TokenEnv, Value: token}},
				VolumeMounts:             []corev1.VolumeMount{{Name: volumeClaim, MountPath: filesDir}},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					RunAsUser: &root, RunAsNonRoot: &no, AllowPrivilegeEscalation: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"},
						Add: []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID"}},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: volumeClaim, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}},
			},
		},
	}
}

// filesCall sends one request to a files pod's agent and returns its
// answer, whose body closes the connection; an answer other than 200 is
// an error with the agent's message.
func (d *Driver) filesCall(ctx context.Context, pod *corev1.Pod, method, path string, body io.Reader) (*http.Response, error) {
	c, err := d.dialPod(ctx, pod)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, method, "http://agent"+path, body)
	req.Header.Set(protocol.HeaderVersion, strconv.Itoa(protocol.Version()))
	if body != nil && body != http.NoBody {
		req.ContentLength = -1 // streamed, chunked
	}
	resp, err := send(ctx, c, req)
	if err != nil {
		return nil, fmt.Errorf("%s %s on the files pod: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s %s on the files pod: %s: %s", method, req.URL.Path, resp.Status, msg)
	}
	return resp, nil
}
