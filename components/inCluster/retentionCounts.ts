/**
 * Tag retention's counts as Prometheus metrics in the cluster (docs/monitoring.md), one home for where
 * they live: the GC job runs `retention.sh` in the registry container (./upkeep.ts), which writes the
 * counts (the same file and series as node_exporter's textfile collector reads on the external host) to
 * an emptyDir of the pod; the Caddy sidecar, which already serves the pod's metrics ports, mounts it
 * read-only and serves that one file on its own metrics listener at `path`
 * (`AccessPolicy.metrics.textfile`), which the registry's PodMonitor scrapes as a third endpoint.
 *
 * Why an emptyDir and the sidecar rather than a Pushgateway or a Service of the GC job: the job's pod
 * is gone when a scrape comes, and the sidecar is the pod's one metrics server already; nothing new
 * runs and nothing outside the pod is written. The price, told in docs/monitoring.md: a new pod serves
 * no counts until the next collection, and only the pod the collection ran in has them.
 *
 * Only with the marker window (one pod, `gcWindow` "marker"): with the rollout window retention runs
 * just before the read-only switch, which replaces every pod (twice), so an emptyDir would lose the
 * counts within seconds; there they stay in the job's log.
 */
import type * as k8s from "@pulumi/kubernetes";
import { gcWindow } from "./gcWindow";
import type { InClusterStorage } from "./spec";

export const RETENTION_COUNTS = {
    /** The emptyDir's name in the pod. */
    volume: "retention-counts",
    /** Where the registry container (writable) and the Caddy sidecar (read-only) mount it. */
    dir: "/run/dso-registry-retention",
    /** The path on the sidecar's metrics port (`METRICS_PORT_NAMES.caddy`) that serves the counts. */
    path: "/retention/metrics",
    /** The PodMonitor endpoint's `endpoint` label (the other endpoints carry their port's name). */
    endpointLabel: "retention-counts",
} as const;

/**
 * Whether the pod serves retention's counts: monitoring on, retention rules configured, and the GC
 * job's marker window (see the header). Every stack without one of them renders as before.
 */
export function retentionCountsServed(spec: {
    readonly monitoring?: unknown;
    readonly retention?: unknown;
    readonly storage: { readonly kind: InClusterStorage["kind"] };
    readonly maven?: unknown;
    readonly garbageCollection: { readonly enabled: boolean };
}): boolean {
    return spec.monitoring !== undefined && spec.retention !== undefined && gcWindow(spec) === "marker";
}

/** The pod's emptyDir for the counts: one small file, in memory. */
export function retentionCountsVolume(): k8s.types.input.core.v1.Volume {
    return { name: RETENTION_COUNTS.volume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } };
}

/** Its mount: writable in the registry container (retention.sh), read-only in the Caddy sidecar. */
export function retentionCountsMount(writable: boolean): k8s.types.input.core.v1.VolumeMount {
    return { name: RETENTION_COUNTS.volume, mountPath: RETENTION_COUNTS.dir, ...(writable ? {} : { readOnly: true }) };
}
