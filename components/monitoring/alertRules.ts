/**
 * The alerts, as code: one rule set for both placements, rendered as a Prometheus rules file (the
 * external host) or as the `spec` of a prometheus-operator PrometheusRule (the cluster). Each alert
 * means the same thing in both; only the series it reads differ: on the host the job outcomes come
 * from node_exporter's textfile collector (./jobMetrics.ts), in the cluster from kube-state-metrics, the
 * disks' figures from the registry pod's own report (the external host's names), read from the kubelet's
 * volume stats only where the pod's are missing, and the served certificate from the certificate probe's
 * blackbox_exporter (components/inCluster/certificateProbe.ts). Each placement also has an alert for the
 * series the others read going missing (`absenceRules`): without it, a broken scrape would silence them
 * all. Every alert names its runbook section (docs/runbooks.md); docs/monitoring.md lists each alert's
 * series, who exports them and where they exist.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { stringify } from "yaml";
import { JOB_METRICS, SCRAPE_JOBS } from "./jobMetrics";

/** Where the rules run, with what each placement needs to name its series. */
export type RulesPlacement =
    | {
          readonly kind: "external-host";
          /** Backups are scheduled: their alerts are wanted. */
          readonly backup: boolean;
          /** Pull-through caches run on the host: their size alert is wanted. */
          readonly caches: boolean;
          /** The host has a data directory (filesystem storage), whose figures the probe reports; true when unset. */
          readonly dataDisk?: boolean;
      }
    | {
          readonly kind: "in-cluster";
          /** The registry's namespace. */
          readonly namespace: string;
          /** The registry's Deployment, PVC, and the CronJobs of the jobs that are scheduled. */
          readonly deployment: string;
          readonly dataClaim: string;
          /** The Maven repository's PVC, when the pod serves Maven. */
          readonly mavenClaim?: string;
          readonly gcCronJob?: string;
          /** The pull history's harvest (retention by last pull), part of the collection's upkeep. */
          readonly pullsCronJob?: string;
          readonly backupCronJob?: string;
          /** The mirrors' PVCs (their size is their limit). */
          readonly cacheClaims: readonly string[];
          /** The certificate probe's Deployment: its pods' `probe_*` series tell what the registry serves. */
          readonly certificateProbe: string;
          /** cert-manager issues the certificate: its Certificate's Ready condition tells a failed renewal early. */
          readonly certManager: boolean;
          /**
           * The registry pod reports its volumes' figures (components/inCluster/diskGuard.ts): the data volume's
           * (filesystem storage) and the Maven volume's. The disk alerts read them first, and the kubelet's
           * volume stats only where they are missing; without them, the kubelet's alone.
           */
          readonly diskFigures?: { readonly data: boolean; readonly maven: boolean };
      };

/**
 * Monitoring as every placement takes it (docs/monitoring.md): where the alerts' runbook links point. A
 * placement adds only settings of its own, each optional (`HostRegistryMonitoring`, `InClusterRegistryMonitoring`).
 */
export interface RegistryMonitoring {
    /** docs/runbooks.md as the operators read it (`registry.monitoring.runbookBaseUrl`); each alert adds its section's anchor. */
    readonly runbookBaseUrl: string;
}

export interface AlertRulesSpec {
    readonly placement: RulesPlacement;
    /** docs/runbooks.md as the operators read it; each alert adds its section's anchor. */
    readonly runbookBaseUrl: string;
    /**
     * With a rotation by age (`containerRegistry.rotateAfterDays`), when the generated passwords' next
     * period begins (Unix seconds): past it with no `pulumi up`, they are older than the period.
     */
    readonly passwordsRotationDue?: number;
    /**
     * The disk guard (`registry.diskGuard`): the almost-full alert past `warnPercent` used (the external
     * host's; unset, the alert at 10% free), and with `refusing`, an alert while the guard refuses uploads:
     * the host's guard exports its own series; in the cluster the alert reads the volume's stats against
     * `refusePercent`, as the guard in the pod does.
     */
    readonly diskGuard?: { readonly warnPercent?: number; readonly refusing: boolean; readonly refusePercent?: number };
    /**
     * The disk guard on the Maven repository's disk (`registry.diskGuard` where the front serves Maven): an
     * alert while it refuses Maven deploys. The host's guard exports its own series; in the cluster the alert
     * reads the Maven claim's stats (`placement.mavenClaim`) against `refusePercent`, as the guard in the pod does.
     */
    readonly mavenDiskGuard?: { readonly refusePercent: number };
}

/** One alerting rule, as Prometheus reads it. */
export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for?: string;
    /** `missing`: on the metrics-absent alert, which source's series are missing (each source a rule of its own). */
    readonly labels: { readonly severity: "critical" | "warning"; readonly missing?: string };
    readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

/** The runbook sections the alerts link to (their headings' anchors in docs/runbooks.md). */
export const RUNBOOK_ANCHORS = {
    registryDown: "registry-down",
    errors: "errors-and-failed-logins",
    diskFull: "disk-full",
    tls: "tls-renewal-failed",
    backup: "backup-failing",
    gc: "garbage-collection-or-verify-failed",
    cache: "cache-over-its-size",
    rotation: "password-rotation-due",
    absent: "metrics-missing",
} as const;

/** Name of the rule group (and of the PrometheusRule object). */
export const RULE_GROUP = "dso-registry";

const DAY = 86400;

interface Series {
    readonly up: string;
    readonly caddy: string;
    readonly freeBytes: string;
    readonly sizeBytes: string;
    /**
     * The data volume used past `fraction` (0–1) of its size; `op` ">" or ">=". In the cluster the pod's own
     * figures, else the kubelet's stats of the claim.
     */
    usedPast(fraction: number, op: ">" | ">="): string;
    /** Free bytes over size bytes below `fraction`. */
    freeBelow(fraction: number): string;
    /** The free bytes' 6-hour trend full within a day. */
    fullWithinDay: string;
}

/**
 * `preferred` where it exists, otherwise `fallback`: per namespace, so that a pod that reports its figures is
 * never read twice (the kubelet's stats, where it has them, would repeat each alert under other labels).
 */
function preferring(preferred: string, presence: string, fallback: string): string {
    return `(${preferred}) or ((${fallback}) unless on(namespace) ${presence})`;
}

/** A volume's used-past, free-below and trend expressions from its free and size series. */
function volumeExpressions(free: string, size: string) {
    return {
        usedPast: (fraction: number, op: ">" | ">=") => `1 - ${free} / ${size} ${op} ${fraction}`,
        freeBelow: (fraction: number) => `${free} / ${size} < ${fraction}`,
        fullWithinDay: `predict_linear(${free}[6h], ${DAY}) < 0`,
    };
}

/** The in-cluster volume's expressions: the pod's own figures first, the kubelet's stats of `claim` where they are missing. */
function clusterVolume(namespace: string, claim: string, figures: { free: string; size: string } | undefined) {
    const pvc = `namespace="${namespace}",persistentvolumeclaim="${claim}"`;
    const kubelet = volumeExpressions(`kubelet_volume_stats_available_bytes{${pvc}}`, `kubelet_volume_stats_capacity_bytes{${pvc}}`);
    if (!figures) return kubelet;
    const ns = `{namespace="${namespace}"}`;
    const own = volumeExpressions(`${figures.free}${ns}`, `${figures.size}${ns}`);
    const presence = `${figures.size}${ns}`;
    return {
        usedPast: (fraction: number, op: ">" | ">=") => preferring(own.usedPast(fraction, op), presence, kubelet.usedPast(fraction, op)),
        freeBelow: (fraction: number) => preferring(own.freeBelow(fraction), presence, kubelet.freeBelow(fraction)),
        fullWithinDay: preferring(own.fullWithinDay, presence, kubelet.fullWithinDay),
    };
}

function seriesOf(p: RulesPlacement): Series {
    if (p.kind === "external-host") {
        return {
            up: `up{job=~"${SCRAPE_JOBS.distribution}|${SCRAPE_JOBS.caddy}"} == 0`,
            caddy: `job="${SCRAPE_JOBS.caddy}"`,
            freeBytes: `${JOB_METRICS.dataFree}`,
            sizeBytes: `${JOB_METRICS.dataSize}`,
            ...volumeExpressions(JOB_METRICS.dataFree, JOB_METRICS.dataSize),
        };
    }
    const claim = `namespace="${p.namespace}",persistentvolumeclaim="${p.dataClaim}"`;
    const figures = p.diskFigures?.data ? { free: JOB_METRICS.dataFree, size: JOB_METRICS.dataSize } : undefined;
    return {
        up: `kube_deployment_status_replicas_available{namespace="${p.namespace}",deployment="${p.deployment}"} == 0`,
        caddy: `namespace="${p.namespace}"`,
        freeBytes: `kubelet_volume_stats_available_bytes{${claim}}`,
        sizeBytes: `kubelet_volume_stats_capacity_bytes{${claim}}`,
        ...clusterVolume(p.namespace, p.dataClaim, figures),
    };
}

/** The rules of the placement, in a fixed order. */
export function alertRules(options: AlertRulesSpec): AlertRule[] {
    const p = options.placement;
    const s = seriesOf(p);
    const rule = (
        alert: string,
        expr: string,
        forDuration: string | undefined,
        severity: "critical" | "warning",
        anchor: string,
        summary: string,
        description: string,
    ): AlertRule => ({
        alert,
        expr,
        ...(forDuration ? { for: forDuration } : {}),
        labels: { severity },
        annotations: { summary, description, runbook_url: `${options.runbookBaseUrl}#${anchor}` },
    });
    // Caddy 2.6 labels its request series with the site's outermost handler only ("subroute"), so
    // the code tells: the read-only window's 503 (the front's, or Distribution's read-only mode) and
    // the disk guard's 507 (its own alert) are no errors, every other 5xx is.
    const requests = `caddy_http_request_duration_seconds_count{${s.caddy}`;
    const rules: AlertRule[] = [
        rule(
            "DsoRegistryDown",
            s.up,
            "5m",
            "critical",
            RUNBOOK_ANCHORS.registryDown,
            "The registry is down",
            "Distribution or its front (Caddy) has not answered for 5 minutes: pushes and pulls fail.",
        ),
        rule(
            "DsoRegistryErrorRate",
            `sum(rate(${requests},code=~"5..",code!~"503|507"}[5m])) / sum(rate(${requests}}[5m])) > 0.05`,
            "10m",
            "critical",
            RUNBOOK_ANCHORS.errors,
            "More than 5% of the registry's answers are server errors",
            "Over 10 minutes more than 5% of the registry's requests ended in a server error (5xx other than the read-only window's 503 and the disk guard's 507).",
        ),
        rule(
            "DsoRegistryFailedLoginSpike",
            `sum(increase(${requests},code="401"}[10m])) > 100 and sum(increase(${requests},code="401"}[10m])) > 0.25 * sum(increase(${requests}}[10m]))`,
            undefined,
            "warning",
            RUNBOOK_ANCHORS.errors,
            "Many refused logins",
            "More than 100 requests were refused for want of valid credentials in 10 minutes, and they are over a quarter of all requests (every login starts with one challenge; this many is a client with a stale password, or someone guessing).",
        ),
        rule(
            "DsoRegistryDiskFillingUp",
            s.fullWithinDay,
            "30m",
            "warning",
            RUNBOOK_ANCHORS.diskFull,
            "The registry's data volume fills up within a day",
            "At the rate of the last 6 hours, the registry's data volume is full within 24 hours.",
        ),
        options.diskGuard?.warnPercent !== undefined
            ? rule(
                  "DsoRegistryDiskAlmostFull",
                  s.usedPast(options.diskGuard.warnPercent / 100, ">"),
                  "5m",
                  "warning",
                  RUNBOOK_ANCHORS.diskFull,
                  "The registry's data volume is almost full",
                  `More than ${options.diskGuard.warnPercent}% of the registry's data volume is used; ${options.diskGuard.refusing ? "past registry.diskGuard.refusePercent the registry refuses new uploads" : "pushes fail when it is full"}.`,
              )
            : rule(
                  "DsoRegistryDiskAlmostFull",
                  s.freeBelow(0.1),
                  "5m",
                  "critical",
                  RUNBOOK_ANCHORS.diskFull,
                  "The registry's data volume is almost full",
                  "Less than 10% of the registry's data volume is free; pushes fail when it is full.",
              ),
    ];
    if (options.diskGuard?.refusing) {
        // The guard says when it refuses: the host's in its textfile, the pod's in its figures. Where the pod's
        // figures are missing, the kubelet's stats tell the same: the guard refuses exactly when the volume is
        // used (its size minus what is available) past refusePercent.
        const refusing =
            p.kind === "external-host"
                ? `${JOB_METRICS.diskGuardRefusing} == 1`
                : refusingIn(p, p.diskFigures?.data ? JOB_METRICS.diskGuardRefusing : undefined, () =>
                      clusterVolume(p.namespace, p.dataClaim, undefined).usedPast((options.diskGuard?.refusePercent ?? 100) / 100, ">="),
                  );
        rules.push(
            rule(
                "DsoRegistryUploadsRefusedDiskFull",
                refusing,
                undefined,
                "critical",
                RUNBOOK_ANCHORS.diskFull,
                "The registry refuses new uploads: its data volume is full",
                "The data volume is used past registry.diskGuard.refusePercent: every push is refused with 507 until space is freed (pulls go on). Pushes resume by themselves within five minutes of a clean-up.",
            ),
        );
    }
    if (options.mavenDiskGuard) {
        rules.push(mavenRefusedRule(p, options.mavenDiskGuard.refusePercent, rule));
    }
    rules.push(...certificateRules(p, rule));
    rules.push(...jobRules(p, rule));
    rules.push(...absenceRules(p, rule));
    if (options.passwordsRotationDue !== undefined) {
        // The due time is the program's: each `pulumi up` in a new period writes the next one.
        rules.push(
            rule(
                "DsoRegistryPasswordRotationDue",
                `vector(time()) > ${options.passwordsRotationDue}`,
                "1h",
                "warning",
                RUNBOOK_ANCHORS.rotation,
                "The registry's generated passwords are older than their rotation period",
                "A new rotation period began and no `pulumi up` has run since: the generated passwords are older than containerRegistry.rotateAfterDays. The next `pulumi up` rotates them; the previous ones keep working for containerRegistry.rotationOverlapHours after it (their ends: `pulumi stack output accountRotation`, or dso-registry-status on the host).",
            ),
        );
    }
    return rules;
}

type RuleMaker = (
    alert: string,
    expr: string,
    forDuration: string | undefined,
    severity: "critical" | "warning",
    anchor: string,
    summary: string,
    description: string,
) => AlertRule;

/**
 * In the cluster, the guard's refusal: its own series (`refusingSeries`, from the pod's figures) where it
 * exists, the kubelet's stats of the claim (`kubeletUsedPast`) where it does not.
 */
function refusingIn(
    p: Extract<RulesPlacement, { kind: "in-cluster" }>,
    refusingSeries: string | undefined,
    kubeletUsedPast: () => string,
): string {
    const kubelet = kubeletUsedPast();
    if (!refusingSeries) return kubelet;
    const own = `${refusingSeries}{namespace="${p.namespace}"}`;
    return preferring(`${own} == 1`, own, kubelet);
}

/** While the disk guard refuses Maven deploys: the host's own series, or the pod's (the Maven claim's stats where missing) in the cluster. */
function mavenRefusedRule(p: RulesPlacement, refusePercent: number, rule: RuleMaker): AlertRule {
    let refusing: string;
    if (p.kind === "external-host") {
        refusing = `${JOB_METRICS.mavenDiskGuardRefusing} == 1`;
    } else {
        if (!p.mavenClaim) {
            throw new Error("the Maven disk guard's alert in the cluster reads the Maven claim's stats: set placement.mavenClaim");
        }
        const claim = p.mavenClaim;
        const figures = p.diskFigures?.maven ? { free: JOB_METRICS.mavenFree, size: JOB_METRICS.mavenSize } : undefined;
        refusing = refusingIn(p, figures ? JOB_METRICS.mavenDiskGuardRefusing : undefined, () =>
            clusterVolume(p.namespace, claim, undefined).usedPast(refusePercent / 100, ">="),
        );
    }
    return rule(
        "DsoRegistryMavenDeploysRefusedDiskFull",
        refusing,
        undefined,
        "critical",
        RUNBOOK_ANCHORS.diskFull,
        "The Maven repository refuses deploys: its disk is full",
        "The Maven repository's disk is used past registry.diskGuard.refusePercent: every Maven deploy is refused with 507 until space is freed (downloads go on). Deploys resume by themselves within five minutes of a clean-up.",
    );
}

function certificateRules(p: RulesPlacement, rule: RuleMaker): AlertRule[] {
    let notAfter: string;
    let renewalFailing: string;
    if (p.kind === "external-host") {
        notAfter = JOB_METRICS.certificateNotAfter;
        // The hourly probe could not read the certificate the front serves, or it has a week left:
        // Caddy renews an ACME certificate 30 days before, `pulumi up` a generated one in its last 30.
        renewalFailing = `${JOB_METRICS.certificateProbe} == 0 or (${notAfter} - time()) < ${7 * DAY}`;
    } else {
        // The probe's handshake with the registry's TLS Service, at every scrape, whatever made the
        // certificate: the program (renewed by `pulumi up`) or cert-manager. With cert-manager the probe
        // stays: the front reads the certificate when its pod starts, so what it serves can be older
        // than the Secret cert-manager renewed; its Certificate not Ready tells a failed renewal weeks
        // before the served one runs short. A probe that is not running is a failed check too.
        const probe = `namespace="${p.namespace}",pod=~"${p.certificateProbe}-.*"`;
        notAfter = `probe_ssl_earliest_cert_expiry{${probe}}`;
        renewalFailing = [
            `probe_success{${probe}} == 0`,
            `(${notAfter} - time()) < ${7 * DAY}`,
            `kube_deployment_status_replicas_available{namespace="${p.namespace}",deployment="${p.certificateProbe}"} == 0`,
            ...(p.certManager ? [`certmanager_certificate_ready_status{namespace="${p.namespace}",condition="False"} == 1`] : []),
        ].join(" or ");
    }
    return [
        rule(
            "DsoRegistryCertificateExpiring",
            `(${notAfter} - time()) < ${21 * DAY}`,
            "1h",
            "warning",
            RUNBOOK_ANCHORS.tls,
            "The registry's certificate expires in less than 21 days",
            "The certificate clients see expires in less than 21 days and has not been renewed.",
        ),
        rule(
            "DsoRegistryCertificateRenewalFailing",
            renewalFailing,
            "1h",
            "critical",
            RUNBOOK_ANCHORS.tls,
            "The registry's certificate is not being renewed",
            "The certificate could not be read or checked, or renewal has failed and it expires within a week.",
        ),
    ];
}

function jobRules(p: RulesPlacement, rule: RuleMaker): AlertRule[] {
    const rules: AlertRule[] = [];
    if (p.kind === "external-host") {
        const m = JOB_METRICS;
        const task = (t: string) => `{task="${t}"}`;
        if (p.backup) {
            rules.push(
                rule(
                    "DsoRegistryBackupStale",
                    `time() - ${m.lastSuccess}${task("backup")} > ${26 * 3600}`,
                    undefined,
                    "critical",
                    RUNBOOK_ANCHORS.backup,
                    "No successful backup for more than 26 hours",
                    "The last successful backup of the registry is older than 26 hours.",
                ),
                rule(
                    "DsoRegistryBackupFailed",
                    `${m.success}${task("backup")} == 0`,
                    undefined,
                    "critical",
                    RUNBOOK_ANCHORS.backup,
                    "The last backup failed",
                    "The last run of dso-registry-backup failed.",
                ),
            );
        }
        rules.push(
            rule(
                "DsoRegistryGarbageCollectionFailed",
                `${m.success}${task("gc")} == 0`,
                undefined,
                "warning",
                RUNBOOK_ANCHORS.gc,
                "The last garbage collection failed",
                "The last run of dso-registry-gc failed; the registry is writable again, but nothing was freed.",
            ),
            rule(
                "DsoRegistryVerifyFailed",
                `${m.success}${task("verify")} == 0`,
                undefined,
                "critical",
                RUNBOOK_ANCHORS.gc,
                "Tagged images are not served whole",
                "dso-registry-verify found tagged images with a missing manifest or blob.",
            ),
        );
        if (p.caches) {
            rules.push(
                rule(
                    "DsoRegistryCacheOverSize",
                    `${m.cacheSize} > ${m.cacheLimit}`,
                    "2h",
                    "warning",
                    RUNBOOK_ANCHORS.cache,
                    "A pull-through cache stays over its size",
                    "A cache has been over its maxSize for 2 hours: the hourly prune does not bring it back.",
                ),
            );
        }
        return rules;
    }
    const ns = `namespace="${p.namespace}"`;
    if (p.backupCronJob) {
        rules.push(
            rule(
                "DsoRegistryBackupStale",
                `time() - kube_cronjob_status_last_successful_time{${ns},cronjob="${p.backupCronJob}"} > ${26 * 3600}`,
                undefined,
                "critical",
                RUNBOOK_ANCHORS.backup,
                "No successful backup for more than 26 hours",
                "The last successful backup job of the registry is older than 26 hours.",
            ),
            rule(
                "DsoRegistryBackupFailed",
                `kube_job_status_failed{${ns},job_name=~"${p.backupCronJob}-.*"} > 0`,
                undefined,
                "critical",
                RUNBOOK_ANCHORS.backup,
                "A backup job failed",
                "A backup Job of the registry failed.",
            ),
        );
    }
    if (p.gcCronJob) {
        // The GC job runs the verify step last: a failed verify fails the job.
        rules.push(
            rule(
                "DsoRegistryGarbageCollectionFailed",
                `kube_job_status_failed{${ns},job_name=~"${p.pullsCronJob ? `(${p.gcCronJob}|${p.pullsCronJob})` : p.gcCronJob}-.*"} > 0`,
                undefined,
                "warning",
                RUNBOOK_ANCHORS.gc,
                "A garbage-collection job failed",
                p.pullsCronJob
                    ? "A garbage-collection Job of the registry failed (the collection or the verify after it), or a harvest of the pull history that retention reads."
                    : "A garbage-collection Job of the registry failed (the collection or the verify after it).",
            ),
        );
    }
    if (p.cacheClaims.length > 0) {
        const claims = `${ns},persistentvolumeclaim=~"${p.cacheClaims.join("|")}"`;
        rules.push(
            rule(
                "DsoRegistryCacheOverSize",
                `kubelet_volume_stats_used_bytes{${claims}} / kubelet_volume_stats_capacity_bytes{${claims}} > 0.95`,
                "2h",
                "warning",
                RUNBOOK_ANCHORS.cache,
                "A pull-through cache's volume is full",
                "A cache's volume has been more than 95% full for 2 hours.",
            ),
        );
    }
    return rules;
}

/** How long a source's series may be missing before the metrics-absent alert's condition holds: a few scrapes' worth. */
export const ABSENCE_WINDOW = "1m";
/** And how long the condition must hold before it fires. */
export const ABSENCE_FOR = "1m";

/**
 * One alert per source whose series the other alerts read: its condition holds when none of the source's
 * series was scraped for ABSENCE_WINDOW (a scrape job missing or renamed, a target gone, a port moved, an
 * exporter not installed), so that a silent source is an alarm of its own rather than every other alert
 * going quiet. Each rule names the source (label `missing`) and what to check; docs/runbooks.md "Metrics
 * missing" has the steps. A source whose target is configured but down is DsoRegistryDown's (`up == 0`).
 */
function absenceRules(p: RulesPlacement, rule: RuleMaker): AlertRule[] {
    const absent = (missing: string, series: string, summary: string, check: string): AlertRule => {
        const r = rule(
            "DsoRegistryMetricsAbsent",
            `absent_over_time(${series}[${ABSENCE_WINDOW}])`,
            ABSENCE_FOR,
            "critical",
            RUNBOOK_ANCHORS.absent,
            summary,
            `No ${series} has been scraped for ${ABSENCE_WINDOW}: the alerts that read it cannot fire. ${check}`,
        );
        return { ...r, labels: { ...r.labels, missing } };
    };
    if (p.kind === "external-host") {
        const job = (name: string) => `up{job="${name}"}`;
        return [
            absent(
                "distribution",
                job(SCRAPE_JOBS.distribution),
                "Prometheus does not scrape Distribution's metrics",
                `Check that the host's Prometheus loads the scrape file dso-registry placed (job ${SCRAPE_JOBS.distribution}).`,
            ),
            absent(
                "caddy",
                job(SCRAPE_JOBS.caddy),
                "Prometheus does not scrape the front's (Caddy's) metrics",
                `Check that the host's Prometheus loads the scrape file dso-registry placed (job ${SCRAPE_JOBS.caddy}).`,
            ),
            absent(
                "node-exporter",
                job(SCRAPE_JOBS.node),
                "Prometheus does not scrape node_exporter, which serves the upkeep jobs' and the probe's series",
                `Check that the host's Prometheus loads the scrape file dso-registry placed (job ${SCRAPE_JOBS.node}).`,
            ),
            absent(
                "certificate-probe",
                JOB_METRICS.certificateProbe,
                "The hourly certificate probe's series are missing",
                "Check that node_exporter's textfile collector reads /var/lib/prometheus/node-exporter and that the probe's cron job (dso-registry-metrics) runs.",
            ),
            ...(p.dataDisk !== false
                ? [
                      absent(
                          "data-disk",
                          JOB_METRICS.dataSize,
                          "The data disk's figures are missing",
                          "Check that the probe's cron job (dso-registry-metrics) runs and can read the data directory, and that node_exporter's textfile collector reads its directory.",
                      ),
                  ]
                : []),
        ];
    }
    const ns = `namespace="${p.namespace}"`;
    // The registry's own pods: the Deployment's ReplicaSet hash and the pod's suffix, nothing more (the
    // certificate probe's pods begin with the same name).
    const registryPods = `pod=~"${p.deployment}-[a-z0-9]+-[a-z0-9]+"`;
    const scrape =
        "Check how Prometheus finds the registry's pods: the PodMonitor (with prometheus-operator: its namespace and labels selected by the Prometheus), or the pods' prometheus.io annotations (a scrape job that honours them).";
    const podFigures = (missing: string, size: string, volume: string) =>
        absent(
            missing,
            `${size}{${ns}}`,
            `The registry pod's figures of its ${volume} are missing`,
            `${scrape} Without prometheus-operator, the figures are on the metrics port's /disk/metrics, which needs a scrape job of its own (docs/monitoring.md). Then the pod's disk-guard container's log.`,
        );
    return [
        // Caddy's own gauge, there from the first scrape on (the scrape is a request of the metrics server,
        // whose requests Caddy counts); Caddy's config-reload series are not there in every build.
        absent(
            "caddy",
            `caddy_http_requests_in_flight{${ns},${registryPods}}`,
            "Prometheus does not scrape the registry pods' front (Caddy)",
            scrape,
        ),
        ...(p.diskFigures?.data ? [podFigures("data-disk", JOB_METRICS.dataSize, "data volume")] : []),
        ...(p.diskFigures?.maven ? [podFigures("maven-disk", JOB_METRICS.mavenSize, "Maven volume")] : []),
        absent(
            "kube-state-metrics",
            `kube_deployment_status_replicas_available{${ns},deployment="${p.deployment}"}`,
            "kube-state-metrics' series of the registry are missing",
            "DsoRegistryDown and the upkeep jobs' alerts read kube-state-metrics: check that it runs and that Prometheus scrapes it.",
        ),
        absent(
            "certificate-probe",
            `probe_success{${ns},pod=~"${p.certificateProbe}-.*"}`,
            "The certificate probe's series are missing",
            `Check that the ${p.certificateProbe} Deployment's pod runs and that Prometheus scrapes it as it scrapes the registry's pods.`,
        ),
        ...(p.certManager
            ? [
                  absent(
                      "cert-manager",
                      `certmanager_certificate_ready_status{${ns}}`,
                      "cert-manager's series of the registry's Certificate are missing",
                      "Check that Prometheus scrapes cert-manager's controller (its metrics port, 9402).",
                  ),
              ]
            : []),
    ];
}

/** The rule groups, as both the rules file and a PrometheusRule's spec hold them. */
export function ruleGroups(options: AlertRulesSpec): { groups: { name: string; rules: AlertRule[] }[] } {
    return { groups: [{ name: RULE_GROUP, rules: alertRules(options) }] };
}

/** The rules file for a Prometheus (the external host's): `promtool check rules` reads it. */
export function renderRulesFile(options: AlertRulesSpec): string {
    return `# Managed by dso-registry: the registry's alerts. See docs/monitoring.md and docs/runbooks.md.\n${stringify(ruleGroups(options), { lineWidth: 0 })}`;
}
