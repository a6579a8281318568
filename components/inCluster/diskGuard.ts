/**
 * The disk guard in the registry pod (`registry.diskGuard`, docs/runbooks.md "Disk full"): a small
 * container of the registry's own image (busybox's `sh` and `df`) that checks the pod's volumes, mounted
 * read-only, every `checkSeconds`, by the check every placement runs (../upkeep/sh/disk-guard.sh), and keeps
 * a marker for each in the pod's emptyDir of markers (./readOnlySignal.ts) while its volume is used past
 * `refusePercent`: the data volume's (with filesystem storage), on which the Caddy sidecar answers new blob
 * uploads 507 (`AccessPolicy.diskFullSignal`), and the Maven repository's volume's (when the pod serves
 * Maven), on which it answers deploys 507 (`MavenRoute.diskFullSignal`). With s3 storage the registry has no
 * volume of its own: the guard then checks the Maven volume alone, and without Maven there is no guard.
 */
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
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
    /** Seconds between two checks: as often as the external host's cron job (the refusal's message says "within five minutes"). */
    checkSeconds: 300,
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

/** Which of the pod's volumes the guard checks: the data volume with filesystem storage, Maven's when the pod serves it. */
function diskGuardVolumes(spec: Pick<InClusterSpec, "diskGuard" | "storage" | "maven">): {
    readonly data: boolean;
    readonly maven: boolean;
} {
    const on = spec.diskGuard !== undefined;
    return { data: on && spec.storage.kind === "filesystem", maven: on && spec.maven !== undefined };
}

/** Whether the pod runs the guard: asked for, with a volume of its own to check. */
export function diskGuardRuns(spec: Pick<InClusterSpec, "diskGuard" | "storage" | "maven">): boolean {
    const volumes = diskGuardVolumes(spec);
    return volumes.data || volumes.maven;
}

/** The container's command: sh/disk-guard.sh, rendered; a volume it does not check has no directory (""). */
export function inClusterDiskGuardScript(
    guard: NonNullable<InClusterSpec["diskGuard"]>,
    volumes: { readonly data: boolean; readonly maven: boolean },
): string {
    return renderShellScript(path.join(__dirname, "sh", "disk-guard.sh"), {
        DATA_DIR: volumes.data ? IN_CLUSTER.dataDir : "",
        MARKER: IN_CLUSTER_DISK_GUARD.marker,
        MAVEN_DIR: volumes.maven ? MAVEN_BACKEND.dataDir : "",
        MAVEN_MARKER: IN_CLUSTER_DISK_GUARD.mavenMarker,
        REFUSE_PERCENT: guard.refusePercent,
        CHECK_SECONDS: guard.checkSeconds,
    });
}

/** The guard's container in the registry pod, or none. */
export function diskGuardContainer(spec: InClusterSpec): k8s.types.input.core.v1.Container | undefined {
    if (!spec.diskGuard || !diskGuardRuns(spec)) return undefined;
    const volumes = diskGuardVolumes(spec);
    return {
        name: IN_CLUSTER_DISK_GUARD.container,
        image: spec.images.registry,
        command: ["/bin/sh", "-c", inClusterDiskGuardScript(spec.diskGuard, volumes)],
        volumeMounts: [
            ...(volumes.data ? [{ name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true }] : []),
            ...(volumes.maven ? [{ name: "maven-data", mountPath: MAVEN_BACKEND.dataDir, readOnly: true }] : []),
            signalMount(true),
        ],
        // A shell asleep, and `df` now and then.
        resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { cpu: "100m", memory: "32Mi" } },
        securityContext: restrictedContainer(true),
    };
}
