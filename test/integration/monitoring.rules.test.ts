/**
 * The alert rules (components/monitoring/alertRules.ts) with Debian's promtool: `promtool check rules`
 * on the rules file of each placement (the cluster's with cert-manager and with the program's own
 * certificate), and `promtool test rules` with, for every alert, series that make it fire (each way it
 * can) and series that keep it quiet. The expected annotations are the rule's own, so a case checks the
 * runbook link too. A table of cases that misses an alert fails. The metrics-absent alert has a rule per
 * source (label `missing`): its cases are keyed `DsoRegistryMetricsAbsent/<missing>`, each firing with every
 * other source present, so that exactly the one source's alert fires. In the cluster the disk alerts read
 * the pod's own figures first and the kubelet's stats only where those are missing: each fires either way,
 * once (never a second time from the kubelet's series where the pod's exist).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { stringify } from "yaml";
import { type AlertRule, type AlertRulesSpec, alertRules, renderRulesFile } from "../../components/monitoring/alertRules";
import { CLUSTER_PLACEMENT, HOST_PLACEMENT } from "../support/rulesPlacements";
import { run } from "../support/serverProcess";

const RUNBOOKS = "https://docs.example.test/runbooks.md";
const HOST: AlertRulesSpec = { placement: HOST_PLACEMENT, runbookBaseUrl: RUNBOOKS };
const CLUSTER: AlertRulesSpec = { placement: CLUSTER_PLACEMENT, runbookBaseUrl: RUNBOOKS };
/** The program's own certificate (generated CA or provided): the probe alone. */
const CLUSTER_OWN_CERTIFICATE: AlertRulesSpec = { placement: { ...CLUSTER_PLACEMENT, certManager: false }, runbookBaseUrl: RUNBOOKS };

/** Series (promtool's expanding notation, one sample a minute), when to look, and the labels of the alert when it fires. */
interface Case {
    readonly series: Record<string, string>;
    readonly at: string;
    readonly labels: Record<string, string>;
}

/** For each alert: series that fire it (one case for each way it can), and series that keep it quiet. */
interface AlertCases {
    readonly fires: Case | readonly Case[];
    readonly quiet: Omit<Case, "labels">;
}

const DAY = 86400;

function commonCases(where: string, free: string, size: string, disk = true): Record<string, AlertCases> {
    const requests = (code: string) => `caddy_http_request_duration_seconds_count{${where},handler="subroute",code="${code}"}`;
    return {
        DsoRegistryErrorRate: {
            fires: { series: { [requests("200")]: "0+10x30", [requests("502")]: "0+10x30" }, at: "25m", labels: {} },
            // The read-only window's 503s and the disk guard's 507s are no errors.
            quiet: { series: { [requests("200")]: "0+10x30", [requests("503")]: "0+10x30", [requests("507")]: "0+10x30" }, at: "25m" },
        },
        DsoRegistryFailedLoginSpike: {
            fires: { series: { [requests("401")]: "0+20x20", [requests("200")]: "0+20x20" }, at: "15m", labels: {} },
            // A busy CI: many logins, each with its one challenge, among many more requests.
            quiet: { series: { [requests("401")]: "0+20x20", [requests("200")]: "0+200x20" }, at: "15m" },
        },
        ...(disk ? diskCases(free, size) : {}),
    };
}

/** The disk alerts on one pair of free and size series. */
function diskCases(free: string, size: string): Record<string, AlertCases> {
    return {
        DsoRegistryDiskFillingUp: {
            fires: { series: { [free]: "100000000000-200000000x420", [size]: "200000000000x420" }, at: "7h", labels: labelsOf(free) },
            quiet: { series: { [free]: "100000000000x420", [size]: "200000000000x420" }, at: "7h" },
        },
        DsoRegistryDiskAlmostFull: {
            fires: { series: { [free]: "5000000000x20", [size]: "100000000000x20" }, at: "15m", labels: labelsOf(free) },
            quiet: { series: { [free]: "50000000000x20", [size]: "100000000000x20" }, at: "15m" },
        },
    };
}

/** The labels of a series written as `name{a="b",...}`, without the name. */
function labelsOf(series: string): Record<string, string> {
    const inner = /\{(.*)\}/.exec(series)?.[1] ?? "";
    return Object.fromEntries([...inner.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

/** A case whose single series is also the alert's labels (comparisons keep the series' labels). */
function single(series: string, fires: string, quiet: string, at: string): AlertCases {
    return { fires: { series: { [series]: fires }, at, labels: labelsOf(series) }, quiet: { series: { [series]: quiet }, at } };
}

/**
 * The metrics-absent alert's cases: for each source (its `missing` label, the series that tells it is
 * scraped, and the labels the alert takes from it), one case where every source but it is present, and
 * one where all are.
 */
function absenceCases(
    sources: Record<string, { readonly series: string; readonly labels: Record<string, string> }>,
): Record<string, AlertCases> {
    const present = (except?: string) =>
        Object.fromEntries(Object.entries(sources).flatMap(([m, s]) => (m === except ? [] : [[s.series, "1x10"]])));
    return Object.fromEntries(
        Object.entries(sources).map(([missing, source]) => [
            `DsoRegistryMetricsAbsent/${missing}`,
            { fires: { series: present(missing), at: "5m", labels: source.labels }, quiet: { series: present(), at: "5m" } },
        ]),
    );
}

const hostJob = (job: string) => ({ series: `up{job="${job}",instance="127.0.0.1:1"}`, labels: { job } });
const HOST_ABSENCE = absenceCases({
    distribution: hostJob("dso-registry-distribution"),
    caddy: hostJob("dso-registry-caddy"),
    "node-exporter": hostJob("dso-registry-node"),
    "certificate-probe": { series: "dso_registry_certificate_probe_success", labels: {} },
    "data-disk": { series: "dso_registry_data_size_bytes", labels: {} },
});

const HOST_CASES: Record<string, AlertCases> = {
    ...HOST_ABSENCE,
    DsoRegistryDown: single('up{job="dso-registry-distribution",instance="127.0.0.1:5091"}', "0x10", "1x10", "10m"),
    ...commonCases('job="dso-registry-caddy"', "dso_registry_data_free_bytes", "dso_registry_data_size_bytes"),
    DsoRegistryCertificateExpiring: single(
        "dso_registry_certificate_not_after_timestamp_seconds",
        `${10 * DAY}x180`,
        `${100 * DAY}x180`,
        "2h",
    ),
    DsoRegistryCertificateRenewalFailing: single("dso_registry_certificate_probe_success", "0x180", "1x180", "2h"),
    DsoRegistryBackupStale: single('dso_registry_upkeep_last_success_timestamp_seconds{task="backup"}', "0x1700", "0+60x1700", "27h"),
    DsoRegistryBackupFailed: single('dso_registry_upkeep_success{task="backup"}', "0x5", "1x5", "2m"),
    DsoRegistryGarbageCollectionFailed: single('dso_registry_upkeep_success{task="gc"}', "0x5", "1x5", "2m"),
    DsoRegistryVerifyFailed: single('dso_registry_upkeep_success{task="verify"}', "0x5", "1x5", "2m"),
    DsoRegistryCacheOverSize: {
        fires: {
            series: {
                'dso_registry_cache_size_bytes{cache="dso-registry-mirror-docker-io"}': "30000000000x200",
                'dso_registry_cache_limit_bytes{cache="dso-registry-mirror-docker-io"}': "20000000000x200",
            },
            at: "3h",
            labels: { cache: "dso-registry-mirror-docker-io" },
        },
        quiet: {
            series: {
                'dso_registry_cache_size_bytes{cache="dso-registry-mirror-docker-io"}': "10000000000x200",
                'dso_registry_cache_limit_bytes{cache="dso-registry-mirror-docker-io"}': "20000000000x200",
            },
            at: "3h",
        },
    },
};

/** The certificate probe's series as the pod scrape gives them (components/inCluster/certificateProbe.ts). */
const probed = (name: string) =>
    `${name}{namespace="dso",pod="registry-certificate-probe-7c9d8b6f5-x2x7k",instance="10.1.2.3:5092",job="kubernetes-pods"}`;
const PROBE_NOT_AFTER = probed("probe_ssl_earliest_cert_expiry");
const PROBE_SUCCESS = probed("probe_success");
const PROBE_AVAILABLE = 'kube_deployment_status_replicas_available{namespace="dso",deployment="registry-certificate-probe"}';
const CERT_MANAGER_NOT_READY = 'certmanager_certificate_ready_status{namespace="dso",name="registry-tls",condition="False"}';

/** The probe served a certificate with 100 days left, and its pod runs: nothing to say. */
const PROBE_QUIET = { [PROBE_SUCCESS]: "1x180", [PROBE_NOT_AFTER]: `${100 * DAY}x180`, [PROBE_AVAILABLE]: "1x180" };

/** The certificate alerts in the cluster; with cert-manager its Certificate's Ready condition too. */
function clusterCertificateCases(certManager: boolean): Record<string, AlertCases> {
    const quiet = { ...PROBE_QUIET, ...(certManager ? { [CERT_MANAGER_NOT_READY]: "0x180" } : {}) };
    const failing = (changed: Record<string, string>, labelsFrom: string): Case => ({
        series: { ...quiet, ...changed },
        at: "2h",
        labels: labelsOf(labelsFrom),
    });
    return {
        DsoRegistryCertificateExpiring: {
            fires: { series: { ...quiet, [PROBE_NOT_AFTER]: `${10 * DAY}x180` }, at: "2h", labels: labelsOf(PROBE_NOT_AFTER) },
            quiet: { series: quiet, at: "2h" },
        },
        DsoRegistryCertificateRenewalFailing: {
            fires: [
                // The handshake fails: nothing listens, or no certificate for the registry's name.
                failing({ [PROBE_SUCCESS]: "0x180" }, PROBE_SUCCESS),
                failing({ [PROBE_NOT_AFTER]: `${5 * DAY}x180` }, PROBE_NOT_AFTER),
                // Nothing probes: the probe's pod is not running.
                failing({ [PROBE_AVAILABLE]: "0x180" }, PROBE_AVAILABLE),
                ...(certManager ? [failing({ [CERT_MANAGER_NOT_READY]: "1x180" }, CERT_MANAGER_NOT_READY)] : []),
            ],
            quiet: { series: quiet, at: "2h" },
        },
    };
}

const claim = (pvc: string) => `namespace="dso",persistentvolumeclaim="${pvc}"`;
/** A series of the registry pod's metrics port, as a pod scrape job labels it. */
const REGISTRY_POD = 'namespace="dso",pod="registry-6d5f7c9b8-q4w2z",instance="10.1.2.4:5092",job="kubernetes-pods"';
const pod = (name: string) => `${name}{${REGISTRY_POD}}`;
const clusterFree = `kubelet_volume_stats_available_bytes{${claim("registry-data")}}`;
const clusterSize = `kubelet_volume_stats_capacity_bytes{${claim("registry-data")}}`;
const podFree = pod("dso_registry_data_free_bytes");
const podSize = pod("dso_registry_data_size_bytes");

/**
 * The cluster's disk alerts: fired by the pod's figures; by the kubelet's stats where the pod's are missing;
 * and where both exist, once, with the pod's labels. Quiet on the pod's figures, whatever the kubelet says.
 */
function clusterDiskCases(): Record<string, AlertCases> {
    const ways = (own: AlertCases, kubelet: AlertCases): AlertCases => {
        const [ownFires] = [own.fires].flat() as Case[];
        const [kubeletFires] = [kubelet.fires].flat() as Case[];
        return {
            fires: [ownFires!, kubeletFires!, { ...ownFires!, series: { ...kubeletFires!.series, ...ownFires!.series } }],
            quiet: { ...own.quiet, series: { ...kubeletFires!.series, ...own.quiet.series } },
        };
    };
    const own = diskCases(podFree, podSize);
    const kubelet = diskCases(clusterFree, clusterSize);
    return Object.fromEntries(Object.keys(own).map((alert) => [alert, ways(own[alert]!, kubelet[alert]!)]));
}

const registryPodSeries = (name: string) => ({ series: pod(name), labels: { namespace: "dso" } });
/** The cluster's sources; with the pod's Maven figures when `maven`, with cert-manager when `certManager`. */
function clusterAbsence(o: { readonly maven?: boolean; readonly certManager: boolean; readonly data?: boolean }) {
    return absenceCases({
        caddy: registryPodSeries("caddy_http_requests_in_flight"),
        ...(o.data !== false ? { "data-disk": registryPodSeries("dso_registry_data_size_bytes") } : {}),
        ...(o.maven ? { "maven-disk": registryPodSeries("dso_registry_maven_size_bytes") } : {}),
        "kube-state-metrics": {
            series: 'kube_deployment_status_replicas_available{namespace="dso",deployment="registry"}',
            labels: { namespace: "dso", deployment: "registry" },
        },
        "certificate-probe": { series: PROBE_SUCCESS, labels: { namespace: "dso" } },
        ...(o.certManager ? { "cert-manager": { series: CERT_MANAGER_NOT_READY, labels: { namespace: "dso" } } } : {}),
    });
}

const CLUSTER_CASES: Record<string, AlertCases> = {
    DsoRegistryDown: single('kube_deployment_status_replicas_available{namespace="dso",deployment="registry"}', "0x10", "1x10", "10m"),
    ...commonCases('namespace="dso"', "", "", false),
    ...clusterDiskCases(),
    ...clusterAbsence({ certManager: true }),
    ...clusterCertificateCases(true),
    DsoRegistryBackupStale: single(
        'kube_cronjob_status_last_successful_time{namespace="dso",cronjob="registry-backup"}',
        "0x1700",
        "0+60x1700",
        "27h",
    ),
    DsoRegistryBackupFailed: single('kube_job_status_failed{namespace="dso",job_name="registry-backup-29000000"}', "1x5", "0x5", "2m"),
    DsoRegistryGarbageCollectionFailed: single(
        'kube_job_status_failed{namespace="dso",job_name="registry-gc-29000000"}',
        "1x5",
        "0x5",
        "2m",
    ),
    DsoRegistryCacheOverSize: {
        fires: {
            series: {
                [`kubelet_volume_stats_used_bytes{${claim("registry-mirror-docker-io")}}`]: "19900000000x200",
                [`kubelet_volume_stats_capacity_bytes{${claim("registry-mirror-docker-io")}}`]: "20000000000x200",
            },
            at: "3h",
            labels: { namespace: "dso", persistentvolumeclaim: "registry-mirror-docker-io" },
        },
        quiet: {
            series: {
                [`kubelet_volume_stats_used_bytes{${claim("registry-mirror-docker-io")}}`]: "10000000000x200",
                [`kubelet_volume_stats_capacity_bytes{${claim("registry-mirror-docker-io")}}`]: "20000000000x200",
            },
            at: "3h",
        },
    },
};

const CLUSTER_OWN_CERTIFICATE_CASES: Record<string, AlertCases> = {
    ...withoutAbsence(CLUSTER_CASES),
    ...clusterAbsence({ certManager: false }),
    ...clusterCertificateCases(false),
};

/** The cases without the metrics-absent alert's (a placement with other sources gives its own). */
function withoutAbsence(cases: Record<string, AlertCases>): Record<string, AlertCases> {
    return Object.fromEntries(Object.entries(cases).filter(([key]) => !key.startsWith("DsoRegistryMetricsAbsent/")));
}

/** A rotation by age whose next period began an hour into promtool's clock (which starts at 0). */
/** The disk guard on (`registry.diskGuard`): the almost-full alert past 80% used, and one while uploads are refused. */
const HOST_DISK_GUARD: AlertRulesSpec = { ...HOST, diskGuard: { warnPercent: 80, refusing: true } };
const HOST_DISK_GUARD_CASES: Record<string, AlertCases> = {
    ...HOST_CASES,
    DsoRegistryDiskAlmostFull: {
        fires: {
            series: { dso_registry_data_free_bytes: "15000000000x20", dso_registry_data_size_bytes: "100000000000x20" },
            at: "15m",
            labels: {},
        },
        quiet: { series: { dso_registry_data_free_bytes: "25000000000x20", dso_registry_data_size_bytes: "100000000000x20" }, at: "15m" },
    },
    DsoRegistryUploadsRefusedDiskFull: single("dso_registry_disk_guard_refusing", "1x5", "0x5", "2m"),
};

/**
 * The disk guard in the registry pod: its own series says when it refuses; where the pod's figures are
 * missing, the volume's kubelet stats against refusePercent tell the same (used = size minus what is available).
 */
const CLUSTER_DISK_GUARD: AlertRulesSpec = { ...CLUSTER, diskGuard: { refusing: true, refusePercent: 90 } };
const podRefusing = pod("dso_registry_disk_guard_refusing");
const CLUSTER_DISK_GUARD_CASES: Record<string, AlertCases> = {
    ...CLUSTER_CASES,
    DsoRegistryUploadsRefusedDiskFull: {
        fires: [
            { series: { [podRefusing]: "1x5" }, at: "2m", labels: labelsOf(podRefusing) },
            { series: { [clusterFree]: "9000000000x5", [clusterSize]: "100000000000x5" }, at: "2m", labels: labelsOf(clusterFree) },
            // Both: once, the guard's own word.
            {
                series: { [podRefusing]: "1x5", [clusterFree]: "9000000000x5", [clusterSize]: "100000000000x5" },
                at: "2m",
                labels: labelsOf(podRefusing),
            },
        ],
        // The guard says it does not refuse: the kubelet's stats are not read.
        quiet: { series: { [podRefusing]: "0x5", [clusterFree]: "9000000000x5", [clusterSize]: "100000000000x5" }, at: "2m" },
    },
};

/**
 * The disk guard where the front serves Maven: also an alert while it refuses Maven deploys. The host's guard
 * writes a series of its own for the Maven directory (the data disk's refusing keeps that alert quiet); the
 * pod's alert reads the Maven claim's stats: 91% used fires it, 89% does not, nor does the data claim past 90%.
 */
const HOST_MAVEN_DISK_GUARD: AlertRulesSpec = { ...HOST_DISK_GUARD, mavenDiskGuard: { refusePercent: 90 } };
const HOST_MAVEN_DISK_GUARD_CASES: Record<string, AlertCases> = {
    ...HOST_DISK_GUARD_CASES,
    DsoRegistryMavenDeploysRefusedDiskFull: {
        fires: { series: { dso_registry_maven_disk_guard_refusing: "1x5", dso_registry_disk_guard_refusing: "0x5" }, at: "2m", labels: {} },
        quiet: { series: { dso_registry_maven_disk_guard_refusing: "0x5", dso_registry_disk_guard_refusing: "1x5" }, at: "2m" },
    },
};
const mavenFree = `kubelet_volume_stats_available_bytes{${claim("maven-data")}}`;
const mavenSize = `kubelet_volume_stats_capacity_bytes{${claim("maven-data")}}`;
const podMavenRefusing = pod("dso_registry_maven_disk_guard_refusing");
const CLUSTER_MAVEN_REFUSED: AlertCases = {
    fires: [
        { series: { [podMavenRefusing]: "1x5", [podRefusing]: "0x5" }, at: "2m", labels: labelsOf(podMavenRefusing) },
        { series: { [mavenFree]: "9000000000x5", [mavenSize]: "100000000000x5" }, at: "2m", labels: labelsOf(mavenFree) },
    ],
    quiet: {
        series: {
            [mavenFree]: "11000000000x5",
            [mavenSize]: "100000000000x5",
            [clusterFree]: "9000000000x5",
            [clusterSize]: "100000000000x5",
        },
        at: "2m",
    },
};
const CLUSTER_MAVEN: AlertRulesSpec = {
    ...CLUSTER_DISK_GUARD,
    placement: { ...CLUSTER_PLACEMENT, mavenClaim: "maven-data", diskFigures: { data: true, maven: true } },
};
const CLUSTER_MAVEN_DISK_GUARD: AlertRulesSpec = { ...CLUSTER_MAVEN, mavenDiskGuard: { refusePercent: 90 } };
const CLUSTER_MAVEN_DISK_GUARD_CASES: Record<string, AlertCases> = {
    ...withoutAbsence(CLUSTER_DISK_GUARD_CASES),
    ...clusterAbsence({ certManager: true, maven: true }),
    DsoRegistryMavenDeploysRefusedDiskFull: CLUSTER_MAVEN_REFUSED,
};
/**
 * With s3 storage the pod's guard checks the Maven volume alone: no data claim's refusal alert, the Maven one;
 * the pod reports the Maven volume's figures only.
 */
const CLUSTER_S3_MAVEN_DISK_GUARD: AlertRulesSpec = {
    placement: { ...CLUSTER_PLACEMENT, mavenClaim: "maven-data", diskFigures: { data: false, maven: true } },
    runbookBaseUrl: RUNBOOKS,
    mavenDiskGuard: { refusePercent: 90 },
};
const CLUSTER_S3_MAVEN_DISK_GUARD_CASES: Record<string, AlertCases> = {
    ...withoutAbsence(CLUSTER_CASES),
    ...commonCases('namespace="dso"', clusterFree, clusterSize),
    ...clusterAbsence({ certManager: true, maven: true, data: false }),
    DsoRegistryMavenDeploysRefusedDiskFull: CLUSTER_MAVEN_REFUSED,
};

const HOST_ROTATING: AlertRulesSpec = { ...HOST, passwordsRotationDue: 3600 };
const HOST_ROTATING_CASES: Record<string, AlertCases> = {
    ...HOST_CASES,
    // Past the due time for the rule's hour with no `up` (the rule still names the old due time): it fires.
    DsoRegistryPasswordRotationDue: { fires: { series: {}, at: "3h", labels: {} }, quiet: { series: {}, at: "50m" } },
};

const dir = mkdtempSync(path.join(tmpdir(), "dso-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A rule's key among the cases: its alert, and the source it watches for the metrics-absent alert. */
const caseKey = (r: AlertRule) => (r.labels.missing ? `${r.alert}/${r.labels.missing}` : r.alert);

/** promtool's unit-test file: one test per case, each with its own series. */
function promtoolTests(options: AlertRulesSpec, cases: Record<string, AlertCases>, rulesFile: string): string {
    const rules = new Map(alertRules(options).map((r) => [caseKey(r), r]));
    const tests = Object.entries(cases).flatMap(([key, c]) => {
        const rule = rules.get(key);
        if (!rule) throw new Error(`no rule ${key}`);
        const alert = rule.alert;
        const seriesList = (s: Record<string, string>) => Object.entries(s).map(([series, values]) => ({ series, values }));
        const fires = [c.fires].flat();
        return [
            ...fires.map((f, i) => ({
                name: fires.length > 1 ? `${key} fires (way ${i + 1})` : `${key} fires`,
                interval: "1m",
                input_series: seriesList(f.series),
                alert_rule_test: [
                    {
                        eval_time: f.at,
                        alertname: alert,
                        exp_alerts: [{ exp_labels: { ...f.labels, ...rule.labels }, exp_annotations: rule.annotations }],
                    },
                ],
            })),
            {
                name: `${key} stays quiet`,
                interval: "1m",
                input_series: seriesList(c.quiet.series),
                alert_rule_test: [{ eval_time: c.quiet.at, alertname: alert, exp_alerts: [] }],
            },
        ];
    });
    return stringify({ rule_files: [rulesFile], evaluation_interval: "1m", tests }, { lineWidth: 0 });
}

describe.each([
    ["external host", HOST, HOST_CASES],
    ["in-cluster, cert-manager", CLUSTER, CLUSTER_CASES],
    ["in-cluster, the program's own certificate", CLUSTER_OWN_CERTIFICATE, CLUSTER_OWN_CERTIFICATE_CASES],
    ["external host, passwords rotated by age", HOST_ROTATING, HOST_ROTATING_CASES],
    ["external host, disk guard", HOST_DISK_GUARD, HOST_DISK_GUARD_CASES],
    ["in-cluster, disk guard", CLUSTER_DISK_GUARD, CLUSTER_DISK_GUARD_CASES],
    ["external host, disk guard with Maven", HOST_MAVEN_DISK_GUARD, HOST_MAVEN_DISK_GUARD_CASES],
    ["in-cluster, disk guard with Maven", CLUSTER_MAVEN_DISK_GUARD, CLUSTER_MAVEN_DISK_GUARD_CASES],
    ["in-cluster, s3 storage, disk guard with Maven", CLUSTER_S3_MAVEN_DISK_GUARD, CLUSTER_S3_MAVEN_DISK_GUARD_CASES],
] as const)("alert rules (%s)", (placement, options, cases) => {
    const slug = placement.replace(/\W+/g, "-");
    const rulesFile = path.join(dir, `${slug}.rules.yml`);
    writeFileSync(rulesFile, renderRulesFile(options));

    test("promtool check rules accepts the rules file", () => {
        const result = run("promtool", ["check", "rules", rulesFile]);
        expect(result.stdout + result.stderr).toContain(`SUCCESS: ${alertRules(options).length} rules found`);
        expect(result.code).toBe(0);
    });

    test("every alert has a case that fires it and one that keeps it quiet", () => {
        expect(Object.keys(cases).sort()).toEqual(alertRules(options).map(caseKey).sort());
    });

    test("promtool test rules: each alert fires on its series and stays quiet on the others", () => {
        const testFile = path.join(dir, `${slug}.test.yml`);
        writeFileSync(testFile, promtoolTests(options, cases, rulesFile));
        const result = run("promtool", ["test", "rules", testFile]);
        expect(result.stdout + result.stderr).toContain("SUCCESS");
        expect(result.code, result.stdout + result.stderr).toBe(0);
    });
});
