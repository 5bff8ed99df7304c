package kube

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hutchdev/hutch/internal/agent/protocol"
	"github.com/hutchdev/hutch/internal/podinit"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Container names in a sandbox's pod.
const (
	containerInstall = "hutch-install"
	containerSeed    = "hutch-seed"
	containerSandbox = "sandbox"
)

const volumeClaim = "files"

// minDiskMB is the claim's size when the spec asks for none.
const minDiskMB = 64

// claimFor is the sandbox's PersistentVolumeClaim: the copy of its
// image's root and everything it writes.
func (d *Driver) claimFor(k, id string, diskMB int64, on onClaim) *corev1.PersistentVolumeClaim {
	meta := d.meta(k, id)
	meta.Name = on.name
	meta.Annotations[annotationUIDBase] = strconv.Itoa(on.base)
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: *resource.NewQuantity(max(diskMB, minDiskMB)<<20, resource.BinarySI)},
			},
		},
	}
	if d.cfg.StorageClass != "" {
		class := d.cfg.StorageClass
		c.Spec.StorageClassName = &class
	}
	return c
}

func (d *Driver) meta(k, id string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        objectName(k),
		Namespace:   d.cfg.Namespace,
		Labels:      labels(k),
		Annotations: map[string]string{annotationID: id},
	}
}

// podFor is the sandbox's pod: the agent image's init container copies
// the hutch binary onto the claim, the user's image's init container
// copies that image's root onto the claim (first boot only), and the
// sandbox container boots from the claim's copy (podinit). A held pod's
// boot waits for a take before it starts init (pool.go).
func (d *Driver) podFor(k string, sp runtime.Spec, token string, on onClaim, held bool) *corev1.Pod {
	no := false
	grace := int64(math.Ceil(d.cfg.StopGrace.Seconds()))
	pull := corev1.PullPolicy(d.cfg.PullPolicy)
	if pull == "" {
		pull = corev1.PullIfNotPresent
	}
	// The binary is kept on the claim beside the root (out of the
	// sandbox's reach) rather than on an emptyDir: under load the
	// kubelet's housekeeping removed a new pod's still empty emptyDir
	// before the copy, which then failed with ENOENT.
	binRO := corev1.VolumeMount{Name: volumeClaim, MountPath: podinit.BinDir, SubPath: podinit.BinSubPath, ReadOnly: true}
	claim := corev1.VolumeMount{Name: volumeClaim, MountPath: podinit.ClaimDir}
	hutch := podinit.BinDir + "/hutch"

	base := strconv.Itoa(on.base)
	boot := []string{hutch, "kube", "boot", podinit.ClaimDir, "--agent-port", strconv.Itoa(d.cfg.AgentPort), "--control-port", strconv.Itoa(d.cfg.ControlPort), "--uid-base", base}
	if sp.Pids > 0 && !held {
		boot = append(boot, "--pids", strconv.FormatInt(sp.Pids, 10))
	}
	if held {
		boot = append(boot, "--held")
	}
	boot = append(append(boot, "--"), sp.Entrypoint...)

	env := []corev1.EnvVar{{Name: protocol.TokenEnv, Value: token}}
	for _, name := range slices.Sorted(maps.Keys(sp.Env)) {
		env = append(env, corev1.EnvVar{Name: name, Value: sp.Env[name]})
	}
	img := d.imageOf(sp.Image)
	add := make([]corev1.Capability, 0, len(podinit.BootCapabilities))
	for _, c := range podinit.BootCapabilities {
		add = append(add, corev1.Capability(c))
	}
	return &corev1.Pod{
		ObjectMeta: d.meta(k, sp.ID),
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			Hostname:                      hostname(k),
			TerminationGracePeriodSeconds: &grace,
			InitContainers: []corev1.Container{
				{
					Name: containerInstall, Image: d.cfg.AgentImage, ImagePullPolicy: pull,
					Command:                  []string{"/hutch", "kube", "install", podinit.ClaimDir + "/" + podinit.BinSubPath + "/hutch"},
					VolumeMounts:             []corev1.VolumeMount{claim},
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				},
				{
					Name: containerSeed, Image: img, ImagePullPolicy: pull,
					Command:                  []string{hutch, "kube", "seed", podinit.ClaimDir, "--uid-base", base},
					VolumeMounts:             []corev1.VolumeMount{binRO, claim},
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				},
			},
			Containers: []corev1.Container{{
				Name: containerSandbox, Image: img, ImagePullPolicy: pull,
				Command:                  boot,
				Env:                      env,
				Resources:                d.resources(sp),
				VolumeMounts:             []corev1.VolumeMount{binRO, claim},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					Capabilities:   &corev1.Capabilities{Add: add},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: volumeClaim, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: on.name}}},
			},
		},
	}
}

// uidBase is the host uid (and gid) of the sandbox's root: a range of
// podinit.IDMapSize ids of its own, picked by the key's hash among 32000
// ranges above the first million, so that sandboxes on one node rarely
// share one (the claim's files are owned by it, so it never changes).
func uidBase(k string) int {
	sum := sha256.Sum256([]byte(k))
	return podinit.IDMapSize * (16 + int(binary.BigEndian.Uint32(sum[:4])%32000))
}

// hostname is the pod's hostname: the key, at most a DNS label long.
func hostname(k string) string {
	if len(k) > 63 {
		k = strings.TrimRight(k[:63], "-")
	}
	return k
}

// resources are the sandbox's limits; its requests are the limits
// divided by the overcommit.
func (d *Driver) resources(sp runtime.Spec) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}
	if sp.CPU > 0 {
		m := int64(math.Ceil(sp.CPU * 1000))
		r.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(m, resource.DecimalSI)
		r.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(max(1, int64(float64(m)/d.cfg.Overcommit)), resource.DecimalSI)
	}
	if sp.MemoryMB > 0 {
		b := sp.MemoryMB << 20
		r.Limits[corev1.ResourceMemory] = *resource.NewQuantity(b, resource.BinarySI)
		r.Requests[corev1.ResourceMemory] = *resource.NewQuantity(max(1<<20, int64(float64(b)/d.cfg.Overcommit)), resource.BinarySI)
	}
	return r
}
