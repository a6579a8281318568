/**
 * Tag retention's counts in the cluster (components/inCluster/retentionCounts.ts): the emptyDir the
 * registry container writes and Caddy serves, the PodMonitor's endpoint for it, and when there is none.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { RETENTION_COUNTS, retentionCountsServed } from "../../components/inCluster/retentionCounts";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { RETENTION_TEXTFILE } from "../../components/upkeep/retention";
import { baseSpec, container, find, get, s3 } from "../support/inClusterSpec";

describe("monitoring in the cluster", () => {
    const monitoring = {
        runbookBaseUrl: "https://docs.example.test/runbooks.md",
        cacheClaims: ["registry-mirror-docker-io"],
        probeImage: "prom/blackbox-exporter:v0.28.0",
    };

    describe("tag retention's counts", () => {
        const retention = { mode: "apply", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] } as const;
        const gc = { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false };
        const withCounts = (prometheusOperator: boolean) =>
            renderInClusterObjects(baseSpec({ garbageCollection: gc, retention, monitoring: { ...monitoring, prometheusOperator } }));
        const mounts = (objects: K8sObject[], name: string) =>
            (container(objects, name).volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).filter(
                (m) => m.name === RETENTION_COUNTS.volume,
            );
        const retentionScript = (objects: K8sObject[]): string =>
            get(objects, "ConfigMap", IN_CLUSTER.configMap).data[IN_CLUSTER.retentionScript];

        test("retention rules, monitoring, one pod: an emptyDir written by the registry container, read by Caddy, retention.sh writing to it", () => {
            const objects = withCounts(false);
            const volumes = get(objects, "Deployment", "registry").spec.template.spec.volumes as { name: string }[];
            expect(volumes.filter((v) => v.name === RETENTION_COUNTS.volume)).toEqual([
                { name: RETENTION_COUNTS.volume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            ]);
            expect(mounts(objects, "registry")).toEqual([{ name: RETENTION_COUNTS.volume, mountPath: RETENTION_COUNTS.dir }]);
            expect(mounts(objects, "caddy")).toEqual([{ name: RETENTION_COUNTS.volume, mountPath: RETENTION_COUNTS.dir, readOnly: true }]);
            expect(retentionScript(objects)).toContain(`\nTEXTFILE_DIR='${RETENTION_COUNTS.dir}'\nTEXTFILE_NAME='${RETENTION_TEXTFILE}'\n`);
        });

        test("with prometheus-operator: the PodMonitor scrapes the counts' path on Caddy's metrics port as an endpoint of its own beside the disk figures', labelled apart", () => {
            expect(get(withCounts(true), "PodMonitor", "registry").spec.podMetricsEndpoints).toEqual([
                { port: "metrics", path: "/metrics" },
                { port: "dist-metrics", path: "/metrics" },
                {
                    port: "metrics",
                    path: RETENTION_COUNTS.path,
                    // A label of its own: the first endpoint's targets have the same port.
                    relabelings: [{ action: "replace", targetLabel: "endpoint", replacement: "retention-counts" }],
                },
                {
                    port: "metrics",
                    path: "/disk/metrics",
                    relabelings: [{ action: "replace", targetLabel: "endpoint", replacement: "disk-figures" }],
                },
            ]);
        });

        test("without prometheus-operator: the annotations still name Caddy's /metrics (one path per pod)", () => {
            expect(get(withCounts(false), "Deployment", "registry").spec.template.metadata.annotations).toMatchObject({
                "prometheus.io/port": "5092",
                "prometheus.io/path": "/metrics",
            });
        });

        test.each([
            ["no retention rules", baseSpec({ garbageCollection: gc, monitoring: { ...monitoring, prometheusOperator: true } })],
            ["monitoring off", baseSpec({ garbageCollection: gc, retention })],
            [
                "the rollout window (s3, pods replaced right after retention)",
                baseSpec({
                    garbageCollection: gc,
                    retention,
                    storage: s3,
                    replicas: 2,
                    monitoring: { ...monitoring, prometheusOperator: true },
                }),
            ],
        ])("%s: no volume, no mount, no endpoint, and retention.sh writes no file", (_name, spec) => {
            const objects = renderInClusterObjects(spec);
            expect(JSON.stringify(get(objects, "Deployment", "registry"))).not.toContain(RETENTION_COUNTS.volume);
            const podMonitor = find(objects, "PodMonitor", "registry") as any;
            if (podMonitor) {
                const paths = podMonitor.spec.podMetricsEndpoints.map((e: { path: string }) => e.path);
                expect(paths).not.toContain(RETENTION_COUNTS.path);
            }
            const script = retentionScript(objects);
            if (script !== undefined) expect(script).toContain("\nTEXTFILE_DIR=''\n");
        });

        test("retentionCountsServed: only monitoring, retention rules and the marker window together", () => {
            const spec = { monitoring, retention, storage: { kind: "filesystem" }, garbageCollection: gc } as const;
            expect(retentionCountsServed(spec)).toBe(true);
            expect(retentionCountsServed({ ...spec, monitoring: undefined })).toBe(false);
            expect(retentionCountsServed({ ...spec, retention: undefined })).toBe(false);
            expect(retentionCountsServed({ ...spec, garbageCollection: { enabled: false } })).toBe(false);
            expect(retentionCountsServed({ ...spec, storage: { kind: "s3" } })).toBe(false);
            expect(retentionCountsServed({ ...spec, storage: { kind: "s3" }, maven: {} })).toBe(true);
        });
    });
});
