package main

// API operations: create, read, update and delete of one object, each followed by the await that
// upstream does. Rules follow pulumi-kubernetes v4 provider/pkg/await/await.go (Creation, Read,
// Update, updateResource, ssaUpdate, csaUpdate, fixCSAFieldManagers, handleSSAIgnoreFields,
// handleCSAIgnoreFields, handleSSAErr, Deletion, patchForce), provider/pkg/ssa/actions.go
// (Relinquish), provider/pkg/retry/retry.go (create retries) and provider/pkg/await/error.go.
// Upstream watches with informers; the stand-in polls with GET/LIST, which changes only latency.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/dynamic"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"
)

// opConfig carries what every operation needs.
type opConfig struct {
	ctx                   context.Context
	host                  *engineHost
	urn                   resource.URN
	cs                    *clientSet
	initialAPIVersion     string
	fieldManager          string
	serverSideApply       bool
	enablePatchForce      bool
	upsertExistingObjects bool
	isPatch               bool
}

func (c *opConfig) logStatus(sev diag.Severity, msg string) { c.host.LogStatus(sev, c.urn, msg) }
func (c *opConfig) log(sev diag.Severity, msg string)       { c.host.Log(sev, c.urn, msg) }

// --------------------------------------------------------------------------------------------
// Errors (await/error.go). Errors with an Object are "partial": the object exists, and its last
// known state goes into the resource's state with the error.
// --------------------------------------------------------------------------------------------

type partialError interface {
	error
	Object() *unstructured.Unstructured
}

type aggregatedError interface {
	SubErrors() []string
}

type objectError struct {
	msg       string
	object    *unstructured.Unstructured
	subErrors []string
}

func (e *objectError) Error() string                      { return e.msg }
func (e *objectError) Object() *unstructured.Unstructured { return e.object }
func (e *objectError) SubErrors() []string                { return e.subErrors }

func timeoutError(obj *unstructured.Unstructured, sub []string) error {
	return &objectError{msg: fmt.Sprintf("'%s' timed out waiting to be Ready", obj.GetName()), object: obj, subErrors: sub}
}

func initializationError(obj *unstructured.Unstructured, sub []string) error {
	return &objectError{msg: fmt.Sprintf("Resource '%s' was created but failed to initialize", obj.GetName()), object: obj, subErrors: sub}
}

func cancellationError(obj *unstructured.Unstructured, sub []string) error {
	return &objectError{msg: fmt.Sprintf("Resource operation was cancelled for %q", obj.GetName()), object: obj, subErrors: sub}
}

// namespaceError: a preview could not be computed because the namespace does not exist yet.
type namespaceError struct{ object *unstructured.Unstructured }

func (e *namespaceError) Error() string {
	return fmt.Sprintf("namespace does not exist for %q", e.object.GetName())
}

func isNamespaceNotFound(err error) bool {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsNotFound(err) {
		return false
	}
	return se.Status().Details != nil && se.Status().Details.Kind == "namespaces"
}

// handleSSAErr explains server-side apply conflicts.
func handleSSAErr(err error, manager string) error {
	if err == nil || !apierrors.IsConflict(err) {
		return err
	}
	info := errors.New("server-side apply field conflict detected, see " +
		"https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/" +
		"#handle-field-conflicts-on-existing-resources for troubleshooting help")
	cause := fmt.Errorf("The resource managed by field manager %q had an apply conflict: %w", manager, err) //nolint:staticcheck
	return errors.Join(info, cause)
}

// --------------------------------------------------------------------------------------------
// Timing.
// --------------------------------------------------------------------------------------------

// pollInterval is how often awaits look at the cluster (DSO_STANDIN_POLL_INTERVAL overrides it).
var pollInterval = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(envPollInterval)); err == nil && d > 0 {
		return d
	}
	return time.Second
}()

// retrySleep is the first pause between create retries (doubled after each, retry.go).
var retrySleep = time.Second

// awaitOverride is DSO_STANDIN_AWAIT_TIMEOUT: when set, it replaces every await timeout.
func awaitOverride() (time.Duration, bool) {
	s := os.Getenv(envAwaitTimeout)
	if s == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	if n, err := time.ParseDuration(s + "s"); err == nil {
		return n, true
	}
	return 0, false
}

// operationTimeout: customTimeouts, else the pulumi.com/timeoutSeconds annotation, else 10 minutes;
// DSO_STANDIN_AWAIT_TIMEOUT wins over all of them.
func operationTimeout(requestTimeout float64, inputs *unstructured.Unstructured) time.Duration {
	if d, ok := awaitOverride(); ok {
		return d
	}
	if t := timeoutDuration(requestTimeout, inputs); t != nil {
		return *t
	}
	return 10 * time.Minute
}

// fixedTimeout is for awaits whose upstream timeout does not follow the resource's (PVC, PV,
// ServiceAccount: 5 minutes; service-account-token Secret: 5 seconds).
func fixedTimeout(d time.Duration) time.Duration {
	if o, ok := awaitOverride(); ok {
		return o
	}
	return d
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// --------------------------------------------------------------------------------------------
// Create (await.go Creation).
// --------------------------------------------------------------------------------------------

const alreadyExistsHelp = "\n\nThe resource already exists in the cluster. This can happen when:\n\n" +
	"  - Renaming a Pulumi resource: use an alias to preserve the identity,\n" +
	"    or use deleteBeforeReplace if the resource needs replacement.\n" +
	"  - Managing an existing resource: use a Patch resource (e.g. NamespacePatch)\n" +
	"    to manage specific fields without owning the resource lifecycle.\n" +
	"  - Adopting a resource into Pulumi: use `pulumi import`. Note that\n" +
	"    protected resources (e.g. kube-system) cannot be deleted on destroy.\n" +
	"  - Intentional upsert: set upsertExistingObjects on the provider to allow\n" +
	"    server-side apply to update existing objects on create."

// createObject sends the object to the API server: a server-side apply patch for Patch resources
// (and for every create when upsertExistingObjects is set), otherwise a plain create (POST) with
// field manager "pulumi-kubernetes", which fails with AlreadyExists when the object is there. A
// create that finds no namespace or no kind yet is retried up to 5 times, 1s, 2s, 4s, ... apart.
func createObject(c *opConfig, inputs *unstructured.Unstructured, preview bool) (*unstructured.Unstructured, error) {
	var outputs *unstructured.Unstructured
	var client dynamic.ResourceInterface
	try := func(i int) error {
		var err error
		if client == nil {
			if client, err = c.cs.clientFor(inputs); err != nil {
				c.logStatus(diag.Info, fmt.Sprintf("Retry #%d; creation failed: %v", i, err))
				return err
			}
		}
		if c.serverSideApply && (c.upsertExistingObjects || c.isPatch) {
			force := patchForce(inputs, nil, c.enablePatchForce, preview)
			opts := metav1.PatchOptions{FieldManager: c.fieldManager, Force: &force, FieldValidation: metav1.FieldValidationWarn}
			if preview {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			var body []byte
			if body, err = yaml.Marshal(inputs.Object); err != nil {
				return err
			}
			outputs, err = client.Patch(c.ctx, inputs.GetName(), types.ApplyPatchType, body, opts)
			if preview && apierrors.IsInvalid(err) && strings.Contains(err.Error(), "field is immutable") {
				// A dry run cannot show a replacement: preview under another name instead.
				previewName := inputs.GetName() + randomSuffix(5)
				c.log(diag.Info, fmt.Sprintf("Preview creation failed due to immutable fields; retrying with name %q", previewName))
				inputs.SetName(previewName)
				if body, err2 := yaml.Marshal(inputs.Object); err2 == nil {
					outputs, err = client.Patch(c.ctx, inputs.GetName(), types.ApplyPatchType, body, opts)
				}
			}
			err = handleSSAErr(err, c.fieldManager)
		} else {
			opts := metav1.CreateOptions{FieldManager: "pulumi-kubernetes"}
			if preview {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			outputs, err = client.Create(c.ctx, inputs, opts)
		}
		if err != nil {
			if preview && isNamespaceNotFound(err) {
				return &namespaceError{inputs}
			}
			c.logStatus(diag.Info, fmt.Sprintf("Retry #%d; creation failed: %v", i, err))
			return err
		}
		return nil
	}
	sleep := retrySleep
	var err error
	for i := 0; i <= 5; i++ {
		err = try(i)
		if err == nil || !(apierrors.IsNotFound(err) || meta.IsNoMatchError(err)) {
			break
		}
		if i == 5 {
			break
		}
		if serr := sleepCtx(c.ctx, sleep); serr != nil {
			break
		}
		sleep *= 2
	}
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("%w"+alreadyExistsHelp, err)
		}
		return nil, err
	}
	c.logStatus(diag.Info, "")
	return outputs, nil
}

func randomSuffix(n int) string {
	const chars = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		b[i] = chars[k.Int64()]
	}
	return string(b)
}

// creation creates the object and waits until it is ready.
func creation(c *opConfig, inputs *unstructured.Unstructured, requestTimeout float64, preview bool) (*unstructured.Unstructured, error) {
	outputs, err := createObject(c, inputs, preview)
	if err != nil || preview {
		return outputs, err
	}
	live, err := awaitReady(c, inputs, outputs, nil, requestTimeout)
	if live == nil {
		live = outputs
	}
	return live, err
}

// awaitReady runs the readiness await of the object's kind, unless skipAwait is set.
func awaitReady(c *opConfig, inputs, outputs, last *unstructured.Unstructured, requestTimeout float64) (*unstructured.Unstructured, error) {
	if skipAwait(inputs) {
		// Upstream's Immediate condition (await/condition/immediate.go).
		c.logStatus(diag.Info, "Skipping await logic")
		return outputs, nil
	}
	cfg := awaitConfig{
		ctx: c.ctx, op: c, inputs: inputs, current: outputs, last: last,
		timeout: operationTimeout(requestTimeout, inputs), logged: newStatusLog(),
	}
	var obj *unstructured.Unstructured
	var err error
	if v := annotationValue(outputs, annotationWaitFor); v != "" {
		// The annotation replaces the kind's own await (upstream: await.go, the custom await first).
		conditions, unsupported, perr := parseWaitFor(v)
		if perr != nil {
			return outputs, perr
		}
		if len(unsupported) > 0 {
			c.log(diag.Warning, fmt.Sprintf("the stand-in provider does not evaluate %s; not waiting for it", strings.Join(unsupported, ", ")))
		}
		obj, err = awaitWaitFor(cfg, conditions)
	} else {
		spec, ok := awaiters[outputs.GetAPIVersion()+"/"+outputs.GetKind()]
		if !ok || spec.await == nil {
			return outputs, nil
		}
		obj, err = spec.await(cfg)
	}
	c.logStatus(diag.Info, "")
	if obj == nil {
		obj = outputs
	}
	return obj, err
}

// --------------------------------------------------------------------------------------------
// Read (await.go Read).
// --------------------------------------------------------------------------------------------

func readObject(c *opConfig, inputs *unstructured.Unstructured, name string, readFromCluster bool) (*unstructured.Unstructured, error) {
	client, err := c.cs.clientFor(inputs)
	if err != nil {
		return nil, err
	}
	outputs, err := client.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if readFromCluster {
		return outputs, nil
	}
	if spec, ok := awaiters[outputs.GetAPIVersion()+"/"+outputs.GetKind()]; ok && spec.read != nil && !skipAwait(inputs) {
		cfg := awaitConfig{ctx: c.ctx, op: c, inputs: inputs, current: outputs, logged: newStatusLog()}
		if err := spec.read(cfg); err != nil {
			return nil, err
		}
		c.logStatus(diag.Info, "")
	}
	live, err := client.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return outputs, nil
	}
	return live, nil
}

// --------------------------------------------------------------------------------------------
// Update (await.go Update, updateResource, ssaUpdate, csaUpdate).
// --------------------------------------------------------------------------------------------

type updateArgs struct {
	oldInputs     *unstructured.Unstructured // the old live state pruned to the old inputs
	oldOutputs    *unstructured.Unstructured
	inputs        *unstructured.Unstructured
	timeout       float64
	preview       bool
	ignoreChanges []string
}

func updateObject(c *opConfig, u updateArgs) (*unstructured.Unstructured, error) {
	client, err := c.cs.clientFor(u.inputs)
	if err != nil {
		return nil, err
	}
	liveOld, err := client.Get(c.ctx, u.oldOutputs.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var current *unstructured.Unstructured
	switch {
	case isCRD(u.inputs):
		// CRDs are replaced in place with a PUT at the live resourceVersion.
		u.inputs.SetResourceVersion(liveOld.GetResourceVersion())
		opts := metav1.UpdateOptions{FieldManager: c.fieldManager}
		if u.preview {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		current, err = client.Update(c.ctx, u.inputs, opts)
	case c.serverSideApply:
		current, err = ssaUpdate(c, u, liveOld, client)
	default:
		current, err = csaUpdate(c, u, liveOld, client)
	}
	if err != nil {
		return nil, err
	}
	if u.preview {
		return current, nil
	}
	live, err := awaitReady(c, u.inputs, current, liveOld, u.timeout)
	if live == nil {
		live = current
	}
	return live, err
}

func ssaUpdate(c *opConfig, u updateArgs, liveOld *unstructured.Unstructured, client dynamic.ResourceInterface) (*unstructured.Unstructured, error) {
	liveOld, err := fixCSAFieldManagers(c, u.preview, liveOld, client)
	if err != nil {
		return nil, err
	}
	if err := handleSSAIgnoreFields(u.inputs, liveOld, c.fieldManager, u.ignoreChanges); err != nil {
		return nil, err
	}
	body, err := yaml.Marshal(u.inputs.Object)
	if err != nil {
		return nil, err
	}
	force := patchForce(u.inputs, liveOld, c.enablePatchForce, u.preview)
	opts := metav1.PatchOptions{FieldManager: c.fieldManager, Force: &force}
	if u.preview {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := client.Patch(c.ctx, liveOld.GetName(), types.ApplyPatchType, body, opts)
	if err != nil {
		return nil, handleSSAErr(err, c.fieldManager)
	}
	return out, nil
}

// csaUpdate sends a three-way patch (old inputs, new inputs, live object): a strategic merge patch
// for built-in kinds, a JSON merge patch otherwise.
func csaUpdate(c *opConfig, u updateArgs, liveOld *unstructured.Unstructured, client dynamic.ResourceInterface) (*unstructured.Unstructured, error) {
	handleCSAIgnoreFields(u.inputs, liveOld, u.ignoreChanges)
	original, err := u.oldInputs.MarshalJSON()
	if err != nil {
		return nil, err
	}
	modified, err := u.inputs.MarshalJSON()
	if err != nil {
		return nil, err
	}
	current, err := liveOld.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var patch []byte
	patchType := types.MergePatchType
	if knownGroupVersions[liveOld.GetAPIVersion()] {
		if typed, terr := kscheme.Scheme.New(liveOld.GroupVersionKind()); terr == nil {
			if meta, merr := strategicpatch.NewPatchMetaFromStruct(typed); merr == nil {
				if p, perr := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, true); perr == nil {
					patch, patchType = p, types.StrategicMergePatchType
				}
			}
		}
	}
	if patch == nil {
		if patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current); err != nil {
			return nil, err
		}
	}
	opts := metav1.PatchOptions{FieldManager: c.fieldManager}
	if u.preview {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return client.Patch(c.ctx, liveOld.GetName(), patchType, patch, opts)
}

// ignorePathComponents splits an ignoreChanges path into object keys (arrays are not supported,
// as upstream).
func ignorePathComponents(p string) ([]string, error) {
	parsed, err := resource.ParsePropertyPath(p)
	if err != nil {
		return nil, fmt.Errorf("unable to parse ignoreField path %q: %w", p, err)
	}
	return strings.Split(parsed.String(), "."), nil
}

func handleCSAIgnoreFields(inputs, liveOld *unstructured.Unstructured, ignoreChanges []string) {
	for _, p := range ignoreChanges {
		comps, err := ignorePathComponents(p)
		if err != nil {
			continue
		}
		if v, found, err := unstructured.NestedFieldCopy(liveOld.Object, comps...); found && err == nil {
			_ = unstructured.SetNestedField(inputs.Object, v, comps...)
		}
	}
}

// handleSSAIgnoreFields: an ignored field that another manager owns (and we do not) is dropped
// from the apply; otherwise it is sent with its live value so that it is not changed or unset.
func handleSSAIgnoreFields(inputs, liveOld *unstructured.Unstructured, manager string, ignoreChanges []string) error {
	if len(ignoreChanges) == 0 {
		return nil
	}
	theirs, ours := &fieldpath.Set{}, &fieldpath.Set{}
	for _, f := range liveOld.GetManagedFields() {
		if f.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(strings.NewReader(string(f.FieldsV1.Raw))); err != nil {
			return fmt.Errorf("unable to parse managed fields from resource %q into fieldpath.Set: %w", liveOld.GetName(), err)
		}
		if f.Manager == manager {
			ours = ours.Union(s)
		} else {
			theirs = theirs.Union(s)
		}
	}
	theirs, ours = withParents(theirs), withParents(ours)
	for _, p := range ignoreChanges {
		comps, err := ignorePathComponents(p)
		if err != nil {
			return err
		}
		elems := make([]any, len(comps))
		for i, c := range comps {
			elems[i] = c
		}
		pe, err := fieldpath.MakePath(elems...)
		if err != nil {
			return fmt.Errorf("unable to normalize ignoreField path %q: %w", p, err)
		}
		if theirs.Has(pe) && !ours.Has(pe) {
			unstructured.RemoveNestedField(inputs.Object, comps...)
			continue
		}
		v, found, err := unstructured.NestedFieldCopy(liveOld.Object, comps...)
		if err != nil {
			return fmt.Errorf("unable to parse field to ignore %q from live object: %w", p, err)
		}
		if found {
			if err := unstructured.SetNestedField(inputs.Object, v, comps...); err != nil {
				return fmt.Errorf("unable to set field %q with last used value %q: %w", p, v, err)
			}
		}
	}
	return nil
}

func withParents(s *fieldpath.Set) *fieldpath.Set {
	out := &fieldpath.Set{}
	s.Iterate(func(p fieldpath.Path) {
		for i := range p {
			out.Insert(p[:i+1].Copy())
		}
	})
	return out
}

// csaManagers are the (manager prefix, operation) pairs whose fields the SSA field manager takes
// over on the first update (await.go fixCSAFieldManagers).
var csaManagers = []struct {
	name string
	op   metav1.ManagedFieldsOperationType
}{
	{"kubectl", metav1.ManagedFieldsOperationApply},
	{"kubectl", metav1.ManagedFieldsOperationUpdate},
	{"before-first-apply", metav1.ManagedFieldsOperationUpdate},
	{"pulumi-kubernetes", metav1.ManagedFieldsOperationUpdate},
	{"pulumi-kubernetes.exe", metav1.ManagedFieldsOperationUpdate},
	{"pulumi-resource-kubernetes", metav1.ManagedFieldsOperationUpdate},
}

// fixCSAFieldManagers moves the fields of client-side managers (among them the "pulumi-kubernetes"
// manager of the create POST) to our apply manager with a JSON patch of metadata.managedFields.
func fixCSAFieldManagers(c *opConfig, preview bool, liveOld *unstructured.Unstructured, client dynamic.ResourceInterface) (*unstructured.Unstructured, error) {
	if c.isPatch || preview || len(liveOld.GetManagedFields()) == 0 {
		return liveOld, nil
	}
	entries, changed, err := mergeManagedFields(liveOld.GetManagedFields(), c.fieldManager)
	if err != nil || !changed {
		return liveOld, err
	}
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/metadata/managedFields", "value": entries}})
	if err != nil {
		return nil, err
	}
	return client.Patch(c.ctx, liveOld.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{})
}

// mergeManagedFields renames or merges matching entries into one Apply entry of manager.
func mergeManagedFields(entries []metav1.ManagedFieldsEntry, manager string) ([]metav1.ManagedFieldsEntry, bool, error) {
	matches := func(e metav1.ManagedFieldsEntry) bool {
		if e.Subresource != "" {
			return false
		}
		for _, m := range csaManagers {
			if strings.HasPrefix(e.Manager, m.name) && e.Operation == m.op {
				return true
			}
		}
		return false
	}
	target := -1
	for i, e := range entries {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply {
			target = i
		}
	}
	var merged *metav1.ManagedFieldsEntry
	if target >= 0 {
		e := entries[target]
		merged = &e
	}
	var out []metav1.ManagedFieldsEntry
	changed := false
	for i, e := range entries {
		if i == target {
			continue
		}
		if !matches(e) || e.Manager == manager {
			out = append(out, e)
			continue
		}
		changed = true
		if merged == nil {
			e.Manager, e.Operation = manager, metav1.ManagedFieldsOperationApply
			merged = &e
			continue
		}
		union, err := unionFields(merged.FieldsV1, e.FieldsV1)
		if err != nil {
			return nil, false, err
		}
		merged.FieldsV1 = union
	}
	if !changed {
		return entries, false, nil
	}
	return append(out, *merged), true, nil
}

func unionFields(a, b *metav1.FieldsV1) (*metav1.FieldsV1, error) {
	parse := func(f *metav1.FieldsV1) (*fieldpath.Set, error) {
		s := &fieldpath.Set{}
		if f == nil || len(f.Raw) == 0 {
			return s, nil
		}
		return s, s.FromJSON(strings.NewReader(string(f.Raw)))
	}
	sa, err := parse(a)
	if err != nil {
		return nil, err
	}
	sb, err := parse(b)
	if err != nil {
		return nil, err
	}
	raw, err := sa.Union(sb).ToJSON()
	if err != nil {
		return nil, err
	}
	return &metav1.FieldsV1{Raw: raw}, nil
}

// patchForce decides whether an apply takes fields over from other managers: the
// pulumi.com/patchForce annotation or enablePatchForce; in a preview, an object not yet in state or
// one with a client-side pulumi manager; and an object that records no managed fields at all.
func patchForce(inputs, live *unstructured.Unstructured, enablePatchForce, preview bool) bool {
	if isAnnotationTrue(inputs, annotationPatchForce) || enablePatchForce {
		return true
	}
	if preview {
		if live == nil {
			return true
		}
		for _, mf := range live.GetManagedFields() {
			if mf.Operation != metav1.ManagedFieldsOperationUpdate {
				continue
			}
			switch mf.Manager {
			case "pulumi-resource-kubernetes", "pulumi-kubernetes", "pulumi-kubernetes.exe":
				return true
			}
		}
	}
	return live != nil && len(live.GetManagedFields()) == 0
}

// relinquish gives up every field of a field manager by applying an object with only its identity
// (ssa/actions.go Relinquish). The API server removes fields no other manager owns.
func relinquish(ctx context.Context, client dynamic.ResourceInterface, obj *unstructured.Unstructured, manager string) error {
	minimal := &unstructured.Unstructured{Object: map[string]any{}}
	minimal.SetAPIVersion(obj.GetAPIVersion())
	minimal.SetKind(obj.GetKind())
	minimal.SetNamespace(obj.GetNamespace())
	minimal.SetName(obj.GetName())
	body, err := yaml.Marshal(minimal.Object)
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: manager})
	return err
}

// --------------------------------------------------------------------------------------------
// Delete (await.go Deletion, overrides.go DeletedCondition, condition/deleted.go).
// --------------------------------------------------------------------------------------------

type deleteArgs struct {
	inputs  *unstructured.Unstructured
	outputs *unstructured.Unstructured
	name    string
	timeout float64
}

// deletion deletes the object (Patch resources give their fields back instead) and waits until the
// API server no longer has it. An object the API server no longer knows counts as deleted, and so does an
// object of the same name with another UID: a controller made it again after the deletion (cert-manager
// writes a Certificate's Secret again at once). Upstream watches for the Deleted event
// (condition/deleted.go), which such a controller does not hide; polling sees only the new object.
func deletion(c *opConfig, d deleteArgs) error {
	client, err := c.cs.clientFor(d.outputs)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if c.serverSideApply && c.isPatch {
		return relinquish(c.ctx, client, d.outputs, c.fieldManager)
	}
	// The object being deleted: its UID as the API server has it now.
	deleted := d.outputs.GetUID()
	if live, err := client.Get(c.ctx, d.name, metav1.GetOptions{}); err == nil {
		deleted = live.GetUID()
	}
	policy := deletionPropagation(d.inputs)
	if err := client.Delete(c.ctx, d.name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if skipAwaitAnnotation(d.inputs) && allowsSkipAwaitWithDelete(d.inputs) {
		return nil
	}
	timeout := operationTimeout(d.timeout, d.inputs)
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	last := d.outputs
	for {
		obj, err := client.Get(context.WithoutCancel(ctx), d.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.logStatus(diag.Info, "")
			return nil
		case err != nil:
			c.logStatus(diag.Warning, "unexpected error while checking cluster state: "+err.Error())
		case deleted != "" && obj.GetUID() != deleted:
			c.logStatus(diag.Info, "")
			return nil
		default:
			last = obj
			// kstatus's message for a Terminating object, as upstream's Deleted condition logs it.
			if obj.GetDeletionTimestamp() != nil {
				c.logStatus(diag.Info, "Resource scheduled for deletion")
			}
		}
		if serr := sleepCtx(ctx, pollInterval); serr != nil {
			break
		}
	}
	// One last look before giving up.
	if obj, err := client.Get(context.WithoutCancel(c.ctx), d.name, metav1.GetOptions{}); apierrors.IsNotFound(err) ||
		(err == nil && deleted != "" && obj.GetUID() != deleted) {
		return nil
	}
	c.log(diag.Warning, fmt.Sprintf("finalizers might be preventing deletion (%s)", strings.Join(last.GetFinalizers(), ", ")))
	if c.ctx.Err() != nil {
		return cancellationError(last, nil)
	}
	return &objectError{msg: "timed out waiting for the condition", object: last}
}
