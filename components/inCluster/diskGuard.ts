/**
 * The disk guard in the registry pod (`registry.diskGuard`, docs/runbooks.md "Disk full"): a small
 * container of the registry's own image (busybox's `sh` and `df`) that checks the data volume, mounted
 * read-only, every `checkSeconds`, by the check every placement runs (../upkeep/sh/disk-guard.sh), and keeps
 * a marker in the pod's emptyDir of markers (./readOnlySignal.ts) while the volume is used past
 * `refusePercent`. The Caddy sidecar answers new blob uploads 507 while the marker exists
 * (`AccessPolicy.diskFullSignal`). With s3 storage there is no volume of the registry's: no guard.
 */
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { renderShellScript } from "../shared/shellScript";
import { restrictedContainer } from "./k8sHelpers";
import { READ_ONLY_SIGNAL, signalMount } from "./readOnlySignal";
import { IN_CLUSTER, type InClusterSpec } from "./spec";

export const IN_CLUSTER_DISK_GUARD = {
    /** The container's name in the registry pod. */
    container: "disk-guard",
    /** The marker, in the pod's emptyDir of markers: it exists while new uploads are refused. */
    marker: `${READ_ONLY_SIGNAL.dir}/disk-full`,
    /** Seconds between two checks: as often as the external host's cron job (the refusal's message says "within five minutes"). */
    checkSeconds: 300,
} as const;

/** `InClusterSpec.diskGuard` from the component's args: the guard with filesystem storage, none with s3. */
export function inClusterDiskGuard(args: {
    readonly storage: { readonly kind: "filesystem" | "s3" };
    readonly diskGuard?: { readonly refusePercent: number };
}): InClusterSpec["diskGuard"] {
    if (!args.diskGuard || args.storage.kind !== "filesystem") return undefined;
    return { refusePercent: args.diskGuard.refusePercent, checkSeconds: IN_CLUSTER_DISK_GUARD.checkSeconds };
}

/** Whether the pod runs the guard: asked for, on a volume of its own. */
export function diskGuardRuns(spec: Pick<InClusterSpec, "diskGuard" | "storage">): boolean {
    return spec.diskGuard !== undefined && spec.storage.kind === "filesystem";
}

/** The container's command: sh/disk-guard.sh, rendered. */
export function inClusterDiskGuardScript(guard: NonNullable<InClusterSpec["diskGuard"]>): string {
    return renderShellScript(path.join(__dirname, "sh", "disk-guard.sh"), {
        DATA_DIR: IN_CLUSTER.dataDir,
        MARKER: IN_CLUSTER_DISK_GUARD.marker,
        REFUSE_PERCENT: guard.refusePercent,
        CHECK_SECONDS: guard.checkSeconds,
    });
}

/** The guard's container in the registry pod, or none. */
export function diskGuardContainer(spec: InClusterSpec): k8s.types.input.core.v1.Container | undefined {
    if (!spec.diskGuard || !diskGuardRuns(spec)) return undefined;
    return {
        name: IN_CLUSTER_DISK_GUARD.container,
        image: spec.images.registry,
        command: ["/bin/sh", "-c", inClusterDiskGuardScript(spec.diskGuard)],
        volumeMounts: [{ name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true }, signalMount(true)],
        // A shell asleep, and `df` now and then.
        resources: { requests: { cpu: "5m", memory: "8Mi" }, limits: { cpu: "100m", memory: "32Mi" } },
        securityContext: restrictedContainer(true),
    };
}
