package kubedeploy

// The manifests' tests read the YAML files beside them as the kubectl of
// a cluster would: strictly decoded into client-go's types.

import (
	"bytes"
	"embed"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

//go:embed *.yaml
var files embed.FS

// Kustomization is kustomization.yaml, as far as the manifests use it.
type Kustomization struct {
	Namespace string   `json:"namespace"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
	// Replacements copy the control plane's image into the agent image
	// setting; an overlay that sets images repeats them.
	Replacements []any  `json:"replacements"`
	APIVersion   string `json:"apiVersion"`
	Kind         string `json:"kind"`
}

// ReadKustomization reads kustomization.yaml.
func ReadKustomization() (Kustomization, error) {
	var k Kustomization
	b, err := files.ReadFile("kustomization.yaml")
	if err != nil {
		return k, err
	}
	return k, yaml.UnmarshalStrict(b, &k)
}

// strict decodes typed objects and refuses unknown or duplicate fields.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// Decode parses one file of the manifests into typed objects, strictly.
func Decode(name string) ([]runtime.Object, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var out []runtime.Object
	for i, doc := range bytes.Split(b, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := strict.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", name, i+1, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

func stripComments(doc []byte) []byte {
	var keep [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			keep = append(keep, l)
		}
	}
	return bytes.Join(keep, []byte("\n"))
}

// ControlPlane returns the Deployment's hutch container.
func ControlPlane(d *appsv1.Deployment) (*corev1.Container, error) {
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "hutch" {
			return c, nil
		}
	}
	return nil, fmt.Errorf("deployment %s has no container named hutch", d.Name)
}
