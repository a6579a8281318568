package main

// Conversions between Pulumi property maps and Kubernetes objects, input normalisation, live-state
// pruning and the "checkpoint object" the provider stores as a resource's state.
//
// Rules follow pulumi-kubernetes v4 provider/pkg/provider/provider.go (propMapToUnstructured,
// normalizeInputs, pruneLiveState, checkpointObject, parseCheckpointObject, annotateSecrets),
// provider/pkg/provider/util.go (pruneMap, pruneSlice, hasComputedValue, fqName) and
// provider/pkg/clients/unstructured.go (Normalize). The code here is written for this stand-in.

import (
	"encoding/base64"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kscheme "k8s.io/client-go/kubernetes/scheme"
)

const (
	// Keys of the checkpoint object (provider.go).
	inputsKey            = "__inputs"
	initialAPIVersionKey = "__initialApiVersion"
	fieldManagerKey      = "__fieldManager"
	lastAppliedConfigKey = "kubectl.kubernetes.io/last-applied-configuration"
	secretKind           = "Secret"
)

// underscoreToDash maps the Pulumi property names of CRD schema extensions to their Kubernetes
// spelling (provider.go underscoreToDashMap).
var underscoreToDash = map[string]string{
	"x_kubernetes_embedded_resource":       "x-kubernetes-embedded-resource",
	"x_kubernetes_int_or_string":           "x-kubernetes-int-or-string",
	"x_kubernetes_list_map_keys":           "x-kubernetes-list-map-keys",
	"x_kubernetes_list_type":               "x-kubernetes-list-type",
	"x_kubernetes_map_type":                "x-kubernetes-map-type",
	"x_kubernetes_preserve_unknown_fields": "x-kubernetes-preserve-unknown-fields",
	"x_kubernetes_validations":             "x-kubernetes-validations",
}

var dashToUnderscore = func() map[string]string {
	m := make(map[string]string, len(underscoreToDash))
	for k, v := range underscoreToDash {
		m[v] = k
	}
	return m
}()

func replUnderscoreToDash(k string) (string, bool) {
	v, ok := underscoreToDash[k]
	return v, ok
}

func replDashToUnderscore(k string) (resource.PropertyKey, bool) {
	v, ok := dashToUnderscore[k]
	return resource.PropertyKey(v), ok
}

// stripSecrets unwraps secret values (their secretness is re-applied to outputs by annotateSecrets).
func stripSecrets(v resource.PropertyValue) (any, bool) {
	if v.IsSecret() {
		return v.SecretValue().Element.MapRepl(nil, stripSecrets), true
	}
	return nil, false
}

// toObject turns a property map into a Kubernetes object. Unknown values stay as resource.Computed
// values inside the object, as upstream's propMapToUnstructured leaves them.
func toObject(pm resource.PropertyMap) *unstructured.Unstructured {
	if pm == nil {
		return &unstructured.Unstructured{Object: map[string]any{}}
	}
	return &unstructured.Unstructured{Object: pm.MapRepl(replUnderscoreToDash, stripSecrets)}
}

// toPropertyMap turns a Kubernetes object into a property map.
func toPropertyMap(obj map[string]any) resource.PropertyMap {
	return resource.NewPropertyMapFromMapRepl(obj, replDashToUnderscore, nil)
}

// isComputed reports whether v is an unknown value.
func isComputed(v any) bool {
	_, ok := v.(resource.Computed)
	return ok
}

// hasComputedValue reports whether any value in the object is unknown (util.go hasComputedValue).
func hasComputedValue(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case resource.Computed:
			return true
		case map[string]any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(obj.Object)
}

// fqName is "namespace/name", or "name" for cluster-scoped objects (util.go).
func fqName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

func fqObjName(obj *unstructured.Unstructured) string {
	return fqName(obj.GetNamespace(), obj.GetName())
}

// parseFqName splits an ID into namespace and name (util.go parseFqName).
func parseFqName(id string) (namespace, name string) {
	parts := strings.Split(id, "/")
	if len(parts) == 1 {
		return "", parts[0]
	}
	return parts[0], parts[1]
}

// gvkOf returns the group/version/kind of an object's apiVersion and kind ("core" is the legacy group).
func gvkOf(obj *unstructured.Unstructured) schema.GroupVersionKind {
	gvk := obj.GroupVersionKind()
	if gvk.Group == "core" {
		gvk.Group = ""
	}
	return gvk
}

// --------------------------------------------------------------------------------------------
// Live-state pruning (util.go pruneMap / pruneSlice).
// --------------------------------------------------------------------------------------------

// pruneMap copies from source only the keys that target also has, recursing into maps and lists of
// the same type, so that live state can be compared with the inputs that produced it.
func pruneMap(source, target map[string]any) map[string]any {
	if source == nil || target == nil {
		return nil
	}
	out := make(map[string]any)
	for key, value := range source {
		tv, ok := target[key]
		if !ok {
			continue
		}
		st, tt := reflect.TypeOf(value), reflect.TypeOf(tv)
		if st == nil || tt == nil || st != tt {
			out[key] = value
			continue
		}
		switch v := value.(type) {
		case map[string]any:
			out[key] = pruneMap(v, tv.(map[string]any))
		case []any:
			out[key] = pruneSlice(v, tv.([]any))
		default:
			out[key] = value
		}
	}
	return out
}

func pruneSlice(source, target []any) []any {
	if source == nil || target == nil {
		return nil
	}
	out := make([]any, 0, len(target))
	if len(source) == 0 || len(target) == 0 {
		return out
	}
	if reflect.TypeOf(source[0]) != reflect.TypeOf(target[0]) {
		return deepCopyValue(source).([]any)
	}
	for i, tv := range target {
		if i >= len(source) {
			break
		}
		sv := source[i]
		if sv == nil || tv == nil {
			out = append(out, sv)
			continue
		}
		switch v := sv.(type) {
		case map[string]any:
			if tm, ok := tv.(map[string]any); ok {
				if pruned := pruneMap(v, tm); pruned != nil {
					out = append(out, pruned)
				}
			} else {
				out = append(out, sv)
			}
		case []any:
			if ta, ok := tv.([]any); ok {
				if pruned := pruneSlice(v, ta); pruned != nil {
					out = append(out, pruned)
				}
			} else {
				out = append(out, sv)
			}
		default:
			out = append(out, sv)
		}
	}
	return out
}

// deepCopyValue copies maps and lists; leaves are shared.
func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopyValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopyValue(e)
		}
		return s
	default:
		return t
	}
}

func pruneLiveState(live, inputs *unstructured.Unstructured) *unstructured.Unstructured {
	pruned := pruneMap(live.Object, inputs.Object)
	if pruned == nil {
		pruned = map[string]any{}
	}
	return &unstructured.Unstructured{Object: pruned}
}

// --------------------------------------------------------------------------------------------
// Normalisation (provider.go normalizeInputs, clients/unstructured.go Normalize).
// --------------------------------------------------------------------------------------------

// knownGroupVersions are the built-in API group versions (kinds/kinds.go KnownGroupVersions). Objects of
// other group versions (custom resources) are not normalised.
var knownGroupVersions = map[string]bool{}

func init() {
	for _, gv := range []string{
		"admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1alpha1", "admissionregistration.k8s.io/v1beta1",
		"apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1", "apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1",
		"apps/v1", "apps/v1beta1", "apps/v1beta2", "auditregistration.k8s.io/v1alpha1",
		"autoscaling/v1", "autoscaling/v2", "autoscaling/v2beta1", "autoscaling/v2beta2",
		"batch/v1", "batch/v1beta1", "batch/v2alpha1",
		"certificates.k8s.io/v1", "certificates.k8s.io/v1alpha1", "certificates.k8s.io/v1beta1",
		"coordination.k8s.io/v1", "coordination.k8s.io/v1alpha1", "coordination.k8s.io/v1alpha2", "coordination.k8s.io/v1beta1",
		"core/v1", "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1", "events.k8s.io/v1", "events.k8s.io/v1beta1",
		"extensions/v1beta1",
		"flowcontrol.apiserver.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1alpha1", "flowcontrol.apiserver.k8s.io/v1beta1",
		"flowcontrol.apiserver.k8s.io/v1beta2", "flowcontrol.apiserver.k8s.io/v1beta3",
		"meta/v1", "networking.k8s.io/v1", "networking.k8s.io/v1alpha1", "networking.k8s.io/v1beta1",
		"node.k8s.io/v1", "node.k8s.io/v1alpha1", "node.k8s.io/v1beta1", "policy/v1", "policy/v1beta1",
		"rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1alpha1", "rbac.authorization.k8s.io/v1beta1",
		"resource.k8s.io/v1", "resource.k8s.io/v1alpha1", "resource.k8s.io/v1alpha2", "resource.k8s.io/v1alpha3",
		"resource.k8s.io/v1beta1", "resource.k8s.io/v1beta2",
		"scheduling.k8s.io/v1", "scheduling.k8s.io/v1alpha1", "scheduling.k8s.io/v1alpha2", "scheduling.k8s.io/v1beta1",
		"settings.k8s.io/v1alpha1", "storage.k8s.io/v1", "storage.k8s.io/v1alpha1", "storage.k8s.io/v1beta1",
		"storagemigration.k8s.io/v1alpha1", "storagemigration.k8s.io/v1beta1", "v1",
	} {
		knownGroupVersions[gv] = true
	}
}

func isCRD(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(obj.GetAPIVersion(), "apiextensions.k8s.io/")
}

func isCoreKind(obj *unstructured.Unstructured, kind string) bool {
	gvk := obj.GroupVersionKind()
	return (gvk.Group == "" || gvk.Group == "core") && gvk.Kind == kind
}

func isSecret(obj *unstructured.Unstructured) bool    { return isCoreKind(obj, "Secret") }
func isConfigMap(obj *unstructured.Unstructured) bool { return isCoreKind(obj, "ConfigMap") }

func isImmutable(obj *unstructured.Unstructured) bool {
	v, _, _ := unstructured.NestedBool(obj.Object, "immutable")
	return v
}

// normalize round-trips a built-in object through its typed Go form so that equivalent spellings
// (quantities, int-or-string, ...) compare equal; Secrets fold stringData into base64 data and CRDs
// drop status (clients/unstructured.go Normalize). On any conversion failure the object is returned
// as it was.
func normalize(obj *unstructured.Unstructured) *unstructured.Unstructured {
	switch {
	case isCRD(obj):
		if preserve, found, err := unstructured.NestedBool(obj.Object, "spec", "preserveUnknownFields"); err == nil && found && !preserve {
			unstructured.RemoveNestedField(obj.Object, "spec", "preserveUnknownFields")
		}
		unstructured.RemoveNestedField(obj.Object, "status")
		return obj
	case isSecret(obj):
		return normalizeSecret(obj)
	}
	typed, err := kscheme.Scheme.New(obj.GroupVersionKind())
	if err != nil {
		return obj
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, typed); err != nil {
		return obj
	}
	back, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return obj
	}
	return &unstructured.Unstructured{Object: back}
}

func normalizeSecret(obj *unstructured.Unstructured) *unstructured.Unstructured {
	stringData, found, err := unstructured.NestedStringMap(obj.Object, "stringData")
	if err != nil || !found || len(stringData) == 0 {
		data, found, err := unstructured.NestedMap(obj.Object, "data")
		if err != nil || !found || len(data) == 0 {
			return obj
		}
		for k, v := range data {
			if s, ok := v.(string); ok {
				if decoded, err := base64.StdEncoding.DecodeString(s); err == nil {
					data[k] = base64.StdEncoding.EncodeToString(decoded)
				}
			}
		}
		_ = unstructured.SetNestedMap(obj.Object, data, "data")
		return obj
	}
	data, found, err := unstructured.NestedMap(obj.Object, "data")
	if err != nil || !found {
		data = map[string]any{}
	}
	for k, v := range stringData {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	_ = unstructured.SetNestedMap(obj.Object, data, "data")
	unstructured.RemoveNestedField(obj.Object, "stringData")
	return obj
}

// normalizeInputs normalises built-in objects without unknown values (pruned back to the input's
// shape) and removes read-only metadata (provider.go normalizeInputs).
func normalizeInputs(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if !hasComputedValue(obj) && knownGroupVersions[obj.GetAPIVersion()] {
		if isSecret(obj) || isCRD(obj) {
			// Upstream rewrites these in place and then prunes the object against itself: a
			// Secret's stringData becomes base64 data in the checked inputs.
			obj = normalize(obj)
		} else {
			obj = pruneLiveState(normalize(obj), obj)
		}
	}
	for _, field := range []string{"creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp",
		"generation", "managedFields", "resourceVersion", "uid"} {
		removeMetadataField(obj, field)
	}
	return obj
}

// removeMetadataField deletes .metadata.<field> when .metadata is a map (it can be unknown in previews).
func removeMetadataField(obj *unstructured.Unstructured, field string) {
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		delete(md, field)
	}
}

// --------------------------------------------------------------------------------------------
// Secrets (provider.go annotateSecrets).
// --------------------------------------------------------------------------------------------

// annotateSecrets copies secretness from ins to outs: objects are matched key by key, any other
// value that contains a secret in ins makes the whole out value secret, and the data and stringData
// of a Secret are always secret.
func annotateSecrets(outs, ins resource.PropertyMap) {
	if outs == nil {
		return
	}
	if kind, ok := outs["kind"]; ok && kind.IsString() && kind.StringValue() == secretKind {
		if data, ok := outs["data"]; ok {
			outs["data"] = resource.MakeSecret(data)
		}
		if stringData, ok := outs["stringData"]; ok {
			outs["stringData"] = resource.MakeSecret(stringData)
		}
		return
	}
	for key, in := range ins {
		out, ok := outs[key]
		if !ok {
			continue
		}
		if out.IsObject() && in.IsObject() {
			annotateSecrets(out.ObjectValue(), in.ObjectValue())
		} else if !out.IsSecret() && in.ContainsSecrets() {
			outs[key] = resource.MakeSecret(out)
		}
	}
}

// --------------------------------------------------------------------------------------------
// Checkpoint objects (provider.go checkpointObject / parseCheckpointObject / initialAPIVersion).
// --------------------------------------------------------------------------------------------

// checkpointObject is the state stored for a resource: the live object, with the inputs under
// __inputs, the apiVersion it was created with and the server-side apply field manager.
func checkpointObject(inputs, live *unstructured.Unstructured, fromInputs resource.PropertyMap,
	initialAPIVersion, fieldManager string,
) resource.PropertyMap {
	object := toPropertyMap(live.Object)
	inputsPM := toPropertyMap(inputs.Object)
	annotateSecrets(object, fromInputs)
	annotateSecrets(inputsPM, fromInputs)

	// The API server turns stringData into data: secret stringData entries make data entries secret.
	if live.GetAPIVersion() == "v1" && live.GetKind() == secretKind {
		stringData, hasStringData := fromInputs["stringData"]
		data, hasData := object["data"]
		if hasStringData && hasData {
			if stringData.IsSecret() && !data.IsSecret() {
				object["data"] = resource.MakeSecret(data)
			}
			if stringData.IsObject() && data.IsObject() {
				annotateSecrets(data.ObjectValue(), stringData.ObjectValue())
			}
		}
	}
	object[inputsKey] = resource.NewObjectProperty(inputsPM)
	object[initialAPIVersionKey] = resource.NewStringProperty(initialAPIVersion)
	object[fieldManagerKey] = resource.NewStringProperty(fieldManager)
	return object
}

// parseCheckpointObject splits a state into its inputs and live object (secrets stripped).
func parseCheckpointObject(state resource.PropertyMap) (inputs, live *unstructured.Unstructured) {
	var pm map[string]any
	if state != nil {
		pm = state.MapRepl(replUnderscoreToDash, stripSecrets)
	}
	if pm == nil {
		pm = map[string]any{}
	}
	// Very old states kept {inputs, live}; current ones keep the live object with __inputs.
	in, hasInputs := pm["inputs"]
	liveMap, hasLive := pm["live"]
	if !hasInputs || !hasLive {
		liveMap = pm
		in, hasInputs = pm[inputsKey]
		if hasInputs {
			delete(pm, inputsKey)
		} else {
			in = map[string]any{}
		}
	}
	delete(pm, initialAPIVersionKey)
	delete(pm, fieldManagerKey)
	inMap, _ := in.(map[string]any)
	if inMap == nil {
		inMap = map[string]any{}
	}
	lm, _ := liveMap.(map[string]any)
	if lm == nil {
		lm = map[string]any{}
	}
	return &unstructured.Unstructured{Object: inMap}, &unstructured.Unstructured{Object: lm}
}

func initialAPIVersion(state resource.PropertyMap, inputs *unstructured.Unstructured) string {
	if v, ok := state[initialAPIVersionKey]; ok && v.IsString() {
		return v.StringValue()
	}
	return inputs.GetAPIVersion()
}

// removeLastAppliedConfigurationAnnotation copies a live last-applied-configuration annotation
// (written by provider versions before 4.0) into the old inputs so that an update removes it.
func removeLastAppliedConfigurationAnnotation(oldLive, oldInputs *unstructured.Unstructured) {
	v, inLive, _ := unstructured.NestedString(oldLive.Object, "metadata", "annotations", lastAppliedConfigKey)
	_, inInputs, _ := unstructured.NestedString(oldInputs.Object, "metadata", "annotations", lastAppliedConfigKey)
	if inLive && !inInputs {
		_ = unstructured.SetNestedField(oldInputs.Object, v, "metadata", "annotations", lastAppliedConfigKey)
	}
}
