package main

// Readiness awaits per kind. Which kinds wait, and for what, follows pulumi-kubernetes v4
// provider/pkg/await/awaiters.go (the awaiters table, PVC/PV/Secret/ServiceAccount awaits),
// deployment.go, daemonset.go (kstatus "Current" rules for DaemonSets), service.go and ingress.go.
// Kinds without an entry (ConfigMap, Namespace, Role, RoleBinding, CronJob, PodDisruptionBudget,
// ...) do not wait, as upstream. Upstream reacts to watch events; the stand-in polls every
// pollInterval, which changes only how soon a wait notices a change.

import (
	"context"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type awaitConfig struct {
	ctx     context.Context
	op      *opConfig
	inputs  *unstructured.Unstructured
	current *unstructured.Unstructured // the result of the create or update
	last    *unstructured.Unstructured // the object before the update; nil on create
	timeout time.Duration
	// logged holds the status messages this await has sent: upstream's awaiters log through a
	// DedupLogger (pkg/logging/dedup_logger.go), which sends each message once per operation. Nil
	// sends every message.
	logged map[statusMessage]bool
}

type statusMessage struct {
	sev diag.Severity
	msg string
}

func newStatusLog() map[statusMessage]bool { return map[statusMessage]bool{} }

type awaitSpec struct {
	await func(awaitConfig) (*unstructured.Unstructured, error)
	read  func(awaitConfig) error
}

var (
	deploymentAwaiter = awaitSpec{await: awaitDeployment, read: readDeployment}
	daemonSetAwaiter  = awaitSpec{await: awaitDaemonSet, read: readDaemonSet}
	serviceAwaiter    = awaitSpec{await: awaitService, read: readService}
	ingressAwaiter    = awaitSpec{await: awaitIngress, read: readIngress}
)

// awaiters is keyed by "<apiVersion>/<kind>" of the object the API server returned.
var awaiters = map[string]awaitSpec{
	"apps/v1/Deployment":                              deploymentAwaiter,
	"apps/v1beta1/Deployment":                         deploymentAwaiter,
	"apps/v1beta2/Deployment":                         deploymentAwaiter,
	"extensions/v1beta1/Deployment":                   deploymentAwaiter,
	"apps/v1/DaemonSet":                               daemonSetAwaiter,
	"apps/v1beta1/DaemonSet":                          daemonSetAwaiter,
	"apps/v1beta2/DaemonSet":                          daemonSetAwaiter,
	"extensions/v1beta1/DaemonSet":                    daemonSetAwaiter,
	"v1/Service":                                      serviceAwaiter,
	"networking.k8s.io/v1/Ingress":                    ingressAwaiter,
	"networking.k8s.io/v1beta1/Ingress":               ingressAwaiter,
	"extensions/v1beta1/Ingress":                      ingressAwaiter,
	"v1/PersistentVolumeClaim":                        {await: awaitPersistentVolumeClaim},
	"v1/PersistentVolume":                             {await: awaitPersistentVolume},
	"v1/Secret":                                       {await: awaitSecret},
	"v1/ServiceAccount":                               {await: awaitServiceAccount},
	"v1/ConfigMap":                                    {},
	"v1/LimitRange":                                   {},
	"autoscaling/v1/HorizontalPodAutoscaler":          {},
	"rbac.authorization.k8s.io/v1/Role":               {},
	"rbac.authorization.k8s.io/v1/RoleBinding":        {},
	"rbac.authorization.k8s.io/v1/ClusterRole":        {},
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": {},
	"storage.k8s.io/v1/StorageClass":                  {},
}

func (c awaitConfig) client(gvk schema.GroupVersionKind) (interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error)
	List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error)
}, error) {
	return c.op.cs.resourceClient(gvk, c.current.GetNamespace())
}

func (c awaitConfig) status(sev diag.Severity, msg string) {
	if c.logged != nil {
		m := statusMessage{sev, msg}
		if c.logged[m] {
			return
		}
		c.logged[m] = true
	}
	c.op.logStatus(sev, msg)
}

// pollUntil calls check every pollInterval until it reports done, an error, or the timeout passes.
// It returns whether check finished, and the context error when it did not.
func pollUntil(ctx context.Context, timeout time.Duration, check func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		done, err := check()
		if err != nil || done {
			return done, err
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
		wait := pollInterval
		if rest := time.Until(deadline); rest < wait {
			wait = rest
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return false, err
		}
	}
}

// finish turns a poll result into the awaiter's return value.
func finish(obj *unstructured.Unstructured, done bool, err error, sub func() []string) (*unstructured.Unstructured, error) {
	switch {
	case done:
		return obj, nil
	case err != nil && (err == context.Canceled || err == context.DeadlineExceeded):
		return obj, cancellationError(obj, sub())
	case err != nil:
		return obj, err
	default:
		return obj, timeoutError(obj, sub())
	}
}

func nestedInt(obj *unstructured.Unstructured, fields ...string) (int64, bool) {
	v, found, err := unstructured.NestedFieldNoCopy(obj.Object, fields...)
	if err != nil || !found {
		return 0, false
	}
	if n, ok := toFloat(v); ok {
		return int64(n), true
	}
	return 0, false
}

func isOwnedBy(obj, owner *unstructured.Unstructured) bool {
	if owner == nil {
		return false
	}
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// --------------------------------------------------------------------------------------------
// Deployment (deployment.go).
// --------------------------------------------------------------------------------------------

const revisionAnnotation = "deployment.kubernetes.io/revision"

var (
	replicaSetGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
	pvcGVK        = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	endpointsGVK  = schema.GroupVersionKind{Version: "v1", Kind: "Endpoints"}
	serviceGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
)

type deploymentState struct {
	deployment             *unstructured.Unstructured
	revision               string
	deploymentAvailable    bool
	replicaSetAvailable    bool
	updatedReplicaSetReady bool
	pvcsReady              bool
	errors                 map[string]string
}

// evaluate applies deployment.go's success rules to a Deployment and the ReplicaSets and claims of
// its namespace: the Deployment controller has produced a revision; the Available condition is
// True; for revisions after the first, Progressing is True with reason NewReplicaSetAvailable; the
// ReplicaSet of the current revision has as many ready replicas as it wants (and on an update that
// changed the template, the revision moved on); every claim the pod template mounts is Bound.
func (c awaitConfig) evaluateDeployment(dep *unstructured.Unstructured, replicaSets, pvcs []unstructured.Unstructured) *deploymentState {
	st := &deploymentState{deployment: dep, errors: map[string]string{}, pvcsReady: true}
	st.revision = dep.GetAnnotations()[revisionAnnotation]
	if st.revision == "" {
		return st
	}
	extensionsV1Beta1 := c.op.initialAPIVersion == "extensions/v1beta1"
	conditions, _, _ := unstructured.NestedSlice(dep.Object, "status", "conditions")
	for _, raw := range conditions {
		cond, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		reason, _ := cond["reason"].(string)
		message, _ := cond["message"].(string)
		switch cond["type"] {
		case "Progressing":
			if extensionsV1Beta1 {
				st.replicaSetAvailable = true
				break
			}
			progressing := cond["status"] == "True"
			if !progressing && reason != "" && message != "" {
				st.errors[reason] = fmt.Sprintf("[%s] %s", reason, message)
				c.status(diag.Warning, st.errors[reason])
			}
			st.replicaSetAvailable = reason == "NewReplicaSetAvailable" && progressing
		case "Available":
			// A Deployment whose pods are not ready yet says so in this condition (the controller's
			// "[MinimumReplicasUnavailable] Deployment does not have minimum availability."), which
			// upstream passes on as a warning while it waits.
			st.deploymentAvailable = cond["status"] == "True"
			if !st.deploymentAvailable && reason != "" && message != "" {
				st.errors[reason] = fmt.Sprintf("[%s] %s", reason, message)
				c.status(diag.Warning, st.errors[reason])
			}
		}
	}

	var rs *unstructured.Unstructured
	for i := range replicaSets {
		if isOwnedBy(&replicaSets[i], c.current) && replicaSets[i].GetAnnotations()[revisionAnnotation] == st.revision {
			rs = &replicaSets[i]
		}
	}
	if rs != nil && st.revision != "0" {
		specReplicas, ok := nestedInt(rs, "spec", "replicas")
		if !ok {
			specReplicas = 1
		}
		ready, readyExists := nestedInt(rs, "status", "readyReplicas")
		doneWaiting := specReplicas == 0
		if readyExists {
			doneWaiting = ready >= specReplicas
		}
		lastRevision := ""
		if c.last != nil {
			lastRevision = c.last.GetAnnotations()[revisionAnnotation]
		}
		changeTriggeredRollout := c.last == nil || st.revision != lastRevision
		if changeTriggeredRollout {
			st.updatedReplicaSetReady = lastRevision != st.revision && doneWaiting
		} else {
			st.updatedReplicaSetReady = doneWaiting
		}
		if !st.updatedReplicaSetReady {
			c.status(diag.Info, fmt.Sprintf("Waiting for app ReplicaSet to be available (%d/%d Pods available)", ready, specReplicas))
		}
		if _, set := nestedInt(rs, "spec", "replicas"); st.updatedReplicaSetReady && set && specReplicas == 0 {
			c.status(diag.Warning, fmt.Sprintf("Replicas scaled to 0 for Deployment %q", dep.GetName()))
		}
	}

	claims := map[string]bool{}
	volumes, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	for _, v := range volumes {
		if vm, ok := v.(map[string]any); ok {
			if pvc, ok := vm["persistentVolumeClaim"].(map[string]any); ok {
				if name, ok := pvc["claimName"].(string); ok {
					claims[name] = true
				}
			}
		}
	}
	for i := range pvcs {
		if !claims[pvcs[i].GetName()] {
			continue
		}
		phase, _, _ := unstructured.NestedString(pvcs[i].Object, "status", "phase")
		if phase != "Bound" {
			st.pvcsReady = false
			c.status(diag.Warning, fmt.Sprintf("PersistentVolumeClaim: [%s] is not ready. status.phase currently at: %s", pvcs[i].GetName(), phase))
		}
	}
	return st
}

func (st *deploymentState) ready() bool {
	if st == nil || st.revision == "" {
		return false
	}
	if st.revision == "1" {
		return st.deploymentAvailable && st.updatedReplicaSetReady && st.pvcsReady
	}
	return st.deploymentAvailable && st.replicaSetAvailable && st.updatedReplicaSetReady && st.pvcsReady
}

func (st *deploymentState) messages() []string {
	var out []string
	if st == nil {
		return []string{"Minimum number of live Pods was not attained"}
	}
	for _, m := range st.errors {
		out = append(out, m)
	}
	if !st.pvcsReady {
		out = append(out, "Failed to bind PersistentVolumeClaim(s)")
	}
	switch {
	case !st.deploymentAvailable:
		out = append(out, "Minimum number of live Pods was not attained")
	case st.revision != "1" && !st.replicaSetAvailable:
		out = append(out, "Minimum number of Pods to consider the application live was not attained")
	case !st.updatedReplicaSetReady && st.revision == "1":
		out = append(out, "Minimum number of Pods to consider the application live was not attained")
	case !st.updatedReplicaSetReady:
		out = append(out, "Attempted to roll forward to new ReplicaSet, but minimum number of Pods did not become live")
	}
	return out
}

func (c awaitConfig) deploymentSnapshot() (*unstructured.Unstructured, []unstructured.Unstructured, []unstructured.Unstructured, error) {
	depClient, err := c.client(gvkOf(c.current))
	if err != nil {
		return nil, nil, nil, err
	}
	dep, err := depClient.Get(c.ctx, c.current.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	var rsItems, pvcItems []unstructured.Unstructured
	if rsClient, err := c.client(replicaSetGVK); err == nil {
		if list, err := rsClient.List(c.ctx, metav1.ListOptions{}); err == nil {
			rsItems = list.Items
		}
	}
	if pvcClient, err := c.client(pvcGVK); err == nil {
		if list, err := pvcClient.List(c.ctx, metav1.ListOptions{}); err == nil {
			pvcItems = list.Items
		}
	}
	return dep, rsItems, pvcItems, nil
}

func awaitDeployment(c awaitConfig) (*unstructured.Unstructured, error) {
	var st *deploymentState
	obj := c.current
	reconciled := false
	done, err := pollUntil(c.ctx, c.timeout, func() (bool, error) {
		dep, rs, pvcs, err := c.deploymentSnapshot()
		if err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			c.status(diag.Warning, err.Error())
			return false, nil
		}
		if !reconciled {
			// Wait until the Deployment controller has seen this generation.
			observed, found := nestedInt(dep, "status", "observedGeneration")
			if !found || observed != dep.GetGeneration() {
				return false, nil
			}
			reconciled = true
		}
		if dep.GetGeneration() < c.current.GetGeneration() {
			return false, nil
		}
		obj = dep
		st = c.evaluateDeployment(dep, rs, pvcs)
		if st.ready() {
			c.status(diag.Info, cmdutil.EmojiOr("✅ ", "")+"Deployment initialization complete")
			return true, nil
		}
		return false, nil
	})
	return finish(obj, done, err, st.messages)
}

func readDeployment(c awaitConfig) error {
	dep, rs, pvcs, err := c.deploymentSnapshot()
	if err != nil {
		return err
	}
	st := c.evaluateDeployment(dep, rs, pvcs)
	if st.ready() {
		return nil
	}
	return initializationError(dep, st.messages())
}

// --------------------------------------------------------------------------------------------
// DaemonSet (daemonset.go: done when kstatus computes "Current").
// --------------------------------------------------------------------------------------------

// daemonSetCurrent mirrors sigs.k8s.io/cli-utils kstatus for DaemonSets: the controller has observed
// the current generation and every desired pod is scheduled, updated, available and ready.
func daemonSetCurrent(ds *unstructured.Unstructured) (bool, string) {
	if ds.GetDeletionTimestamp() != nil {
		return false, "Resource scheduled for deletion"
	}
	if observed, found := nestedInt(ds, "status", "observedGeneration"); found && observed != ds.GetGeneration() {
		return false, fmt.Sprintf("%s generation is %d, but latest observed generation is %d", ds.GetKind(), ds.GetGeneration(), observed)
	}
	// kstatus's daemonsetConditions (checkGenerationSet): a DaemonSet the controller has not acted on yet has
	// no observedGeneration, and its all-zero status is not "Current" however its counts compare.
	if _, found := nestedInt(ds, "metadata", "generation"); !found {
		return false, fmt.Sprintf("%s metadata.generation not found", ds.GetKind())
	}
	if _, found := nestedInt(ds, "status", "observedGeneration"); !found {
		return false, fmt.Sprintf("%s status.observedGeneration not found", ds.GetKind())
	}
	desired, ok := nestedInt(ds, "status", "desiredNumberScheduled")
	if !ok {
		return false, "Missing .status.desiredNumberScheduled"
	}
	get := func(f string) int64 { n, _ := nestedInt(ds, "status", f); return n }
	switch {
	case desired > get("currentNumberScheduled"):
		return false, fmt.Sprintf("Current: %d/%d", get("currentNumberScheduled"), desired)
	case desired > get("updatedNumberScheduled"):
		return false, fmt.Sprintf("Updated: %d/%d", get("updatedNumberScheduled"), desired)
	case desired > get("numberAvailable"):
		return false, fmt.Sprintf("Available: %d/%d", get("numberAvailable"), desired)
	case desired > get("numberReady"):
		return false, fmt.Sprintf("Ready: %d/%d", get("numberReady"), desired)
	}
	return true, fmt.Sprintf("All replicas scheduled as expected. Replicas: %d", desired)
}

func awaitDaemonSet(c awaitConfig) (*unstructured.Unstructured, error) {
	obj := c.current
	lastMessage := ""
	done, err := pollUntil(c.ctx, c.timeout, func() (bool, error) {
		client, err := c.client(gvkOf(c.current))
		if err != nil {
			return false, err
		}
		ds, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if ds.GetGeneration() < c.current.GetGeneration() {
			return false, nil
		}
		obj = ds
		ok, msg := daemonSetCurrent(ds)
		lastMessage = msg
		if ok {
			c.status(diag.Info, cmdutil.EmojiOr("✅ ", "")+msg)
		} else {
			c.status(diag.Info, msg)
		}
		return ok, nil
	})
	if !done && err == nil {
		// Upstream's DaemonSet await ends with a plain "timed out waiting for the condition".
		return obj, &objectError{msg: "timed out waiting for the condition", object: obj, subErrors: []string{lastMessage}}
	}
	return finish(obj, done, err, func() []string { return []string{lastMessage} })
}

func readDaemonSet(c awaitConfig) error {
	client, err := c.client(gvkOf(c.current))
	if err != nil {
		return err
	}
	ds, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	if ok, msg := daemonSetCurrent(ds); !ok {
		return initializationError(ds, []string{msg})
	}
	return nil
}

// --------------------------------------------------------------------------------------------
// Service (service.go).
// --------------------------------------------------------------------------------------------

// endpointsSettle is how long the Endpoints of a Service must stay unchanged before the Service
// counts as settled (service.go, ingress.go: 10 seconds).
var endpointsSettle = 10 * time.Second

type serviceState struct {
	service          *unstructured.Unstructured
	serviceType      string
	serviceReady     bool
	endpointsReady   bool
	endpointsPending bool
}

func newServiceState(svc *unstructured.Unstructured) *serviceState {
	t, _, _ := unstructured.NestedString(svc.Object, "spec", "type")
	if t == "" {
		t = "ClusterIP"
	}
	return &serviceState{service: svc, serviceType: t}
}

// observeService: a LoadBalancer Service is ready once it has an ingress address, any other at once.
func (s *serviceState) observeService(svc *unstructured.Unstructured) {
	s.service = svc
	if s.serviceType == "LoadBalancer" {
		ing, _, _ := unstructured.NestedSlice(svc.Object, "status", "loadBalancer", "ingress")
		s.serviceReady = len(ing) > 0
		return
	}
	s.serviceReady = true
}

func (s *serviceState) observeEndpoints(ep *unstructured.Unstructured) {
	s.endpointsReady, s.endpointsPending = false, false
	if ep == nil {
		return
	}
	subsets, _, _ := unstructured.NestedSlice(ep.Object, "subsets")
	for _, raw := range subsets {
		subset, _ := raw.(map[string]any)
		if addrs, _ := subset["addresses"].([]any); len(addrs) > 0 {
			s.endpointsReady = true
		}
		if addrs, _ := subset["notReadyAddresses"].([]any); len(addrs) > 0 {
			s.endpointsPending = true
		}
	}
}

// shouldWaitForPods: ExternalName and headless Services, and Services without a selector, do not
// wait for endpoints.
func (s *serviceState) shouldWaitForPods() bool {
	clusterIP, _, _ := unstructured.NestedString(s.service.Object, "spec", "clusterIP")
	selector, _, _ := unstructured.NestedMap(s.service.Object, "spec", "selector")
	return s.serviceType != "ExternalName" && clusterIP != "None" && len(selector) > 0
}

func (s *serviceState) success(settled bool) bool {
	if !s.shouldWaitForPods() {
		return s.serviceReady
	}
	return s.serviceReady && settled && !s.endpointsPending
}

func (s *serviceState) messages() []string {
	if s.serviceType == "ExternalName" || !s.shouldWaitForPods() && s.serviceType != "LoadBalancer" {
		return nil
	}
	var out []string
	if !s.endpointsReady && s.shouldWaitForPods() {
		out = append(out, "Service does not target any Pods. Selected Pods may not be ready, or "+
			"field '.spec.selector' may not match labels on any Pods")
	}
	if s.serviceType == "LoadBalancer" && !s.serviceReady {
		out = append(out, "Service was not allocated an IP address; does your cloud provider support this?")
	}
	return out
}

func (c awaitConfig) getEndpoints(name string) (*unstructured.Unstructured, error) {
	client, err := c.client(endpointsGVK)
	if err != nil {
		return nil, err
	}
	ep, err := client.Get(c.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return ep, err
}

// awaitService: ready when the Service is ready and, for Services that select pods, its Endpoints
// have settled (no change for 10s after one was seen) with no not-ready addresses. At the timeout a
// ready Service without pending endpoints still succeeds (service.go).
func awaitService(c awaitConfig) (*unstructured.Unstructured, error) {
	st := newServiceState(c.current)
	st.observeService(c.current)
	c.status(diag.Info, "[1/3] Finding Pods to direct traffic to")
	lastVersion, seen := "", false
	var changedAt time.Time
	done, err := pollUntil(c.ctx, c.timeout, func() (bool, error) {
		client, err := c.client(gvkOf(c.current))
		if err != nil {
			return false, err
		}
		if svc, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{}); err == nil {
			st.observeService(svc)
		}
		if ep, err := c.getEndpoints(c.current.GetName()); err == nil && ep != nil {
			if !seen || ep.GetResourceVersion() != lastVersion {
				seen, lastVersion, changedAt = true, ep.GetResourceVersion(), time.Now()
			}
			st.observeEndpoints(ep)
		}
		settled := seen && time.Since(changedAt) >= endpointsSettle
		if st.success(settled) {
			c.status(diag.Info, cmdutil.EmojiOr("✅ ", "")+"Service initialization complete")
			return true, nil
		}
		if settled && st.endpointsReady {
			c.status(diag.Info, "[2/3] Attempting to allocate IP address to Service")
		}
		return false, nil
	})
	// At the timeout (or on cancellation) a ready Service without pending endpoints succeeds.
	if !done && (err == nil || c.ctx.Err() != nil) && st.serviceReady && !st.endpointsPending {
		return st.service, nil
	}
	return finish(st.service, done, err, st.messages)
}

func readService(c awaitConfig) error {
	client, err := c.client(gvkOf(c.current))
	if err != nil {
		return err
	}
	svc, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	st := newServiceState(svc)
	st.observeService(svc)
	if ep, err := c.getEndpoints(svc.GetName()); err == nil {
		st.observeEndpoints(ep)
	}
	if st.success(true) {
		return nil
	}
	return initializationError(svc, st.messages())
}

// --------------------------------------------------------------------------------------------
// Ingress (ingress.go).
// --------------------------------------------------------------------------------------------

// ingressGrace: with no Endpoints in the namespace at all, the Ingress's endpoints count as
// settled after this grace period (ingress.go: 60 seconds).
var ingressGrace = 60 * time.Second

type ingressState struct {
	ingress        *unstructured.Unstructured
	ingressReady   bool
	endpoints      map[string]bool
	externalNames  map[string]bool
	settled        bool
	missingTargets []string
}

func (s *ingressState) observeIngress(ing *unstructured.Unstructured) {
	s.ingress = ing
	lb, _, _ := unstructured.NestedSlice(ing.Object, "status", "loadBalancer", "ingress")
	s.ingressReady = len(lb) > 0
}

// backends lists the Services of the Ingress's HTTP paths (v1 service.name, v1beta1 serviceName).
func ingressBackends(ing *unstructured.Unstructured) []string {
	var out []string
	rules, _, _ := unstructured.NestedSlice(ing.Object, "spec", "rules")
	for _, raw := range rules {
		rule, _ := raw.(map[string]any)
		paths, _, _ := unstructured.NestedSlice(rule, "http", "paths")
		for _, p := range paths {
			pm, _ := p.(map[string]any)
			if name, ok, _ := unstructured.NestedString(pm, "backend", "service", "name"); ok && name != "" {
				out = append(out, name)
			} else if name, ok, _ := unstructured.NestedString(pm, "backend", "serviceName"); ok && name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// endpointsReady: every backend Service is an ExternalName Service or has an Endpoints object;
// once endpoints have settled a missing one only warns.
func (s *ingressState) endpointsReady(c awaitConfig) bool {
	s.missingTargets = nil
	for _, name := range ingressBackends(s.ingress) {
		if s.externalNames[name] || s.endpoints[name] {
			continue
		}
		if s.settled {
			c.status(diag.Warning, fmt.Sprintf("No matching service found for ingress rule: %q", name))
			continue
		}
		s.missingTargets = append(s.missingTargets, name)
		return false
	}
	return true
}

func (s *ingressState) messages(c awaitConfig) []string {
	var out []string
	if !s.endpointsReady(c) {
		out = append(out, "Ingress has at least one rule with an unavailable target endpoint.")
	}
	if !s.ingressReady {
		out = append(out, "Ingress .status.loadBalancer field was not updated with a hostname/IP address. "+
			"\n    for more information about this error, see https://pulumi.io/xdv72s")
	}
	return out
}

func (c awaitConfig) observeIngressNamespace(s *ingressState) (string, int, error) {
	epClient, err := c.client(endpointsGVK)
	if err != nil {
		return "", 0, err
	}
	eps, err := epClient.List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return "", 0, err
	}
	s.endpoints = map[string]bool{}
	fingerprint := ""
	for _, ep := range eps.Items {
		s.endpoints[ep.GetName()] = true
		fingerprint += ep.GetName() + "@" + ep.GetResourceVersion() + ","
	}
	svcClient, err := c.client(serviceGVK)
	if err != nil {
		return "", 0, err
	}
	s.externalNames = map[string]bool{}
	if svcs, err := svcClient.List(c.ctx, metav1.ListOptions{}); err == nil {
		for _, svc := range svcs.Items {
			if t, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); t == "ExternalName" {
				s.externalNames[svc.GetName()] = true
			}
		}
	}
	return fingerprint, len(eps.Items), nil
}

// awaitIngress: ready when .status.loadBalancer.ingress has an entry and every backend Service has
// endpoints (ingress.go).
func awaitIngress(c awaitConfig) (*unstructured.Unstructured, error) {
	st := &ingressState{}
	st.observeIngress(c.current)
	c.status(diag.Info, "[1/3] Finding a matching service for each Ingress path")
	start := time.Now()
	lastFingerprint, events := "", 0
	var changedAt time.Time
	done, err := pollUntil(c.ctx, c.timeout, func() (bool, error) {
		client, err := c.client(gvkOf(c.current))
		if err != nil {
			return false, err
		}
		if ing, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{}); err == nil {
			st.observeIngress(ing)
		}
		if fp, n, err := c.observeIngressNamespace(st); err == nil {
			if fp != lastFingerprint {
				if n > 0 || lastFingerprint != "" {
					events++
					changedAt = time.Now()
				}
				lastFingerprint = fp
			}
		}
		if events == 0 && time.Since(start) >= ingressGrace {
			st.settled = true
		}
		if events > 0 && time.Since(changedAt) >= endpointsSettle {
			st.settled = true
		}
		ready := st.endpointsReady(c)
		if st.ingressReady && ready {
			c.status(diag.Info, cmdutil.EmojiOr("✅ ", "")+"Ingress initialization complete")
			return true, nil
		}
		if ready {
			c.status(diag.Info, "[2/3] Waiting for update of .status.loadBalancer with hostname/IP")
		}
		return false, nil
	})
	if !done && st.ingressReady && st.endpointsReady(c) {
		return st.ingress, nil
	}
	return finish(st.ingress, done, err, func() []string { return st.messages(c) })
}

func readIngress(c awaitConfig) error {
	client, err := c.client(gvkOf(c.current))
	if err != nil {
		return err
	}
	ing, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	st := &ingressState{settled: true}
	st.observeIngress(ing)
	_, _, _ = c.observeIngressNamespace(st)
	if st.ingressReady && st.endpointsReady(c) {
		return nil
	}
	return initializationError(ing, st.messages(c))
}

// --------------------------------------------------------------------------------------------
// PersistentVolumeClaim, PersistentVolume, Secret, ServiceAccount (awaiters.go).
// --------------------------------------------------------------------------------------------

// watchUntil polls the object until pred holds, for at most timeout (watcher.WatchUntil).
func (c awaitConfig) watchUntil(timeout time.Duration, pred func(*unstructured.Unstructured) bool) (*unstructured.Unstructured, error) {
	obj := c.current
	client, err := c.client(gvkOf(c.current))
	if err != nil {
		return obj, err
	}
	done, err := pollUntil(c.ctx, timeout, func() (bool, error) {
		o, err := client.Get(c.ctx, c.current.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		obj = o
		return pred(o), nil
	})
	if done {
		return obj, nil
	}
	if err != nil {
		return obj, cancellationError(obj, nil)
	}
	return obj, &objectError{msg: fmt.Sprintf("timed out waiting for %q to become ready", c.current.GetName()), object: obj}
}

// awaitPersistentVolumeClaim: Bound, or Pending when the storage class binds on first consumer; an
// update of a claim that is already Bound is done at once. Upstream waits 5 minutes.
func awaitPersistentVolumeClaim(c awaitConfig) (*unstructured.Unstructured, error) {
	bindMode := ""
	return c.watchUntil(fixedTimeout(5*time.Minute), func(pvc *unstructured.Unstructured) bool {
		if bindMode == "" {
			bindMode = c.storageClassBindMode(pvc)
		}
		phase, _, _ := unstructured.NestedString(pvc.Object, "status", "phase")
		if c.last != nil && phase == "Bound" {
			return true
		}
		if bindMode == "WaitForFirstConsumer" {
			return phase == "Pending"
		}
		return phase == "Bound"
	})
}

func (c awaitConfig) storageClassBindMode(pvc *unstructured.Unstructured) string {
	name, _, _ := unstructured.NestedString(pvc.Object, "spec", "storageClassName")
	if name == "" {
		c.status(diag.Warning, fmt.Sprintf("no storage class found for %q", pvc.GetName()))
		return ""
	}
	client, err := c.op.cs.resourceClient(schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}, "")
	if err != nil {
		c.status(diag.Warning, fmt.Sprintf("getting storageclass client: %v", err))
		return ""
	}
	sc, err := client.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.status(diag.Warning, fmt.Sprintf("getting storagclass %q: %v", name, err))
		return ""
	}
	mode, _, _ := unstructured.NestedString(sc.Object, "volumeBindingMode")
	return mode
}

func awaitPersistentVolume(c awaitConfig) (*unstructured.Unstructured, error) {
	return c.watchUntil(fixedTimeout(5*time.Minute), func(pv *unstructured.Unstructured) bool {
		phase, _, _ := unstructured.NestedString(pv.Object, "status", "phase")
		return phase == "Available" || phase == "Bound"
	})
}

// awaitSecret: only service-account-token Secrets wait, for their data (5 seconds).
func awaitSecret(c awaitConfig) (*unstructured.Unstructured, error) {
	if t, _, _ := unstructured.NestedString(c.current.Object, "type"); t != "kubernetes.io/service-account-token" {
		return c.current, nil
	}
	return c.watchUntil(fixedTimeout(5*time.Second), func(s *unstructured.Unstructured) bool {
		data, _, _ := unstructured.NestedMap(s.Object, "data")
		return len(data) > 0
	})
}

// awaitServiceAccount: clusters from v1.24 on do not add a token Secret, so there is nothing to
// wait for; older ones wait for it (5 minutes).
func awaitServiceAccount(c awaitConfig) (*unstructured.Unstructured, error) {
	if c.op.cs.atLeast(1, 24) {
		return c.current, nil
	}
	specSecrets, _, _ := unstructured.NestedSlice(c.current.Object, "secrets")
	return c.watchUntil(fixedTimeout(5*time.Minute), func(sa *unstructured.Unstructured) bool {
		secrets, _, _ := unstructured.NestedSlice(sa.Object, "secrets")
		return len(secrets) > len(specSecrets)
	})
}
