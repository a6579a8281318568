/**
 * Monitoring in the cluster (components/inCluster/monitoring.ts): scrape annotations and the rules'
 * ConfigMap without prometheus-operator, a PodMonitor and a PrometheusRule with it, nothing when it is
 * off. Tag retention's counts: retentionCounts.test.ts; the certificate probe: certificateProbe.rendered.test.ts.
 */
import { describe, expect, test } from "vitest";
import { CERTIFICATE_PROBE } from "../../components/inCluster/certificateProbe";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { baseSpec, certManager, container, find, get } from "../support/inClusterSpec";

describe("monitoring in the cluster", () => {
    const monitoring = {
        runbookBaseUrl: "https://docs.example.test/runbooks.md",
        cacheClaims: ["registry-mirror-docker-io"],
        probeImage: "prom/blackbox-exporter:v0.28.0",
    };

    test("without prometheus-operator: Caddy's metrics port is annotated, the rules are a ConfigMap, no CRD objects", () => {
        const objects = renderInClusterObjects(baseSpec({ monitoring: { ...monitoring, prometheusOperator: false } }));
        const pod = get(objects, "Deployment", "registry").spec.template;
        expect(pod.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "5092" });
        expect(container(objects, "caddy").ports.map((p: { name: string }) => p.name)).toEqual([
            "http",
            "https",
            "metrics",
            "dist-metrics",
        ]);
        expect(get(objects, "ConfigMap", "dso-registry-alert-rules").data["dso-registry.rules.yml"]).toContain("alert: DsoRegistryDown");
        expect(objects.filter((o) => o.apiVersion.startsWith("monitoring.coreos.com"))).toEqual([]);
        // The metrics ports are in no Service.
        for (const service of objects.filter((o) => o.kind === "Service")) {
            expect(JSON.stringify(service)).not.toMatch(/metrics|5092|5093/);
        }
    });

    test("with prometheus-operator: a PodMonitor for both ports and the disk figures, and a PrometheusRule, no annotations", () => {
        const objects = renderInClusterObjects(baseSpec({ tls: certManager, monitoring: { ...monitoring, prometheusOperator: true } }));
        const podMonitor = get(objects, "PodMonitor", "registry");
        expect(podMonitor.spec.podMetricsEndpoints).toEqual([
            { port: "metrics", path: "/metrics" },
            { port: "dist-metrics", path: "/metrics" },
            {
                port: "metrics",
                path: "/disk/metrics",
                relabelings: [{ action: "replace", targetLabel: "endpoint", replacement: "disk-figures" }],
            },
        ]);
        const rules = get(objects, "PrometheusRule", "dso-registry").spec.groups[0].rules.map((r: { alert: string }) => r.alert);
        expect(rules).toEqual(expect.arrayContaining(["DsoRegistryDown", "DsoRegistryCertificateExpiring", "DsoRegistryCacheOverSize"]));
        expect(get(objects, "Deployment", "registry").spec.template.metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
    });

    test("monitoring off: no metrics ports, annotations or rules", () => {
        const objects = renderInClusterObjects(baseSpec());
        expect(container(objects, "caddy").ports.map((p: { name: string }) => p.name)).toEqual(["http", "https"]);
        expect(find(objects, "ConfigMap", "dso-registry-alert-rules")).toBeUndefined();
        expect(objects.filter((o) => o.metadata.name === CERTIFICATE_PROBE.name)).toEqual([]);
    });
});
