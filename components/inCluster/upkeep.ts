/**
 * The garbage-collection job: the scripts it runs (in its own container and, from the ConfigMap, in
 * the registry and Maven containers: the scripts in `sh/` beside this file), its account, and its CronJob.
 */

import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import type { K8sObject } from "../shared/k8sObject";
import { renderShellScript } from "../shared/shellScript";
import { FRONT_WINDOW_PARAMS } from "../upkeep/frontWindow";
import { mavenCleanupParams } from "../upkeep/mavenCleanup";
import { pullHistoryDays, type Retention, renderRetentionScript } from "../upkeep/retention";
import { renderVerifyScript } from "../upkeep/verify";
import { type GcWindow, gcWindow } from "./gcWindow";
import { kubectlCronJob, meta, renderUpkeepRbac, selector } from "./k8sHelpers";
import { PULL_HISTORY, pullHarvestParams } from "./pullHistory";
import { READ_ONLY_SIGNAL } from "./readOnlySignal";
import { RETENTION_COUNTS } from "./retentionCounts";
import { IN_CLUSTER, type InClusterMaven, type InClusterSpec, type InClusterStorage, REGISTRY_METRICS_ADDR } from "./spec";

/**
 * The garbage-collection job's script (kubectl only). How it holds writes back is `gcWindow`'s
 * decision (why a window at all: docs/decisions/maintenance-window.md):
 *
 * - "marker" (one pod, gc-job-marker.sh): `gc.sh` from the ConfigMap runs in the registry container
 *   inside the front's window; then, with Maven, `maven-gc.sh` does the same around the snapshot
 *   clean-up in the Maven container. Nothing restarts; Distribution runs without the blob-descriptor
 *   cache (`distributionCachesBlobs`), so it has nothing to forget. The window's steps run in the pod:
 *   a cut `kubectl exec` does not end a window while its work goes on.
 * - "rollout" (pods that may overlap, gc-job-rollout.sh): Distribution's read-only switch on the
 *   Deployment's template, the collection in one running pod (the bucket is shared), the switch
 *   removed again; each change rolls the pods, which empties their caches.
 *
 * Then the job checks its own work: `verify.sh` from the ConfigMap runs in the registry container,
 * the only place that reaches Distribution on the pod's loopback, and fails the job naming every
 * tagged image that is not served whole.
 *
 * With `retention`, the job first lists the images of every pod in the cluster (containers and init
 * containers, by spec and by the digest the runtime reports) and hands them on stdin to `retention.sh`
 * in the registry container: with the marker window (gc-step.sh) its read phase before the window and
 * its removals inside it, or, in a rollout window, both just before the read-only switch (Distribution
 * must still accept the deletes; see docs/deletes-and-gc.md, Retention). A job that cannot list the pods runs no retention, collects, and fails.
 */
export function gcScript(
    namespace: string,
    deleteUntagged: boolean,
    maven: boolean,
    window: GcWindow,
    retention = false,
    harvest: ReturnType<typeof pullHarvestParams> = pullHarvestParams({ namespace, garbageCollection: { enabled: false } }),
): string {
    const script = (name: string) => `${IN_CLUSTER.configDir}/${name}`;
    const common = {
        NAMESPACE: namespace,
        DEPLOYMENT: IN_CLUSTER.name,
        // Old snapshot builds, from inside the Maven container (the only one with maven-data mounted).
        MAVEN_CONTAINER: IN_CLUSTER.mavenContainer,
        MAVEN_GC_SCRIPT: maven ? script(IN_CLUSTER.mavenGcScript) : "",
        VERIFY_SCRIPT: script(IN_CLUSTER.verifyScript),
        RETENTION: retention,
        // With keepPulledWithinDays, the pull history's harvest before retention (./pullHistory.ts).
        ...harvest,
    };
    if (window === "marker") {
        return renderShellScript(path.join(__dirname, "sh", "gc-job-marker.sh"), {
            ...common,
            GC_STEP_SCRIPT: script(IN_CLUSTER.gcStepScript),
        });
    }
    return renderShellScript(path.join(__dirname, "sh", "gc-job-rollout.sh"), {
        ...common,
        RETENTION_SCRIPT: retention ? script(IN_CLUSTER.retentionScript) : "",
        POD_SELECTOR: Object.entries(selector("registry"))
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        READ_ONLY_ENV: IN_CLUSTER.readOnlyEnv,
        DELETE_UNTAGGED: deleteUntagged,
        CONFIG_DIR: IN_CLUSTER.configDir,
    });
}

/**
 * `gc.sh` (gc-step.sh), run in the registry container by the GC job (`gcWindow` "marker"): the
 * collection inside the front's window, with the GC's own marker. With s3 storage the window has no
 * folder to watch: it reads Distribution's metrics on the pod's loopback (`registryMetricsInPod`) to wait
 * for the uploads in flight.
 */
export function inClusterGcStepScript(deleteUntagged: boolean, storage: InClusterStorage["kind"], retention = false): string {
    return renderShellScript(path.join(__dirname, "sh", "gc-step.sh"), {
        MARKER: READ_ONLY_SIGNAL.gcMarker,
        ...FRONT_WINDOW_PARAMS,
        DELETE_UNTAGGED: deleteUntagged,
        RETENTION_SCRIPT: retention ? `${IN_CLUSTER.configDir}/${IN_CLUSTER.retentionScript}` : "",
        CONFIG_DIR: IN_CLUSTER.configDir,
        STORAGE: storage,
        DATA_DIR: IN_CLUSTER.dataDir,
        REGISTRY_METRICS: storage === "s3" ? `http://${REGISTRY_METRICS_ADDR}/metrics` : "",
    });
}

/**
 * The check the GC job runs in the registry container (`verify.sh` in the ConfigMap): the external
 * host's check (components/upkeep/verify.ts), with busybox's wget (the registry:2 image is Alpine,
 * without curl) against Distribution on the pod's loopback.
 */
export function inClusterVerifyScript(namespace: string, storage: InClusterStorage["kind"]): string {
    return renderVerifyScript({
        base: `http://${IN_CLUSTER.registryAddr}`,
        // The blob files the front serves from (filesystem storage), as the registry container mounts them.
        ...(storage === "filesystem" ? { blobStore: IN_CLUSTER.dataDir } : {}),
        client: "busybox-wget",
        registryLogs: `kubectl --namespace ${namespace} logs deployment/${IN_CLUSTER.name} --container=registry`,
        remedy: "Push them again from their builds, or restore the last good backup (docs/in-cluster.md, Restore).",
    });
}

/**
 * Tag retention as the GC job runs it in the registry container (`retention.sh` in the ConfigMap): the
 * shared script (components/upkeep/retention.ts) with busybox against Distribution on the pod's
 * loopback, ages from the link files on the registry's volume (or the image configs, with a bucket).
 * Its lines and counts go to the job's log; with `countsServed` (`retentionCountsServed`) the counts
 * also go to the pod's emptyDir that the Caddy sidecar serves (./retentionCounts.ts).
 */
export function inClusterRetentionScript(
    namespace: string,
    storage: InClusterStorage["kind"],
    retention: Retention,
    countsServed = false,
): string {
    return renderRetentionScript({
        retention,
        base: `http://${IN_CLUSTER.registryAddr}`,
        client: "busybox-wget",
        registryLogs: `kubectl --namespace ${namespace} logs deployment/${IN_CLUSTER.name} --container=registry`,
        ...(storage === "filesystem" ? { storageRoot: IN_CLUSTER.dataDir } : {}),
        ...(countsServed ? { textfileDir: RETENTION_COUNTS.dir } : {}),
        ...(pullHistoryDays(retention) !== undefined
            ? { pullHistory: PULL_HISTORY.localHistory, pullHistoryMaxAgeSeconds: PULL_HISTORY.localMaxAgeSeconds }
            : {}),
    });
}

/**
 * `maven-gc.sh` (maven-gc.sh), the Maven clean-up the GC job runs in the Maven container, inside the
 * front's window with the GC's marker (Maven is served in-cluster only with one pod, so always
 * `gcWindow` "marker"), over the container's mount of `maven-data`.
 */
export function mavenGcScript(maven: Pick<InClusterMaven, "pathPrefix" | "snapshotBuildsToKeep">): string {
    return renderShellScript(path.join(__dirname, "sh", "maven-gc.sh"), {
        MARKER: READ_ONLY_SIGNAL.gcMarker,
        ...FRONT_WINDOW_PARAMS,
        RUN_DIR: MAVEN_BACKEND.runDir,
        ...mavenCleanupParams({
            dataDir: MAVEN_BACKEND.dataDir,
            pathPrefix: maven.pathPrefix,
            snapshotBuildsToKeep: maven.snapshotBuildsToKeep,
        }),
    });
}

/** The job's account may only read the registry Deployment (and patch it, for a rollout window) and exec into its pods. */
export function renderGcRbac(spec: InClusterSpec): K8sObject[] {
    const window = gcWindow(spec);
    if (!window) return [];
    return [
        ...renderUpkeepRbac(spec, IN_CLUSTER.gcName, "garbage-collection", window === "rollout"),
        ...(spec.retention ? renderWorkloadListRbac(spec) : []),
    ];
}

/**
 * With tag retention: the GC job's account may list pods in every namespace (the images they run are
 * kept), and nothing more; a cluster-wide grant, so its name carries the namespace.
 */
function renderWorkloadListRbac(spec: InClusterSpec): K8sObject[] {
    const name = `${IN_CLUSTER.gcName}-${spec.namespace}-list-pods`;
    const { labels: objectLabels } = meta(name, spec.namespace, "garbage-collection");
    return [
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: { name, labels: objectLabels },
            rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }],
        } satisfies k8s.types.input.rbac.v1.ClusterRole,
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name, labels: objectLabels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
            subjects: [{ kind: "ServiceAccount", name: IN_CLUSTER.gcName, namespace: spec.namespace }],
        } satisfies k8s.types.input.rbac.v1.ClusterRoleBinding,
    ];
}

export function renderGcCronJob(spec: InClusterSpec): K8sObject | undefined {
    const window = gcWindow(spec);
    if (!window) return undefined;
    return kubectlCronJob({
        spec,
        name: IN_CLUSTER.gcName,
        component: "garbage-collection",
        schedule: spec.garbageCollection.schedule,
        activeDeadlineSeconds: 3 * 3600,
        container: "gc",
        script: gcScript(
            spec.namespace,
            spec.garbageCollection.deleteUntagged,
            spec.maven !== undefined,
            window,
            spec.retention !== undefined,
            pullHarvestParams(spec),
        ),
    });
}
