package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

type obj = map[string]any
type list = []any

// urnOf builds a URN for a kubernetes type token such as kubernetes:core/v1:ConfigMap.
func urnOf(typ, name string) resource.URN {
	return resource.URN("urn:pulumi:dev::dso-registry::" + typ + "::" + name)
}

func pm(m obj) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

// newTestProvider is a provider configured without a cluster connection (render tests and pure
// diff/check tests) or with the given clients.
func newTestProvider(t *testing.T, cfg providerConfig, clients *clientSet) *kubeProvider {
	t.Helper()
	k := newKubeProvider("4.34.2", &engineHost{quiet: true})
	t.Cleanup(func() { _ = k.Close() })
	k.cfg = cfg
	k.cluster = clusterState{clients: clients, defaultNamespace: "default"}
	if clients == nil {
		k.cluster.unreachable = true
		k.cluster.unreachableReason = "no cluster in this test"
	}
	return k
}

type testKind struct {
	gvk        schema.GroupVersionKind
	resource   string
	namespaced bool
}

var testKinds = []testKind{
	{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "configmaps", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, "secrets", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Service"}, "services", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"}, "endpoints", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}, "persistentvolumeclaims", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, "serviceaccounts", true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "deployments", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, "replicasets", true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, "daemonsets", true},
	{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, "ingresses", true},
	{schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}, "storageclasses", false},
	{schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, "widgets", true},
}

// newFakeClients is a clientSet over client-go's fake dynamic client.
func newFakeClients(objects ...runtime.Object) (*clientSet, *dynamicfake.FakeDynamicClient) {
	mapper := meta.NewDefaultRESTMapper(nil)
	listKinds := map[schema.GroupVersionResource]string{}
	for _, k := range testKinds {
		scope := meta.RESTScopeRoot
		if k.namespaced {
			scope = meta.RESTScopeNamespace
		}
		mapper.AddSpecific(k.gvk, k.gvk.GroupVersion().WithResource(k.resource),
			k.gvk.GroupVersion().WithResource(k.resource), scope)
		listKinds[k.gvk.GroupVersion().WithResource(k.resource)] = k.gvk.Kind + "List"
	}
	fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objects...)
	return &clientSet{dynamic: fake, mapper: mapper, major: 1, minor: 35}, fake
}

func uns(m obj) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }
