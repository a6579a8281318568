package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// noAmbientCluster points every kubeconfig lookup at an empty temporary home.
func noAmbientCluster(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", filepath.Join(home, "missing-kubeconfig"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	for _, env := range []string{"PULUMI_K8S_DELETE_UNREACHABLE", "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY",
		"PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE", "PULUMI_K8S_ENABLE_SECRET_MUTABLE", envAwaitTimeout, envSkipAwait} {
		t.Setenv(env, "")
		require.NoError(t, os.Unsetenv(env))
	}
}

func configured(t *testing.T, config obj) *kubeProvider {
	t.Helper()
	k := newKubeProvider("4.34.2", &engineHost{quiet: true})
	t.Cleanup(func() { _ = k.Close() })
	_, err := k.Configure(context.Background(), plugin.ConfigureRequest{Inputs: pm(config)})
	require.NoError(t, err)
	return k
}

func TestParseProviderConfig(t *testing.T) {
	noAmbientCluster(t)
	c := parseProviderConfig(pm(obj{"namespace": "dso", "enableServerSideApply": "false",
		"enableConfigMapMutable": true, "deleteUnreachable": "true", "renderYamlToDirectory": "rendered"}))
	assert.Equal(t, "dso", c.namespace)
	assert.False(t, c.serverSideApply)
	assert.True(t, c.enableConfigMapMutable)
	assert.True(t, c.deleteUnreachable)
	assert.Equal(t, "rendered", c.renderYamlToDirectory)

	d := parseProviderConfig(pm(obj{}))
	assert.True(t, d.serverSideApply, "server-side apply is the default")
	assert.False(t, d.deleteUnreachable)

	t.Setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
	assert.True(t, parseProviderConfig(pm(obj{})).deleteUnreachable, "the environment variable is the fallback")
	assert.False(t, parseProviderConfig(pm(obj{"deleteUnreachable": "false"})).deleteUnreachable, "provider config wins")
}

func TestConfigureKubeconfig(t *testing.T) {
	noAmbientCluster(t)
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: ctx-a
  context: {cluster: a, namespace: from-context}
current-context: ctx-a
users: []
`
	// The API server is unreachable (port 1), so the cluster is marked unreachable; the namespace
	// still comes from the kubeconfig's context.
	k := configured(t, obj{"kubeconfig": kubeconfig})
	_, cluster := k.settings()
	assert.True(t, cluster.unreachable)
	assert.Equal(t, "from-context", cluster.defaultNamespace)

	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, []byte(kubeconfig), 0o600))
	k = configured(t, obj{"kubeconfig": path, "namespace": "explicit"})
	_, cluster = k.settings()
	assert.Equal(t, "explicit", cluster.defaultNamespace, "the namespace setting overrides the context's")

	t.Setenv("KUBECONFIG", path)
	k = configured(t, obj{"context": "ctx-a"})
	_, cluster = k.settings()
	assert.Equal(t, "from-context", cluster.defaultNamespace, "$KUBECONFIG is read when no kubeconfig is set")

	k = configured(t, obj{"kubeconfig": "not: [valid"})
	_, cluster = k.settings()
	assert.True(t, cluster.unreachable)
	assert.Contains(t, cluster.unreachableReason, "failed to parse kubeconfig")
}

func TestCheckConfig(t *testing.T) {
	noAmbientCluster(t)
	failures := checkConfig(pm(obj{"renderYamlToDirectory": "out", "context": "kind-kind"}))
	require.Len(t, failures, 1)
	assert.Equal(t, resource.PropertyKey("context"), failures[0].Property)
	assert.Empty(t, checkConfig(pm(obj{"renderYamlToDirectory": "out"})))
	assert.Len(t, checkConfig(pm(obj{"alwaysRender": "true"})), 1)
}

func TestDiffConfig(t *testing.T) {
	noAmbientCluster(t)
	same, err := diffConfig(pm(obj{"context": "a"}), pm(obj{"context": "a"}))
	require.NoError(t, err)
	assert.Equal(t, plugin.DiffNone, same.Changes)

	render, err := diffConfig(pm(obj{"renderYamlToDirectory": "a"}), pm(obj{"renderYamlToDirectory": "b"}))
	require.NoError(t, err)
	assert.Equal(t, []resource.PropertyKey{"renderYamlToDirectory"}, render.ReplaceKeys)

	unknownContext := pm(obj{})
	unknownContext["context"] = unknown
	replaced, err := diffConfig(pm(obj{"context": "a"}), unknownContext)
	require.NoError(t, err)
	assert.Equal(t, []resource.PropertyKey{"context"}, replaced.ReplaceKeys)

	updated, err := diffConfig(pm(obj{"enableConfigMapMutable": "false"}), pm(obj{"enableConfigMapMutable": "true"}))
	require.NoError(t, err)
	assert.Equal(t, plugin.DiffSome, updated.Changes)
	assert.Empty(t, updated.ReplaceKeys)
}

func TestRenderYamlToDirectory(t *testing.T) {
	noAmbientCluster(t)
	dir := t.TempDir()
	k := configured(t, obj{"renderYamlToDirectory": dir, "namespace": "dso"})
	ctx := context.Background()
	typ := "kubernetes:core/v1:ConfigMap"

	checked, err := k.Check(ctx, plugin.CheckRequest{URN: urnOf(typ, "ca"), RandomSeed: []byte("s"),
		News: pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "registry-ca"}, "data": obj{"ca.crt": "PEM"}})})
	require.NoError(t, err)
	assert.Equal(t, "dso", metadataOf(t, checked.Properties)["namespace"].StringValue())

	created, err := k.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "ca"), Properties: checked.Properties})
	require.NoError(t, err)
	assert.Equal(t, resource.ID("dso/registry-ca"), created.ID)
	assert.Contains(t, created.Properties, resource.PropertyKey("__inputs"))

	path := filepath.Join(dir, "1-manifest", "v1-configmap-dso-registry-ca.yaml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	assert.Equal(t, "ConfigMap", doc["kind"])
	assert.Equal(t, map[string]any{"ca.crt": "PEM"}, doc["data"])
	assert.DirExists(t, filepath.Join(dir, "0-crd"))

	// An update rewrites the file.
	news := checked.Properties.Copy()
	news["data"] = resource.NewObjectProperty(pm(obj{"ca.crt": "NEW"}))
	_, err = k.Update(ctx, plugin.UpdateRequest{URN: urnOf(typ, "ca"), ID: created.ID,
		OldOutputs: created.Properties, OldInputs: checked.Properties, NewInputs: news})
	require.NoError(t, err)
	raw, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "NEW")

	// Secrets are written in plaintext, under their kind's file name.
	secretNews := pm(obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "creds"}})
	secretNews["stringData"] = resource.MakeSecret(resource.NewObjectProperty(pm(obj{"password": "hunter2"})))
	checkedSecret, err := k.Check(ctx, plugin.CheckRequest{URN: urnOf("kubernetes:core/v1:Secret", "creds"), News: secretNews})
	require.NoError(t, err)
	_, err = k.Create(ctx, plugin.CreateRequest{URN: urnOf("kubernetes:core/v1:Secret", "creds"), Properties: checkedSecret.Properties})
	require.NoError(t, err)
	secretRaw, err := os.ReadFile(filepath.Join(dir, "1-manifest", "v1-secret-dso-creds.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(secretRaw), "aHVudGVyMg==", "base64 of the stringData value")

	// CRDs go to 0-crd; other API versions have '/' replaced.
	assert.Equal(t, filepath.Join(dir, "0-crd", "apiextensions.k8s.io_v1-customresourcedefinition-default-widgets.example.com.yaml"),
		renderPath(uns(obj{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": obj{"name": "widgets.example.com"}}), dir))

	// Delete removes the file.
	_, err = k.Delete(ctx, plugin.DeleteRequest{URN: urnOf(typ, "ca"), ID: created.ID, Outputs: created.Properties})
	require.NoError(t, err)
	assert.NoFileExists(t, path)
}

func TestDeleteUnreachable(t *testing.T) {
	noAmbientCluster(t)
	ctx := context.Background()
	typ := "kubernetes:core/v1:ConfigMap"
	live := cm("ca", obj{"a": "1"})
	state := stateFor(live, live)

	strict := configured(t, obj{})
	_, cluster := strict.settings()
	require.True(t, cluster.unreachable, "no kubeconfig: the cluster is unreachable")
	_, err := strict.Read(ctx, plugin.ReadRequest{URN: urnOf(typ, "ca"), ID: "dso/ca", State: state, Inputs: pm(live)})
	assert.ErrorContains(t, err, "PULUMI_K8S_DELETE_UNREACHABLE")
	_, err = strict.Delete(ctx, plugin.DeleteRequest{URN: urnOf(typ, "ca"), ID: "dso/ca", Outputs: state})
	assert.ErrorContains(t, err, "unreachable")
	_, err = strict.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "ca"), Properties: pm(live)})
	assert.ErrorContains(t, err, "unreachable")

	lenient := configured(t, obj{"deleteUnreachable": "true"})
	read, err := lenient.Read(ctx, plugin.ReadRequest{URN: urnOf(typ, "ca"), ID: "dso/ca", State: state, Inputs: pm(live)})
	require.NoError(t, err)
	assert.Nil(t, read.Outputs, "the resource is dropped from state")
	assert.Equal(t, resource.ID(""), read.ID)
	_, err = lenient.Delete(ctx, plugin.DeleteRequest{URN: urnOf(typ, "ca"), ID: "dso/ca", Outputs: state})
	assert.NoError(t, err)

	// A preview of a create against an unreachable cluster shows the inputs.
	preview, err := strict.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "ca"), Properties: pm(live), Preview: true})
	require.NoError(t, err)
	assert.Equal(t, pm(live), preview.Properties)
}
