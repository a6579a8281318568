/**
 * The garbage-collection job: the scripts it runs (in its own container and, from the ConfigMap, in
 * the registry and Maven containers), its account, and its CronJob.
 */
import type * as k8s from "@pulumi/kubernetes";
import { mavenCleanupLines } from "../maven/cleanup";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import { collectUnlessEmpty } from "../shared/facts";
import { END_MARKER_ONLY_WINDOW, MARKER_ONLY_WINDOW } from "../shared/frontWindow";
import type { K8sObject } from "../shared/k8sObject";
import { shQuote } from "../shared/shQuote";
import { renderVerifyScript } from "../shared/verifyScript";
import { type GcWindow, gcWindow } from "./gcWindow";
import { labels, meta, restrictedContainer, restrictedPod } from "./k8sHelpers";
import { READ_ONLY_SIGNAL } from "./readOnlySignal";
import { IN_CLUSTER, type InClusterMaven, type InClusterSpec, type InClusterStorage } from "./spec";

/**
 * The garbage-collection job's script (kubectl only). Collecting while a push is in flight deletes the
 * new layers (distribution#3045), and a registry that has seen a blob answers for it after a
 * collection removed it while its in-memory cache remembers it (distribution#3743). How writes are
 * held back is `gcWindow`'s decision:
 *
 * - "marker" (one pod): `gc.sh` from the ConfigMap runs in the registry container: it creates the
 *   GC's marker (the front answers writes 503 with Retry-After, pulls go on), waits for writes already
 *   past the front to land, runs `registry garbage-collect` and removes the marker when it ends, also
 *   when it fails; then, with Maven, `maven-gc.sh` does the same around the snapshot clean-up in the
 *   Maven container. Nothing restarts; Distribution runs without the blob-descriptor cache
 *   (`distributionCachesBlobs`), so it has nothing to forget. The window's steps run in the pod: a
 *   cut `kubectl exec` does not end a window while its work goes on.
 * - "rollout" (pods that may overlap): Distribution's read-only switch on the Deployment's template,
 *   the collection in one running pod (the bucket is shared), the switch removed again; each change
 *   rolls the pods, which empties their caches. The trap switches back on every exit, also on failure.
 *
 * Then the job checks its own work: `verify.sh` from the ConfigMap runs in the registry container,
 * the only place that reaches Distribution on the pod's loopback, and fails the job naming every
 * tagged image that is not served whole.
 */
export function gcScript(namespace: string, deleteUntagged: boolean, maven: boolean, window: GcWindow): string {
    const exec = `kubectl --namespace ${namespace} exec deployment/${IN_CLUSTER.name}`;
    const script = (name: string) => `${IN_CLUSTER.configDir}/${name}`;
    // Old snapshot builds, from inside the Maven container (the only one with maven-data mounted).
    const mavenCleanup = maven ? [`${exec} --container=${IN_CLUSTER.mavenContainer} -- /bin/sh ${script(IN_CLUSTER.mavenGcScript)}`] : [];
    const verify = `${exec} --container=registry -- /bin/sh ${script(IN_CLUSTER.verifyScript)}`;
    if (window === "marker") {
        return [
            "set -eu",
            'echo "collecting garbage inside the front\'s read-only window: writes get 503, pulls go on, nothing restarts"',
            `${exec} --container=registry -- /bin/sh ${script(IN_CLUSTER.gcStepScript)}`,
            ...mavenCleanup,
            'echo "garbage collection done; registry writable again; checking every tagged image"',
            verify,
            "",
        ].join("\n");
    }
    return [
        "set -eu",
        ...readOnlyRollout(namespace),
        'echo "registry is read-only; collecting garbage"',
        `${exec} --container=registry -- ${collectCommand(deleteUntagged, IN_CLUSTER.configDir)}`,
        ...mavenCleanup,
        ...END_READ_ONLY_ROLLOUT,
        'echo "garbage collection done; registry writable again with an empty cache; checking every tagged image"',
        verify,
        "",
    ].join("\n");
}

/** Distribution's collector on the registry's config (in `dir`). */
function collectCommand(deleteUntagged: boolean, dir: string): string {
    return `registry garbage-collect${deleteUntagged ? " --delete-untagged" : ""} ${dir}/config.yml`;
}

/**
 * `gc.sh`, run in the registry container by the GC job (`gcWindow` "marker"): the collection inside
 * the front's window, with the GC's own marker and the lines the backups open and close theirs with.
 */
export function inClusterGcStepScript(deleteUntagged: boolean, storage: InClusterStorage["kind"]): string {
    const collect = collectCommand(deleteUntagged, `"\${DSO_ROOT:-}"${IN_CLUSTER.configDir}`);
    return [
        "#!/bin/sh",
        `# Managed by dso-registry: garbage collection inside the front's read-only window, run in the registry container by CronJob ${IN_CLUSTER.gcName}. See docs/in-cluster.md.`,
        "set -eu",
        `marker="\${DSO_ROOT:-}"${shQuote(READ_ONLY_SIGNAL.gcMarker)}`,
        ...MARKER_ONLY_WINDOW,
        'echo "front read-only (writes get 503, pulls go on); collecting garbage"',
        ...(storage === "filesystem" ? collectUnlessEmpty(collect, `"\${DSO_ROOT:-}"${IN_CLUSTER.dataDir}`) : [collect]),
        ...END_MARKER_ONLY_WINDOW,
        'echo "collection done; front writable again"',
        "",
    ].join("\n");
}

/**
 * The check the GC job runs in the registry container (`verify.sh` in the ConfigMap): the external
 * host's check (components/shared/verifyScript.ts), with busybox's wget (the registry:2 image is
 * Alpine, without curl) against Distribution on the pod's loopback.
 */
export function inClusterVerifyScript(namespace: string): string {
    return renderVerifyScript({
        base: `http://${IN_CLUSTER.registryAddr}`,
        client: "busybox-wget",
        docs: "docs/in-cluster.md",
        registryLogs: `kubectl --namespace ${namespace} logs deployment/${IN_CLUSTER.name} --container=registry`,
        remedy: "Push them again from their builds, or restore the last good backup (docs/in-cluster.md, Restore).",
    });
}

/**
 * The Maven cleanup the GC job runs in the Maven container, inside the front's window with the GC's
 * marker (deploys get 503 from the front; Maven is served in-cluster only with one pod, so always
 * `gcWindow` "marker"): the external host's renderer over the container's mount of `maven-data`. The
 * container's root filesystem is read-only, so mktemp writes to its run directory (an emptyDir).
 */
export function mavenGcScript(maven: Pick<InClusterMaven, "pathPrefix" | "snapshotBuildsToKeep">): string {
    return [
        "set -eu",
        `TMPDIR="\${DSO_ROOT:-}"${MAVEN_BACKEND.runDir}`,
        "export TMPDIR",
        `marker="\${DSO_ROOT:-}"${shQuote(READ_ONLY_SIGNAL.gcMarker)}`,
        ...MARKER_ONLY_WINDOW,
        ...mavenCleanupLines({
            dataDir: MAVEN_BACKEND.dataDir,
            pathPrefix: maven.pathPrefix,
            snapshotBuildsToKeep: maven.snapshotBuildsToKeep,
        }),
        ...END_MARKER_ONLY_WINDOW,
        "",
    ].join("\n");
}

/**
 * Lines that switch the registry Deployment to read-only maintenance mode for the rest of the script
 * and wait until its pods run that way; `restore`, called by the trap on every exit (also on failure),
 * switches it back and waits for the writable pods (`END_READ_ONLY_ROLLOUT` does it before the
 * script ends). The garbage-collection job's switch when the pods may overlap (`gcWindow` "rollout").
 */
export function readOnlyRollout(namespace: string): string[] {
    const deployment = `deployment/${IN_CLUSTER.name}`;
    const kubectl = `kubectl --namespace ${namespace}`;
    return [
        "restore() {",
        `  ${kubectl} set env ${deployment} ${IN_CLUSTER.readOnlyEnv}-`,
        `  ${kubectl} rollout status ${deployment} --timeout=15m`,
        "}",
        "trap restore EXIT",
        `${kubectl} set env ${deployment} '${IN_CLUSTER.readOnlyEnv}={"enabled":true}'`,
        `${kubectl} rollout status ${deployment} --timeout=15m`,
    ];
}

/** Lines that end `readOnlyRollout`'s window before the script ends: the writable pods run again. */
export const END_READ_ONLY_ROLLOUT: readonly string[] = ["restore", "trap - EXIT"];

/** The job's account may only read the registry Deployment (and patch it, for a rollout window) and exec into its pods. */
export function renderGcRbac(spec: InClusterSpec): K8sObject[] {
    const window = gcWindow(spec);
    if (!window) return [];
    return renderMaintenanceRbac(spec, IN_CLUSTER.gcName, "garbage-collection", window === "rollout");
}

/**
 * A maintenance job's account: read the registry Deployment and exec into its pods; patch it too only
 * for a job that switches it (GC's `kubectl set env` when the pods may overlap; the marker windows need no patch).
 */
export function renderMaintenanceRbac(spec: InClusterSpec, name: string, component: string, patchesDeployment: boolean): K8sObject[] {
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

export function renderGcCronJob(spec: InClusterSpec): K8sObject | undefined {
    const window = gcWindow(spec);
    if (!window) return undefined;
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: meta(IN_CLUSTER.gcName, spec.namespace, "garbage-collection"),
        spec: {
            schedule: spec.garbageCollection.schedule,
            concurrencyPolicy: "Forbid",
            startingDeadlineSeconds: 3600,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                spec: {
                    backoffLimit: 0,
                    activeDeadlineSeconds: 3 * 3600,
                    template: {
                        metadata: { labels: labels("garbage-collection") },
                        spec: {
                            serviceAccountName: IN_CLUSTER.gcName,
                            automountServiceAccountToken: true,
                            restartPolicy: "Never",
                            securityContext: restrictedPod(),
                            containers: [
                                {
                                    name: "gc",
                                    image: spec.images.kubectl,
                                    command: [
                                        "/bin/sh",
                                        "-c",
                                        gcScript(spec.namespace, spec.garbageCollection.deleteUntagged, spec.maven !== undefined, window),
                                    ],
                                    env: [{ name: "HOME", value: "/tmp" }],
                                    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                                    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                                    securityContext: restrictedContainer(true),
                                },
                            ],
                            volumes: [{ name: "tmp", emptyDir: {} }],
                        },
                    },
                },
            },
        },
    } satisfies k8s.types.input.batch.v1.CronJob;
}
