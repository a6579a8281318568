/**
 * Backups of the in-cluster registry with restic, to an S3-compatible bucket or a volume of its own:
 * the scheme both placements share (components/upkeep/backup.ts: the same passes, retention, snapshot
 * host name and tags, so the two read each other's repositories the same way). The scripts are the
 * scripts in `sh/` beside this file (backup-step.sh, restore.sh, backup-job.sh); this file gives their
 * parameters and the Kubernetes objects that carry and run them.
 *
 * Where restic runs: in a `backup` container of the registry pod itself, which mounts the registry's
 * volume (and Maven's, when Maven is served in-cluster) read-only. A ReadWriteOnce volume is mounted
 * on one node only; a second pod that mounts it must land on that node, and the registry pod, when it
 * is recreated, may be scheduled elsewhere and never start. Inside the pod none of that can happen,
 * whatever the access mode (ReadWriteOncePod included). CronJob `registry-backup` (kubectl only, like
 * the GC job) drives it with `kubectl exec`:
 *
 *   1. pass 1, registry writable: restic copies everything new (the long part);
 *   2. pass 2, read-only: the step opens the front's window with its marker on the emptyDir it
 *      shares with the Caddy sidecar (docs/decisions/maintenance-window.md) and restic reads only
 *      what changed since pass 1 (its parent), a consistent snapshot; the marker goes away when the
 *      step ends, also when it fails (the step's trap, and the job's own trap as a second line).
 *      Nothing restarts: the window is the marker's lifetime.
 *   3. the pass-1 snapshots are forgotten (also those of failed runs) and retention (`forget --keep-last --prune`) runs on the
 *      destination, never on the cluster's disks.
 *
 * Why the marker holds every write of the registry back: Distribution listens on the pod's loopback
 * only (IN_CLUSTER.registryAddr), so nothing outside the pod reaches it; both Services (`registry`,
 * `registry-tls`) and the Ingress target the sidecar's ports (`http`, `https`); the UI is served
 * through the sidecar too. The Maven nginx sidecar is no way around it: it listens on the loopback, writes Maven's own volume,
 * never Distribution's, and only through the sidecar's Maven route, which answers deploys 503 during
 * the window as well.
 * The GC job holds writes back the same way, with a marker of its own (./readOnlySignal.ts), so
 * neither job ends the other's window; only when the registry's pods may overlap does it switch the
 * Deployment instead (gcWindow.ts).
 *
 * Restore: CronJob `registry-restore` is suspended and never runs on its own; `kubectl create job
 * --from=cronjob/registry-restore` runs it once the registry is scaled to 0 (docs/in-cluster.md).
 */

import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import type { K8sObject } from "../shared/k8sObject";
import { CLAIM_ANNOTATIONS, persistentClaim } from "../shared/persistentClaim";
import { containerResources, schedulingFields } from "../shared/podScheduling";
import { startupProbe } from "../shared/probes";
import { renderShellScript } from "../shared/shellScript";
import { BACKUP_WARM_TAG, resticRepository, SNAPSHOT_PARAMS } from "../upkeep/backup";
import { FRONT_WINDOW_PARAMS } from "../upkeep/frontWindow";
import { kubectlCronJob, labels, meta, renderUpkeepRbac, restrictedContainer, restrictedPod, secret } from "./k8sHelpers";
import { READ_ONLY_SIGNAL, signalMount } from "./readOnlySignal";
import { IN_CLUSTER, type InClusterBackup, type InClusterBackupDestination, type InClusterSpec } from "./spec";

/** Names and paths of the in-cluster backup, shared by the renderers, the docs and the tests. */
export const IN_CLUSTER_BACKUP = {
    /** CronJob, its ServiceAccount/Role, the scripts' ConfigMap and the credentials' Secret. */
    name: "registry-backup",
    /** The suspended CronJob that restores (run with kubectl create job --from). */
    restoreName: "registry-restore",
    /** The container in the registry pod that runs restic. */
    container: "backup",
    /** Where the scripts (ConfigMap `registry-backup`) are mounted. */
    scriptsDir: "/etc/dso-registry-backup/scripts",
    /** Where the credentials (Secret `registry-backup`) are mounted. */
    secretDir: "/etc/dso-registry-backup/secret",
    /** Where PVC `registry-backup` is mounted (volume destination); the repository is a directory in it. */
    volumeDir: "/var/backups/dso-registry",
    /** The emptyDir the backup container shares with the Caddy sidecar (read-only there): where the marker lives. */
    signalDir: READ_ONLY_SIGNAL.dir,
    /** The read-only marker: while it exists, the sidecar answers writes 503 (the policy's file signal). */
    marker: READ_ONLY_SIGNAL.backupMarker,
    /** restic's metadata cache (index and trees only), on the pod's emptyDir. */
    cacheDir: "/tmp/restic-cache",
    /** Left by a restore in each volume it restored into: the files that were there before. */
    asidePrefix: ".before-restore-",
    /** Keys of Secret `registry-backup`. */
    keys: {
        password: "repository-password",
        accessKeyId: "s3-access-key-id",
        secretAccessKey: "s3-secret-access-key",
    },
} as const;

/** The directories a backup holds, as mounted in the pod: the registry's data and, when served in-cluster, Maven's. */
export function backedUpDirs(spec: Pick<InClusterSpec, "maven">): string[] {
    return [IN_CLUSTER.dataDir, ...(spec.maven ? [MAVEN_BACKEND.dataDir] : [])];
}

/** The repository as people read it: restic's S3 address, or the volume's. */
export function repositoryName(destination: InClusterBackupDestination): string {
    return destination.kind === "s3"
        ? resticRepository(destination)
        : `PVC ${IN_CLUSTER_BACKUP.name} (${IN_CLUSTER_BACKUP.volumeDir}/repository)`;
}

/** The parameters of a script that runs restic in the pod (cluster-restic.sh). */
function resticParams(backup: InClusterBackup) {
    const b = IN_CLUSTER_BACKUP;
    const dest = backup.destination;
    return {
        DESTINATION: dest.kind,
        REPOSITORY: dest.kind === "s3" ? resticRepository(dest) : `${b.volumeDir}/repository`,
        SECRET_DIR: b.secretDir,
        CACHE_DIR: b.cacheDir,
        PASSWORD_KEY: b.keys.password,
        ACCESS_KEY_ID_KEY: b.keys.accessKeyId,
        SECRET_ACCESS_KEY_KEY: b.keys.secretAccessKey,
        REGION: dest.kind === "s3" ? dest.region : "",
        ...SNAPSHOT_PARAMS,
    };
}

/**
 * `backup.sh STEP [WARM-SNAPSHOT]` (backup-step.sh), run in the pod's backup container by the CronJob:
 * `writable`, `read-only` (inside the front's window), `end-read-only` and `retention`.
 */
export function inClusterBackupStepScript(spec: Pick<InClusterSpec, "maven">, backup: InClusterBackup): string {
    return renderShellScript(path.join(__dirname, "sh", "backup-step.sh"), {
        REPOSITORY_NAME: repositoryName(backup.destination),
        MARKER: IN_CLUSTER_BACKUP.marker,
        ...FRONT_WINDOW_PARAMS,
        BACKED_UP: backedUpDirs(spec),
        ASIDE_PREFIX: IN_CLUSTER_BACKUP.asidePrefix,
        KEEP: backup.keep,
        ...resticParams(backup),
        WRITABLE_PASS_TAG: BACKUP_WARM_TAG,
    });
}

/**
 * `restore.sh`, run by a Job made from CronJob `registry-restore` while the registry is scaled to 0:
 * restores `$SNAPSHOT` (the newest when unset) into the volumes, keeping what they held aside.
 */
export function inClusterRestoreScript(spec: Pick<InClusterSpec, "maven" | "namespace">, backup: InClusterBackup): string {
    return renderShellScript(path.join(__dirname, "sh", "restore.sh"), {
        REPOSITORY_NAME: repositoryName(backup.destination),
        BACKED_UP: backedUpDirs(spec),
        ASIDE_PREFIX: IN_CLUSTER_BACKUP.asidePrefix,
        NAMESPACE: spec.namespace,
        DEPLOYMENT: IN_CLUSTER.name,
        ...resticParams(backup),
    });
}

/** The CronJob's script (backup-job.sh, kubectl only): pass 1, pass 2 inside the window, retention. */
export function inClusterBackupJobScript(namespace: string, backup: InClusterBackup): string {
    return renderShellScript(path.join(__dirname, "sh", "backup-job.sh"), {
        NAMESPACE: namespace,
        DEPLOYMENT: IN_CLUSTER.name,
        CONTAINER: IN_CLUSTER_BACKUP.container,
        STEP_SCRIPT: `${IN_CLUSTER_BACKUP.scriptsDir}/backup.sh`,
        REPOSITORY_NAME: repositoryName(backup.destination),
    });
}

/** The volumes the backup and restore containers need besides the registry's own. */
function backupVolumes(backup: InClusterBackup): k8s.types.input.core.v1.Volume[] {
    return [
        { name: "backup-scripts", configMap: { name: IN_CLUSTER_BACKUP.name } },
        // Readable by the pod's user only (with fsGroup the kubelet adds group read).
        { name: "backup-secret", secret: { secretName: IN_CLUSTER_BACKUP.name, defaultMode: 0o400 } },
        ...(backup.destination.kind === "volume"
            ? [{ name: "backup-repository", persistentVolumeClaim: { claimName: IN_CLUSTER_BACKUP.name } }]
            : []),
    ];
}

function backupMounts(
    spec: Pick<InClusterSpec, "maven">,
    backup: InClusterBackup,
    readOnlyData: boolean,
): k8s.types.input.core.v1.VolumeMount[] {
    return [
        { name: "backup-scripts", mountPath: IN_CLUSTER_BACKUP.scriptsDir, readOnly: true },
        { name: "backup-secret", mountPath: IN_CLUSTER_BACKUP.secretDir, readOnly: true },
        // restic writes its locks also when it restores: writable in both containers.
        ...(backup.destination.kind === "volume" ? [{ name: "backup-repository", mountPath: IN_CLUSTER_BACKUP.volumeDir }] : []),
        { name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: readOnlyData },
        ...(spec.maven ? [{ name: "maven-data", mountPath: MAVEN_BACKEND.dataDir, readOnly: readOnlyData }] : []),
    ];
}

/** The idle shell the backup container runs between `kubectl exec`s: it ends at once on SIGTERM. */
const IDLE = "trap 'exit 0' TERM INT\nwhile :; do sleep 3600 & wait $!; done\n";

/** The backup container's probes: restic starts (its binary and libraries are whole). */
const RESTIC_RUNS = { exec: { command: ["restic", "version"] }, timeoutSeconds: 10 };
const RESTIC_LIVENESS = { initialDelaySeconds: 10, periodSeconds: 300 };

/**
 * The registry pod's backup container and the volumes it adds; none without backups. The marker's
 * emptyDir, which it writes, is the pod's (./readOnlySignal.ts, added by the Deployment's renderer).
 */
export function backupSidecar(
    spec: InClusterSpec,
): { container: k8s.types.input.core.v1.Container; volumes: k8s.types.input.core.v1.Volume[] } | undefined {
    if (!spec.backup) return undefined;
    return {
        container: {
            name: IN_CLUSTER_BACKUP.container,
            image: spec.backup.image,
            command: ["/bin/sh", "-c", IDLE],
            env: [{ name: "HOME", value: "/tmp" }],
            volumeMounts: [...backupMounts(spec, spec.backup, true), { name: "tmp", mountPath: "/tmp" }, signalMount(true)],
            resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "1", memory: "1Gi" } },
            securityContext: restrictedContainer(true),
            // The job's exec needs nothing more than restic starting.
            readinessProbe: { ...RESTIC_RUNS, periodSeconds: 60 },
            livenessProbe: { ...RESTIC_RUNS, ...RESTIC_LIVENESS },
            startupProbe: startupProbe(RESTIC_RUNS, RESTIC_LIVENESS),
        },
        volumes: backupVolumes(spec.backup),
    };
}

/** Scripts ConfigMap, credentials Secret, the CronJob with its account, and the suspended restore CronJob. */
export function renderBackupObjects(spec: InClusterSpec): K8sObject[] {
    const backup = spec.backup;
    if (!backup) return [];
    const b = IN_CLUSTER_BACKUP;
    const component = "backup";
    const configMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: meta(b.name, spec.namespace, component),
        data: {
            "backup.sh": inClusterBackupStepScript(spec, backup),
            "restore.sh": inClusterRestoreScript(spec, backup),
        },
    } satisfies k8s.types.input.core.v1.ConfigMap;
    const credentials = secret(b.name, spec, component, {
        [b.keys.password]: backup.repositoryPassword,
        ...(backup.s3 ? { [b.keys.accessKeyId]: backup.s3.accessKeyId, [b.keys.secretAccessKey]: backup.s3.secretAccessKey } : {}),
    });
    const dest = backup.destination;
    const claim =
        dest.kind === "volume"
            ? [persistentClaim(meta(b.name, spec.namespace, component, CLAIM_ANNOTATIONS), dest.size, dest.storageClass)]
            : [];
    const job = kubectlCronJob({
        spec,
        name: b.name,
        component,
        schedule: backup.schedule,
        activeDeadlineSeconds: 6 * 3600,
        container: "backup",
        script: inClusterBackupJobScript(spec.namespace, backup),
    });
    const restore = {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: meta(b.restoreName, spec.namespace, "restore"),
        spec: {
            // Never runs on its own: a template for `kubectl create job --from=cronjob/registry-restore`.
            suspend: true,
            schedule: "0 0 1 1 *",
            jobTemplate: {
                spec: {
                    backoffLimit: 0,
                    template: {
                        metadata: { labels: labels("restore") },
                        spec: {
                            automountServiceAccountToken: false,
                            restartPolicy: "Never",
                            securityContext: restrictedPod(IN_CLUSTER.uid),
                            // The data claims are the registry pod's: the restore runs where the registry may run.
                            ...schedulingFields(spec.pod),
                            containers: [
                                {
                                    name: "restore",
                                    image: backup.image,
                                    command: ["/bin/sh", `${b.scriptsDir}/restore.sh`],
                                    env: [
                                        { name: "HOME", value: "/tmp" },
                                        // The newest when empty; set it to a snapshot id to restore an older one.
                                        { name: "SNAPSHOT", value: "" },
                                    ],
                                    volumeMounts: [...backupMounts(spec, backup, false), { name: "tmp", mountPath: "/tmp" }],
                                    resources: containerResources(spec.pod?.resources?.jobs, {
                                        requests: { cpu: "100m", memory: "64Mi" },
                                        limits: { cpu: "2", memory: "1Gi" },
                                    }),
                                    securityContext: restrictedContainer(true),
                                },
                            ],
                            volumes: [
                                ...backupVolumes(backup),
                                { name: "data", persistentVolumeClaim: { claimName: IN_CLUSTER.dataClaim } },
                                ...(spec.maven
                                    ? [{ name: "maven-data", persistentVolumeClaim: { claimName: IN_CLUSTER.mavenClaim } }]
                                    : []),
                                { name: "tmp", emptyDir: {} },
                            ],
                        },
                    },
                },
            },
        },
    } satisfies k8s.types.input.batch.v1.CronJob;
    return [configMap, credentials, ...claim, ...renderUpkeepRbac(spec, b.name, component, false), job, restore];
}
