package main

import (
	"context"
	"regexp"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func check(t *testing.T, k *kubeProvider, typ, name string, olds, news resource.PropertyMap, seed []byte,
	autonaming *plugin.AutonamingOptions,
) (resource.PropertyMap, error) {
	t.Helper()
	resp, err := k.Check(context.Background(), plugin.CheckRequest{
		URN: urnOf(typ, name), Olds: olds, News: news, RandomSeed: seed, Autonaming: autonaming,
	})
	return resp.Properties, err
}

func metadataOf(t *testing.T, props resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	md := props["metadata"]
	require.True(t, md.IsObject(), "metadata is an object: %v", md)
	return md.ObjectValue()
}

func TestCheckAutonaming(t *testing.T) {
	k := newTestProvider(t, providerConfig{serverSideApply: true}, nil)
	unnamed := pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"namespace": "dso"}, "data": obj{"a": "1"}})

	t.Run("an unnamed object gets <resource name>-<8 hex> and the autonamed annotation", func(t *testing.T) {
		props, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, unnamed.Copy(), []byte("seed-1"), nil)
		require.NoError(t, err)
		md := metadataOf(t, props)
		assert.Regexp(t, regexp.MustCompile(`^ca-bundle-[0-9a-f]{8}$`), md["name"].StringValue())
		assert.Equal(t, "true", md["annotations"].ObjectValue()["pulumi.com/autonamed"].StringValue())

		again, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, unnamed.Copy(), []byte("seed-1"), nil)
		require.NoError(t, err)
		assert.Equal(t, md["name"], metadataOf(t, again)["name"], "the same seed gives the same name")

		other, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, unnamed.Copy(), []byte("seed-2"), nil)
		require.NoError(t, err)
		assert.NotEqual(t, md["name"], metadataOf(t, other)["name"], "another seed gives another name")
	})

	t.Run("an update keeps the generated name", func(t *testing.T) {
		olds, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, unnamed.Copy(), []byte("seed-1"), nil)
		require.NoError(t, err)
		props, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", olds, unnamed.Copy(), []byte("seed-9"), nil)
		require.NoError(t, err)
		assert.Equal(t, metadataOf(t, olds)["name"], metadataOf(t, props)["name"])
		assert.Equal(t, "true", metadataOf(t, props)["annotations"].ObjectValue()["pulumi.com/autonamed"].StringValue())
	})

	t.Run("a named object keeps its name and is not marked", func(t *testing.T) {
		named := pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "ca", "namespace": "dso"}})
		props, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, named, []byte("seed"), nil)
		require.NoError(t, err)
		md := metadataOf(t, props)
		assert.Equal(t, "ca", md["name"].StringValue())
		_, annotated := md["annotations"]
		assert.False(t, annotated)
	})

	t.Run("an unknown name counts as named", func(t *testing.T) {
		news := pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": unknown, "namespace": "dso"}})
		props, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, news, []byte("seed"), nil)
		require.NoError(t, err)
		assert.True(t, metadataOf(t, props)["name"].IsComputed())
	})

	t.Run("the engine's proposed name wins", func(t *testing.T) {
		props, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, unnamed.Copy(), []byte("seed"),
			&plugin.AutonamingOptions{ProposedName: "ca-bundle-dev", Mode: plugin.AutonamingModeEnforce})
		require.NoError(t, err)
		assert.Equal(t, "ca-bundle-dev", metadataOf(t, props)["name"].StringValue())
	})

	t.Run("disabled autonaming requires a name", func(t *testing.T) {
		_, err := check(t, k, "kubernetes:core/v1:ConfigMap", "ca-bundle", nil, unnamed.Copy(), []byte("seed"),
			&plugin.AutonamingOptions{Mode: plugin.AutonamingModeDisabled})
		assert.ErrorContains(t, err, "autonaming is disabled")
	})
}

func TestCheckNamespaceAndKinds(t *testing.T) {
	k := newTestProvider(t, providerConfig{serverSideApply: true}, nil)
	k.cluster.defaultNamespace = "team"

	props, err := check(t, k, "kubernetes:core/v1:ServiceAccount", "sa", nil,
		pm(obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": "builder"}}), []byte("s"), nil)
	require.NoError(t, err)
	assert.Equal(t, "team", metadataOf(t, props)["namespace"].StringValue(), "namespaced kinds get the default namespace")

	props, err = check(t, k, "kubernetes:core/v1:Namespace", "ns", nil,
		pm(obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": "dso"}}), []byte("s"), nil)
	require.NoError(t, err)
	_, hasNS := metadataOf(t, props)["namespace"]
	assert.False(t, hasNS, "cluster-scoped kinds get no namespace")

	props, err = check(t, k, "kubernetes:core/v1:ConfigMap", "cm", nil,
		pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "c", "namespace": "dso"}}), []byte("s"), nil)
	require.NoError(t, err)
	assert.Equal(t, "dso", metadataOf(t, props)["namespace"].StringValue(), "an explicit namespace stays")

	props, err = check(t, k, "kubernetes:example.com/v1:Widget", "w", nil,
		pm(obj{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": obj{"name": "w"}}), []byte("s"), nil)
	require.NoError(t, err)
	assert.Equal(t, "team", metadataOf(t, props)["namespace"].StringValue(), "unknown kinds are taken as namespaced")

	_, err = check(t, k, "kubernetes:core/v1:ConfigMapPatch", "p", nil,
		pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"namespace": "kube-system"}}), []byte("s"), nil)
	assert.ErrorContains(t, err, "patch resources require the `.metadata.name` field to be set")

	_, err = check(t, k, "kubernetes:core/v1:ConfigMap", "g", nil,
		pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"generateName": "x-"}}), []byte("s"), nil)
	assert.ErrorContains(t, err, "generateName")

	_, err = check(t, k, "kubernetes:core/v1:ConfigMapList", "l", nil,
		pm(obj{"apiVersion": "v1", "kind": "ConfigMapList"}), []byte("s"), nil)
	assert.ErrorContains(t, err, "list resources")

	csa := newTestProvider(t, providerConfig{serverSideApply: false}, nil)
	_, err = check(t, csa, "kubernetes:core/v1:ServiceAccountPatch", "p", nil,
		pm(obj{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": "default"}}), []byte("s"), nil)
	assert.ErrorContains(t, err, "Server-Side Apply mode")
	props, err = check(t, csa, "kubernetes:core/v1:ConfigMap", "cm", nil,
		pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "c"}}), []byte("s"), nil)
	require.NoError(t, err)
	assert.Equal(t, "pulumi", metadataOf(t, props)["labels"].ObjectValue()["app.kubernetes.io/managed-by"].StringValue(),
		"client-side apply labels new objects managed-by: pulumi")
}

func TestCheckSecrets(t *testing.T) {
	k := newTestProvider(t, providerConfig{serverSideApply: true}, nil)
	news := pm(obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "pull", "namespace": "dso"},
		"type": "kubernetes.io/dockerconfigjson"})
	news["stringData"] = resource.MakeSecret(resource.NewObjectProperty(pm(obj{".dockerconfigjson": "{}"})))
	props, err := check(t, k, "kubernetes:core/v1:Secret", "pull", nil, news, []byte("s"), nil)
	require.NoError(t, err)
	// Upstream normalises stringData into base64 data, and a Secret's data is always secret.
	require.Contains(t, props, resource.PropertyKey("data"))
	assert.True(t, props["data"].IsSecret())
	assert.Equal(t, "e30=", props["data"].SecretValue().Element.ObjectValue()[".dockerconfigjson"].StringValue())
	assert.NotContains(t, props, resource.PropertyKey("stringData"))
}
