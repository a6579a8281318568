package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// fastAwaits makes awaits poll often and give up quickly.
func fastAwaits(t *testing.T, timeout string) {
	t.Helper()
	old := pollInterval
	pollInterval = 10 * time.Millisecond
	t.Cleanup(func() { pollInterval = old })
	oldSettle := endpointsSettle
	endpointsSettle = 50 * time.Millisecond
	t.Cleanup(func() { endpointsSettle = oldSettle })
	oldRetry := retrySleep
	retrySleep = time.Millisecond
	t.Cleanup(func() { retrySleep = oldRetry })
	t.Setenv(envAwaitTimeout, timeout)
	t.Setenv(envSkipAwait, "")
	t.Setenv(envDeletePropagation, "")
}

// patchRecorder records the patches sent for a resource and answers them with the object.
type patchRecorder struct {
	mu      sync.Mutex
	patches []clienttesting.PatchActionImpl
}

func (r *patchRecorder) react(answer func(clienttesting.PatchActionImpl) (runtime.Object, error)) clienttesting.ReactionFunc {
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		p, ok := action.(clienttesting.PatchActionImpl)
		if !ok {
			return false, nil, nil
		}
		r.mu.Lock()
		r.patches = append(r.patches, p)
		r.mu.Unlock()
		out, err := answer(p)
		return true, out, err
	}
}

func (r *patchRecorder) all() []clienttesting.PatchActionImpl {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]clienttesting.PatchActionImpl(nil), r.patches...)
}

func initFailed(t *testing.T, err error) *pulumirpc.ErrorResourceInitFailed {
	t.Helper()
	rpcErr, ok := rpcerror.FromError(err)
	require.True(t, ok, "an rpc error: %v", err)
	for _, d := range rpcErr.Details() {
		if f, ok := d.(*pulumirpc.ErrorResourceInitFailed); ok {
			return f
		}
	}
	t.Fatalf("no ErrorResourceInitFailed in %v", err)
	return nil
}

func TestCreateReadDelete(t *testing.T) {
	fastAwaits(t, "2s")
	clients, _ := newFakeClients()
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	ctx := context.Background()
	typ := "kubernetes:core/v1:ConfigMap"
	inputs := pm(cm("registry-ca", obj{"ca.crt": "PEM"}))

	created, err := k.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "ca"), Properties: inputs})
	require.NoError(t, err)
	assert.Equal(t, resource.ID("dso/registry-ca"), created.ID)
	assert.Equal(t, "PEM", created.Properties["data"].ObjectValue()["ca.crt"].StringValue())
	assert.Equal(t, inputs, created.Properties["__inputs"].ObjectValue())
	assert.Equal(t, "v1", created.Properties["__initialApiVersion"].StringValue())
	assert.Regexp(t, `^pulumi-kubernetes-[0-9a-f]{8}$`, created.Properties["__fieldManager"].StringValue())

	live, err := clients.dynamic.Resource(configMapGVR).Namespace("dso").Get(ctx, "registry-ca", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "PEM", live.Object["data"].(map[string]any)["ca.crt"])

	// A second create of the same object fails as upstream does (no upsert without upsertExistingObjects).
	_, err = k.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "ca2"), Properties: inputs})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already exists")
	assert.Contains(t, err.Error(), "upsertExistingObjects")

	read, err := k.Read(ctx, plugin.ReadRequest{URN: urnOf(typ, "ca"), ID: created.ID, State: created.Properties, Inputs: inputs})
	require.NoError(t, err)
	assert.Equal(t, created.ID, read.ID)
	assert.Equal(t, "PEM", read.Outputs["data"].ObjectValue()["ca.crt"].StringValue())
	assert.Equal(t, inputs, read.Inputs)

	_, err = k.Delete(ctx, plugin.DeleteRequest{URN: urnOf(typ, "ca"), ID: created.ID, Outputs: created.Properties})
	require.NoError(t, err)
	_, err = clients.dynamic.Resource(configMapGVR).Namespace("dso").Get(ctx, "registry-ca", metav1.GetOptions{})
	assert.Error(t, err)

	gone, err := k.Read(ctx, plugin.ReadRequest{URN: urnOf(typ, "ca"), ID: created.ID, State: created.Properties, Inputs: inputs})
	require.NoError(t, err)
	assert.Nil(t, gone.Outputs, "a deleted object leaves the state")

	// Deleting what is already gone succeeds.
	_, err = k.Delete(ctx, plugin.DeleteRequest{URN: urnOf(typ, "ca"), ID: created.ID, Outputs: created.Properties})
	assert.NoError(t, err)
}

var configMapGVR = schemaGVR("", "v1", "configmaps")

func TestDeleteUsesForegroundPropagationAndWaits(t *testing.T) {
	fastAwaits(t, "300ms")
	live := cm("stuck", obj{"a": "1"})
	liveObj := uns(deepCopyValue(live).(map[string]any))
	liveObj.SetFinalizers([]string{"example.com/hold"})
	clients, fake := newFakeClients(liveObj)
	var policy metav1.DeletionPropagation
	// The API server keeps an object with finalizers: DELETE only marks it.
	fake.PrependReactor("delete", "configmaps", func(action clienttesting.Action) (bool, runtime.Object, error) {
		d := action.(clienttesting.DeleteActionImpl)
		if d.DeleteOptions.PropagationPolicy != nil {
			policy = *d.DeleteOptions.PropagationPolicy
		}
		return true, nil, nil
	})
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	state := stateFor(live, liveObj.Object)
	start := time.Now()
	_, err := k.Delete(context.Background(), plugin.DeleteRequest{
		URN: urnOf("kubernetes:core/v1:ConfigMap", "stuck"), ID: "dso/stuck", Outputs: state,
	})
	require.Error(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the delete waited for the object to go")
	assert.Equal(t, metav1.DeletePropagationForeground, policy)
	detail := initFailed(t, err)
	assert.Equal(t, "dso/stuck", detail.Id, "the object stays in state")
	assert.Contains(t, detail.Reasons[0], "timed out waiting for the condition")

	// The test switch changes the default propagation; the annotation still wins.
	t.Setenv(envDeletePropagation, "background")
	_, _ = k.Delete(context.Background(), plugin.DeleteRequest{URN: urnOf("kubernetes:core/v1:ConfigMap", "stuck"), ID: "dso/stuck", Outputs: state})
	assert.Equal(t, metav1.DeletePropagationBackground, policy)
	annotated := mergeLive(live, obj{"metadata": obj{"annotations": obj{"pulumi.com/deletionPropagationPolicy": "orphan"}}})
	_, _ = k.Delete(context.Background(), plugin.DeleteRequest{URN: urnOf("kubernetes:core/v1:ConfigMap", "stuck"), ID: "dso/stuck",
		Outputs: stateFor(annotated, annotated)})
	assert.Equal(t, metav1.DeletePropagationOrphan, policy)
}

func TestDeleteEndsWhenTheNameBelongsToANewObject(t *testing.T) {
	fastAwaits(t, "2s")
	live := cm("registry-tls", obj{"a": "1"})
	liveObj := uns(deepCopyValue(live).(map[string]any))
	liveObj.SetUID(types.UID("uid-old"))
	clients, fake := newFakeClients(liveObj)
	// A controller writes the object again as soon as it is deleted (cert-manager and a Certificate's Secret).
	fake.PrependReactor("delete", "configmaps", func(action clienttesting.Action) (bool, runtime.Object, error) {
		again := uns(deepCopyValue(live).(map[string]any))
		again.SetUID(types.UID("uid-new"))
		return true, nil, fake.Tracker().Update(configMapGVR, again, "dso")
	})
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	start := time.Now()
	_, err := k.Delete(context.Background(), plugin.DeleteRequest{
		URN: urnOf("kubernetes:core/v1:ConfigMap", "tls"), ID: "dso/registry-tls", Outputs: stateFor(live, liveObj.Object),
	})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second, "the delete did not wait for the new object to go")
	again, err := clients.dynamic.Resource(configMapGVR).Namespace("dso").Get(context.Background(), "registry-tls", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, types.UID("uid-new"), again.GetUID(), "the new object is left alone")
}

func TestPatchResourceUsesServerSideApply(t *testing.T) {
	fastAwaits(t, "1s")
	clients, fake := newFakeClients()
	rec := &patchRecorder{}
	fake.PrependReactor("patch", "configmaps", rec.react(func(p clienttesting.PatchActionImpl) (runtime.Object, error) {
		var body map[string]any
		if err := yaml.Unmarshal(p.GetPatch(), &body); err != nil {
			return nil, err
		}
		out := uns(body)
		out.SetUID(types.UID("uid-1"))
		return out, nil
	}))
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	ctx := context.Background()
	typ := "kubernetes:core/v1:ConfigMapPatch"
	inputs := pm(obj{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": obj{"name": "coredns-custom", "namespace": "kube-system"}, "data": obj{"dso-registry.server": "block"}})

	created, err := k.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "dns"), Properties: inputs})
	require.NoError(t, err)
	manager := created.Properties["__fieldManager"].StringValue()
	patches := rec.all()
	require.Len(t, patches, 1)
	assert.Equal(t, types.ApplyPatchType, patches[0].GetPatchType())
	assert.Equal(t, manager, patches[0].PatchOptions.FieldManager)
	require.NotNil(t, patches[0].PatchOptions.Force)
	assert.False(t, *patches[0].PatchOptions.Force, "a Patch resource does not take fields from other managers")
	assert.Contains(t, string(patches[0].GetPatch()), "dso-registry.server: block")

	// A preview of a Patch resource shows its inputs without calling the API server.
	preview, err := k.Create(ctx, plugin.CreateRequest{URN: urnOf(typ, "dns"), Properties: inputs, Preview: true})
	require.NoError(t, err)
	assert.Equal(t, inputs, preview.Properties)
	assert.Len(t, rec.all(), 1)

	// Delete gives the manager's fields back with an apply of the bare identity.
	_, err = k.Delete(ctx, plugin.DeleteRequest{URN: urnOf(typ, "dns"), ID: created.ID, Outputs: created.Properties})
	require.NoError(t, err)
	patches = rec.all()
	require.Len(t, patches, 2)
	assert.Equal(t, types.ApplyPatchType, patches[1].GetPatchType())
	assert.Equal(t, manager, patches[1].PatchOptions.FieldManager)
	var body map[string]any
	require.NoError(t, yaml.Unmarshal(patches[1].GetPatch(), &body))
	assert.Equal(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "coredns-custom", "namespace": "kube-system"}}, body)
}

func TestUpdateAppliesWithTheStoredFieldManager(t *testing.T) {
	fastAwaits(t, "1s")
	old := cm("registry-ca", obj{"a": "1"})
	liveObj := uns(deepCopyValue(old).(map[string]any))
	liveObj.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: "pulumi-kubernetes", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:a":{}}}`)},
	}})
	clients, fake := newFakeClients(liveObj)
	rec := &patchRecorder{}
	fake.PrependReactor("patch", "configmaps", rec.react(func(p clienttesting.PatchActionImpl) (runtime.Object, error) {
		if p.GetPatchType() == types.JSONPatchType {
			return liveObj, nil
		}
		var body map[string]any
		if err := yaml.Unmarshal(p.GetPatch(), &body); err != nil {
			return nil, err
		}
		return uns(body), nil
	}))
	k := newTestProvider(t, providerConfig{serverSideApply: true, enableConfigMapMutable: true}, clients)
	state := stateFor(old, liveObj.Object)
	news := pm(cm("registry-ca", obj{"a": "2"}))
	resp, err := k.Update(context.Background(), plugin.UpdateRequest{
		URN: urnOf("kubernetes:core/v1:ConfigMap", "ca"), ID: "dso/registry-ca", OldOutputs: state, OldInputs: pm(old), NewInputs: news,
	})
	require.NoError(t, err)
	assert.Equal(t, "2", resp.Properties["data"].ObjectValue()["a"].StringValue())
	patches := rec.all()
	require.Len(t, patches, 2)
	// First the client-side "pulumi-kubernetes" fields of the create move to our apply manager.
	assert.Equal(t, types.JSONPatchType, patches[0].GetPatchType())
	assert.Contains(t, string(patches[0].GetPatch()), `"manager":"pulumi-kubernetes-0123abcd"`)
	assert.Contains(t, string(patches[0].GetPatch()), `"operation":"Apply"`)
	// Then the apply itself, with the manager from state.
	assert.Equal(t, types.ApplyPatchType, patches[1].GetPatchType())
	assert.Equal(t, "pulumi-kubernetes-0123abcd", patches[1].PatchOptions.FieldManager)
}

func TestSecretOutputsAreSecret(t *testing.T) {
	fastAwaits(t, "1s")
	clients, _ := newFakeClients()
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	news := pm(obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "pull", "namespace": "dso"}})
	news["stringData"] = resource.MakeSecret(resource.NewObjectProperty(pm(obj{"token": "t0ken"})))
	checked, err := k.Check(context.Background(), plugin.CheckRequest{URN: urnOf("kubernetes:core/v1:Secret", "pull"), News: news})
	require.NoError(t, err)
	created, err := k.Create(context.Background(), plugin.CreateRequest{URN: urnOf("kubernetes:core/v1:Secret", "pull"), Properties: checked.Properties})
	require.NoError(t, err)
	require.Contains(t, created.Properties, resource.PropertyKey("data"))
	assert.True(t, created.Properties["data"].IsSecret())
	assert.True(t, created.Properties["__inputs"].ObjectValue()["data"].IsSecret())
}

func TestCreateWaitsForDeploymentAndReportsPartialFailure(t *testing.T) {
	fastAwaits(t, "200ms")
	clients, _ := newFakeClients()
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	inputs := pm(deployment(obj{"app": "registry"}, "registry:2"))
	_, err := k.Create(context.Background(), plugin.CreateRequest{URN: urnOf("kubernetes:apps/v1:Deployment", "reg"), Properties: inputs})
	require.Error(t, err, "no controller ever reports the rollout")
	detail := initFailed(t, err)
	assert.Equal(t, "dso/registry", detail.Id)
	assert.Contains(t, detail.Reasons[0], "failed to fully initialize or become live")
	assert.Contains(t, detail.Reasons[0], "timed out waiting to be Ready")
	state, err := plugin.UnmarshalProperties(detail.Properties, plugin.MarshalOptions{KeepSecrets: true})
	require.NoError(t, err)
	assert.Equal(t, "registry", state["metadata"].ObjectValue()["name"].StringValue())

	// skipAwait returns at once, and says so as upstream's Immediate condition does.
	var statuses []string
	k.host.observe = func(_ diag.Severity, msg string, ephemeral bool) {
		if ephemeral {
			statuses = append(statuses, msg)
		}
	}
	skipped := pm(mergeLive(deployment(obj{"app": "registry"}, "registry:2"),
		obj{"metadata": obj{"name": "skipped", "annotations": obj{"pulumi.com/skipAwait": "true"}}}))
	created, err := k.Create(context.Background(), plugin.CreateRequest{URN: urnOf("kubernetes:apps/v1:Deployment", "s"), Properties: skipped})
	require.NoError(t, err)
	assert.Equal(t, resource.ID("dso/skipped"), created.ID)
	assert.Contains(t, statuses, "Skipping await logic")

	// So does the stand-in's test switch.
	t.Setenv(envSkipAwait, "true")
	switched := pm(mergeLive(deployment(obj{"app": "registry"}, "registry:2"), obj{"metadata": obj{"name": "switched"}}))
	_, err = k.Create(context.Background(), plugin.CreateRequest{URN: urnOf("kubernetes:apps/v1:Deployment", "w"), Properties: switched})
	require.NoError(t, err)
}

func TestCreateRetriesWhileTheNamespaceIsMissing(t *testing.T) {
	fastAwaits(t, "1s")
	clients, fake := newFakeClients()
	attempts := 0
	fake.PrependReactor("create", "configmaps", func(action clienttesting.Action) (bool, runtime.Object, error) {
		attempts++
		if attempts < 3 {
			return true, nil, notFound("namespaces", "dso")
		}
		return false, nil, nil
	})
	k := newTestProvider(t, providerConfig{serverSideApply: true}, clients)
	_, err := k.Create(context.Background(), plugin.CreateRequest{URN: urnOf("kubernetes:core/v1:ConfigMap", "c"),
		Properties: pm(cm("c", obj{"a": "1"}))})
	require.NoError(t, err)
	assert.Equal(t, 3, attempts)
}

func TestEvaluateDeployment(t *testing.T) {
	current := uns(obj{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": obj{"name": "registry", "namespace": "dso", "uid": "dep-uid", "generation": int64(1)}})
	c := awaitConfig{ctx: context.Background(), op: &opConfig{host: &engineHost{quiet: true}}, current: current}
	dep := func(revision string, available, progressing string) *unstructured.Unstructured {
		return uns(obj{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": obj{"name": "registry", "namespace": "dso", "uid": "dep-uid", "generation": int64(1),
				"annotations": obj{revisionAnnotation: revision}},
			"spec": obj{"template": obj{"spec": obj{"volumes": list{obj{"name": "d", "persistentVolumeClaim": obj{"claimName": "data"}}}}}},
			"status": obj{"observedGeneration": int64(1), "conditions": list{
				obj{"type": "Available", "status": available, "reason": "MinimumReplicasAvailable", "message": "m"},
				obj{"type": "Progressing", "status": "True", "reason": progressing, "message": "m"},
			}}})
	}
	rs := func(revision string, ready int64) unstructured.Unstructured {
		return *uns(obj{"apiVersion": "apps/v1", "kind": "ReplicaSet",
			"metadata": obj{"name": "registry-abc", "annotations": obj{revisionAnnotation: revision},
				"ownerReferences": list{obj{"apiVersion": "apps/v1", "kind": "Deployment", "name": "registry", "uid": "dep-uid"}}},
			"spec": obj{"replicas": int64(1)}, "status": obj{"readyReplicas": ready}})
	}
	claim := func(phase string) unstructured.Unstructured {
		return *uns(obj{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": obj{"name": "data"},
			"status": obj{"phase": phase}})
	}
	bound := []unstructured.Unstructured{claim("Bound")}

	assert.True(t, c.evaluateDeployment(dep("1", "True", "NewReplicaSetAvailable"), []unstructured.Unstructured{rs("1", 1)}, bound).ready())
	assert.False(t, c.evaluateDeployment(dep("1", "False", "NewReplicaSetAvailable"), []unstructured.Unstructured{rs("1", 1)}, bound).ready(),
		"Available must be True")
	assert.False(t, c.evaluateDeployment(dep("1", "True", "NewReplicaSetAvailable"), []unstructured.Unstructured{rs("1", 0)}, bound).ready(),
		"the ReplicaSet must have its replicas ready")
	assert.False(t, c.evaluateDeployment(dep("1", "True", "NewReplicaSetAvailable"), []unstructured.Unstructured{rs("1", 1)},
		[]unstructured.Unstructured{claim("Pending")}).ready(), "mounted claims must be Bound")
	assert.False(t, c.evaluateDeployment(dep("", "True", "NewReplicaSetAvailable"), nil, bound).ready(),
		"no revision yet")
	assert.False(t, c.evaluateDeployment(dep("2", "True", "ReplicaSetUpdated"), []unstructured.Unstructured{rs("2", 1)}, bound).ready(),
		"after the first revision Progressing must say NewReplicaSetAvailable")
	assert.True(t, c.evaluateDeployment(dep("2", "True", "NewReplicaSetAvailable"), []unstructured.Unstructured{rs("2", 1)}, bound).ready())
	notOwned := rs("1", 1)
	notOwned.SetOwnerReferences(nil)
	assert.False(t, c.evaluateDeployment(dep("1", "True", "NewReplicaSetAvailable"), []unstructured.Unstructured{notOwned}, bound).ready(),
		"only the Deployment's own ReplicaSet counts")
}

func TestDaemonSetCurrent(t *testing.T) {
	ds := func(status obj) *unstructured.Unstructured {
		return uns(obj{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": obj{"name": "t", "generation": int64(2)}, "status": status})
	}
	ok, _ := daemonSetCurrent(ds(obj{"observedGeneration": int64(2), "desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2),
		"updatedNumberScheduled": int64(2), "numberAvailable": int64(2), "numberReady": int64(2)}))
	assert.True(t, ok)
	ok, msg := daemonSetCurrent(ds(obj{"observedGeneration": int64(1), "desiredNumberScheduled": int64(2)}))
	assert.False(t, ok)
	assert.Contains(t, msg, "observed generation")
	ok, _ = daemonSetCurrent(ds(obj{"observedGeneration": int64(2), "desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2),
		"updatedNumberScheduled": int64(2), "numberAvailable": int64(1), "numberReady": int64(2)}))
	assert.False(t, ok)
	ok, msg = daemonSetCurrent(ds(obj{"observedGeneration": int64(2)}))
	assert.False(t, ok)
	assert.Contains(t, msg, "desiredNumberScheduled")
	// A new DaemonSet the controller has not acted on: all zeros and no observedGeneration. Upstream's await
	// (kstatus, daemonsetConditions' checkGenerationSet) keeps waiting; "Replicas: 0" would pass it at once.
	ok, msg = daemonSetCurrent(ds(obj{"desiredNumberScheduled": int64(0), "currentNumberScheduled": int64(0),
		"updatedNumberScheduled": int64(0), "numberAvailable": int64(0), "numberReady": int64(0)}))
	assert.False(t, ok)
	assert.Equal(t, "DaemonSet status.observedGeneration not found", msg)
	ok, msg = daemonSetCurrent(ds(obj{}))
	assert.False(t, ok)
	assert.Equal(t, "DaemonSet status.observedGeneration not found", msg)
}

func TestServiceAwait(t *testing.T) {
	fastAwaits(t, "300ms")
	svc := func(name string, selector obj) *unstructured.Unstructured {
		spec := obj{"type": "ClusterIP", "clusterIP": "10.0.0.9", "ports": list{obj{"port": int64(443)}}}
		if selector != nil {
			spec["selector"] = selector
		}
		return uns(obj{"apiVersion": "v1", "kind": "Service", "metadata": obj{"name": name, "namespace": "dso"}, "spec": spec})
	}
	endpoints := func(name string, ready, notReady int) *unstructured.Unstructured {
		subset := obj{}
		addrs := list{}
		for i := 0; i < ready; i++ {
			addrs = append(addrs, obj{"ip": fmt.Sprintf("10.1.0.%d", i+1)})
		}
		pending := list{}
		for i := 0; i < notReady; i++ {
			pending = append(pending, obj{"ip": fmt.Sprintf("10.2.0.%d", i+1)})
		}
		if ready > 0 {
			subset["addresses"] = addrs
		}
		if notReady > 0 {
			subset["notReadyAddresses"] = pending
		}
		return uns(obj{"apiVersion": "v1", "kind": "Endpoints", "metadata": obj{"name": name, "namespace": "dso", "resourceVersion": "1"},
			"subsets": list{subset}})
	}
	clients, _ := newFakeClients(svc("plain", nil), svc("ready", obj{"app": "r"}), endpoints("ready", 1, 0),
		svc("pending", obj{"app": "p"}), endpoints("pending", 0, 1), svc("alone", obj{"app": "a"}))
	op := &opConfig{ctx: context.Background(), host: &engineHost{quiet: true}, cs: clients}
	run := func(name string) (time.Duration, error) {
		c := awaitConfig{ctx: context.Background(), op: op, current: svc(name, nil), timeout: operationTimeout(0, uns(obj{}))}
		start := time.Now()
		_, err := awaitService(c)
		return time.Since(start), err
	}
	d, err := run("plain")
	assert.NoError(t, err, "a Service without a selector is ready at once")
	assert.Less(t, d, 200*time.Millisecond)

	d, err = run("ready")
	assert.NoError(t, err)
	assert.Less(t, d, 250*time.Millisecond, "ready once its Endpoints settled")

	_, err = run("pending")
	require.Error(t, err, "not-ready addresses at the timeout fail the Service")
	var pe partialError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "pending", pe.Object().GetName())

	d, err = run("alone")
	assert.NoError(t, err, "at the timeout a ready Service without pending endpoints succeeds, as upstream")
	assert.GreaterOrEqual(t, d, 300*time.Millisecond)
}

func TestIngressReadiness(t *testing.T) {
	ing := uns(obj{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": obj{"name": "ui", "namespace": "dso"},
		"spec": obj{"rules": list{obj{"host": "registry.local", "http": obj{"paths": list{
			obj{"path": "/", "pathType": "Prefix", "backend": obj{"service": obj{"name": "registry", "port": obj{"number": int64(443)}}}}}}}}}})
	assert.Equal(t, []string{"registry"}, ingressBackends(ing))
	c := awaitConfig{op: &opConfig{host: &engineHost{quiet: true}}}
	st := &ingressState{endpoints: map[string]bool{}, externalNames: map[string]bool{}}
	st.observeIngress(ing)
	assert.False(t, st.ingressReady)
	assert.False(t, st.endpointsReady(c))
	st.endpoints["registry"] = true
	assert.True(t, st.endpointsReady(c))
	withLB := uns(deepCopyValue(ing.Object).(map[string]any))
	require.NoError(t, unstructured.SetNestedSlice(withLB.Object, list{obj{"ip": "10.0.0.1"}}, "status", "loadBalancer", "ingress"))
	st.observeIngress(withLB)
	assert.True(t, st.ingressReady)
	st.endpoints = map[string]bool{}
	st.settled = false
	messages := strings.Join(st.messages(c), " ")
	assert.Contains(t, messages, "unavailable target endpoint")
	assert.NotContains(t, messages, ".status.loadBalancer")
	st.settled = true
	assert.True(t, st.endpointsReady(c), "once settled a missing backend only warns")
}

func schemaGVR(group, version, res string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: res}
}

func notFound(res, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: res}, name)
}

func TestMergeManagedFields(t *testing.T) {
	entries := []metav1.ManagedFieldsEntry{
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}},
		{Manager: "pulumi-kubernetes", Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:a":{}}}`)}},
		{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:b":{}}}`)}},
	}
	out, changed, err := mergeManagedFields(entries, "pulumi-kubernetes-1234abcd")
	require.NoError(t, err)
	require.True(t, changed)
	require.Len(t, out, 2)
	assert.Equal(t, "kube-controller-manager", out[0].Manager)
	assert.Equal(t, "pulumi-kubernetes-1234abcd", out[1].Manager)
	assert.Equal(t, metav1.ManagedFieldsOperationApply, out[1].Operation)
	assert.Contains(t, string(out[1].FieldsV1.Raw), `"f:a"`)
	assert.Contains(t, string(out[1].FieldsV1.Raw), `"f:b"`)

	_, changed, err = mergeManagedFields(entries[:1], "pulumi-kubernetes-1234abcd")
	require.NoError(t, err)
	assert.False(t, changed)
}

// Upstream's Deployment await (provider/pkg/await/deployment.go, processDeploymentEvent and
// checkReplicaSetStatus) passes the controller's conditions on while it waits: an Available or Progressing
// condition that is not True becomes a warning "[<reason>] <message>" (a new Deployment shows the
// controller's "[MinimumReplicasUnavailable] Deployment does not have minimum availability."), and the
// ReplicaSet's count an info "Waiting for app ReplicaSet to be available (N/M Pods available)". Each goes
// through its DedupLogger (provider/pkg/logging/dedup_logger.go): sent once per operation, however often
// the await looks again.
func TestDeploymentProgressMessages(t *testing.T) {
	type sent struct {
		sev diag.Severity
		msg string
	}
	var got []sent
	host := &engineHost{quiet: true, observe: func(sev diag.Severity, msg string, ephemeral bool) {
		assert.True(t, ephemeral, "status messages are ephemeral")
		got = append(got, sent{sev, msg})
	}}
	current := uns(obj{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": obj{"name": "registry", "namespace": "dso", "uid": "dep-uid", "generation": int64(1)}})
	c := awaitConfig{ctx: context.Background(), op: &opConfig{host: host}, current: current, logged: newStatusLog()}
	dep := uns(obj{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": obj{"name": "registry", "namespace": "dso", "uid": "dep-uid", "generation": int64(1),
			"annotations": obj{revisionAnnotation: "1"}},
		"status": obj{"observedGeneration": int64(1), "conditions": list{
			obj{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
				"message": "Deployment does not have minimum availability."},
			obj{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
				"message": `ReplicaSet "registry-abc" is progressing.`},
		}}})
	rs := func(ready int64) []unstructured.Unstructured {
		return []unstructured.Unstructured{*uns(obj{"apiVersion": "apps/v1", "kind": "ReplicaSet",
			"metadata": obj{"name": "registry-abc", "annotations": obj{revisionAnnotation: "1"},
				"ownerReferences": list{obj{"apiVersion": "apps/v1", "kind": "Deployment", "name": "registry", "uid": "dep-uid"}}},
			"spec": obj{"replicas": int64(2)}, "status": obj{"readyReplicas": ready}})}
	}
	for range 3 {
		assert.False(t, c.evaluateDeployment(dep, rs(0), nil).ready())
	}
	c.evaluateDeployment(dep, rs(1), nil)
	assert.Equal(t, []sent{
		{diag.Warning, "[MinimumReplicasUnavailable] Deployment does not have minimum availability."},
		{diag.Info, "Waiting for app ReplicaSet to be available (0/2 Pods available)"},
		{diag.Info, "Waiting for app ReplicaSet to be available (1/2 Pods available)"},
	}, got)

	// Scaled to zero: ready, with upstream's warning.
	got = nil
	zero := rs(0)
	require.NoError(t, unstructured.SetNestedField(zero[0].Object, int64(0), "spec", "replicas"))
	available := uns(deepCopyValue(dep.Object).(map[string]any))
	require.NoError(t, unstructured.SetNestedSlice(available.Object, list{
		obj{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "m"},
	}, "status", "conditions"))
	assert.True(t, c.evaluateDeployment(available, zero, nil).ready())
	assert.Equal(t, []sent{{diag.Warning, `Replicas scaled to 0 for Deployment "registry"`}}, got)
}
