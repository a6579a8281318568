package main

// Cluster access: a dynamic client, discovery and a RESTMapper, and the namespace-scope lookup.
// Rules follow pulumi-kubernetes v4 provider/pkg/clients/clients.go (ResourceClient,
// IsNamespacedKind) and provider/pkg/kinds/kinds.go (Kind.Namespaced).

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// clientSet bundles what the provider needs to talk to a cluster.
type clientSet struct {
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
	// reset drops cached discovery data (after a CRD is created, or when a kind is not found).
	reset func()
	// serverVersion is "major.minor" as reported by the API server, e.g. "1.35".
	major, minor int
}

func newClientSet(config *rest.Config) (*clientSet, error) {
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(disco)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	cs := &clientSet{dynamic: dyn, mapper: mapper, reset: mapper.Reset}
	v, err := disco.ServerVersion()
	if err != nil {
		return nil, err
	}
	cs.major, cs.minor = parseVersionNumber(v.Major), parseVersionNumber(v.Minor)
	return cs, nil
}

// parseVersionNumber reads the leading digits of "1", "35+" and the like.
func parseVersionNumber(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func (cs *clientSet) atLeast(major, minor int) bool {
	return cs.major > major || (cs.major == major && cs.minor >= minor)
}

// mapping finds the REST mapping of a kind, refreshing discovery once when it is not known.
func (cs *clientSet) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := cs.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) && cs.reset != nil {
		cs.reset()
		m, err = cs.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// resourceClient returns the client for a kind in a namespace ("" for cluster-scoped kinds).
func (cs *clientSet) resourceClient(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	m, err := cs.mapping(gvk)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return cs.dynamic.Resource(m.Resource).Namespace(namespace), nil
	}
	return cs.dynamic.Resource(m.Resource), nil
}

func (cs *clientSet) clientFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	return cs.resourceClient(gvkOf(obj), obj.GetNamespace())
}

// gvkExists reports whether the API server serves the kind.
func (cs *clientSet) gvkExists(gvk schema.GroupVersionKind) bool {
	if cs == nil {
		return false
	}
	_, err := cs.mapping(gvk)
	return err == nil
}

// Kinds whose scope upstream knows without asking the API server (kinds.go Namespaced).
var (
	namespacedKinds = setOf("Binding", "ConfigMap", "ControllerRevision", "CronJob", "CSIStorageCapacity",
		"DaemonSet", "Deployment", "Endpoints", "EndpointSlice", "Event", "HorizontalPodAutoscaler", "Ingress",
		"Job", "Lease", "LimitRange", "NetworkPolicy", "PersistentVolumeClaim", "Pod", "PodDisruptionBudget",
		"PodTemplate", "ReplicaSet", "ReplicationController", "ResourceQuota", "Role", "RoleBinding", "Secret",
		"Service", "ServiceAccount", "StatefulSet")
	clusterKinds = setOf("APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
		"CSIDriver", "CSINode", "CustomResourceDefinition", "FlowSchema", "IngressClass",
		"MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PodSecurityPolicy",
		"PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass",
		"ValidatingWebhookConfiguration", "VolumeAttachment")
)

func setOf(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, i := range items {
		m[i] = true
	}
	return m
}

// errNoNamespaceInfo: the scope of a kind could not be determined (clients.go NoNamespaceInfoErr).
type errNoNamespaceInfo struct{ gvk schema.GroupVersionKind }

func (e *errNoNamespaceInfo) Error() string {
	return fmt.Sprintf("failed to determine if the following GVK is namespaced: %s", e.gvk)
}

// isNamespacedKind: built-in kinds from the static table (a Patch kind counts as its object kind),
// others from the API server's discovery data.
func isNamespacedKind(gvk schema.GroupVersionKind, cs *clientSet) (bool, error) {
	if gvk.Group == "core" {
		gvk.Group = ""
	}
	if knownGroupVersions[gvk.GroupVersion().String()] {
		kind := strings.TrimSuffix(strings.TrimSuffix(gvk.Kind, "Patch"), "List")
		if namespacedKinds[kind] {
			return true, nil
		}
		if clusterKinds[kind] {
			return false, nil
		}
	}
	if cs == nil {
		return false, &errNoNamespaceInfo{gvk}
	}
	m, err := cs.mapping(gvk)
	if err != nil {
		return false, &errNoNamespaceInfo{gvk}
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}
