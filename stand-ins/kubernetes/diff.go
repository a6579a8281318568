package main

// Detailed diffs and replacement rules.
//
//   - Which fields force a replacement, per group/version/kind: pulumi-kubernetes v4
//     provider/pkg/provider/diff.go (forceNewProperties and its tables).
//   - How a change becomes a detailed diff: provider/pkg/provider/provider.go (Diff, inputPatch,
//     convertPatchToDiff, addPatchValueToDiff / addPatchMapToDiff / addPatchArrayToDiff). Upstream
//     builds a JSON merge patch from the pruned live state to the new inputs and walks it; this file
//     walks the two objects directly and produces the same entries, including for unknown values
//     (upstream serialises an unknown as an object with no Kubernetes fields, so an unknown that
//     replaces an object shows as deletes of the old object's keys, and one that replaces anything
//     else as an update).
//   - Whether a changed path matches a force-new path: provider/pkg/openapi/match.go
//     (PatchPropertiesChanged, a JSONPath lookup into the changed value placed at its path).

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type properties []string

type (
	kindTable    map[string]properties
	versionTable map[string]kindTable
	groupTable   map[string]versionTable
)

func labelSelectorForceNew(prefix string) properties {
	return properties{
		prefix + ".matchExpressions",
		prefix + ".matchExpressions.key",
		prefix + ".matchExpressions.operator",
		prefix + ".matchExpressions.values",
		prefix + ".matchLabels",
	}
}

func containerForceNew(prefixes ...string) properties {
	var out properties
	for _, p := range prefixes {
		for _, f := range []string{"args", "command", "env", "env.value", "image", "imagePullPolicy", "lifecycle",
			"livenessProbe", "ports", "readinessProbe", "resources", "securityContext", "stdin", "stdinOnce",
			"terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts", "workingDir"} {
			out = append(out, p+"."+f)
		}
	}
	return out
}

func join(parts ...properties) properties {
	var out properties
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	forceNewDaemonSet   = join(properties{".spec.selector"}, labelSelectorForceNew(".spec.selector"))
	forceNewDeployment  = join(properties{".spec.selector"}, labelSelectorForceNew(".spec.selector"))
	forceNewJob         = join(properties{".spec.completions", ".spec.parallelism", ".spec.selector", ".spec.template"}, labelSelectorForceNew(".spec.selector"))
	forceNewRoleBinding = properties{".roleRef"}
	forceNewStatefulSet = join(properties{".spec.podManagementPolicy", ".spec.revisionHistoryLimit", ".spec.selector",
		".spec.serviceName", ".spec.volumeClaimTemplates"}, labelSelectorForceNew(".spec.selector"))

	forceNewCore = versionTable{
		"v1": kindTable{
			"PersistentVolume": properties{".spec.awsElasticBlockStore", ".spec.azureDisk", ".spec.azureFile",
				".spec.cephfs", ".spec.cinder", ".spec.csi", ".spec.fc", ".spec.flexVolume", ".spec.flocker",
				".spec.gcePersistentDisk", ".spec.glusterfs", ".spec.hostPath", ".spec.iscsi", ".spec.local",
				".spec.nfs", ".spec.photonPersistentDisk", ".spec.portworxVolume", ".spec.quobyte", ".spec.rbd",
				".spec.scaleIO", ".spec.storageos", ".spec.vsphereVolume"},
			// Growing .spec.resources.requests.storage is an update: only these fields replace a claim.
			"PersistentVolumeClaim": join(properties{".spec.accessModes", ".spec.selector", ".spec.storageClassName",
				".spec.volumeName"}, labelSelectorForceNew(".spec.selector")),
			"Pod": join(properties{".spec.affinity", ".spec.automountServiceAccountToken", ".spec.dnsConfig",
				".spec.dnsPolicy", ".spec.enableServiceLinks", ".spec.hostAliases", ".spec.hostIPC", ".spec.hostNetwork",
				".spec.hostPID", ".spec.hostname", ".spec.imagePullSecrets", ".spec.nodeName", ".spec.nodeSelector",
				".spec.overhead", ".spec.preemptionPolicy", ".spec.priority", ".spec.priorityClassName",
				".spec.readinessGates", ".spec.restartPolicy", ".spec.runtimeClassName", ".spec.schedulerName",
				".spec.securityContext", ".spec.serviceAccount", ".spec.serviceAccountName",
				".spec.shareProcessNamespace", ".spec.subdomain", ".spec.terminationGracePeriodSeconds",
				".spec.volumes"}, containerForceNew(".spec.containers[*]", ".spec.initContainers[*]")),
			"ResourceQuota": properties{".spec.scopes"},
			"Secret":        properties{".type"},
			"Service":       properties{".spec.clusterIP"},
		},
	}

	// forceNewTable: group -> version -> kind -> fields. Note what is absent: policy/v1
	// PodDisruptionBudget (only v1beta1 replaces on .spec), batch/v1 CronJob, networking Ingress,
	// Namespace, ServiceAccount and Role have no force-new fields beyond name and namespace.
	forceNewTable = groupTable{
		"apps": versionTable{
			"v1beta1": kindTable{"StatefulSet": forceNewStatefulSet},
			"v1beta2": kindTable{"DaemonSet": forceNewDaemonSet, "Deployment": forceNewDeployment, "StatefulSet": forceNewStatefulSet},
			"v1":      kindTable{"DaemonSet": forceNewDaemonSet, "Deployment": forceNewDeployment, "StatefulSet": forceNewStatefulSet},
		},
		"core": forceNewCore,
		"":     forceNewCore,
		"policy": versionTable{
			"v1beta1": kindTable{"PodDisruptionBudget": properties{".spec"}},
		},
		"rbac.authorization.k8s.io": versionTable{
			"v1alpha1": kindTable{"ClusterRoleBinding": forceNewRoleBinding, "RoleBinding": forceNewRoleBinding},
			"v1beta1":  kindTable{"ClusterRoleBinding": forceNewRoleBinding, "RoleBinding": forceNewRoleBinding},
			"v1":       kindTable{"ClusterRoleBinding": forceNewRoleBinding, "RoleBinding": forceNewRoleBinding},
		},
		"storage.k8s.io": versionTable{
			"v1": kindTable{"StorageClass": properties{".parameters", ".provisioner"}},
		},
		"batch": versionTable{
			"v1beta1":  kindTable{"Job": forceNewJob},
			"v1":       kindTable{"Job": forceNewJob},
			"v2alpha1": kindTable{"Job": forceNewJob},
		},
	}
)

// forceNewProperties lists the fields whose change replaces obj (diff.go forceNewProperties):
// always name and namespace; a Secret's type, data and stringData unless Secrets are mutable and the
// Secret is not immutable; a ConfigMap's data and binaryData unless ConfigMaps are mutable and the
// ConfigMap is not immutable; otherwise the kind's table entry.
func forceNewProperties(obj *unstructured.Unstructured, configMapMutable, secretMutable bool) properties {
	props := properties{".metadata.name", ".metadata.namespace"}
	gvk := obj.GroupVersionKind()
	versions, ok := forceNewTable[gvk.Group]
	if !ok {
		return props
	}
	kinds, ok := versions[gvk.Version]
	if !ok {
		return props
	}
	if isSecret(obj) && (!secretMutable || isImmutable(obj)) {
		return append(props, ".type", ".stringData", ".data")
	}
	if fields, ok := kinds[gvk.Kind]; ok {
		return append(props, fields...)
	}
	if isConfigMap(obj) && (!configMapMutable || isImmutable(obj)) {
		return append(props, ".binaryData", ".data")
	}
	return props
}

// --------------------------------------------------------------------------------------------
// The detailed diff.
// --------------------------------------------------------------------------------------------

// pathSegment is a string key or an int index.
type pathSegment = any

type differ struct {
	forceNew [][]string
	out      map[string]*pulumirpc.PropertyDiff
}

func newDiffer(forceNew properties) *differ {
	d := &differ{out: map[string]*pulumirpc.PropertyDiff{}}
	for _, f := range forceNew {
		d.forceNew = append(d.forceNew, parseForceNewPath(f))
	}
	return d
}

// parseForceNewPath splits ".spec.containers[*].image" into spec, containers, *, image.
func parseForceNewPath(p string) []string {
	var segs []string
	for _, part := range strings.Split(strings.TrimPrefix(p, "."), ".") {
		if strings.HasSuffix(part, "[*]") {
			segs = append(segs, strings.TrimSuffix(part, "[*]"), "*")
		} else {
			segs = append(segs, part)
		}
	}
	return segs
}

// computeDetailedDiff compares the pruned old live state with the new inputs.
func computeDetailedDiff(oldLive, newInputs map[string]any, forceNew properties) map[string]*pulumirpc.PropertyDiff {
	d := newDiffer(forceNew)
	d.maps(nil, oldLive, newInputs)
	return d.out
}

func appendPath(path []pathSegment, seg pathSegment) []pathSegment {
	out := make([]pathSegment, len(path), len(path)+1)
	copy(out, path)
	return append(out, seg)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maps: a key only in new is added, a key only in old is deleted, a key in both is compared.
func (d *differ) maps(path []pathSegment, old, new map[string]any) {
	for _, k := range sortedKeys(new) {
		ov, inOld := old[k]
		if !inOld {
			d.added(appendPath(path, k), new[k])
			continue
		}
		d.changed(appendPath(path, k), ov, new[k])
	}
	for _, k := range sortedKeys(old) {
		if _, inNew := new[k]; !inNew {
			d.record(appendPath(path, k), pulumirpc.PropertyDiff_DELETE, true, nil)
		}
	}
}

// added records a value that has no old counterpart. A null new value is recorded as a delete, as
// upstream's patch walk does.
func (d *differ) added(path []pathSegment, nv any) {
	if nv == nil {
		d.record(path, pulumirpc.PropertyDiff_DELETE, true, nil)
		return
	}
	d.record(path, pulumirpc.PropertyDiff_ADD, false, nv)
}

// changed compares a value present in both.
func (d *differ) changed(path []pathSegment, ov, nv any) {
	if isComputed(nv) {
		// An unknown that replaces an object: each old key shows as deleted; anything else: updated.
		if om, ok := ov.(map[string]any); ok {
			for _, k := range sortedKeys(om) {
				d.record(appendPath(path, k), pulumirpc.PropertyDiff_DELETE, true, nil)
			}
			return
		}
		d.record(path, pulumirpc.PropertyDiff_UPDATE, false, nv)
		return
	}
	if om, ok := ov.(map[string]any); ok {
		if nm, ok := nv.(map[string]any); ok {
			d.maps(path, om, nm)
			return
		}
	}
	if oa, ok := ov.([]any); ok {
		if na, ok := nv.([]any); ok {
			if !jsonEqual(oa, na) {
				d.arrays(path, oa, na)
			}
			return
		}
	}
	if jsonEqual(ov, nv) {
		return
	}
	if nv == nil {
		d.record(path, pulumirpc.PropertyDiff_DELETE, true, nil)
		return
	}
	d.record(path, pulumirpc.PropertyDiff_UPDATE, false, nv)
}

// arrays compares element by element; extra new elements are added, extra old ones deleted.
func (d *differ) arrays(path []pathSegment, old, new []any) {
	i := 0
	for ; i < len(old) && i < len(new); i++ {
		d.changed(appendPath(path, i), old[i], new[i])
	}
	for ; i < len(new); i++ {
		d.added(appendPath(path, i), new[i])
	}
	for ; i < len(old); i++ {
		d.record(appendPath(path, i), pulumirpc.PropertyDiff_DELETE, true, nil)
	}
}

// record stores one entry, turned into a replacement when a force-new path matches.
func (d *differ) record(path []pathSegment, kind pulumirpc.PropertyDiff_Kind, inputDiff bool, value any) {
	if d.matchesForceNew(path, value) {
		switch kind {
		case pulumirpc.PropertyDiff_ADD:
			kind = pulumirpc.PropertyDiff_ADD_REPLACE
		case pulumirpc.PropertyDiff_DELETE:
			kind = pulumirpc.PropertyDiff_DELETE_REPLACE
		case pulumirpc.PropertyDiff_UPDATE:
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
	}
	d.out[formatPath(path)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: inputDiff}
}

// matchesForceNew: a force-new path matches when it names the changed path or one of its
// ancestors, or names a field that exists inside the changed value (match.go semantics: the
// JSONPath is evaluated against the changed value placed at its path; a key that is present counts
// even when its value is null).
func (d *differ) matchesForceNew(path []pathSegment, value any) bool {
	for _, f := range d.forceNew {
		if forceNewMatches(f, path, value) {
			return true
		}
	}
	return false
}

func forceNewMatches(f []string, path []pathSegment, value any) bool {
	n := len(path)
	if len(f) < n {
		n = len(f)
	}
	for i := 0; i < n; i++ {
		switch seg := path[i].(type) {
		case string:
			if f[i] != seg {
				return false
			}
		case int:
			if f[i] != "*" {
				return false
			}
		}
	}
	if len(f) <= len(path) {
		return true
	}
	return containsPath(value, f[len(path):])
}

func containsPath(v any, rest []string) bool {
	if len(rest) == 0 {
		return true
	}
	if rest[0] == "*" {
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range arr {
			if containsPath(e, rest[1:]) {
				return true
			}
		}
		return false
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	e, ok := m[rest[0]]
	if !ok {
		return false
	}
	return containsPath(e, rest[1:])
}

// formatPath renders a path the way upstream's detailed diff keys are written: dotted keys, [i]
// indices, and ["key"] for keys holding '.', '"', '[' or ']'.
func formatPath(path []pathSegment) string {
	var b strings.Builder
	for _, seg := range path {
		switch s := seg.(type) {
		case string:
			if strings.ContainsAny(s, `."[]`) {
				fmt.Fprintf(&b, `["%s"]`, strings.ReplaceAll(s, `"`, `\"`))
			} else if b.Len() > 0 {
				b.WriteString("." + s)
			} else {
				b.WriteString(s)
			}
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

// jsonEqual compares two JSON-like values, treating all numeric types by value (upstream compares
// JSON documents, where 3 and 3.0 are the same number). Unknown values never compare equal.
func jsonEqual(a, b any) bool {
	if isComputed(a) || isComputed(b) {
		return false
	}
	if an, ok := toFloat(a); ok {
		bn, ok := toFloat(b)
		return ok && an == bn
	}
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for k, av := range at {
			bv, ok := bt[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bt, ok := b.([]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for i := range at {
			if !jsonEqual(at[i], bt[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// removeIgnoredChanges drops entries covered by the resource's ignoreChanges paths (provider.go Diff).
func removeIgnoredChanges(detailed map[string]*pulumirpc.PropertyDiff, ignoreChanges []string) error {
	if len(ignoreChanges) == 0 {
		return nil
	}
	var ignores []resource.PropertyPath
	for _, ig := range ignoreChanges {
		p, err := resource.ParsePropertyPath(ig)
		if err != nil {
			return fmt.Errorf("failed to parse ignore path: %w", err)
		}
		ignores = append(ignores, p)
	}
	for key := range detailed {
		dp, err := resource.ParsePropertyPath(key)
		if err != nil {
			return fmt.Errorf("failed to parse diff path: %w", err)
		}
		for _, ig := range ignores {
			if ig.Contains(dp) {
				delete(detailed, key)
				break
			}
		}
	}
	return nil
}

// replacesOf lists the paths whose change replaces the resource: every *_REPLACE entry, and a
// deleted metadata (provider.go Diff).
func replacesOf(detailed map[string]*pulumirpc.PropertyDiff) []string {
	var out []string
	for k, v := range detailed {
		switch v.Kind {
		case pulumirpc.PropertyDiff_ADD_REPLACE, pulumirpc.PropertyDiff_DELETE_REPLACE, pulumirpc.PropertyDiff_UPDATE_REPLACE:
			out = append(out, k)
		case pulumirpc.PropertyDiff_DELETE:
			if k == "metadata" {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
