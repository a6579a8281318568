/**
 * Monitoring of the in-cluster registry (docs/monitoring.md): the pod's metrics ports, the probe of
 * the certificate it serves (./certificateProbe.ts), and how a Prometheus finds them: PodMonitors and
 * the alert rules as a PrometheusRule when prometheus-operator runs
 * (`registry.monitoring.prometheusOperator`), the usual `prometheus.io/*` annotations otherwise (one
 * port and one path per pod: Caddy's /metrics; Distribution's, and on Caddy's port tag retention's counts
 * (./retentionCounts.ts) and the pod's disk figures (./diskGuard.ts), need the PodMonitor or a scrape job
 * of their own, docs/monitoring.md).
 * The metrics ports are in no Service and behind no ingress: only what reaches the pods' addresses does.
 */
import { stringify } from "yaml";
import { RULE_GROUP, ruleGroups } from "../monitoring/alertRules";
import { METRICS_PORTS } from "../shared/facts";
import type { K8sObject } from "../shared/k8sObject";
import { IN_CLUSTER_BACKUP } from "./backup";
import { CERTIFICATE_PROBE, renderCertificateProbe } from "./certificateProbe";
import { DISK_FIGURES, diskFiguresServed } from "./diskGuard";
import { meta, selector } from "./k8sHelpers";
import { PULL_HISTORY, pullHistoryKept } from "./pullHistory";
import { RETENTION_COUNTS, retentionCountsServed } from "./retentionCounts";
import { IN_CLUSTER, type InClusterSpec } from "./spec";

/** Key of the rules file in ConfigMap `dso-registry-alert-rules` (without prometheus-operator). */
export const RULES_FILE_KEY = "dso-registry.rules.yml";

/** The Caddy sidecar's ports that serve metrics: Caddy's own, and Distribution's relayed from its loopback. */
export const METRICS_PORT_NAMES = { caddy: "metrics", registry: "dist-metrics" } as const;

/** The sidecar's port that relays Distribution's /metrics (and nothing else of its debug listener). */
export const REGISTRY_METRICS_RELAY_PORT = METRICS_PORTS.caddy + 1;

/** The Caddy container's metrics ports. */
export function metricsContainerPorts(spec: InClusterSpec) {
    if (!spec.monitoring) return [];
    return [
        { name: METRICS_PORT_NAMES.caddy, containerPort: METRICS_PORTS.caddy, protocol: "TCP" },
        { name: METRICS_PORT_NAMES.registry, containerPort: REGISTRY_METRICS_RELAY_PORT, protocol: "TCP" },
    ];
}

/**
 * A PodMonitor endpoint for a file the sidecar serves on Caddy's port (tag retention's counts,
 * ./retentionCounts.ts; the disk figures, ./diskGuard.ts). It shares that port with the first endpoint, and
 * prometheus-operator labels a target by its port (`endpoint`), so without a label of its own each
 * target's `up` would be one series fed by several scrapes.
 */
function textfileEndpoint(path: string, endpointLabel: string) {
    return {
        port: METRICS_PORT_NAMES.caddy,
        path,
        relabelings: [{ action: "replace", targetLabel: "endpoint", replacement: endpointLabel }],
    };
}

/** The pod's scrape annotations, without prometheus-operator. */
export function scrapeAnnotations(spec: InClusterSpec): Record<string, string> {
    if (!spec.monitoring || spec.monitoring.prometheusOperator) return {};
    return { "prometheus.io/scrape": "true", "prometheus.io/port": String(METRICS_PORTS.caddy), "prometheus.io/path": "/metrics" };
}

/**
 * The certificate probe's objects, then the rules: with prometheus-operator the registry's PodMonitor
 * and the PrometheusRule, otherwise the rules as a ConfigMap.
 */
export function renderMonitoringObjects(spec: InClusterSpec): K8sObject[] {
    const m = spec.monitoring;
    if (!m) return [];
    const rules = ruleGroups({
        placement: {
            kind: "in-cluster",
            namespace: spec.namespace,
            deployment: IN_CLUSTER.name,
            dataClaim: IN_CLUSTER.dataClaim,
            ...(spec.maven ? { mavenClaim: IN_CLUSTER.mavenClaim } : {}),
            ...(spec.garbageCollection.enabled ? { gcCronJob: IN_CLUSTER.gcName } : {}),
            ...(pullHistoryKept(spec) ? { pullsCronJob: PULL_HISTORY.jobName } : {}),
            ...(spec.backup ? { backupCronJob: IN_CLUSTER_BACKUP.name } : {}),
            cacheClaims: m.cacheClaims,
            certificateProbe: CERTIFICATE_PROBE.name,
            certManager: spec.tls.kind === "cert-manager",
            ...(diskFiguresServed(spec)
                ? { diskFigures: { data: spec.storage.kind === "filesystem", maven: spec.maven !== undefined } }
                : {}),
        },
        runbookBaseUrl: m.runbookBaseUrl,
        // This rule reads the data claim's stats: with s3 storage there is none.
        ...(spec.diskGuard && spec.storage.kind === "filesystem"
            ? { diskGuard: { refusing: true, refusePercent: spec.diskGuard.refusePercent } }
            : {}),
        // The Maven volume's guard runs whatever the registry's storage (./diskGuard.ts): its alert reads the Maven claim's stats.
        ...(spec.diskGuard && spec.maven ? { mavenDiskGuard: { refusePercent: spec.diskGuard.refusePercent } } : {}),
        passwordsRotationDue: m.passwordsRotationDue,
    });
    const probe = renderCertificateProbe({
        namespace: spec.namespace,
        host: spec.host,
        caddyImage: spec.images.caddy,
        probeImage: m.probeImage,
        metricsPort: METRICS_PORTS.caddy,
        podAnnotations: scrapeAnnotations(spec),
        prometheusOperator: m.prometheusOperator,
    });
    if (!m.prometheusOperator) {
        // The same rules as a file, for a Prometheus that reads rule files (mount it, or copy it).
        return [
            ...probe,
            {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: meta(`${RULE_GROUP}-alert-rules`, spec.namespace, "registry"),
                data: { [RULES_FILE_KEY]: stringify(rules, { lineWidth: 0 }) },
            },
        ];
    }
    return [
        ...probe,
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
            spec: {
                selector: { matchLabels: selector("registry") },
                podMetricsEndpoints: [
                    { port: METRICS_PORT_NAMES.caddy, path: "/metrics" },
                    { port: METRICS_PORT_NAMES.registry, path: "/metrics" },
                    ...(retentionCountsServed(spec) ? [textfileEndpoint(RETENTION_COUNTS.path, RETENTION_COUNTS.endpointLabel)] : []),
                    ...(diskFiguresServed(spec) ? [textfileEndpoint(DISK_FIGURES.path, DISK_FIGURES.endpointLabel)] : []),
                ],
            },
        },
        {
            apiVersion: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: meta(RULE_GROUP, spec.namespace, "registry"),
            spec: rules,
        },
    ];
}
