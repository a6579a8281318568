package main

// Annotations, labels and naming. Rules follow pulumi-kubernetes v4 provider/pkg/metadata/naming.go,
// annotations.go, labels.go and overrides.go.

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	annotationPrefix              = "pulumi.com/"
	annotationAutonamed           = annotationPrefix + "autonamed"
	annotationSkipAwait           = annotationPrefix + "skipAwait"
	annotationWaitFor             = annotationPrefix + "waitFor"
	annotationTimeoutSeconds      = annotationPrefix + "timeoutSeconds"
	annotationReplaceUnready      = annotationPrefix + "replaceUnready"
	annotationPatchForce          = annotationPrefix + "patchForce"
	annotationPatchFieldManager   = annotationPrefix + "patchFieldManager"
	annotationDeletionPropagation = annotationPrefix + "deletionPropagationPolicy"
	labelManagedBy                = "app.kubernetes.io/managed-by"
)

// metadataMap returns .metadata when it is a known map, creating it when absent and create is set.
func metadataMap(obj *unstructured.Unstructured, create bool) (map[string]any, bool) {
	raw, ok := obj.Object["metadata"]
	if !ok {
		if !create {
			return nil, false
		}
		md := map[string]any{}
		obj.Object["metadata"] = md
		return md, true
	}
	md, isMap := raw.(map[string]any)
	return md, isMap
}

// setAnnotation sets an annotation unless metadata or the annotations are unknown (annotations.go).
func setAnnotation(obj *unstructured.Unstructured, key, value string) {
	md, ok := metadataMap(obj, true)
	if !ok {
		return
	}
	raw, present := md["annotations"]
	if isComputed(raw) {
		return
	}
	annotations, isMap := raw.(map[string]any)
	if !present || !isMap {
		annotations = map[string]any{}
	}
	annotations[key] = value
	md["annotations"] = annotations
}

func annotationValue(obj *unstructured.Unstructured, key string) string {
	return obj.GetAnnotations()[key]
}

func isAnnotationTrue(obj *unstructured.Unstructured, key string) bool {
	return annotationValue(obj, key) == "true"
}

// isNamed: the object has a name, known or unknown (naming.go IsNamed).
func isNamed(obj *unstructured.Unstructured, pm resource.PropertyMap) bool {
	if md, ok := pm["metadata"]; ok && md.IsObject() {
		if name, ok := md.ObjectValue()["name"]; ok && name.IsComputed() {
			return true
		}
	}
	return obj.GetName() != ""
}

// isGenerateName: the object is named by the API server through metadata.generateName.
func isGenerateName(obj *unstructured.Unstructured, pm resource.PropertyMap) bool {
	if isNamed(obj, pm) {
		return false
	}
	if md, ok := pm["metadata"]; ok && md.IsObject() {
		if gn, ok := md.ObjectValue()["generateName"]; ok && gn.IsComputed() {
			return true
		}
	}
	return obj.GetGenerateName() != ""
}

func isAutonamed(obj *unstructured.Unstructured) bool {
	return isAnnotationTrue(obj, annotationAutonamed)
}

// assignNameIfAutonamable names an unnamed object <urn name>-<8 hex characters> derived from the
// engine's random seed, or the engine's proposed name, and marks it pulumi.com/autonamed
// (naming.go AssignNameIfAutonamable).
func assignNameIfAutonamable(randomSeed []byte, autonaming *plugin.AutonamingOptions,
	obj *unstructured.Unstructured, pm resource.PropertyMap, urn resource.URN,
) error {
	if isNamed(obj, pm) || isGenerateName(obj, pm) {
		return nil
	}
	name, err := resource.NewUniqueName(randomSeed, urn.Name()+"-", 0, 0, nil)
	if err != nil {
		return err
	}
	if autonaming != nil {
		switch autonaming.Mode {
		case plugin.AutonamingModeDisabled:
			return errors.New("autonaming is disabled, resource requires the .metadata.name field to be set")
		case plugin.AutonamingModeEnforce, plugin.AutonamingModePropose:
			if autonaming.ProposedName == "" {
				return errors.New("the engine proposed an empty name")
			}
			name = autonaming.ProposedName
		}
	}
	if _, ok := metadataMap(obj, true); !ok {
		return nil // metadata is unknown: nothing can be set in it
	}
	obj.SetName(name)
	setAnnotation(obj, annotationAutonamed, "true")
	return nil
}

// adoptOldAutonameIfUnnamed keeps a previously generated name (naming.go AdoptOldAutonameIfUnnamed).
func adoptOldAutonameIfUnnamed(newObj, oldObj *unstructured.Unstructured, pm resource.PropertyMap) {
	if !isNamed(newObj, pm) && isAutonamed(oldObj) && oldObj.GetName() != "" {
		if _, ok := metadataMap(newObj, true); !ok {
			return
		}
		newObj.SetName(oldObj.GetName())
		setAnnotation(newObj, annotationAutonamed, "true")
	}
}

// managedByValue is the value of app.kubernetes.io/managed-by (labels.go).
func managedByValue() string {
	if v, ok := os.LookupEnv("PULUMI_KUBERNETES_MANAGED_BY_LABEL"); ok {
		return v
	}
	return "pulumi"
}

// trySetManagedByLabel sets the managed-by label unless metadata or labels are unknown.
func trySetManagedByLabel(obj *unstructured.Unstructured) error {
	md, ok := metadataMap(obj, true)
	if !ok {
		if isComputed(obj.Object["metadata"]) {
			return nil
		}
		return errors.New("expected .metadata to be an object")
	}
	raw, present := md["labels"]
	if isComputed(raw) {
		return nil
	}
	labels, isMap := raw.(map[string]any)
	if present && !isMap && raw != nil {
		return errors.New("expected .metadata.labels to be an object")
	}
	if labels == nil {
		labels = map[string]any{}
	}
	labels[labelManagedBy] = managedByValue()
	md["labels"] = labels
	return nil
}

func hasManagedByLabel(obj *unstructured.Unstructured) bool {
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		return isComputed(obj.Object["metadata"])
	}
	labels, ok := md["labels"].(map[string]any)
	if !ok {
		return isComputed(md["labels"])
	}
	v := labels[labelManagedBy]
	if isComputed(v) {
		return true
	}
	s, ok := v.(string)
	return ok && s == managedByValue()
}

// timeoutDuration is the operation timeout: the resource's customTimeouts value, else the
// pulumi.com/timeoutSeconds annotation, else nil (overrides.go TimeoutDuration).
func timeoutDuration(resourceTimeoutSeconds float64, obj *unstructured.Unstructured) *time.Duration {
	if resourceTimeoutSeconds != 0 {
		d := time.Duration(resourceTimeoutSeconds) * time.Second
		return &d
	}
	if s := annotationValue(obj, annotationTimeoutSeconds); s != "" {
		if v, err := strconv.Atoi(s); err == nil {
			d := time.Duration(v) * time.Second
			return &d
		}
	}
	return nil
}

// deletionPropagation is the delete propagation policy: the pulumi.com/deletionPropagationPolicy
// annotation, else Foreground (overrides.go DeletionPropagation). For test clusters without a
// garbage collector the stand-in's default can be changed with DSO_STANDIN_DELETE_PROPAGATION.
func deletionPropagation(obj *unstructured.Unstructured) metav1.DeletionPropagation {
	policy := annotationValue(obj, annotationDeletionPropagation)
	if policy == "" {
		policy = os.Getenv(envDeletePropagation)
	}
	switch strings.ToLower(policy) {
	case "orphan":
		return metav1.DeletePropagationOrphan
	case "background":
		return metav1.DeletePropagationBackground
	default:
		return metav1.DeletePropagationForeground
	}
}

// skipAwaitAnnotation: the pulumi.com/skipAwait annotation is "true" (overrides.go SkipAwaitLogic).
func skipAwaitAnnotation(obj *unstructured.Unstructured) bool {
	return isAnnotationTrue(obj, annotationSkipAwait)
}

// skipAwait decides whether create, update and read skip the readiness awaits: the annotation, or
// the stand-in's test switch DSO_STANDIN_SKIP_AWAIT=true. Deletes follow the annotation only.
func skipAwait(obj *unstructured.Unstructured) bool {
	return skipAwaitAnnotation(obj) || os.Getenv(envSkipAwait) == "true"
}

// allowsSkipAwaitWithDelete lists the kinds whose delete skips waiting under skipAwait
// (overrides.go allowsSkipAwaitWithDelete).
func allowsSkipAwaitWithDelete(obj *unstructured.Unstructured) bool {
	gvk := gvkOf(obj)
	switch gvk.Group + "/" + gvk.Version + "/" + gvk.Kind {
	case "/v1/Namespace", "/v1/Pod", "/v1/ReplicationController",
		"apps/v1/DaemonSet", "apps/v1beta1/DaemonSet", "apps/v1beta2/DaemonSet",
		"apps/v1/Deployment", "apps/v1beta1/Deployment", "apps/v1beta2/Deployment",
		"apps/v1/StatefulSet", "apps/v1beta1/StatefulSet", "apps/v1beta2/StatefulSet",
		"batch/v1/Job":
		return true
	}
	return false
}
