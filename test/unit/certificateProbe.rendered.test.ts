/**
 * The probe of the certificate the in-cluster registry serves (components/inCluster/certificateProbe.ts),
 * as rendered: what it asks, how it is scraped, that nothing else reaches it, the alerts that read it,
 * and the docs' commands. The probe on real software: test/integration/certificateProbe.test.ts.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { CERTIFICATE_PROBE } from "../../components/inCluster/certificateProbe";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import type { InClusterSpec } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { baseSpec, certManager, find, get } from "../support/inClusterSpec";

describe("the certificate probe", () => {
    const probeImage = "mirror.example/prom/blackbox-exporter:v0.28.0";
    const monitoring = { runbookBaseUrl: "docs/runbooks.md", cacheClaims: [], probeImage };
    const withProbe = (overrides: Partial<InClusterSpec> = {}, prometheusOperator = false) =>
        renderInClusterObjects(baseSpec({ monitoring: { ...monitoring, prometheusOperator }, ...overrides }));
    const probePod = (objects: K8sObject[]) => get(objects, "Deployment", CERTIFICATE_PROBE.name).spec.template;
    const probeFiles = (objects: K8sObject[]) => get(objects, "ConfigMap", CERTIFICATE_PROBE.name).data;

    test("shakes hands with the registry's TLS Service on 443, asking for the registry's name", () => {
        const files = probeFiles(withProbe());
        const modules = YAML.parse(files[CERTIFICATE_PROBE.configKey]).modules;
        expect(modules[CERTIFICATE_PROBE.module]).toEqual({
            prober: "tcp",
            timeout: "10s",
            tcp: { tls: true, tls_config: { insecure_skip_verify: true, server_name: "registry-dso.jmann.local" } },
        });
        expect(files[CERTIFICATE_PROBE.caddyfileKey]).toContain(
            "rewrite * /probe?module=registry_tls&target=registry-tls.dso.svc:443\n\t\treverse_proxy 127.0.0.1:9115",
        );
    });

    test("without prometheus-operator: its pod is annotated for the same scrape as the registry's, on the port its Caddy serves", () => {
        const objects = withProbe();
        const pod = probePod(objects);
        expect(pod.metadata.annotations).toMatchObject({
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "5092",
            "prometheus.io/path": "/metrics",
        });
        const caddy = pod.spec.containers.find((c: { name: string }) => c.name === "caddy");
        expect(caddy.image).toBe(baseSpec().images.caddy);
        expect(caddy.ports).toEqual([{ name: "metrics", containerPort: 5092, protocol: "TCP" }]);
        expect(probeFiles(objects)[CERTIFICATE_PROBE.caddyfileKey]).toContain("http://:5092 {");
        expect(find(objects, "PodMonitor", CERTIFICATE_PROBE.name)).toBeUndefined();
    });

    test("blackbox_exporter listens on the pod's loopback only: only the Caddy beside it reaches it", () => {
        const exporter = probePod(withProbe()).spec.containers.find((c: { name: string }) => c.name === "blackbox-exporter");
        expect(exporter.image).toBe(probeImage);
        expect(exporter.args).toContain("--web.listen-address=127.0.0.1:9115");
        expect(exporter.ports).toBeUndefined();
    });

    test("with prometheus-operator: a PodMonitor of its own for the probe's pods, and no annotations", () => {
        const objects = withProbe({}, true);
        const podMonitor = get(objects, "PodMonitor", CERTIFICATE_PROBE.name);
        expect(podMonitor.spec.podMetricsEndpoints).toEqual([{ port: "metrics", path: "/metrics" }]);
        expect(probePod(objects).metadata.labels).toMatchObject(podMonitor.spec.selector.matchLabels);
        expect(probePod(objects).metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
        // The registry's PodMonitor does not take the probe's pods in, nor the probe's the registry's.
        const registryPod = get(objects, "Deployment", "registry").spec.template;
        expect(registryPod.metadata.labels).not.toMatchObject(podMonitor.spec.selector.matchLabels);
        expect(probePod(objects).metadata.labels).not.toMatchObject(get(objects, "PodMonitor", "registry").spec.selector.matchLabels);
    });

    test("no Service sends clients to the probe's pods", () => {
        const objects = withProbe({ ui: { enabled: true, deleteEnabled: false } });
        const labels = probePod(objects).metadata.labels;
        const services = objects.filter((o) => o.kind === "Service") as any[];
        expect(services.length).toBeGreaterThan(0);
        for (const service of services) expect(labels, service.metadata.name).not.toMatchObject(service.spec.selector);
    });

    test.each([
        ["the program's own certificate", baseSpec().tls, false],
        ["cert-manager", certManager, true],
    ] as const)("with %s: the probe runs and both certificate alerts read it", (_mode, tls, certManagerClause) => {
        const objects = withProbe({ tls });
        expect(find(objects, "Deployment", CERTIFICATE_PROBE.name)).toBeDefined();
        const rules = YAML.parse(get(objects, "ConfigMap", "dso-registry-alert-rules").data["dso-registry.rules.yml"]).groups[0].rules;
        const expr = (alert: string) => rules.find((r: { alert: string }) => r.alert === alert).expr as string;
        const probe = 'namespace="dso",pod=~"registry-certificate-probe-.*"';
        expect(expr("DsoRegistryCertificateExpiring")).toBe(`(probe_ssl_earliest_cert_expiry{${probe}} - time()) < 1814400`);
        expect(expr("DsoRegistryCertificateRenewalFailing")).toContain(`probe_success{${probe}} == 0`);
        expect(expr("DsoRegistryCertificateRenewalFailing").includes("certmanager_certificate_ready_status")).toBe(certManagerClause);
    });

    test.each(["docs/runbooks.md", "docs/monitoring.md"])("%s asks blackbox_exporter for the probe the pod's Caddy asks for", (page) => {
        const text = readFileSync(path.resolve(__dirname, "../..", page), "utf8");
        const asked = [...text.matchAll(/wget -qO- 'http:\/\/([\d.:]+)(\/probe\?[^']*)'/g)].map((m) => `${m[1]} ${m[2]}`);
        const caddyfile = probeFiles(withProbe())[CERTIFICATE_PROBE.caddyfileKey] as string;
        const rewrite = /rewrite \* (\S+)\n\t\treverse_proxy (\S+)/.exec(caddyfile)!;
        expect(asked).toEqual([`${rewrite[2]} ${rewrite[1]}`]);
    });

    test("a new host name or namespace rolls the probe's pod (its containers read their files at start)", () => {
        const checksum = (objects: K8sObject[]) => probePod(objects).metadata.annotations["dso-registry/config-checksum"];
        const before = checksum(withProbe());
        expect(checksum(withProbe())).toBe(before);
        expect(checksum(withProbe({ host: "registry.example.test" }))).not.toBe(before);
        expect(checksum(withProbe({ namespace: "registry" }))).not.toBe(before);
    });
});
