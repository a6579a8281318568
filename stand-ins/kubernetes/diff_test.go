package main

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var unknown = resource.MakeComputed(resource.NewStringProperty(""))

const (
	A  = pulumirpc.PropertyDiff_ADD
	AR = pulumirpc.PropertyDiff_ADD_REPLACE
	D  = pulumirpc.PropertyDiff_DELETE
	DR = pulumirpc.PropertyDiff_DELETE_REPLACE
	U  = pulumirpc.PropertyDiff_UPDATE
	UR = pulumirpc.PropertyDiff_UPDATE_REPLACE
)

// mergeLive overlays server-populated fields onto the inputs to make a live object.
func mergeLive(inputs, server obj) obj {
	out := deepCopyValue(inputs).(map[string]any)
	var merge func(dst, src obj)
	merge = func(dst, src obj) {
		for k, v := range src {
			if sm, ok := v.(map[string]any); ok {
				if dm, ok := dst[k].(map[string]any); ok {
					merge(dm, sm)
					continue
				}
			}
			dst[k] = deepCopyValue(v)
		}
	}
	merge(out, server)
	return out
}

// stateFor is the state Create would have stored for these inputs and this live object.
func stateFor(inputs, live obj) resource.PropertyMap {
	in := uns(inputs)
	return checkpointObject(in, uns(live), pm(inputs), in.GetAPIVersion(), "pulumi-kubernetes-0123abcd")
}

func cm(name string, data obj) obj {
	return obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": name, "namespace": "dso"}, "data": data}
}

func deployment(selector obj, image any) obj {
	return obj{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": obj{"name": "registry", "namespace": "dso"},
		"spec": obj{
			"replicas": 1,
			"selector": obj{"matchLabels": selector},
			"template": obj{
				"metadata": obj{"labels": selector},
				"spec":     obj{"containers": list{obj{"name": "registry", "image": image}}},
			},
		},
	}
}

func service(clusterIP any, port any) obj {
	spec := obj{"selector": obj{"app": "registry"}, "ports": list{obj{"port": port, "targetPort": 5000}}}
	if clusterIP != nil {
		spec["clusterIP"] = clusterIP
	}
	return obj{"apiVersion": "v1", "kind": "Service", "metadata": obj{"name": "registry", "namespace": "dso"}, "spec": spec}
}

func pvc(accessMode, storageClass, size string) obj {
	return obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": obj{"name": "data", "namespace": "dso"},
		"spec": obj{"accessModes": list{accessMode}, "storageClassName": storageClass,
			"resources": obj{"requests": obj{"storage": size}}}}
}

func TestDiffRules(t *testing.T) {
	serviceLive := obj{"spec": obj{"clusterIP": "10.0.0.12", "type": "ClusterIP", "sessionAffinity": "None"},
		"metadata": obj{"uid": "u1", "resourceVersion": "12", "creationTimestamp": "2026-01-01T00:00:00Z"},
		"status":   obj{"loadBalancer": obj{}}}

	tests := []struct {
		name         string
		typ          string
		old          obj
		server       obj // fields the API server added to the live object
		new          obj
		newPM        resource.PropertyMap // when the new inputs hold unknowns
		cfg          func(*providerConfig)
		ignore       []string
		wantChanges  bool
		wantReplaces []string
		wantDBR      bool
		want         map[string]pulumirpc.PropertyDiff_Kind
	}{
		{
			name: "identical inputs and server-populated fields: no change",
			typ:  "kubernetes:core/v1:Service",
			old:  service(nil, 443), server: serviceLive, new: service(nil, 443),
			want: map[string]pulumirpc.PropertyDiff_Kind{},
		},
		{
			name: "input numbers (float64) equal live numbers (int64)",
			typ:  "kubernetes:core/v1:Service",
			old:  service(nil, 443), server: obj{"spec": obj{"ports": list{obj{"port": int64(443), "targetPort": int64(5000), "protocol": "TCP"}}}},
			new:  service(nil, 443),
			want: map[string]pulumirpc.PropertyDiff_Kind{},
		},
		{
			name: "ConfigMap data change replaces a named ConfigMap, deleting first",
			typ:  "kubernetes:core/v1:ConfigMap",
			old:  cm("ca", obj{"ca.crt": "one"}), new: cm("ca", obj{"ca.crt": "two"}),
			wantChanges: true, wantReplaces: []string{`data["ca.crt"]`}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{`data["ca.crt"]`: UR},
		},
		{
			name: "ConfigMap data change is an update with enableConfigMapMutable",
			typ:  "kubernetes:core/v1:ConfigMap",
			old:  cm("ca", obj{"a": "one"}), new: cm("ca", obj{"a": "two"}),
			cfg:         func(c *providerConfig) { c.enableConfigMapMutable = true },
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"data.a": U},
		},
		{
			name:        "an immutable ConfigMap replaces even with enableConfigMapMutable",
			typ:         "kubernetes:core/v1:ConfigMap",
			old:         mergeLive(cm("ca", obj{"a": "one"}), obj{"immutable": true}),
			new:         mergeLive(cm("ca", obj{"a": "two"}), obj{"immutable": true}),
			cfg:         func(c *providerConfig) { c.enableConfigMapMutable = true },
			wantChanges: true, wantReplaces: []string{"data.a"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"data.a": UR},
		},
		{
			name:        "ConfigMap label change is an update",
			typ:         "kubernetes:core/v1:ConfigMap",
			old:         cm("ca", obj{"a": "one"}),
			new:         mergeLive(cm("ca", obj{"a": "one"}), obj{"metadata": obj{"labels": obj{"app": "x"}}}),
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"metadata.labels": A},
		},
		{
			name: "new data key is an add-replace",
			typ:  "kubernetes:core/v1:ConfigMap",
			old:  cm("ca", obj{"a": "one"}), new: cm("ca", obj{"a": "one", "b": "two"}),
			wantChanges: true, wantReplaces: []string{"data.b"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"data.b": AR},
		},
		{
			name: "removed data key is a delete-replace",
			typ:  "kubernetes:core/v1:ConfigMap",
			old:  cm("ca", obj{"a": "one", "b": "two"}), new: cm("ca", obj{"a": "one"}),
			wantChanges: true, wantReplaces: []string{"data.b"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"data.b": DR},
		},
		{
			name: "ConfigMapPatch data change is an update (Patch resources replace on name/namespace only)",
			typ:  "kubernetes:core/v1:ConfigMapPatch",
			old:  cm("coredns-custom", obj{"k": "one"}), new: cm("coredns-custom", obj{"k": "two"}),
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"data.k": U},
		},
		{
			name: "Secret stringData change replaces",
			typ:  "kubernetes:core/v1:Secret",
			old: obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "pull", "namespace": "dso"},
				"type": "kubernetes.io/dockerconfigjson", "stringData": obj{".dockerconfigjson": "{}"}},
			server: obj{"data": obj{".dockerconfigjson": "e30="}},
			new: obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "pull", "namespace": "dso"},
				"type": "kubernetes.io/dockerconfigjson", "stringData": obj{".dockerconfigjson": `{"auths":{}}`}},
			wantChanges: true, wantReplaces: []string{`data[".dockerconfigjson"]`}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{`data[".dockerconfigjson"]`: UR},
		},
		{
			name: "Secret type change replaces even with enableSecretMutable",
			typ:  "kubernetes:core/v1:Secret",
			old: obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "s", "namespace": "dso"},
				"type": "Opaque", "data": obj{"k": "dg=="}},
			new: obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "s", "namespace": "dso"},
				"type": "kubernetes.io/tls", "data": obj{"k": "dg=="}},
			cfg:         func(c *providerConfig) { c.enableSecretMutable = true },
			wantChanges: true, wantReplaces: []string{"type"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"type": UR},
		},
		{
			name: "Deployment image change is an update",
			typ:  "kubernetes:apps/v1:Deployment",
			old:  deployment(obj{"app": "registry"}, "registry:2"), new: deployment(obj{"app": "registry"}, "registry:3"),
			server:      obj{"status": obj{"replicas": 1}, "spec": obj{"strategy": obj{"type": "RollingUpdate"}}},
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"spec.template.spec.containers[0].image": U},
		},
		{
			name: "Deployment selector change replaces",
			typ:  "kubernetes:apps/v1:Deployment",
			old:  deployment(obj{"app": "registry"}, "registry:2"), new: deployment(obj{"app": "front"}, "registry:2"),
			wantChanges:  true,
			wantReplaces: []string{"spec.selector.matchLabels.app"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{
				"spec.selector.matchLabels.app":     UR,
				"spec.template.metadata.labels.app": U,
			},
		},
		{
			name:        "an unknown image in a Deployment's spec plans an update, not a replacement",
			typ:         "kubernetes:apps/v1:Deployment",
			old:         deployment(obj{"app": "registry"}, "registry:2"),
			newPM:       pm(deployment(obj{"app": "registry"}, unknown)),
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"spec.template.spec.containers[0].image": U},
		},
		{
			name: "DaemonSet selector change replaces",
			typ:  "kubernetes:apps/v1:DaemonSet",
			old: obj{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": obj{"name": "trust", "namespace": "nt"},
				"spec": obj{"selector": obj{"matchLabels": obj{"a": "1"}}}},
			new: obj{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": obj{"name": "trust", "namespace": "nt"},
				"spec": obj{"selector": obj{"matchLabels": obj{"a": "2"}}}},
			wantChanges: true, wantReplaces: []string{"spec.selector.matchLabels.a"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"spec.selector.matchLabels.a": UR},
		},
		{
			name: "Service clusterIP change replaces",
			typ:  "kubernetes:core/v1:Service",
			old:  service("10.0.0.12", 443), server: serviceLive, new: service("10.0.0.13", 443),
			wantChanges: true, wantReplaces: []string{"spec.clusterIP"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"spec.clusterIP": UR},
		},
		{
			name: "Service port change is an update",
			typ:  "kubernetes:core/v1:Service",
			old:  service(nil, 443), server: serviceLive, new: service(nil, 8443),
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"spec.ports[0].port": U},
		},
		{
			name:        "an unknown clusterIP replaces (force-new field)",
			typ:         "kubernetes:core/v1:Service",
			old:         service("10.0.0.12", 443),
			newPM:       pm(service(unknown, 443)),
			wantChanges: true, wantReplaces: []string{"spec.clusterIP"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"spec.clusterIP": UR},
		},
		{
			name: "PVC storage growth is an update",
			typ:  "kubernetes:core/v1:PersistentVolumeClaim",
			old:  pvc("ReadWriteOnce", "hostpath", "10Gi"), new: pvc("ReadWriteOnce", "hostpath", "20Gi"),
			server:      obj{"status": obj{"phase": "Bound"}, "spec": obj{"volumeName": "pv-1", "volumeMode": "Filesystem"}},
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"spec.resources.requests.storage": U},
		},
		{
			name: "PVC storage class change replaces",
			typ:  "kubernetes:core/v1:PersistentVolumeClaim",
			old:  pvc("ReadWriteOnce", "hostpath", "10Gi"), new: pvc("ReadWriteOnce", "local-path", "10Gi"),
			wantChanges: true, wantReplaces: []string{"spec.storageClassName"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"spec.storageClassName": UR},
		},
		{
			name: "PVC access mode change replaces",
			typ:  "kubernetes:core/v1:PersistentVolumeClaim",
			old:  pvc("ReadWriteOnce", "hostpath", "10Gi"), new: pvc("ReadWriteMany", "hostpath", "10Gi"),
			wantChanges: true, wantReplaces: []string{"spec.accessModes[0]"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"spec.accessModes[0]": UR},
		},
		{
			name: "policy/v1 PodDisruptionBudget spec change is an update (only v1beta1 replaces)",
			typ:  "kubernetes:policy/v1:PodDisruptionBudget",
			old: obj{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": obj{"name": "r", "namespace": "dso"},
				"spec": obj{"maxUnavailable": 1}},
			new: obj{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": obj{"name": "r", "namespace": "dso"},
				"spec": obj{"maxUnavailable": 0}},
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"spec.maxUnavailable": U},
		},
		{
			name: "RoleBinding roleRef change replaces",
			typ:  "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
			old: obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": obj{"name": "rb", "namespace": "dso"},
				"roleRef": obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}},
			new: obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": obj{"name": "rb", "namespace": "dso"},
				"roleRef": obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "b"}},
			wantChanges: true, wantReplaces: []string{"roleRef.name"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"roleRef.name": UR},
		},
		{
			name: "CronJob spec change is an update",
			typ:  "kubernetes:batch/v1:CronJob",
			old: obj{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": obj{"name": "gc", "namespace": "dso"},
				"spec": obj{"schedule": "0 3 * * *"}},
			new: obj{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": obj{"name": "gc", "namespace": "dso"},
				"spec": obj{"schedule": "0 4 * * *"}},
			wantChanges: true,
			want:        map[string]pulumirpc.PropertyDiff_Kind{"spec.schedule": U},
		},
		{
			name: "a new name replaces, creating first (the names differ)",
			typ:  "kubernetes:core/v1:ConfigMap",
			old:  cm("one", obj{"a": "1"}), new: cm("two", obj{"a": "1"}),
			wantChanges: true, wantReplaces: []string{"metadata.name"}, wantDBR: false,
			want: map[string]pulumirpc.PropertyDiff_Kind{"metadata.name": UR},
		},
		{
			name:        "a new namespace replaces, creating first",
			typ:         "kubernetes:core/v1:ServiceAccount",
			old:         obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": "sa", "namespace": "a"}},
			new:         obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": "sa", "namespace": "b"}},
			wantChanges: true, wantReplaces: []string{"metadata.namespace"}, wantDBR: false,
			want: map[string]pulumirpc.PropertyDiff_Kind{"metadata.namespace": UR},
		},
		{
			name: "an autonamed object is replaced without deleting first",
			typ:  "kubernetes:core/v1:ConfigMap",
			old: obj{"apiVersion": "v1", "kind": "ConfigMap", "data": obj{"a": "1"},
				"metadata": obj{"name": "ca-0a1b2c3d", "namespace": "dso", "annotations": obj{"pulumi.com/autonamed": "true"}}},
			new: obj{"apiVersion": "v1", "kind": "ConfigMap", "data": obj{"a": "2"},
				"metadata": obj{"name": "ca-0a1b2c3d", "namespace": "dso", "annotations": obj{"pulumi.com/autonamed": "true"}}},
			wantChanges: true, wantReplaces: []string{"data.a"}, wantDBR: false,
			want: map[string]pulumirpc.PropertyDiff_Kind{"data.a": UR},
		},
		{
			name:   "inputs without a namespace match the live default namespace",
			typ:    "kubernetes:core/v1:ConfigMap",
			old:    obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "c"}, "data": obj{"a": "1"}},
			server: obj{"metadata": obj{"namespace": "default"}},
			new:    obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "c"}, "data": obj{"a": "1"}},
			want:   map[string]pulumirpc.PropertyDiff_Kind{},
		},
		{
			name: "Namespace is cluster-scoped: a namespace in the inputs is ignored",
			typ:  "kubernetes:core/v1:Namespace",
			old:  obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": "dso"}},
			new:  obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": "dso", "namespace": "default"}},
			want: map[string]pulumirpc.PropertyDiff_Kind{},
		},
		{
			name: "ignoreChanges drops the ignored path",
			typ:  "kubernetes:apps/v1:Deployment",
			old:  deployment(obj{"app": "registry"}, "registry:2"), new: deployment(obj{"app": "registry"}, "registry:3"),
			ignore: []string{"spec.template"},
			want:   map[string]pulumirpc.PropertyDiff_Kind{},
		},
		{
			name:        "unknown data replacing a map shows the old keys deleted, and replaces",
			typ:         "kubernetes:core/v1:ConfigMap",
			old:         cm("ca", obj{"a": "1", "b": "2"}),
			newPM:       pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "ca", "namespace": "dso"}, "data": unknown}),
			wantChanges: true, wantReplaces: []string{"data.a", "data.b"}, wantDBR: true,
			want: map[string]pulumirpc.PropertyDiff_Kind{"data.a": DR, "data.b": DR},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := providerConfig{serverSideApply: true}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			k := newTestProvider(t, cfg, nil)
			live := mergeLive(tt.old, tt.server)
			news := tt.newPM
			if news == nil {
				news = pm(tt.new)
			}
			urn := urnOf(tt.typ, "r")
			resp, err := k.diffResponse(urn, stateFor(tt.old, live), news, tt.ignore)
			require.NoError(t, err)
			got := map[string]pulumirpc.PropertyDiff_Kind{}
			for p, d := range resp.DetailedDiff {
				got[p] = d.Kind
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantChanges, resp.Changes == pulumirpc.DiffResponse_DIFF_SOME, "changes")
			wantReplaces := tt.wantReplaces
			sort.Strings(wantReplaces)
			assert.Equal(t, wantReplaces, resp.Replaces, "replaces")
			assert.Equal(t, tt.wantDBR, resp.DeleteBeforeReplace, "deleteBeforeReplace")
			assert.True(t, resp.HasDetailedDiff)
			// Upstream's DiffResponse carries no Diffs, only the detailed diff (provider/pkg/provider/provider.go,
			// Diff): `diffReasons` in `preview --json` and the engine's `diffs` stay empty with it.
			assert.Empty(t, resp.Diffs, "diffs")
		})
	}
}

// The detailed diff of two objects, case by case as upstream's TestPatchToDiff (provider/pkg/provider/diff_test.go).
func TestDetailedDiffCases(t *testing.T) {
	pod := func(m obj) obj { return m }
	tests := []struct {
		name     string
		kind     obj // apiVersion/kind used for the force-new table
		old, new obj
		want     map[string]pulumirpc.PropertyDiff_Kind
	}{
		{"adding a nested field", obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim"},
			obj{"spec": obj{}}, obj{"spec": obj{"accessModes": obj{}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.accessModes": AR}},
		{"deleting a nested field", obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim"},
			obj{"spec": obj{"accessModes": obj{}}}, obj{"spec": obj{}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.accessModes": DR}},
		{"changing the second container's image", obj{"apiVersion": "v1", "kind": "Pod"},
			pod(obj{"spec": obj{"containers": list{obj{"name": "a", "image": "x"}, obj{"name": "b", "image": "x"}}}}),
			pod(obj{"spec": obj{"containers": list{obj{"name": "a", "image": "x"}, obj{"name": "b", "image": "y"}}}}),
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[1].image": UR}},
		{"a non-force-new field next to a force-new one", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{obj{"name": "n", "image": "x", "dnsPolicy": "Default"}}}},
			obj{"spec": obj{"containers": list{obj{"name": "n", "image": "y", "dnsPolicy": "None"}}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[0].dnsPolicy": U, "spec.containers[0].image": UR}},
		{"deleting a field inside an array element", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{obj{"name": "n", "dnsPolicy": "Default"}}}},
			obj{"spec": obj{"containers": list{obj{"name": "n"}}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[0].dnsPolicy": D}},
		{"removing an array element", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{obj{"name": "n"}}}}, obj{"spec": obj{"containers": list{}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[0]": D}},
		{"adding an unknown array element", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{}}}, obj{"spec": obj{"containers": list{resource.Computed{}}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[0]": A}},
		{"an unknown image of a Pod container replaces", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{obj{"name": "n", "image": "x"}}}},
			obj{"spec": obj{"containers": list{obj{"name": "n", "image": resource.Computed{}}}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[0].image": UR}},
		{"adding an unknown image of a Pod container", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{obj{"name": "n"}}}},
			obj{"spec": obj{"containers": list{obj{"name": "n", "image": resource.Computed{}}}}},
			map[string]pulumirpc.PropertyDiff_Kind{"spec.containers[0].image": AR}},
		{"removing a field that was null", obj{"apiVersion": "tekton.dev/v1beta1", "kind": "Pipeline"},
			obj{"taskSpec": obj{"spec": nil, "steps": list{obj{"name": "a"}}}},
			obj{"taskSpec": obj{"steps": list{obj{"name": "b"}}}},
			map[string]pulumirpc.PropertyDiff_Kind{"taskSpec.spec": D, "taskSpec.steps[0].name": U}},
		{"status changes without inputs are not compared (pruned before)", obj{"apiVersion": "v1", "kind": "Pod"},
			obj{"spec": obj{"containers": list{obj{"name": "n"}}}}, obj{"spec": obj{"containers": list{obj{"name": "n"}}}},
			map[string]pulumirpc.PropertyDiff_Kind{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forceNew := forceNewProperties(uns(tt.kind), false, false)
			got := map[string]pulumirpc.PropertyDiff_Kind{}
			for p, d := range computeDetailedDiff(tt.old, tt.new, forceNew) {
				got[p] = d.Kind
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestForceNewProperties(t *testing.T) {
	has := func(props properties, p string) bool { return slices.Contains(props, p) }
	k := func(apiVersion, kind string, extra obj) *unstructured.Unstructured {
		m := obj{"apiVersion": apiVersion, "kind": kind}
		for key, v := range extra {
			m[key] = v
		}
		return uns(m)
	}
	assert.True(t, has(forceNewProperties(k("v1", "ConfigMap", nil), false, false), ".data"))
	assert.False(t, has(forceNewProperties(k("v1", "ConfigMap", nil), true, false), ".data"))
	assert.True(t, has(forceNewProperties(k("v1", "ConfigMap", obj{"immutable": true}), true, false), ".binaryData"))
	assert.True(t, has(forceNewProperties(k("v1", "Secret", nil), false, false), ".stringData"))
	assert.False(t, has(forceNewProperties(k("v1", "Secret", nil), false, true), ".data"))
	assert.True(t, has(forceNewProperties(k("v1", "Secret", nil), false, true), ".type"))
	assert.True(t, has(forceNewProperties(k("v1", "Service", nil), false, false), ".spec.clusterIP"))
	assert.True(t, has(forceNewProperties(k("apps/v1", "Deployment", nil), false, false), ".spec.selector"))
	assert.False(t, has(forceNewProperties(k("policy/v1", "PodDisruptionBudget", nil), false, false), ".spec"))
	assert.True(t, has(forceNewProperties(k("policy/v1beta1", "PodDisruptionBudget", nil), false, false), ".spec"))
	assert.Equal(t, properties{".metadata.name", ".metadata.namespace"},
		forceNewProperties(k("networking.k8s.io/v1", "Ingress", nil), false, false))
	assert.Equal(t, properties{".metadata.name", ".metadata.namespace"},
		forceNewProperties(k("batch/v1", "CronJob", nil), false, false))
}

// The engine receives the detailed diff over gRPC with HasDetailedDiff set and replacement kinds kept.
func TestDiffOverGRPC(t *testing.T) {
	k := newTestProvider(t, providerConfig{serverSideApply: true}, nil)
	srv := newServer(k)
	opts := plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}
	old := cm("ca", obj{"a": "1"})
	olds, err := plugin.MarshalProperties(stateFor(old, old), opts)
	require.NoError(t, err)
	news, err := plugin.MarshalProperties(pm(cm("ca", obj{"a": "2"})), opts)
	require.NoError(t, err)
	resp, err := srv.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: string(urnOf("kubernetes:core/v1:ConfigMap", "ca")), Id: "dso/ca", Olds: olds, News: news,
	})
	require.NoError(t, err)
	assert.True(t, resp.HasDetailedDiff)
	assert.Equal(t, pulumirpc.DiffResponse_DIFF_SOME, resp.Changes)
	assert.Equal(t, []string{"data.a"}, resp.Replaces)
	assert.True(t, resp.DeleteBeforeReplace)
	assert.Equal(t, UR, resp.DetailedDiff["data.a"].Kind)
}
