package kubetest

import (
	"context"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorageClass is the class whose claims the cluster satisfies with host
// directories in its data directory. k3s's own local-path provisioner is
// disabled: it runs helper pods from images no registry here can serve.
const StorageClass = "hutch-kubetest"

// provisionVolumes makes the storage class and, until ctx ends, binds
// each pending claim of that class to a new hostPath volume of its own,
// and deletes released volumes with their directories: a provisioner for
// one node, enough for the kube runtime's claims.
func (c *Cluster) provisionVolumes(ctx context.Context) error {
	bind := storagev1.VolumeBindingImmediate
	retain := corev1.PersistentVolumeReclaimRetain
	_, err := c.Client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: StorageClass},
		Provisioner:       "hutch.dev/kubetest",
		ReclaimPolicy:     &retain,
		VolumeBindingMode: &bind,
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	go func() {
		for ctx.Err() == nil {
			c.provisionOnce(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return nil
}

func (c *Cluster) provisionOnce(ctx context.Context) {
	claims, err := c.Client.CoreV1().PersistentVolumeClaims(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	hostPath := corev1.HostPathDirectoryOrCreate
	for _, pvc := range claims.Items {
		if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != StorageClass ||
			pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending {
			continue
		}
		name := "kubetest-" + string(pvc.UID)
		dir := filepath.Join(c.Dir, "volumes", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		_, _ = c.Client.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   pvc.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              StorageClass,
				ClaimRef: &corev1.ObjectReference{
					Kind: "PersistentVolumeClaim", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
				},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPath},
				},
			},
		}, metav1.CreateOptions{})
	}
	volumes, err := c.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, pv := range volumes.Items {
		if pv.Spec.StorageClassName != StorageClass || pv.Status.Phase != corev1.VolumeReleased {
			continue
		}
		if err := c.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err == nil {
			_ = os.RemoveAll(filepath.Join(c.Dir, "volumes", pv.Name))
		}
	}
}
