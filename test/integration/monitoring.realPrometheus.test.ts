/**
 * Monitoring with the real software: Debian's Prometheus, on loopback with its own data directory,
 * scrapes the real Distribution and Caddy started with the rendered config.yml and Caddyfile (their
 * metrics listeners on loopback), and Debian's prometheus-node-exporter, whose textfile collector reads
 * what the rendered job reporter and probe (dso-registry-report, dso-registry-metrics, run with
 * $DSO_ROOT) leave. It loads the rendered scrape file and the external host's alert rules. A push and a
 * pull must show in the scraped series, the job outcomes of a real garbage collection (Distribution's
 * own `garbage-collect`) and a real restic backup must reach Prometheus, and a failed verify must
 * fire its alert. The access log: after a push, a login and a failed login, no log holds a password,
 * plain or base64.
 *
 * The metrics-absent alert on the host's sources, on series scraped from the real components, last: while
 * Distribution, Caddy, node_exporter and the probe's series (the certificate's and the data disk's, which
 * node_exporter reads from the textfile directory) are all scraped, no DsoRegistryMetricsAbsent alert is
 * pending or firing, for longer than a source wrongly seen as absent would take to fire. Then node_exporter
 * stops: the probe's series are gone, and their alerts fire and point at the runbook's section. node_exporter's
 * own alert stays quiet: its target is configured and down, and Prometheus still writes its `up` (0), so
 * nothing is absent; the alert is for a source Prometheus does not scrape at all.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { AUTHORIZATION_LOG_MARKER } from "../../components/accessPolicy/loginLimit";
import { probeScript, reporterScript } from "../../components/externalHost/hostMonitoring";
import { ABSENCE_FOR, ABSENCE_WINDOW, renderRulesFile } from "../../components/monitoring/alertRules";
import { renderHostScrapeConfig, SCRAPE_JOBS, TEXTFILE_DIR } from "../../components/monitoring/jobMetrics";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { durationSeconds, type RealPrometheus, startPrometheus } from "../support/realPrometheus";
import { curlStatus, makeOciImage, type RealRegistry, skopeoCopy, skopeoDelete, startRealRegistry } from "../support/realRegistry";
import { freePort, privateDir, removeDir, run, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

let reg: RealRegistry;
let dir: string;
let prometheus: RealPrometheus | undefined;
let nodeExporter: ServerProcess | undefined;
/** The rendered rules file's text, as Prometheus loads it. */
let rulesText: string;

/**
 * How long a source whose series are missing takes to fire its DsoRegistryMetricsAbsent alert: the window
 * its series must be missing for, the rule's `for`, and a margin for the scrapes and evaluations (every second here).
 */
const ABSENCE_FIRES_MS = (durationSeconds(ABSENCE_WINDOW) + durationSeconds(ABSENCE_FOR) + 20) * 1000;

beforeAll(async () => {
    // The external host's front: its alert rules, access log file and metrics listener are the host's.
    reg = await startRealRegistry({
        caddyBinary: pinnedCaddy(),
        metrics: true,
        accessLog: true,
        policy: { requiresAuthForPull: true },
    });
    dir = privateDir("monitoring");
    // The scripts run with $DSO_ROOT = the registry's scratch directory: the data directory is
    // /data-registry below it, node_exporter's textfile directory TEXTFILE_DIR below it.
    mkdirSync(path.join(reg.dir, TEXTFILE_DIR), { recursive: true });
    const nodePort = await freePort();
    nodeExporter = startServer("/usr/bin/prometheus-node-exporter", [
        `--web.listen-address=127.0.0.1:${nodePort}`,
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${path.join(reg.dir, TEXTFILE_DIR)}`,
    ]);
    await waitForPort(nodePort, 30_000, "node_exporter");
    const rulesFile = path.join(dir, "dso-registry.rules.yml");
    rulesText = renderRulesFile({
        placement: { kind: "external-host", backup: true, caches: false },
        runbookBaseUrl: "docs/runbooks.md",
    });
    writeFileSync(rulesFile, rulesText);
    const ports = reg.metricsPorts!;
    // The scrape file the host's Prometheus loads, as rendered.
    const scrape = parse(renderHostScrapeConfig({ distribution: ports.distribution, caddy: ports.caddy, nodeExporter: nodePort })) as {
        scrape_configs: unknown[];
    };
    prometheus = await startPrometheus({ dir, rulesFile, scrapeConfigs: scrape.scrape_configs });
});

afterAll(async () => {
    await prometheus?.stop();
    await nodeExporter?.stop();
    await reg?.stop();
    if (dir) removeDir(dir);
});

/** Runs a rendered host script with $DSO_ROOT = the registry's scratch directory. */
function hostRun(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    const file = path.join(dir, `script-${randomBytes(4).toString("hex")}.sh`);
    writeFileSync(file, script, { mode: 0o755 });
    return run("/bin/sh", [file, ...args], { env: { ...process.env, DSO_ROOT: reg.dir, ...env } });
}

describe("a real Prometheus scrapes the registry's metrics listeners", () => {
    test("every target is up", async () => {
        for (const job of ["dso-registry-distribution", "dso-registry-caddy", "dso-registry-node"]) {
            const [up] = await prometheus!.eventually(`up{job="${job}"} == 1`);
            expect(up?.metric.job).toBe(job);
        }
    });

    test("a push and a pull show in Distribution's and Caddy's series", async () => {
        const image = makeOciImage(path.join(dir, "image"));
        const target = `docker://${reg.authority}/team/app:1`;
        expect(skopeoCopy(image.ref, target, { certDir: reg.certDir, creds: reg.push }).code).toBe(0);
        expect(skopeoCopy(target, `oci:${path.join(dir, "pulled")}:1`, { certDir: reg.certDir, creds: reg.pull }).code).toBe(0);
        const pushed = await prometheus!.eventually(
            'registry_http_requests_total{job="dso-registry-distribution",handler="manifest",method="put"} > 0',
        );
        const pulled = await prometheus!.eventually(
            'registry_http_requests_total{job="dso-registry-distribution",handler="manifest",method="get"} > 0',
        );
        const proxied = await prometheus!.eventually('caddy_http_request_duration_seconds_count{job="dso-registry-caddy",code="201"} > 0');
        console.log(
            "scraped:",
            JSON.stringify({ pushed, pulled, proxied: proxied.map((s) => ({ ...s.metric, value: s.value })) }, undefined, 1),
        );
        expect(pushed[0]!.value).toBeGreaterThan(0);
        expect(pulled[0]!.value).toBeGreaterThan(0);
    });

    test("the outcome of a real garbage collection and a real backup reaches Prometheus through node_exporter", async () => {
        // Something for the collection to free: an image whose manifest is deleted.
        const image = makeOciImage(path.join(dir, "doomed"), 256 * 1024);
        const doomed = `docker://${reg.authority}/team/doomed:1`;
        expect(skopeoCopy(image.ref, doomed, { certDir: reg.certDir, creds: reg.push }).code).toBe(0);
        expect(skopeoDelete(doomed, { certDir: reg.certDir, creds: reg.push }).code).toBe(0);
        const config = path.join(reg.dir, "config.yml");
        const gc = hostRun(reporterScript(), ["gc", "/data-registry", deployedRegistry().path, "garbage-collect", config]);
        expect(gc.code, gc.stdout + gc.stderr).toBe(0);
        const repo = path.join(dir, "restic");
        const backup = hostRun(
            reporterScript(),
            ["backup", "/data-registry", "restic", "--repo", repo, "--insecure-no-password", "backup", "--no-cache", reg.dataDir],
            {},
        );
        if (backup.code !== 0) {
            // restic before 0.17 has no --insecure-no-password: a password from the environment.
            const password = { RESTIC_PASSWORD: randomBytes(12).toString("hex") };
            runOk("restic", ["--repo", repo, "init"], { env: { ...process.env, ...password } });
            const again = hostRun(
                reporterScript(),
                ["backup", "/data-registry", "restic", "--repo", repo, "backup", "--no-cache", reg.dataDir],
                password,
            );
            expect(again.code, again.stdout + again.stderr).toBe(0);
        }
        const probe = hostRun(probeScript({ host: "127.0.0.1", port: reg.caddyPort!, certFile: "", dataDir: "/data-registry" }), []);
        expect(probe.code, probe.stdout + probe.stderr).toBe(0);

        const freed = await prometheus!.eventually('dso_registry_upkeep_bytes_freed{task="gc"} > 0');
        // Each file is scraped on its own schedule: wait for both outcomes.
        await prometheus!.eventually('dso_registry_upkeep_success{task="backup"} == 1');
        const success = await prometheus!.eventually(
            'dso_registry_upkeep_success{task=~"gc|backup"} == 1 and on() count(dso_registry_upkeep_success{task=~"gc|backup"} == 1) == 2',
        );
        const lastBackup = await prometheus!.eventually('time() - dso_registry_upkeep_last_success_timestamp_seconds{task="backup"} < 600');
        const notAfter = await prometheus!.eventually("dso_registry_certificate_not_after_timestamp_seconds - time() > 0");
        const free = await prometheus!.eventually("dso_registry_data_free_bytes > 0");
        console.log("job series:", JSON.stringify({ freed, success, lastBackup, notAfter, free }, undefined, 1));
        expect(success.map((s) => s.metric.task).sort()).toEqual(["backup", "gc"]);
        expect(freed[0]!.value).toBeGreaterThan(256 * 1024);
    });

    test("a failed verify fires its alert in the real Prometheus", async () => {
        const verify = hostRun(reporterScript(), ["verify", "", "/bin/false"]);
        expect(verify.code).not.toBe(0);
        await prometheus!.waitForAlert("DsoRegistryVerifyFailed", {}, "firing", 60_000);
        const firing = (await prometheus!.alerts()).filter((a) => a.state === "firing").map((a) => a.labels.alertname);
        expect(firing).not.toContain("DsoRegistryGarbageCollectionFailed");
    });
});

describe("the access log", () => {
    test("after a push, a login and a failed login, no log holds a password, plain or base64", async () => {
        const image = makeOciImage(path.join(dir, "logged"));
        expect(skopeoCopy(image.ref, `docker://${reg.authority}/team/logged:1`, { certDir: reg.certDir, creds: reg.push }).code).toBe(0);
        const ca = reg.ca.caCertFile;
        expect(curlStatus(`${reg.url}/v2/`, { caCertFile: ca, account: reg.pull })).toBe(200);
        const wrong = { username: reg.push.username, password: randomBytes(12).toString("base64url") };
        expect(curlStatus(`${reg.url}/v2/`, { caCertFile: ca, account: wrong })).toBe(401);
        // The log is written as requests end; give the last one a moment.
        await new Promise((r) => setTimeout(r, 500));
        const accessLog = readFileSync(reg.accessLogFile!, "utf8");
        const entries = accessLog
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line) as { request: { headers: Record<string, string[]> }; user_id?: string; status: number });
        expect(entries.some((e) => e.user_id === reg.push.username && e.status === 201)).toBe(true);
        // Authorization's presence is kept (the login limit counts refused credentials), its value never.
        const authorizations = entries.map((e) => e.request.headers.Authorization).filter((a) => a !== undefined);
        expect(authorizations.length).toBeGreaterThan(0);
        expect(authorizations.every((a) => (a as unknown) === AUTHORIZATION_LOG_MARKER)).toBe(true);
        const logs = { access: accessLog, caddy: reg.logs().caddy, registry: reg.logs().registry };
        const secrets = [reg.push, reg.pull, wrong].flatMap((a) => [
            a.password,
            Buffer.from(a.password).toString("base64"),
            Buffer.from(`${a.username}:${a.password}`).toString("base64"),
        ]);
        for (const [name, text] of Object.entries(logs)) {
            for (const secret of secrets) expect(text.includes(secret), `${name} log holds a credential`).toBe(false);
        }
    });
});

/** The host's DsoRegistryMetricsAbsent rules as rendered: each source (label `missing`) and the series it watches. */
function absenceSources(): { missing: string; series: string }[] {
    const rendered = parse(rulesText) as { groups: { rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] };
    const prefix = "absent_over_time(";
    const suffix = `[${ABSENCE_WINDOW}])`;
    return rendered.groups
        .flatMap((g) => g.rules)
        .filter((r) => r.alert === "DsoRegistryMetricsAbsent")
        .map((r) => {
            expect(r.expr.startsWith(prefix) && r.expr.endsWith(suffix), r.expr).toBe(true);
            return { missing: r.labels.missing!, series: r.expr.slice(prefix.length, -suffix.length) };
        });
}

/** The DsoRegistryMetricsAbsent alerts Prometheus holds now, pending or firing, as source and state. */
async function absentHeld(): Promise<{ missing: string | undefined; state: string }[]> {
    return (await prometheus!.alertsNamed("DsoRegistryMetricsAbsent")).map((a) => ({ missing: a.labels.missing, state: a.state }));
}

// Last: the second test stops node_exporter, and nothing after it may need node_exporter.
describe("the metrics-absent alert on the host's sources, scraped from the real components", () => {
    test("while every source is scraped, none of the host's DsoRegistryMetricsAbsent alerts is pending or firing", async () => {
        const sources = absenceSources();
        expect(sources.map((s) => s.missing).sort()).toEqual(["caddy", "certificate-probe", "data-disk", "distribution", "node-exporter"]);
        // Every source's series is there now: the probe's (written by the probe run above) included.
        for (const { series } of sources) await prometheus!.eventually(series);
        // Before the probe ran, its sources were absent and their alerts held; they go at the next evaluation.
        const settled = Date.now() + 10_000;
        while ((await absentHeld()).length > 0 && Date.now() < settled) await new Promise((r) => setTimeout(r, 1000));
        // A rule whose series is not what the source exports would be true at every evaluation, so pending from
        // the first one on (rules are evaluated every second here): none may be held, at any of five checks.
        // (That they stay quiet for longer is the next test's: three of the sources through its wait.)
        for (let check = 0; check < 5; check++) {
            expect(await absentHeld()).toEqual([]);
            await new Promise((r) => setTimeout(r, 1000));
        }
    }, 60_000);

    test(
        "with node_exporter stopped, the probe's sources fire DsoRegistryMetricsAbsent; node_exporter's target is down, not absent",
        async () => {
            await nodeExporter!.stop();
            const down = await prometheus!.eventually(`up{job="${SCRAPE_JOBS.node}"} == 0`);
            expect(down[0]!.metric.job).toBe(SCRAPE_JOBS.node);
            for (const missing of ["certificate-probe", "data-disk"]) {
                const alert = await prometheus!.waitForAlert("DsoRegistryMetricsAbsent", { missing }, "firing", ABSENCE_FIRES_MS);
                expect(alert.labels.severity).toBe("critical");
                expect(alert.annotations.runbook_url).toMatch(/#metrics-missing$/);
            }
            // By now the window and the `for` have passed since the stop: a down target's `up` is still written (0).
            const held = await absentHeld();
            expect(held.map((a) => a.missing).sort(), JSON.stringify(held)).toEqual(["certificate-probe", "data-disk"]);
            expect(held.every((a) => a.state === "firing")).toBe(true);
            expect(await prometheus!.query(`up{job="${SCRAPE_JOBS.node}"} == 0`)).toHaveLength(1);
        },
        ABSENCE_FIRES_MS * 2 + 120_000,
    );
});
