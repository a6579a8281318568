/**
 * The in-cluster certificate probe (components/inCluster/certificateProbe.ts) run for real: the probe
 * pod's two processes, Debian's blackbox_exporter and Caddy, with the files of the rendered ConfigMap
 * and the containers' rendered arguments, inside a network namespace whose /etc/hosts names the
 * registry's TLS Service (as the cluster's DNS does) at the in-cluster registry's real TLS front
 * (startInClusterTlsSite: the sidecar's rendered Caddyfile, a certificate made by the test). The test
 * scrapes the pod's metrics port as Prometheus does and reads the metrics the alerts use.
 *
 *   scrape --GET /metrics--> Caddy (probe pod) --/probe--> blackbox_exporter --TLS, SNI = host--> front
 */
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CERTIFICATE_PROBE, probeAddress, renderCertificateProbe } from "../../components/inCluster/certificateProbe";
import { METRICS_PORTS } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type InClusterTlsSite, startInClusterTlsSite } from "../support/inClusterTlsFront";
import { caddyEnv } from "../support/realRegistry";
import { removeDir, type ServerProcess } from "../support/serverProcess";

const HOST = "registry-dso.jmann.local";
const NAMESPACE = "dso";
const BLACKBOX_EXPORTER = "/usr/bin/prometheus-blackbox-exporter";

let site: InClusterTlsSite;

beforeAll(async () => {
    site = await startInClusterTlsSite({ dirName: "cp-certificate-probe", prefix: "cp", subnet: "198.19.208.0/20", host: HOST });
    // Inside the cluster the TLS Service's name resolves to its ClusterIP; here, to the front's address.
    const serviceName = probeAddress(NAMESPACE).split(":")[0];
    site.ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${site.ns.address} ${HOST} ${serviceName}\n`);
}, 180_000);

afterAll(async () => {
    await site?.stop();
});

/** The probe's ConfigMap data and its Deployment's containers, as rendered for `host`. */
function renderedPod(host: string) {
    const objects = renderCertificateProbe({
        namespace: NAMESPACE,
        host,
        caddyImage: "caddy:2.11.9",
        probeImage: "prom/blackbox-exporter:v0.28.0",
        metricsPort: METRICS_PORTS.caddy,
        podAnnotations: {},
        prometheusOperator: false,
    });
    const data = objects.find((o) => o.kind === "ConfigMap")!.data as Record<string, string>;
    const containers = (objects.find((o) => o.kind === "Deployment") as any).spec.template.spec.containers as {
        name: string;
        args: string[];
    }[];
    return { data, containers };
}

/**
 * Starts the probe pod for `host` inside the namespace (the ConfigMap's files in a directory of their
 * own, the containers' paths mapped to it), scrapes `path` once, and stops it again.
 */
async function scrapeProbePod(host: string, requestPath = "/metrics"): Promise<{ status: number; body: string }> {
    const { data, containers } = renderedPod(host);
    const dir = path.join(site.dir, `probe-pod-${Date.now()}`);
    const configDir = path.join(dir, "config");
    mkdirSync(configDir, { recursive: true });
    for (const [key, text] of Object.entries(data)) writeFileSync(path.join(configDir, key), text);
    const args = (name: string) =>
        containers.find((c) => c.name === name)!.args.map((a) => a.replace(CERTIFICATE_PROBE.configDir, configDir));
    const servers: ServerProcess[] = [];
    try {
        servers.push(site.ns.startServer(BLACKBOX_EXPORTER, args("blackbox-exporter")));
        // The container's args start with the image's command, `caddy`: the front's image, the pinned build.
        servers.push(site.ns.startServer(pinnedCaddy(), args("caddy").slice(1), caddyEnv(dir)));
        await site.ns.waitForPort(METRICS_PORTS.caddy, 30_000, "the probe's Caddy").catch((e: Error) => {
            throw new Error(`${e.message}\n${servers.map((s) => s.output()).join("\n")}`);
        });
        for (let attempt = 0; ; attempt++) {
            const response = await fetch(`http://${site.ns.address}:${METRICS_PORTS.caddy}${requestPath}`);
            const body = await response.text();
            // Caddy answers 502 until blackbox_exporter listens.
            if (response.status !== 502 || attempt >= 50) return { status: response.status, body };
            await new Promise((r) => setTimeout(r, 100));
        }
    } finally {
        for (const s of servers.reverse()) await s.stop();
        removeDir(dir);
    }
}

/** A metric's value in Prometheus's text format, or undefined when the body has none. */
function metric(body: string, name: string): number | undefined {
    const line = body.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe("the certificate probe against the registry's TLS front", () => {
    test("reads the certificate the front serves: probe_success 1 and the certificate's notAfter", async () => {
        const { status, body } = await scrapeProbePod(HOST);
        expect(status, body).toBe(200);
        expect(metric(body, "probe_success"), body).toBe(1);
        const served = new X509Certificate(readFileSync(site.ca.serverCertFile));
        expect(metric(body, "probe_ssl_earliest_cert_expiry")).toBe(Date.parse(served.validTo) / 1000);
    });

    test("the pod's port probes only the registry: another path is 404, a scrape's own query changes nothing", async () => {
        const other = await scrapeProbePod(HOST, `/probe?module=${CERTIFICATE_PROBE.module}&target=127.0.0.1:22`);
        expect(other.status).toBe(404);
        const { body } = await scrapeProbePod(HOST, "/metrics?target=127.0.0.1:22");
        expect(metric(body, "probe_success"), body).toBe(1);
        expect(metric(body, "probe_ssl_earliest_cert_expiry")).toBeGreaterThan(Date.now() / 1000);
    });

    test("a front with no certificate for the registry's name fails the probe: probe_success 0, no notAfter", async () => {
        // The front serves a certificate for the registry's name only: asked for another, it has none.
        const { status, body } = await scrapeProbePod("other-registry.example.test");
        expect(status, body).toBe(200);
        expect(metric(body, "probe_success"), body).toBe(0);
        expect(metric(body, "probe_ssl_earliest_cert_expiry"), body).toBeUndefined();
    });

    test("nothing listening fails the probe: probe_success 0, no notAfter", async () => {
        await site.front.stop();
        const { status, body } = await scrapeProbePod(HOST);
        expect(status, body).toBe(200);
        expect(metric(body, "probe_success"), body).toBe(0);
        expect(metric(body, "probe_ssl_earliest_cert_expiry"), body).toBeUndefined();
    });
});
