package main

// The resource provider: Check, Diff, Create, Read, Update and Delete of Kubernetes objects.
// Every rule here follows pulumi-kubernetes v4 provider/pkg/provider/provider.go (the methods of
// the same names); helpers name their upstream files in their own comments.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const providerPackage = "kubernetes"

type kubeProvider struct {
	plugin.UnimplementedProvider

	version string
	host    *engineHost
	ctx     context.Context
	cancel  context.CancelFunc

	mu      sync.RWMutex
	cfg     providerConfig
	cluster clusterState
}

func newKubeProvider(version string, host *engineHost) *kubeProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &kubeProvider{
		version: version, host: host, ctx: ctx, cancel: cancel,
		cfg:     providerConfig{serverSideApply: true},
		cluster: clusterState{unreachable: true, unreachableReason: "the provider has not been configured"},
	}
}

func (k *kubeProvider) settings() (providerConfig, clusterState) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.cfg, k.cluster
}

func (k *kubeProvider) Close() error { k.cancel(); return nil }

// Attach connects an already running provider to an engine.
func (k *kubeProvider) Attach(address string) error {
	k.host.setAddress(address)
	return nil
}

func (k *kubeProvider) Handshake(_ context.Context, req plugin.ProviderHandshakeRequest) (*plugin.ProviderHandshakeResponse, error) {
	k.host.setAddress(req.EngineAddress)
	return &plugin.ProviderHandshakeResponse{
		AcceptSecrets: true, AcceptResources: true, SupportsAutonamingConfiguration: true,
	}, nil
}

func (k *kubeProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v, err := semver.ParseTolerant(k.version)
	if err != nil {
		return plugin.PluginInfo{}, err
	}
	return plugin.PluginInfo{Version: &v}, nil
}

// GetSchema answers with the package's name and version only: the stand-in has no SDK to generate.
func (k *kubeProvider) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	return plugin.GetSchemaResponse{Schema: []byte(fmt.Sprintf(`{"name":%q,"version":%q}`, providerPackage, k.version))}, nil
}

func (k *kubeProvider) SignalCancellation(context.Context) error {
	k.cancel()
	return nil
}

func (k *kubeProvider) GetMapping(context.Context, plugin.GetMappingRequest) (plugin.GetMappingResponse, error) {
	return plugin.GetMappingResponse{}, nil
}

func (k *kubeProvider) GetMappings(context.Context, plugin.GetMappingsRequest) (plugin.GetMappingsResponse, error) {
	return plugin.GetMappingsResponse{}, nil
}

// Invoke: @pulumi/kubernetes calls no function when it registers the kinds this program uses; the
// upstream functions (yaml decode, helm template, kustomize) are not part of the stand-in.
func (k *kubeProvider) Invoke(_ context.Context, req plugin.InvokeRequest) (plugin.InvokeResponse, error) {
	return plugin.InvokeResponse{}, fmt.Errorf("unknown Invoke type %q", req.Tok)
}

func (k *kubeProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News, Failures: checkConfig(req.News)}, nil
}

func (k *kubeProvider) DiffConfig(_ context.Context, req plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	olds := req.OldOutputs
	if olds == nil {
		olds = req.OldInputs
	}
	return diffConfig(olds, req.NewInputs)
}

func (k *kubeProvider) Configure(_ context.Context, req plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	cfg := parseProviderConfig(req.Inputs)
	cluster := connect(cfg)
	k.mu.Lock()
	k.cfg, k.cluster = cfg, cluster
	k.mu.Unlock()
	return plugin.ConfigureResponse{}, nil
}

// --------------------------------------------------------------------------------------------
// Helpers.
// --------------------------------------------------------------------------------------------

// gvkFromURN reads group/version/kind from a type token kubernetes:<group>/<version>:<Kind>.
func gvkFromURN(urn resource.URN) (schema.GroupVersionKind, error) {
	return gvkFromType(urn.Type())
}

func gvkFromType(t tokens.Type) (schema.GroupVersionKind, error) {
	parts := strings.Split(string(t), ":")
	if len(parts) != 3 || parts[0] != providerPackage {
		return schema.GroupVersionKind{}, fmt.Errorf("unrecognized resource type: %q for this provider", t)
	}
	gv := strings.Split(parts[1], "/")
	if len(gv) != 2 {
		return schema.GroupVersionKind{}, fmt.Errorf("apiVersion does not have both a group and a version: %q", parts[1])
	}
	group := gv[0]
	if group == "core" {
		group = ""
	}
	return schema.GroupVersionKind{Group: group, Version: gv[1], Kind: parts[2]}, nil
}

// isPatchResource: the type is the object kind with a "Patch" suffix (kinds/util.go).
func isPatchResource(urn resource.URN, kind string) bool {
	return kind+"Patch" == urn.Type().Name().String()
}

// isListType: the List types of built-in kinds exist for YAML compatibility and cannot be created
// (kinds/kinds.go ListQualifiedTypes).
func isListType(urn resource.URN) bool {
	return strings.HasSuffix(urn.Type().Name().String(), "List") &&
		knownGroupVersions[urn.Type().Module().Name().String()]
}

func canonicalNamespace(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// fieldManagerName: the pulumi.com/patchFieldManager annotation, else the manager in state, else
// a new "pulumi-kubernetes-<8 hex>" (CSA mode always uses "pulumi-kubernetes").
func (k *kubeProvider) fieldManagerName(cfg providerConfig, state resource.PropertyMap, inputs *unstructured.Unstructured) string {
	if !cfg.serverSideApply {
		return "pulumi-kubernetes"
	}
	if v := annotationValue(inputs, annotationPatchFieldManager); v != "" {
		return v
	}
	if v, ok := state[fieldManagerKey]; ok && v.IsString() {
		return v.StringValue()
	}
	name, _ := resource.NewUniqueName(nil, "pulumi-kubernetes-", 0, 0, nil)
	return name
}

func (k *kubeProvider) opConfig(cfg providerConfig, cluster clusterState, urn resource.URN,
	initialAPIVersion, fieldManager string, isPatch bool,
) *opConfig {
	return &opConfig{
		ctx: k.ctx, host: k.host, urn: urn, cs: cluster.clients,
		initialAPIVersion: initialAPIVersion, fieldManager: fieldManager,
		serverSideApply: cfg.serverSideApply, enablePatchForce: cfg.enablePatchForce,
		upsertExistingObjects: cfg.upsertExistingObjects, isPatch: isPatch,
	}
}

// newPartialError reports an object that exists but did not finish its operation; the engine keeps
// the given state with the error (provider.go partialError).
func newPartialError(id string, err error, state, inputs resource.PropertyMap) error {
	reasons := []string{err.Error()}
	var agg aggregatedError
	if errors.As(err, &agg) {
		reasons = append(reasons, agg.SubErrors()...)
	}
	opts := plugin.MarshalOptions{Label: "partial", KeepUnknowns: true, KeepSecrets: true, KeepResources: true}
	detail := &pulumirpc.ErrorResourceInitFailed{Id: id, Reasons: reasons}
	if state != nil {
		if s, merr := plugin.MarshalProperties(state, opts); merr == nil {
			detail.Properties = s
		}
	}
	if inputs != nil {
		if s, merr := plugin.MarshalProperties(inputs, opts); merr == nil {
			detail.Inputs = s
		}
	}
	return rpcerror.WithDetails(rpcerror.New(codes.Unknown, err.Error()), detail)
}

func asPartial(err error) (partialError, bool) {
	var pe partialError
	if errors.As(err, &pe) && pe.Object() != nil {
		return pe, true
	}
	return nil, false
}

// --------------------------------------------------------------------------------------------
// Check.
// --------------------------------------------------------------------------------------------

// Check returns the inputs to create or update with: normalised, named (<resource name>-<8 hex>
// when metadata.name is absent, marked pulumi.com/autonamed), and with the default namespace set
// on namespaced kinds that name none.
func (k *kubeProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	cfg, cluster := k.settings()
	urn := req.URN
	if cluster.unreachable && cfg.skipUpdateUnreachable {
		k.host.Log(diag.Warning, urn, "Cluster is unreachable but skipUpdateUnreachable flag is set to true, skipping...")
		return plugin.CheckResponse{Properties: req.Olds}, nil
	}
	if isListType(urn) {
		return plugin.CheckResponse{}, errors.New("list resources exist for compatibility with YAML manifests and Helm " +
			"charts, and cannot be created directly. Use the underlying resource type instead")
	}
	oldInputs := toObject(req.Olds)
	newInputs := toObject(req.News)
	isPatch := isPatchResource(urn, newInputs.GetKind())
	if !cfg.serverSideApply && isPatch {
		return plugin.CheckResponse{}, errors.New("patch resources require Server-Side Apply mode, which is enabled " +
			"using the `enableServerSideApply` Provider config")
	}
	newInputs = normalizeInputs(newInputs)
	if cfg.serverSideApply && isPatch && newInputs.GetName() == "" {
		return plugin.CheckResponse{}, errors.New("patch resources require the `.metadata.name` field to be set")
	}
	for key := range newInputs.GetAnnotations() {
		if strings.HasPrefix(key, annotationAutonamed) {
			k.host.Log(diag.Warning, urn, fmt.Sprintf("ignoring user-specified value for internal annotation %q", key))
		}
	}

	if len(oldInputs.Object) > 0 {
		adoptOldAutonameIfUnnamed(newInputs, oldInputs, req.News)
		// Keep the managed-by label only where it already was (imports and SSA objects stay as they are).
		if hasManagedByLabel(oldInputs) {
			if err := trySetManagedByLabel(newInputs); err != nil {
				return plugin.CheckResponse{}, fmt.Errorf("Failed to create object because of a problem setting managed-by labels: %w", err) //nolint:staticcheck
			}
		}
	} else {
		if err := assignNameIfAutonamable(req.RandomSeed, req.Autonaming, newInputs, req.News, urn); err != nil {
			return plugin.CheckResponse{}, err
		}
		// Client-side apply marks new objects managed-by: pulumi; SSA keeps that in managedFields.
		if !cfg.serverSideApply {
			if err := trySetManagedByLabel(newInputs); err != nil {
				return plugin.CheckResponse{}, fmt.Errorf("Failed to create object because of a problem setting managed-by labels: %w", err) //nolint:staticcheck
			}
		}
	}
	if isGenerateName(newInputs, req.News) {
		if cfg.serverSideApply {
			return plugin.CheckResponse{}, errors.New("the `.metadata.generateName` field is not supported in Server-Side Apply mode")
		}
		if cfg.renderYamlToDirectory != "" {
			return plugin.CheckResponse{}, errors.New("the `.metadata.generateName` field is not supported in YAML rendering mode")
		}
	}
	gvk, err := gvkFromURN(urn)
	if err != nil {
		return plugin.CheckResponse{}, err
	}
	if cluster.defaultNamespace != "" && newInputs.GetNamespace() == "" {
		namespaced, err := isNamespacedKind(gvk, cluster.clients)
		if err != nil {
			var nsErr *errNoNamespaceInfo
			if !errors.As(err, &nsErr) {
				return plugin.CheckResponse{}, err
			}
			namespaced = true // probably a custom resource whose CRD is not registered yet
		}
		if namespaced {
			newInputs.SetNamespace(cluster.defaultNamespace)
		}
	}
	checked := toPropertyMap(newInputs.Object)
	annotateSecrets(checked, req.News)
	if cfg.renderYamlToDirectory != "" && checked.ContainsSecrets() {
		k.host.Log(diag.Warning, urn, "rendered YAML will contain a secret value in plaintext")
	}
	return plugin.CheckResponse{Properties: checked}, nil
}

// --------------------------------------------------------------------------------------------
// Diff.
// --------------------------------------------------------------------------------------------

// diffResponse compares the old live state, pruned to the shape of the old inputs, with the new
// inputs. Changes of name, namespace or a kind's force-new fields replace the resource; a
// replacement deletes first when the object keeps a user-given name in the same namespace.
func (k *kubeProvider) diffResponse(urn resource.URN, oldState, news resource.PropertyMap, ignoreChanges []string) (*pulumirpc.DiffResponse, error) {
	cfg, cluster := k.settings()
	newInputs := toObject(news)
	oldInputs, oldLive := parseCheckpointObject(oldState)
	if oldLive.GetName() == "" {
		return nil, fmt.Errorf("expected live object name to be nonempty: %v", oldLive)
	}
	oldInputs = normalizeInputs(oldInputs)
	newInputs = normalizeInputs(newInputs)
	oldLivePruned := pruneLiveState(oldLive, oldInputs)

	gvk := gvkOf(newInputs)
	namespaced, err := isNamespacedKind(gvk, cluster.clients)
	if err != nil {
		var nsErr *errNoNamespaceInfo
		if !errors.As(err, &nsErr) {
			return nil, fmt.Errorf("API server returned error when asked if resource type %s is namespaced: %w", gvk, err)
		}
		namespaced = true
	}
	if namespaced {
		oldLivePruned.SetNamespace(canonicalNamespace(oldLivePruned.GetNamespace()))
		newInputs.SetNamespace(canonicalNamespace(newInputs.GetNamespace()))
	} else {
		oldLivePruned.SetNamespace("")
		newInputs.SetNamespace("")
	}
	if oldLivePruned.GroupVersionKind().Empty() {
		oldLivePruned.SetGroupVersionKind(gvk)
	}
	if cfg.serverSideApply && oldLivePruned.GetResourceVersion() != "" {
		oldLivePruned.SetResourceVersion("")
	}
	if newInputs.GetName() != "" {
		oldLivePruned.SetName(oldLive.GetName())
	}

	forceNew := properties{".metadata.name", ".metadata.namespace"}
	if !isPatchResource(urn, newInputs.GetKind()) {
		forceNew = forceNewProperties(newInputs, cfg.enableConfigMapMutable, cfg.enableSecretMutable)
	}
	detailed := computeDetailedDiff(oldLivePruned.Object, newInputs.Object, forceNew)
	if err := removeIgnoredChanges(detailed, ignoreChanges); err != nil {
		return nil, err
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	var replaces []string
	if len(detailed) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
		replaces = replacesOf(detailed)
	}
	if isAnnotationTrue(newInputs, annotationReplaceUnready) {
		k.host.Log(diag.Warning, urn, "replaceUnready annotation is not supported for this resource")
	}
	deleteBeforeReplace := len(replaces) > 0 &&
		isNamed(newInputs, news) &&
		!isAutonamed(newInputs) &&
		newInputs.GetName() == oldLive.GetName() &&
		newInputs.GetNamespace() == oldLive.GetNamespace()
	if cfg.renderYamlToDirectory != "" && cfg.alwaysRender {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	// No Diffs, as upstream (provider.go, Diff): only the detailed diff says which properties change.
	return &pulumirpc.DiffResponse{
		Changes:             changes,
		Replaces:            replaces,
		Stables:             []string{},
		DeleteBeforeReplace: deleteBeforeReplace,
		DetailedDiff:        detailed,
		HasDetailedDiff:     true,
	}, nil
}

// Diff (the plugin-interface form; the gRPC server answers Diff through diffResponse directly so
// that the engine receives the detailed diff as upstream sends it).
func (k *kubeProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	resp, err := k.diffResponse(req.URN, req.OldOutputs, req.NewInputs, req.IgnoreChanges)
	if err != nil {
		return plugin.DiffResponse{}, err
	}
	out := plugin.DiffResult{
		Changes:             plugin.DiffNone,
		DeleteBeforeReplace: resp.DeleteBeforeReplace,
		DetailedDiff:        map[string]plugin.PropertyDiff{},
	}
	if resp.Changes == pulumirpc.DiffResponse_DIFF_SOME {
		out.Changes = plugin.DiffSome
	}
	for _, r := range resp.Replaces {
		out.ReplaceKeys = append(out.ReplaceKeys, resource.PropertyKey(r))
	}
	for _, d := range resp.Diffs {
		out.ChangedKeys = append(out.ChangedKeys, resource.PropertyKey(d))
	}
	for path, d := range resp.DetailedDiff {
		out.DetailedDiff[path] = plugin.PropertyDiff{Kind: plugin.DiffKind(d.Kind), InputDiff: d.InputDiff}
	}
	return out, nil
}

// --------------------------------------------------------------------------------------------
// Create.
// --------------------------------------------------------------------------------------------

func (k *kubeProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	cfg, cluster := k.settings()
	urn := req.URN
	render := cfg.renderYamlToDirectory != ""
	if !req.Preview && cluster.unreachable && !render {
		return plugin.CreateResponse{}, fmt.Errorf("configured Kubernetes cluster is unreachable: %s", cluster.unreachableReason)
	}
	newInputs := toObject(req.Properties)
	isPatch := isPatchResource(urn, newInputs.GetKind())

	// A preview cannot be computed with unknown inputs, an unknown kind, a Patch resource, or in
	// client-side apply mode: the inputs are the preview.
	skipPreview := hasComputedValue(newInputs) || !cluster.clients.gvkExists(gvkOf(newInputs)) || isPatch || !cfg.serverSideApply
	if req.Preview && skipPreview {
		return plugin.CreateResponse{ID: "", Properties: req.Properties}, nil
	}
	initialAPIVersion := newInputs.GetAPIVersion()
	fieldManager := k.fieldManagerName(cfg, req.Properties, newInputs)

	if render {
		path := renderPath(newInputs, cfg.renderYamlToDirectory)
		if req.Properties.ContainsSecrets() {
			k.host.Log(diag.Warning, urn, fmt.Sprintf("rendered file %s contains a secret value in plaintext", path))
		}
		if err := renderYaml(newInputs, cfg.renderYamlToDirectory); err != nil {
			return plugin.CreateResponse{}, err
		}
		k.host.LogStatus(diag.Info, urn, "rendered "+path)
		return plugin.CreateResponse{
			ID:         resource.ID(fqObjName(newInputs)),
			Properties: checkpointObject(newInputs, newInputs, req.Properties, initialAPIVersion, fieldManager),
		}, nil
	}

	op := k.opConfig(cfg, cluster, urn, initialAPIVersion, fieldManager, isPatch)
	initialized, awaitErr := creation(op, newInputs, req.Timeout, req.Preview)
	if awaitErr != nil {
		if req.Preview {
			var nsErr *namespaceError
			if apierrors.IsForbidden(awaitErr) || isDryRunDisabled(awaitErr) || errors.As(awaitErr, &nsErr) ||
				(cfg.serverSideApply && apierrors.IsAlreadyExists(awaitErr)) {
				return plugin.CreateResponse{ID: "", Properties: req.Properties}, nil
			}
		}
		if meta.IsNoMatchError(awaitErr) {
			gvk, _ := gvkFromURN(urn)
			return plugin.CreateResponse{}, fmt.Errorf("creation of resource %q with kind %s failed because the Kubernetes "+
				"API server reported that the apiVersion for this resource does not exist. "+
				"Verify that any required CRDs have been created: %w", urn, gvk.GroupVersion().String()+"/"+gvk.Kind, awaitErr)
		}
		pe, ok := asPartial(awaitErr)
		if !ok {
			return plugin.CreateResponse{}, fmt.Errorf(
				"resource %q was not successfully created by the Kubernetes API server: %w", urn, awaitErr)
		}
		initialized = pe.Object()
	}
	if initialized == nil || initialized.GetName() == "" {
		return plugin.CreateResponse{}, fmt.Errorf("the API server returned no object for %q", urn)
	}
	if req.Preview {
		// A status in a preview would be read by programs as if it were real.
		unstructured.RemoveNestedField(initialized.Object, "status")
	}
	state := checkpointObject(newInputs, initialized, req.Properties, initialAPIVersion, fieldManager)
	if awaitErr != nil {
		return plugin.CreateResponse{}, newPartialError(fqObjName(initialized), fmt.Errorf(
			"resource %q was successfully created, but the Kubernetes API server reported that it failed to fully "+
				"initialize or become live: %w", urn, awaitErr), state, nil)
	}
	if isCRD(newInputs) && cluster.clients != nil && cluster.clients.reset != nil {
		cluster.clients.reset()
	}
	id := ""
	if !req.Preview {
		id = fqObjName(initialized)
	}
	return plugin.CreateResponse{ID: resource.ID(id), Properties: state}, nil
}

func isDryRunDisabled(err error) bool {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return false
	}
	msg := se.Status().Message
	return se.Status().Code == 400 && (msg == "the dryRun alpha feature is disabled" ||
		msg == "the dryRun beta feature is disabled" || strings.Contains(msg, "does not support dry run"))
}

// --------------------------------------------------------------------------------------------
// Read.
// --------------------------------------------------------------------------------------------

// deleted is Read's answer for an object that no longer exists.
var deleted = plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: "", Outputs: nil}}

func (k *kubeProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	cfg, cluster := k.settings()
	urn := req.URN
	if cluster.unreachable {
		k.host.Log(diag.Warning, urn, "configured Kubernetes cluster is unreachable: "+cluster.unreachableReason)
		if cfg.deleteUnreachable {
			k.host.Log(diag.Info, urn, "configured Kubernetes cluster is unreachable and the `deleteUnreachable` option "+
				"is enabled. Deleting the unreachable resource from Pulumi state")
			return deleted, nil
		}
		if cfg.skipUpdateUnreachable {
			k.host.Log(diag.Info, urn, "configured Kubernetes cluster is unreachable and the `skipUnreachable` option is "+
				"enabled. Returned data could not reflect the actual cluster configuration.")
			return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Outputs: req.State, Inputs: req.Inputs}}, nil
		}
		return plugin.ReadResponse{}, errors.New("failed to read resource state due to unreachable cluster. If the " +
			"cluster was deleted, you can remove this resource from Pulumi state by rerunning the operation with the " +
			"PULUMI_K8S_DELETE_UNREACHABLE environment variable set to \"true\"")
	}
	namespace, name := parseFqName(string(req.ID))
	if name == "" {
		return plugin.ReadResponse{}, fmt.Errorf(
			"failed to read resource because of a failure to parse resource name from request ID: %s", req.ID)
	}
	oldInputs := normalizeInputs(toObject(req.Inputs))
	_, oldLive := parseCheckpointObject(req.State)
	readFromCluster := false
	if oldInputs.GroupVersionKind().Empty() {
		if oldLive.GroupVersionKind().Empty() {
			gvk, err := gvkFromURN(urn)
			if err != nil {
				return plugin.ReadResponse{}, err
			}
			oldInputs.SetGroupVersionKind(gvk)
			readFromCluster = true
		} else {
			oldInputs.SetGroupVersionKind(oldLive.GroupVersionKind())
		}
		if oldInputs.GetName() == "" {
			oldInputs.SetName(name)
		}
		if oldInputs.GetNamespace() == "" {
			oldInputs.SetNamespace(namespace)
		}
	}
	initialAPIVersion := initialAPIVersion(req.State, oldInputs)
	fieldManager := k.fieldManagerName(cfg, req.State, oldInputs)

	if cfg.renderYamlToDirectory != "" {
		return plugin.ReadResponse{ReadResult: plugin.ReadResult{
			ID:      req.ID,
			Outputs: checkpointObject(oldInputs, oldLive, req.State, initialAPIVersion, fieldManager),
			Inputs:  req.Inputs,
		}}, nil
	}

	op := k.opConfig(cfg, cluster, urn, initialAPIVersion, fieldManager, false)
	liveObj, readErr := readObject(op, oldInputs, name, readFromCluster)
	if readErr != nil {
		if meta.IsNoMatchError(readErr) || apierrors.IsNotFound(readErr) {
			// The object, or its kind (a CRD), is gone.
			return deleted, nil
		}
		if pe, ok := asPartial(readErr); ok {
			liveObj = pe.Object()
		}
		if liveObj == nil {
			return plugin.ReadResponse{}, readErr
		}
	}

	liveInputs := pruneLiveState(liveObj, oldInputs)
	if readFromCluster {
		// Without previous inputs (import, .get) the live object's top-level fields are the inputs.
		for key, value := range liveObj.Object {
			if key == "status" {
				continue
			}
			liveInputs.Object[key] = deepCopyValue(value)
		}
		for _, f := range []string{"creationTimestamp", "generation", "managedFields", "resourceVersion", "uid"} {
			removeMetadataField(liveInputs, f)
		}
		unstructured.RemoveNestedField(liveInputs.Object, "metadata", "annotations", "deployment.kubernetes.io/revision")
		unstructured.RemoveNestedField(liveInputs.Object, "metadata", "annotations", lastAppliedConfigKey)
	}
	id := string(req.ID)
	if id == "" {
		id = fqObjName(liveObj)
	}
	state := checkpointObject(liveInputs, liveObj, req.Inputs, initialAPIVersion, fieldManager)
	inputs := toPropertyMap(liveInputs.Object)
	annotateSecrets(inputs, req.Inputs)
	if readErr != nil {
		return plugin.ReadResponse{}, newPartialError(id, readErr, state, inputs)
	}
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: resource.ID(id), Outputs: state, Inputs: inputs}}, nil
}

// --------------------------------------------------------------------------------------------
// Update.
// --------------------------------------------------------------------------------------------

func (k *kubeProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	cfg, cluster := k.settings()
	urn := req.URN
	render := cfg.renderYamlToDirectory != ""
	if !req.Preview && cluster.unreachable && !render {
		return plugin.UpdateResponse{}, fmt.Errorf("configured Kubernetes cluster is unreachable: %s", cluster.unreachableReason)
	}
	newInputs := normalizeInputs(toObject(req.NewInputs))
	if req.Preview && (hasComputedValue(newInputs) || !cluster.clients.gvkExists(gvkOf(newInputs))) {
		return plugin.UpdateResponse{Properties: req.NewInputs}, nil
	}
	oldState := req.OldOutputs
	oldInputs, oldLive := parseCheckpointObject(oldState)
	removeLastAppliedConfigurationAnnotation(oldLive, oldInputs)
	oldInputs = normalizeInputs(oldInputs)
	oldLivePruned := pruneLiveState(oldLive, oldInputs)

	initialAPIVersion := initialAPIVersion(oldState, oldInputs)
	fieldManagerOld := k.fieldManagerName(cfg, oldState, oldInputs)
	fieldManager := k.fieldManagerName(cfg, oldState, newInputs)

	if render {
		path := renderPath(newInputs, cfg.renderYamlToDirectory)
		if req.NewInputs.ContainsSecrets() {
			k.host.LogStatus(diag.Warning, urn, fmt.Sprintf("rendered file %s contains a secret value in plaintext", path))
		}
		if err := renderYaml(newInputs, cfg.renderYamlToDirectory); err != nil {
			return plugin.UpdateResponse{}, err
		}
		k.host.LogStatus(diag.Info, urn, "rendered "+path)
		return plugin.UpdateResponse{
			Properties: checkpointObject(newInputs, newInputs, req.NewInputs, initialAPIVersion, fieldManager),
		}, nil
	}

	isPatch := isPatchResource(urn, newInputs.GetKind())
	op := k.opConfig(cfg, cluster, urn, initialAPIVersion, fieldManager, isPatch)
	initialized, awaitErr := updateObject(op, updateArgs{
		oldInputs: oldLivePruned, oldOutputs: oldLive, inputs: newInputs,
		timeout: req.Timeout, preview: req.Preview, ignoreChanges: req.IgnoreChanges,
	})
	if awaitErr != nil {
		if req.Preview && apierrors.IsForbidden(awaitErr) {
			return plugin.UpdateResponse{Properties: req.NewInputs}, nil
		}
		if meta.IsNoMatchError(awaitErr) {
			return plugin.UpdateResponse{}, fmt.Errorf("update of resource %q failed because the Kubernetes API server "+
				"reported that the apiVersion for this resource does not exist. "+
				"Verify that any required CRDs have been created: %w", urn, awaitErr)
		}
		// Whatever went wrong, the object may have changed: report its live state with the error.
		client, err := cluster.clients.clientFor(oldLive)
		var getErr error
		if err != nil {
			getErr = err
		} else if initialized, getErr = client.Get(k.ctx, oldLive.GetName(), metav1.GetOptions{}); getErr != nil {
			initialized = nil
		}
		if getErr != nil {
			return plugin.UpdateResponse{}, errors.Join(
				fmt.Errorf("update of resource %q failed: %w", urn, awaitErr),
				fmt.Errorf("unable to get cluster state: %w", getErr))
		}
	}
	state := checkpointObject(newInputs, initialized, req.NewInputs, initialAPIVersion, fieldManager)
	if awaitErr != nil {
		return plugin.UpdateResponse{}, newPartialError(fqObjName(initialized), fmt.Errorf(
			"the Kubernetes API server reported that %q failed to fully initialize or become live: %w",
			fqObjName(initialized), awaitErr), state, nil)
	}
	if cfg.serverSideApply && !req.Preview && fieldManagerOld != fieldManager {
		// A new field manager (pulumi.com/patchFieldManager changed): the old one gives its fields up.
		client, err := cluster.clients.clientFor(initialized)
		if err != nil {
			return plugin.UpdateResponse{}, err
		}
		if err := relinquish(k.ctx, client, initialized, fieldManagerOld); err != nil {
			return plugin.UpdateResponse{}, err
		}
	}
	return plugin.UpdateResponse{Properties: state}, nil
}

// --------------------------------------------------------------------------------------------
// Delete.
// --------------------------------------------------------------------------------------------

func (k *kubeProvider) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	cfg, cluster := k.settings()
	urn := req.URN
	oldState := req.Outputs
	oldInputs, current := parseCheckpointObject(oldState)
	_, name := parseFqName(string(req.ID))

	if cfg.renderYamlToDirectory != "" {
		file := renderPath(current, cfg.renderYamlToDirectory)
		_ = os.Remove(file) // most often the file is already gone
		k.host.LogStatus(diag.Info, urn, "deleted "+file)
		return plugin.DeleteResponse{}, nil
	}
	if cluster.unreachable {
		k.host.Log(diag.Warning, urn, "configured Kubernetes cluster is unreachable: "+cluster.unreachableReason)
		if cfg.deleteUnreachable {
			k.host.Log(diag.Info, urn, "configured Kubernetes cluster is unreachable and the `deleteUnreachable` option "+
				"is enabled. Deleting the unreachable resource from Pulumi state")
			return plugin.DeleteResponse{}, nil
		}
		return plugin.DeleteResponse{}, errors.New("configured Kubernetes cluster is unreachable. If the cluster was " +
			"deleted, you can remove this resource from Pulumi state by rerunning the operation with the " +
			"PULUMI_K8S_DELETE_UNREACHABLE environment variable set to \"true\"")
	}
	initialAPIVersion := initialAPIVersion(oldState, &unstructured.Unstructured{Object: map[string]any{}})
	fieldManager := k.fieldManagerName(cfg, oldState, oldInputs)
	isPatch := isPatchResource(urn, current.GetKind())
	op := k.opConfig(cfg, cluster, urn, initialAPIVersion, fieldManager, isPatch)
	err := deletion(op, deleteArgs{inputs: oldInputs, outputs: current, name: name, timeout: req.Timeout})
	if err == nil {
		return plugin.DeleteResponse{}, nil
	}
	if meta.IsNoMatchError(err) {
		return plugin.DeleteResponse{}, nil // the CRD is gone, so is the object
	}
	if isPatch && apierrors.IsInvalid(err) && strings.Contains(err.Error(), "Required value") {
		field := ""
		if cause, ok := apierrors.StatusCause(err, "FieldValueRequired"); ok {
			field = cause.Field
		}
		return plugin.DeleteResponse{}, fmt.Errorf("this Patch resource is currently managing a required field, so "+
			"it can't be deleted directly. Either set the `retainOnDelete` resource option, or transfer ownership of "+
			"the field before deleting: %s", field)
	}
	pe, ok := asPartial(err)
	if !ok {
		return plugin.DeleteResponse{}, err
	}
	state := checkpointObject(current, pe.Object(), oldState, initialAPIVersion, fieldManager)
	return plugin.DeleteResponse{}, newPartialError(fqObjName(pe.Object()), err, state, nil)
}
