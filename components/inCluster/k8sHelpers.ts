/**
 * Pieces every in-cluster object is built from: the labels and metadata each carries, the security
 * settings the "restricted" Pod Security Standard asks for, and a Secret of the registry's namespace.
 */

import type * as k8s from "@pulumi/kubernetes";
import { MANAGED_LABELS } from "../shared/facts";
import type { K8sObject, Value } from "../shared/k8sObject";
import { type ContainerResources, containerResources, schedulingFields } from "../shared/podScheduling";
import { IN_CLUSTER, type InClusterSpec } from "./spec";

/** The labels of an in-cluster object: its component, the registry's name, and the program's own. */
export function labels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/name": IN_CLUSTER.name,
        ...MANAGED_LABELS,
    };
}

/** The labels a Service, Deployment or budget selects a component's pods by: its component and the registry's name. */
export function selector(component: string): Record<string, string> {
    return { "app.kubernetes.io/component": component, "app.kubernetes.io/name": IN_CLUSTER.name };
}

/** An object's metadata: its name, namespace (none for cluster-wide objects), labels and annotations (left out when empty). */
export function meta(name: string, namespace: string | undefined, component: string, annotations?: Record<string, string>) {
    return {
        name,
        ...(namespace ? { namespace } : {}),
        labels: labels(component),
        ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    };
}

/** The container settings the "restricted" Pod Security Standard asks for. */
export function restrictedContainer(
    readOnlyRootFilesystem: boolean,
    options: { runAsUser?: number; netBindService?: boolean } = {},
): k8s.types.input.core.v1.SecurityContext {
    const { runAsUser, netBindService } = options;
    return {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"], ...(netBindService ? { add: ["NET_BIND_SERVICE"] } : {}) },
        privileged: false,
        readOnlyRootFilesystem,
        runAsNonRoot: true,
        ...(runAsUser !== undefined ? { runAsUser, runAsGroup: runAsUser } : {}),
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** The pod settings the "restricted" Pod Security Standard asks for; with `fsGroup`, the pod's volumes are group-owned by it. */
export function restrictedPod(fsGroup?: number): k8s.types.input.core.v1.PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: IN_CLUSTER.uid,
        runAsGroup: IN_CLUSTER.uid,
        ...(fsGroup !== undefined ? { fsGroup, fsGroupChangePolicy: "OnRootMismatch" } : {}),
        seccompProfile: { type: "RuntimeDefault" },
    };
}
/** A Secret in the registry's namespace; its values stay Outputs (secret) in the component. */
export function secret(
    name: string,
    spec: InClusterSpec,
    component: string,
    stringData: Record<string, Value>,
    type = "Opaque",
): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: meta(name, spec.namespace, component),
        type,
        stringData,
    } satisfies k8s.types.input.core.v1.Secret;
}

/**
 * The container of an upkeep job that drives the registry with kubectl only (the GC and backup
 * CronJobs): kubectl's HOME on a writable /tmp (the job's `tmp` emptyDir), small requests unless the
 * operator's (`inCluster.pod.resources.jobs`), the restricted settings with a read-only root.
 */
export function kubectlJobContainer(
    name: string,
    image: Value,
    script: string,
    resources?: ContainerResources,
): k8s.types.input.core.v1.Container {
    return {
        name,
        image,
        command: ["/bin/sh", "-c", script],
        env: [{ name: "HOME", value: "/tmp" }],
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
        resources: containerResources(resources, { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } }),
        securityContext: restrictedContainer(true),
    };
}

/**
 * An upkeep CronJob whose one container drives the registry with kubectl (the GC and the backup): never
 * two runs at once, a missed start still made within the hour, three of each outcome kept, no retry (the next
 * run is the retry), the pod restricted and scheduled as the registry's pods are.
 */
export function kubectlCronJob(job: {
    readonly spec: InClusterSpec;
    readonly name: string;
    readonly component: string;
    readonly schedule: string;
    readonly activeDeadlineSeconds: number;
    readonly container: string;
    readonly script: string;
}) {
    const { spec } = job;
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: meta(job.name, spec.namespace, job.component),
        spec: {
            schedule: job.schedule,
            concurrencyPolicy: "Forbid",
            startingDeadlineSeconds: 3600,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                spec: {
                    backoffLimit: 0,
                    activeDeadlineSeconds: job.activeDeadlineSeconds,
                    template: {
                        metadata: { labels: labels(job.component) },
                        spec: {
                            serviceAccountName: job.name,
                            automountServiceAccountToken: true,
                            restartPolicy: "Never",
                            securityContext: restrictedPod(),
                            ...schedulingFields(spec.pod),
                            containers: [kubectlJobContainer(job.container, spec.images.kubectl, job.script, spec.pod?.resources?.jobs)],
                            volumes: [{ name: "tmp", emptyDir: {} }],
                        },
                    },
                },
            },
        },
    } satisfies k8s.types.input.batch.v1.CronJob;
}

/**
 * An upkeep job's account: read the registry Deployment and exec into its pods; patch it too only
 * for a job that switches it (GC's `kubectl set env` when the pods may overlap; the marker windows need no patch).
 */
export function renderUpkeepRbac(spec: InClusterSpec, name: string, component: string, patchesDeployment: boolean): K8sObject[] {
    const m = meta(name, spec.namespace, component);
    return [
        {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: m,
            automountServiceAccountToken: false,
        } satisfies k8s.types.input.core.v1.ServiceAccount,
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: m,
            rules: [
                {
                    apiGroups: ["apps"],
                    resources: ["deployments"],
                    resourceNames: [IN_CLUSTER.name],
                    verbs: ["get", "list", "watch", ...(patchesDeployment ? ["patch"] : [])],
                },
                // `kubectl exec deployment/…` and `rollout status` find the pods through their ReplicaSets.
                { apiGroups: ["apps"], resources: ["replicasets"], verbs: ["get", "list", "watch"] },
                { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
                { apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] },
            ],
        } satisfies k8s.types.input.rbac.v1.Role,
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: m,
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
            subjects: [{ kind: "ServiceAccount", name, namespace: spec.namespace }],
        } satisfies k8s.types.input.rbac.v1.RoleBinding,
    ];
}
