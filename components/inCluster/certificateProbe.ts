/**
 * The probe of the certificate the in-cluster registry serves (docs/monitoring.md): a Deployment of
 * its own whose pod asks the registry's TLS Service for a TLS handshake under the registry's name, as
 * a pod that pulls by that name does, and reports what it was served as Prometheus metrics on the
 * same scrape path as the registry's (scrape annotations, or a PodMonitor with prometheus-operator).
 * The alerts read them like the external host's hourly probe (components/monitoring/alertRules.ts).
 *
 * Why blackbox_exporter: it is the Prometheus project's prober, made for this job, and reports
 * `probe_success` and `probe_ssl_earliest_cert_expiry` (the served chain's earliest notAfter) at every
 * scrape. No image the cluster already runs has openssl for a probe script of our own (Caddy, registry,
 * restic and nginx images are Alpine without it). cert-manager's metrics watch the Secret, not what is
 * served, and none exists for the program's own certificate; the ingress controllers' certificate
 * metrics depend on a controller this program does not run.
 *
 * blackbox_exporter probes any target a request names. It listens on the pod's loopback only, and a
 * Caddy container (the front's image) turns the one request a scrape makes, `GET /metrics`, into the
 * one probe of the registry; every other request gets 404. So nothing else in the cluster can use the
 * pod to reach other addresses, and a Prometheus that scrapes annotated pods needs no per-target
 * parameters.
 *
 * The probe reads the certificate as a client is served it, without judging the chain: the program
 * does not hold every mode's CA in the cluster (cert-manager's issuers, an operator's certificate).
 * The registry's front picks its certificate by the name asked for, so a certificate that does not
 * name the registry fails the handshake and the probe with it.
 */
import { createHash } from "node:crypto";
import type * as k8s from "@pulumi/kubernetes";
import { stringify } from "yaml";
import type { K8sObject } from "../shared/k8sObject";
import { startupProbe } from "../shared/probes";
import { labels, meta, restrictedContainer, restrictedPod, selector } from "./k8sHelpers";
import { IN_CLUSTER } from "./spec";

/** Names and ports of the probe. */
export const CERTIFICATE_PROBE = {
    /** The Deployment, its ConfigMap and (with prometheus-operator) its PodMonitor. */
    name: "registry-certificate-probe",
    /** The pods' `app.kubernetes.io/component`. */
    component: "certificate-probe",
    /** blackbox_exporter's module that shakes hands with the registry. */
    module: "registry_tls",
    /** blackbox_exporter's listener: the pod's loopback, reached only by the Caddy container beside it. */
    exporterAddr: "127.0.0.1:9115",
    /** Where both containers mount the ConfigMap. */
    configDir: "/etc/dso-registry-probe",
    configKey: "blackbox.yml",
    caddyfileKey: "Caddyfile",
    /** The Caddy container's port that serves the probe's metrics. */
    portName: "metrics",
} as const;

/** The registry's TLS Service, by its in-cluster name, on the port clients use. */
export function probeAddress(namespace: string): string {
    return `${IN_CLUSTER.tlsService}.${namespace}.svc:${IN_CLUSTER.tlsServicePort}`;
}

/**
 * blackbox_exporter's config: a TCP connection with a TLS handshake under the registry's name. Without
 * chain verification (see the file's comment): `probe_success` is 1 when the handshake completes.
 */
export function renderProbeConfig(host: string): string {
    const modules = {
        [CERTIFICATE_PROBE.module]: {
            prober: "tcp",
            timeout: "10s",
            tcp: { tls: true, tls_config: { insecure_skip_verify: true, server_name: host } },
        },
    };
    return `# Managed by dso-registry: the handshake that reads the registry's certificate. See docs/monitoring.md.\n${stringify(
        { modules },
        { lineWidth: 0 },
    )}`;
}

/**
 * The probe pod's Caddyfile: plain HTTP on `port`, no admin API, `GET`/`HEAD /metrics` rewritten to
 * the one probe of `target` (host:port) and passed to blackbox_exporter at `exporter`; 404 for
 * anything else.
 */
export function renderProbeCaddyfile(port: number, exporter: string, target: string): string {
    // The module's name and a host:port need no escaping in a query.
    const query = `module=${CERTIFICATE_PROBE.module}&target=${target}`;
    return [
        "# Managed by dso-registry: the registry's certificate, probed at each scrape of /metrics (docs/monitoring.md).",
        "{",
        "\tadmin off",
        "\tauto_https off",
        "}",
        "",
        `http://:${port} {`,
        "\t@metrics {",
        "\t\tmethod GET HEAD",
        "\t\tpath /metrics",
        "\t}",
        "\thandle @metrics {",
        `\t\trewrite * /probe?${query}`,
        `\t\treverse_proxy ${exporter}`,
        "\t}",
        "\thandle {",
        "\t\trespond 404",
        "\t}",
        "}",
        "",
    ].join("\n");
}

/** What the probe's objects are rendered from. */
export interface CertificateProbeSpec {
    readonly namespace: string;
    /** The registry's host name. */
    readonly host: string;
    /** The front's Caddy image, which the probe pod's Caddy container runs too. */
    readonly caddyImage: string;
    /** blackbox_exporter's image (`registry.monitoring.probeImage`). */
    readonly probeImage: string;
    /** The port the probe's metrics are served on (the scrape annotations' port). */
    readonly metricsPort: number;
    /** The pod's scrape annotations (none with prometheus-operator). */
    readonly podAnnotations: Record<string, string>;
    /** A PodMonitor for the pod. */
    readonly prometheusOperator: boolean;
}

/** The ConfigMap, the Deployment and, with prometheus-operator, the PodMonitor of the probe. */
export function renderCertificateProbe(spec: CertificateProbeSpec): K8sObject[] {
    const p = CERTIFICATE_PROBE;
    const data = {
        [p.configKey]: renderProbeConfig(spec.host),
        [p.caddyfileKey]: renderProbeCaddyfile(spec.metricsPort, p.exporterAddr, probeAddress(spec.namespace)),
    };
    // The containers read their files at start: a change of either rolls the pod.
    const checksum = createHash("sha256").update(data[p.configKey]!).update("\0").update(data[p.caddyfileKey]!).digest("hex");
    const mount = { name: "config", mountPath: p.configDir, readOnly: true };
    const liveness = { initialDelaySeconds: 5, periodSeconds: 30 };
    const exporterHealth = {
        exec: { command: ["wget", "-q", "-O", "/dev/null", `http://${p.exporterAddr}/-/healthy`] },
        timeoutSeconds: 5,
    };
    const exporter: k8s.types.input.core.v1.Container = {
        name: "blackbox-exporter",
        image: spec.probeImage,
        args: [`--config.file=${p.configDir}/${p.configKey}`, `--web.listen-address=${p.exporterAddr}`],
        volumeMounts: [mount],
        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "64Mi" } },
        securityContext: restrictedContainer(true),
        readinessProbe: { ...exporterHealth, periodSeconds: 10 },
        livenessProbe: { ...exporterHealth, ...liveness },
        startupProbe: startupProbe(exporterHealth, liveness),
    };
    const caddyHealth = { tcpSocket: { port: p.portName }, timeoutSeconds: 5 };
    const caddy: k8s.types.input.core.v1.Container = {
        name: "caddy",
        image: spec.caddyImage,
        args: ["caddy", "run", "--config", `${p.configDir}/${p.caddyfileKey}`, "--adapter", "caddyfile"],
        ports: [{ name: p.portName, containerPort: spec.metricsPort, protocol: "TCP" }],
        env: [
            { name: "XDG_DATA_HOME", value: "/data" },
            { name: "XDG_CONFIG_HOME", value: "/config" },
        ],
        volumeMounts: [mount, { name: "caddy-data", mountPath: "/data" }, { name: "caddy-config", mountPath: "/config" }],
        resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
        // The caddy image's binary carries cap_net_bind_service=+ep: without it in the bounding set the kernel refuses to run it.
        securityContext: restrictedContainer(true, { netBindService: true }),
        readinessProbe: { ...caddyHealth, periodSeconds: 10 },
        livenessProbe: { ...caddyHealth, ...liveness },
        startupProbe: startupProbe(caddyHealth, liveness),
    };
    const objects: K8sObject[] = [
        {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: meta(p.name, spec.namespace, p.component),
            data,
        } satisfies k8s.types.input.core.v1.ConfigMap,
        {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: meta(p.name, spec.namespace, p.component),
            spec: {
                replicas: 1,
                selector: { matchLabels: selector(p.component) },
                template: {
                    metadata: {
                        labels: labels(p.component),
                        annotations: { "dso-registry/config-checksum": checksum, ...spec.podAnnotations },
                    },
                    spec: {
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        securityContext: restrictedPod(),
                        containers: [exporter, caddy],
                        volumes: [
                            { name: "config", configMap: { name: p.name } },
                            { name: "caddy-data", emptyDir: {} },
                            { name: "caddy-config", emptyDir: {} },
                        ],
                    },
                },
            },
        } satisfies k8s.types.input.apps.v1.Deployment,
    ];
    if (spec.prometheusOperator) {
        objects.push({
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: meta(p.name, spec.namespace, p.component),
            spec: {
                selector: { matchLabels: selector(p.component) },
                podMetricsEndpoints: [{ port: p.portName, path: "/metrics" }],
            },
        });
    }
    return objects;
}
