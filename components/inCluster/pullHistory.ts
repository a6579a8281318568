/**
 * Tag retention by last pull in the cluster (`keepPulledWithinDays`; docs/in-cluster.md, Retention by last
 * pull). The front is the pod's Caddy sidecar, which logs to stdout: `kubectl logs` returns only the file the
 * kubelet has not rotated yet, and a replaced pod takes its log with it. So a harvest reads the fronts' logs
 * often (CronJob `registry-pulls`, every quarter of an hour, and the GC job before retention's plan) and keeps
 * the history in ConfigMap `registry-pull-history`, which outlives the pods and serves filesystem and s3
 * storage alike. The kubectl image has no awk: the merge (../upkeep/sh/pull-history.sh) runs in the registry
 * container (`pull-merge.sh` in ConfigMap `registry-config`), which also leaves the merged history where
 * retention reads it.
 */
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import type { K8sObject } from "../shared/k8sObject";
import { renderShellScript } from "../shared/shellScript";
import { pullHistoryDays, type Retention } from "../upkeep/retention";
import { kubectlCronJob, meta, renderUpkeepRbac, selector } from "./k8sHelpers";
import { IN_CLUSTER, type InClusterSpec } from "./spec";

export const PULL_HISTORY = {
    /** The ConfigMap that keeps the history (binaryData `history.gz`, data `harvested`). */
    configMap: "registry-pull-history",
    /** The harvest's CronJob, its account and the Role both the harvest and the GC job use. */
    jobName: "registry-pulls",
    component: "pull-history",
    schedule: "*/15 * * * *",
    /** ConfigMap key (and file in configDir) of the merge the harvest runs in the registry container. */
    mergeScript: "pull-merge.sh",
    /** The merged history in the registry container (its /tmp emptyDir), where retention reads it. */
    localHistory: "/tmp/pull-history",
    /** Retention takes the pod's copy for missing when it was written longer ago than this (the GC job's harvest rewrites it just before). */
    localMaxAgeSeconds: 1800,
    /** The front's log is read from this much before the last harvest's start: a line the kubelet wrote late is not missed. */
    marginSeconds: 120,
    /**
     * The largest compressed history stored: a ConfigMap holds 1 MiB in all (the API server refuses more), the
     * rest is room for its other fields.
     */
    maxBytes: 900_000,
} as const;

/** Whether the cluster keeps a pull history: garbage collection with a retention rule that has keepPulledWithinDays. */
export function pullHistoryKept(spec: {
    readonly garbageCollection: { readonly enabled: boolean };
    readonly retention?: Pick<Retention, "rules">;
}): boolean {
    return spec.garbageCollection.enabled && pullHistoryDays(spec.retention) !== undefined;
}

/** The parameters of the harvest (sh/pull-harvest.sh), for its CronJob and the GC job; PULLS_CONFIGMAP "" when none is kept. */
export function pullHarvestParams(spec: { readonly namespace: string } & Parameters<typeof pullHistoryKept>[0]) {
    const kept = pullHistoryKept(spec);
    return {
        PULLS_CONFIGMAP: kept ? PULL_HISTORY.configMap : "",
        REGISTRY_PODS: Object.entries(selector("registry"))
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        FRONT_CONTAINER: "caddy",
        PULL_MERGE_SCRIPT: kept ? `${IN_CLUSTER.configDir}/${PULL_HISTORY.mergeScript}` : "",
        LOCAL_PULL_HISTORY: kept ? PULL_HISTORY.localHistory : "",
        HARVEST_MARGIN_SECONDS: PULL_HISTORY.marginSeconds,
    };
}

/** `pull-merge.sh` in ConfigMap `registry-config`: the merge, keeping `keepDays` days (the longest keepPulledWithinDays). */
export function pullMergeScript(keepDays: number): string {
    return renderShellScript(path.join(__dirname, "sh", "pull-merge.sh"), {
        KEEP_DAYS: keepDays,
        LOCAL_HISTORY: PULL_HISTORY.localHistory,
        MAX_BYTES: PULL_HISTORY.maxBytes,
    });
}

/**
 * The harvest's objects, when a history is kept: the ConfigMap (created empty; the harvest fills it, and the
 * program ignores its data, see ./objectPlan.ts), the CronJob and its account (read the registry Deployment
 * and its pods, exec into them), and a Role for that ConfigMap alone (get, patch) and the pods' logs, bound to
 * the harvest's account and the GC job's.
 */
export function renderPullHistoryObjects(spec: InClusterSpec): K8sObject[] {
    if (!pullHistoryKept(spec)) return [];
    const m = meta(PULL_HISTORY.jobName, spec.namespace, PULL_HISTORY.component);
    return [
        {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: meta(PULL_HISTORY.configMap, spec.namespace, PULL_HISTORY.component),
        } satisfies k8s.types.input.core.v1.ConfigMap,
        // Its account: read the registry Deployment and its pods, exec into them.
        ...renderUpkeepRbac(spec, PULL_HISTORY.jobName, PULL_HISTORY.component, false),
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { ...m, name: PULL_HISTORY.configMap },
            rules: [
                { apiGroups: [""], resources: ["configmaps"], resourceNames: [PULL_HISTORY.configMap], verbs: ["get", "patch"] },
                { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
            ],
        } satisfies k8s.types.input.rbac.v1.Role,
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { ...m, name: PULL_HISTORY.configMap },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: PULL_HISTORY.configMap },
            subjects: [
                { kind: "ServiceAccount", name: PULL_HISTORY.jobName, namespace: spec.namespace },
                { kind: "ServiceAccount", name: IN_CLUSTER.gcName, namespace: spec.namespace },
            ],
        } satisfies k8s.types.input.rbac.v1.RoleBinding,
        kubectlCronJob({
            spec,
            name: PULL_HISTORY.jobName,
            component: PULL_HISTORY.component,
            schedule: PULL_HISTORY.schedule,
            activeDeadlineSeconds: 600,
            container: "harvest",
            script: renderShellScript(path.join(__dirname, "sh", "pull-harvest-job.sh"), {
                NAMESPACE: spec.namespace,
                DEPLOYMENT: IN_CLUSTER.name,
                ...pullHarvestParams(spec),
            }),
        }),
    ];
}
