/**
 * How the garbage-collection job holds writes back while it collects, and what follows from it: the
 * Deployment's strategy and whether Distribution may keep its blob-descriptor cache.
 */
import type { InClusterStorage } from "./spec";

/**
 * Whether two registry pods may run at once: with s3 storage and no Maven volume the pod mounts
 * nothing ReadWriteOnce, so the Deployment rolls (RollingUpdate) instead of replacing its one pod
 * (Recreate), and may run several replicas. Decides the strategy and the GC job's window.
 */
export function podsMayOverlap(spec: { readonly storage: { readonly kind: InClusterStorage["kind"] }; readonly maven?: unknown }): boolean {
    return spec.storage.kind === "s3" && !spec.maven;
}

/**
 * How the GC job holds writes back while it collects (distribution#3045: a push during a collection
 * loses its new layers); undefined without garbage collection.
 *
 * - "marker": the front's window, as the backup's (./readOnlySignal.ts): a marker in the pod's
 *   emptyDir, no restart. Only when exactly one pod runs and the collection runs in it: a pod that
 *   replaces it during the window (a drain, an eviction) starts without a marker, but the collector
 *   ends with the old pod's containers (at the latest after Distribution's drain time). Distribution
 *   then runs without its in-memory blob-descriptor cache (`distributionCachesBlobs`), which would
 *   otherwise answer for blobs the collection removed until a restart (distribution#3743).
 * - "rollout": Distribution's read-only switch on the Deployment's template and two rollouts, when the
 *   pods may overlap (`podsMayOverlap`). A marker lives in one pod; a pod that starts during the window
 *   would take writes while the collector sweeps the shared bucket. The template is the one switch
 *   every pod obeys, also those started later, and RollingUpdate keeps the replicas running through
 *   both rollouts, so pushes meet a front that answers. The restarts also empty the cache.
 */
export type GcWindow = "marker" | "rollout";

/** The GC job's window for these settings (see `GcWindow`); undefined without garbage collection. */
export function gcWindow(spec: {
    readonly storage: { readonly kind: InClusterStorage["kind"] };
    readonly maven?: unknown;
    readonly garbageCollection: { readonly enabled: boolean };
}): GcWindow | undefined {
    if (!spec.garbageCollection.enabled) return undefined;
    return podsMayOverlap(spec) ? "rollout" : "marker";
}

/**
 * Whether Distribution keeps its in-memory blob-descriptor cache: not when the GC job collects
 * without restarting it (`gcWindow` "marker"). The cost: each blob lookup that reaches Distribution
 * reads the repository's link file and stats the blob on the volume instead of a map lookup; the
 * Caddy sidecar serves linked blobs' downloads from the files itself, so mostly manifests and
 * uploads' existence checks reach it.
 */
export function distributionCachesBlobs(spec: Parameters<typeof gcWindow>[0]): boolean {
    return gcWindow(spec) !== "marker";
}

/**
 * Whether Distribution's metrics listener runs on the pod's loopback for the GC job's window, monitoring
 * or not: a "marker" window over s3 storage has no folder to watch, and waits for the uploads in flight
 * by Distribution's own count of them (components/upkeep/sh/front-window.sh, FRONT_REGISTRY_METRICS).
 */
export function registryMetricsInPod(spec: Parameters<typeof gcWindow>[0]): boolean {
    return gcWindow(spec) === "marker" && spec.storage.kind === "s3";
}
