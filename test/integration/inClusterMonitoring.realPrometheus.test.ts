/**
 * The in-cluster registry's alerts on series scraped from the real pod: the registry pod as the program
 * renders it with monitoring on (scrape annotations and the rules ConfigMap), run for real
 * (test/support/renderedRegistryPod.ts: the Caddy sidecar, Distribution and the disk-guard container, each
 * with its mounts, user and read-only root), its data volume a small file system of its own as a hostPath
 * volume is: the kubelet would report no stats for it, so the disk alerts have only what the pod reports.
 * Debian's Prometheus scrapes the pod's metrics port as a pod scrape job would (Caddy's /metrics and the
 * disk figures at /disk/metrics, labelled with the namespace and the pod's name) and evaluates the rules
 * file from the rendered ConfigMap, unchanged.
 *
 * - The figures are the volumes': size, free and used as `df` reads each file system (the data volume's and the
 *   Maven repository's, under their own names), and the guard not refusing.
 * - Real pushes fill the volume past refusePercent: the guard refuses (fillAndFree, test/support/diskGuardClient.ts)
 *   and DsoRegistryUploadsRefusedDiskFull fires with the pod's labels, once (no kubelet series double it);
 *   DsoRegistryDiskAlmostFull's condition holds (pending: its `for` is five minutes).
 * - After the clean-up the refusal's alert goes.
 * - The sources never scraped here (kube-state-metrics, the certificate probe) fire DsoRegistryMetricsAbsent
 *   for themselves, and the pod's own do not; with the pod stopped, its own (Caddy's series, the disk figures) fire.
 *
 * The guard checks every second here (the stack's pods: every minute).
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DISK_FIGURES } from "../../components/inCluster/diskGuard";
import { RULES_FILE_KEY } from "../../components/inCluster/monitoring";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { ABSENCE_FOR, ABSENCE_WINDOW } from "../../components/monitoring/alertRules";
import { JOB_METRICS } from "../../components/monitoring/jobMetrics";
import { METRICS_PORTS } from "../../components/shared/facts";
import { collectFilesystemGarbage, diskUsage, fillAndFree } from "../support/diskGuardClient";
import { durationSeconds, type RealPrometheus, startPrometheus } from "../support/realPrometheus";
import { makeAccount } from "../support/realRegistry";
import { type GuardedRegistryPod, startGuardedRegistryPod } from "../support/renderedRegistryPod";
import { privateDir, removeDir } from "../support/serverProcess";

const HOST = "registry.test";
const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;
const MAVEN_FS_MIB = 32;
/** The pod's name as its ReplicaSet would give it: what a pod scrape job labels its series with. */
const POD_NAME = `${IN_CLUSTER.name}-6d5f7c9b8-q4w2z`;
const NAMESPACE = "dso";

let scratch: string;
let guarded: GuardedRegistryPod | undefined;
let prometheus: RealPrometheus | undefined;
let dataDir: string;

beforeAll(async () => {
    scratch = privateDir("in-cluster-monitoring");
    guarded = await startGuardedRegistryPod({
        scratch,
        host: HOST,
        netns: { prefix: "icmp", subnet: "198.19.176.0/20" },
        refusePercent: REFUSE_PERCENT,
        dataMiB: DATA_FS_MIB,
        maven: { pathPrefix: "maven-releases", deployer: makeAccount("maven-deploy"), sizeMiB: MAVEN_FS_MIB },
        monitoring: true,
    });
    dataDir = guarded.pod.claimDir(IN_CLUSTER.dataClaim);
    const rulesConfigMap = guarded.objects.find((o) => o.kind === "ConfigMap" && (o.data as Record<string, string>)?.[RULES_FILE_KEY]);
    const rulesFile = path.join(scratch, "dso-registry.rules.yml");
    writeFileSync(rulesFile, (rulesConfigMap!.data as Record<string, string>)[RULES_FILE_KEY]!);
    const target = `${guarded.pod.address}:${METRICS_PORTS.caddy}`;
    const podLabels = { namespace: NAMESPACE, pod: POD_NAME };
    prometheus = await startPrometheus({
        dir: scratch,
        rulesFile,
        scrapeConfigs: [
            { job_name: "kubernetes-pods", metrics_path: "/metrics", static_configs: [{ targets: [target], labels: podLabels }] },
            { job_name: "registry-disk", metrics_path: DISK_FIGURES.path, static_configs: [{ targets: [target], labels: podLabels }] },
        ],
    });
}, 180_000);

afterAll(async () => {
    await prometheus?.stop();
    await guarded?.stop();
    if (scratch) removeDir(scratch);
});

describe("the in-cluster registry's alerts on a real Prometheus scraping the real pod, its data volume without kubelet stats", () => {
    test("the pod's disk figures are its volume's, as df reads it, and the guard does not refuse", async () => {
        const [size] = await prometheus!.eventually(`${JOB_METRICS.dataSize}{namespace="${NAMESPACE}"}`);
        const [refusing] = await prometheus!.eventually(`${JOB_METRICS.diskGuardRefusing}{namespace="${NAMESPACE}"}`);
        const [free] = await prometheus!.eventually(JOB_METRICS.dataFree);
        const [used] = await prometheus!.eventually(JOB_METRICS.dataUsed);
        const df = diskUsage(dataDir);
        expect(size!.value).toBe(df.size);
        expect(size!.metric).toMatchObject({ namespace: NAMESPACE, pod: POD_NAME, job: "registry-disk" });
        // Nothing is written meanwhile: what df reads now is what the guard read at its last check.
        expect(free!.value).toBe(df.size - df.used);
        expect(used!.value).toBe(df.used);
        expect(refusing!.value).toBe(0);
        expect(await prometheus!.query(`kubelet_volume_stats_capacity_bytes`)).toEqual([]);
        // The Maven volume's, under its own names.
        const mavenDf = diskUsage(guarded!.pod.claimDir(IN_CLUSTER.mavenClaim));
        const [mavenSize] = await prometheus!.eventually(`${JOB_METRICS.mavenSize}{namespace="${NAMESPACE}"}`);
        const [mavenUsed] = await prometheus!.eventually(JOB_METRICS.mavenUsed);
        const [mavenRefusing] = await prometheus!.eventually(JOB_METRICS.mavenDiskGuardRefusing);
        expect(mavenSize!.value).toBe(MAVEN_FS_MIB * 2 ** 20);
        expect(mavenSize!.value).not.toBe(size!.value);
        expect(mavenUsed!.value).toBe(mavenDf.used);
        expect(mavenRefusing!.value).toBe(0);
    });

    test("real pushes past refusePercent: the guard refuses and DsoRegistryUploadsRefusedDiskFull fires from the pod's series, once; DiskAlmostFull's condition holds; after the clean-up the alert goes", async () => {
        const labels = { namespace: NAMESPACE, pod: POD_NAME };
        await fillAndFree({
            client: guarded!.client,
            dataDir,
            refusePercent: REFUSE_PERCENT,
            front: "the sidecar",
            guardWaitMs: 60_000,
            collect: () => collectFilesystemGarbage(scratch, dataDir),
            logs: () => guarded!.pod.logs(),
            async whileRefusing() {
                const refused = await prometheus!.waitForAlert("DsoRegistryUploadsRefusedDiskFull", labels, "firing", 60_000);
                expect(refused.labels.severity).toBe("critical");
                expect(refused.annotations.runbook_url).toBe("docs/runbooks.md#disk-full");
                expect(await prometheus!.alertsNamed("DsoRegistryUploadsRefusedDiskFull")).toHaveLength(1);
                const almostFull = await prometheus!.waitForAlert("DsoRegistryDiskAlmostFull", labels, "pending", 60_000);
                expect(almostFull.annotations.summary).toContain("almost full");
                const [used] = await prometheus!.eventually(`${JOB_METRICS.dataUsed} / ${JOB_METRICS.dataSize} > ${REFUSE_PERCENT / 100}`);
                expect(used!.value).toBeGreaterThan(REFUSE_PERCENT / 100);
            },
            async afterFreed() {
                await prometheus!.eventually(`${JOB_METRICS.diskGuardRefusing}{namespace="${NAMESPACE}"} == 0`);
                const until = Date.now() + 30_000;
                while ((await prometheus!.alertsNamed("DsoRegistryUploadsRefusedDiskFull")).length > 0 && Date.now() < until) {
                    await new Promise((r) => setTimeout(r, 1000));
                }
                expect(await prometheus!.alertsNamed("DsoRegistryUploadsRefusedDiskFull")).toEqual([]);
            },
        });
    });

    test("DsoRegistryMetricsAbsent: the sources not scraped here fire, the pod's do not until the pod stops, then they do", async () => {
        const wait = (durationSeconds(ABSENCE_WINDOW) + durationSeconds(ABSENCE_FOR) + 60) * 1000;
        for (const missing of ["kube-state-metrics", "certificate-probe"]) {
            const alert = await prometheus!.waitForAlert("DsoRegistryMetricsAbsent", { missing }, "firing", wait);
            expect(alert.annotations.runbook_url).toBe("docs/runbooks.md#metrics-missing");
        }
        // By now the pod's sources have been scraped for minutes: no alert for them.
        for (const missing of ["caddy", "data-disk", "maven-disk"]) {
            expect(
                await prometheus!.alertsNamed("DsoRegistryMetricsAbsent", { missing }),
                JSON.stringify(await prometheus!.alerts()),
            ).toEqual([]);
        }
        await guarded!.pod.stop();
        for (const missing of ["caddy", "data-disk", "maven-disk"]) {
            const alert = await prometheus!.waitForAlert("DsoRegistryMetricsAbsent", { missing, namespace: NAMESPACE }, "firing", wait);
            const series = {
                caddy: "caddy_http_requests_in_flight",
                "data-disk": JOB_METRICS.dataSize,
                "maven-disk": JOB_METRICS.mavenSize,
            };
            expect(alert.annotations.description).toContain(series[missing as keyof typeof series]);
        }
    }, 600_000);
});
