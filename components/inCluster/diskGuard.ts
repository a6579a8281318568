/**
 * The disk guard in the registry pod (`registry.diskGuard`, docs/runbooks.md "Disk full"): a small
 * container of the registry's own image (busybox's `sh` and `df`) that checks the pod's volumes, mounted
 * read-only, every `checkSeconds`, by the check every placement runs (../upkeep/sh/disk-guard.sh), and keeps
 * a marker for each in the pod's emptyDir of markers (./readOnlySignal.ts) while its volume is used past
 * `refusePercent`: the data volume's (with filesystem storage), on which the Caddy sidecar answers new blob
 * uploads 507 (`AccessPolicy.diskFullSignal`), and the Maven repository's volume's (when the pod serves
 * Maven), on which it answers deploys 507 (`MavenRoute.diskFullSignal`). With s3 storage the registry has no
 * volume of its own: the guard then checks the Maven volume alone, and without Maven there is no guard.
 *
 * With monitoring on, the same container also reports each volume's size, free and used bytes (and whether
 * the guard refuses) in a file of the markers' emptyDir that the sidecar serves on its metrics port
 * (`DISK_FIGURES`): the kubelet exports no volume stats for hostPath volumes (microk8s' hostpath-storage,
 * k3s' local-path, kind's default class), so on those the disk alerts read the pod's own figures. With
 * monitoring and no guard, the container runs to report only.
 */
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import { JOB_METRICS } from "../monitoring/jobMetrics";
import { renderShellScript } from "../shared/shellScript";
import { restrictedContainer } from "./k8sHelpers";
import { READ_ONLY_SIGNAL, signalMount } from "./readOnlySignal";
import { IN_CLUSTER, type InClusterSpec } from "./spec";

export const IN_CLUSTER_DISK_GUARD = {
    /** The container's name in the registry pod. */
    container: "disk-guard",
    /** The data volume's marker, in the pod's emptyDir of markers: it exists while new uploads are refused. */
    marker: `${READ_ONLY_SIGNAL.dir}/disk-full`,
    /** The Maven volume's marker, beside it: it exists while Maven deploys are refused. */
    mavenMarker: `${READ_ONLY_SIGNAL.dir}/maven-disk-full`,
    /** The time of the last round's start, beside them: what the container's liveness probe reads. */
    heartbeat: `${READ_ONLY_SIGNAL.dir}/disk-guard.alive`,
    /**
     * Seconds between two checks: within the refusal message's "five minutes", and as often as a scrape
     * commonly comes, so that the figures it reports are no older than the series beside them.
     */
    checkSeconds: 60,
} as const;

/** The pod's disk figures (with monitoring): the file the guard's container writes and the sidecar serves. */
export const DISK_FIGURES = {
    /** In the markers' emptyDir, beside the markers (the sidecar watches only the markers' own names). */
    file: `${READ_ONLY_SIGNAL.dir}/disk-figures.prom`,
    /** The path on the sidecar's metrics port (`METRICS_PORT_NAMES.caddy`) that serves them. */
    path: "/disk/metrics",
    /** The PodMonitor endpoint's `endpoint` label. */
    endpointLabel: "disk-figures",
} as const;

/** `InClusterSpec.diskGuard` from the component's args: the guard when the pod has a volume of its own to fill (filesystem storage, or Maven's). */
export function inClusterDiskGuard(args: {
    readonly storage: { readonly kind: "filesystem" | "s3" };
    readonly maven?: unknown;
    readonly diskGuard?: { readonly refusePercent: number };
}): InClusterSpec["diskGuard"] {
    if (!args.diskGuard || (args.storage.kind !== "filesystem" && !args.maven)) return undefined;
    return { refusePercent: args.diskGuard.refusePercent, checkSeconds: IN_CLUSTER_DISK_GUARD.checkSeconds };
}

/** What decides whether the container runs and what it checks: the component's args or the spec alike. */
interface DiskGuardInputs {
    readonly diskGuard?: unknown;
    readonly storage: { readonly kind: "filesystem" | "s3" };
    readonly maven?: unknown;
    readonly monitoring?: unknown;
}

/** Which of the pod's volumes the container checks: the data volume with filesystem storage, Maven's when the pod serves it. */
function diskGuardVolumes(spec: DiskGuardInputs): {
    readonly data: boolean;
    readonly maven: boolean;
} {
    const on = spec.diskGuard !== undefined || spec.monitoring !== undefined;
    return { data: on && spec.storage.kind === "filesystem", maven: on && spec.maven !== undefined };
}

/** Whether the pod runs the container: the guard or monitoring asked for, with a volume of its own to check. */
export function diskGuardRuns(spec: DiskGuardInputs): boolean {
    const volumes = diskGuardVolumes(spec);
    return volumes.data || volumes.maven;
}

/** Whether the pod serves its disk figures (`DISK_FIGURES`): monitoring on, and a volume to report. */
export function diskFiguresServed(spec: DiskGuardInputs): boolean {
    return spec.monitoring !== undefined && diskGuardRuns(spec);
}

/** What precedes `_free_bytes` (and `_size_bytes`, `_used_bytes`) in a volume's series: the script adds the rest. */
const seriesPrefix = (free: string) => free.replace(/_free_bytes$/, "");

/**
 * The container's command: sh/disk-guard.sh, rendered; a volume it does not check has no directory (""),
 * without the guard it refuses nothing (REFUSE_PERCENT ""), without monitoring it writes no figures (FIGURES "").
 */
export function inClusterDiskGuardScript(
    guard: InClusterSpec["diskGuard"],
    volumes: { readonly data: boolean; readonly maven: boolean },
    figures = false,
): string {
    return renderShellScript(path.join(__dirname, "sh", "disk-guard.sh"), {
        DATA_DIR: volumes.data ? IN_CLUSTER.dataDir : "",
        MARKER: IN_CLUSTER_DISK_GUARD.marker,
        MAVEN_DIR: volumes.maven ? MAVEN_BACKEND.dataDir : "",
        MAVEN_MARKER: IN_CLUSTER_DISK_GUARD.mavenMarker,
        REFUSE_PERCENT: guard ? guard.refusePercent : "",
        CHECK_SECONDS: guard?.checkSeconds ?? IN_CLUSTER_DISK_GUARD.checkSeconds,
        FIGURES: figures ? DISK_FIGURES.file : "",
        DATA_PREFIX: seriesPrefix(JOB_METRICS.dataFree),
        MAVEN_PREFIX: seriesPrefix(JOB_METRICS.mavenFree),
        REFUSING: JOB_METRICS.diskGuardRefusing,
        MAVEN_REFUSING: JOB_METRICS.mavenDiskGuardRefusing,
        HEARTBEAT: IN_CLUSTER_DISK_GUARD.heartbeat,
    });
}

/**
 * The container's liveness probe: the last round began less than three rounds ago. No readiness probe: the
 * container serves nothing, and an unready guard would take the whole pod, pulls included, out of its Services.
 */
function heartbeatProbe(checkSeconds: number): k8s.types.input.core.v1.Probe {
    const limit = 3 * checkSeconds + 30;
    return {
        exec: { command: ["/bin/sh", "-c", `[ $(($(date +%s) - $(cat ${IN_CLUSTER_DISK_GUARD.heartbeat}))) -lt ${limit} ]`] },
        initialDelaySeconds: 30,
        periodSeconds: checkSeconds,
        timeoutSeconds: 5,
        failureThreshold: 3,
    };
}

/** The guard's container in the registry pod, or none. */
export function diskGuardContainer(spec: InClusterSpec): k8s.types.input.core.v1.Container | undefined {
    if (!diskGuardRuns(spec)) return undefined;
    const volumes = diskGuardVolumes(spec);
    return {
        name: IN_CLUSTER_DISK_GUARD.container,
        image: spec.images.registry,
        command: ["/bin/sh", "-c", inClusterDiskGuardScript(spec.diskGuard, volumes, diskFiguresServed(spec))],
        volumeMounts: [
            ...(volumes.data ? [{ name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true }] : []),
            ...(volumes.maven ? [{ name: "maven-data", mountPath: MAVEN_BACKEND.dataDir, readOnly: true }] : []),
            signalMount(true),
        ],
        livenessProbe: heartbeatProbe(spec.diskGuard?.checkSeconds ?? IN_CLUSTER_DISK_GUARD.checkSeconds),
        // A shell asleep, and `df` now and then.
        resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { cpu: "100m", memory: "32Mi" } },
        securityContext: restrictedContainer(true),
    };
}
