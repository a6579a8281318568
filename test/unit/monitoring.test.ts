/**
 * The alert rules' links and placements (components/monitoring/alertRules.ts), and what monitoring
 * adds to the rendered files: every runbook anchor is a heading of docs/runbooks.md, the metrics
 * listeners are loopback-only on the host, and the access log drops credentials.
 * Covers: components/monitoring/alertRules.ts, components/monitoring/jobMetrics.ts, components/externalHost/hostMonitoring.ts, components/accessPolicy/caddyfile.ts (the access log, the metrics listeners).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROMETHEUS_TEXT_CONTENT_TYPE, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { nodeExporterScript } from "../../components/externalHost/hostMonitoring";
import { type AlertRulesOptions, alertRules, RUNBOOK_ANCHORS } from "../../components/monitoring/alertRules";
import { renderHostScrapeConfig } from "../../components/monitoring/jobMetrics";
import { BASE_POLICY } from "../support/accessPolicy";
import { CLUSTER_PLACEMENT, HOST_PLACEMENT } from "../support/rulesPlacements";

const RUNBOOKS = path.resolve(__dirname, "../../docs/runbooks.md");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
    heading
        .toLowerCase()
        .replace(/[^\w\- ]/g, "")
        .replace(/ /g, "-");

const headings = readFileSync(RUNBOOKS, "utf8")
    .split("\n")
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => anchorOf(line.replace(/^#+ /, "")));

const PLACEMENTS: Record<string, AlertRulesOptions> = {
    "external host": { placement: HOST_PLACEMENT, runbookBaseUrl: "docs/runbooks.md" },
    "in-cluster": { placement: CLUSTER_PLACEMENT, runbookBaseUrl: "docs/runbooks.md" },
};

describe("alert rules", () => {
    it.each(Object.values(RUNBOOK_ANCHORS))("runbook anchor #%s is a heading of docs/runbooks.md", (anchor) => {
        expect(headings).toContain(anchor);
    });

    it.each(Object.entries(PLACEMENTS))("every alert of the %s links to a runbook section that exists", (_name, options) => {
        for (const rule of alertRules(options)) {
            const [base, anchor] = rule.annotations.runbook_url.split("#");
            expect(base).toBe("docs/runbooks.md");
            expect(headings, rule.alert).toContain(anchor);
        }
    });

    it("renders the same alerts for both placements, but for the ones a cluster reads from its GC Job", () => {
        const host = alertRules(PLACEMENTS["external host"]!).map((r) => r.alert);
        const cluster = alertRules(PLACEMENTS["in-cluster"]!).map((r) => r.alert);
        expect(host.filter((a) => !cluster.includes(a))).toEqual(["DsoRegistryVerifyFailed"]);
        expect(cluster.filter((a) => !host.includes(a))).toEqual([]);
    });

    it("leaves out the backup and cache alerts where nothing is backed up or cached", () => {
        const alerts = alertRules({ placement: { kind: "external-host", backup: false, caches: false }, runbookBaseUrl: "x" }).map(
            (r) => r.alert,
        );
        expect(alerts).not.toContain("DsoRegistryBackupStale");
        expect(alerts).not.toContain("DsoRegistryCacheOverSize");
    });
});

describe("the host's scrape file", () => {
    it("names only loopback targets", () => {
        const targets = [...renderHostScrapeConfig().matchAll(/- (\S+:\d+)/g)].map((m) => m[1]);
        expect(targets).toEqual(["127.0.0.1:5091", "127.0.0.1:5092", "127.0.0.1:9100"]);
    });
});

describe("the Caddyfile with monitoring", () => {
    const caddyfile = renderCaddyfile({
        ...BASE_POLICY,
        metrics: { port: 5092, bindAddress: "127.0.0.1" },
        accessLog: { kind: "file", path: "/var/log/caddy/access.log" },
    });

    it("serves Caddy's metrics on a loopback listener of their own, and only /metrics", () => {
        expect(caddyfile).toContain("http://:5092 {\n\tbind 127.0.0.1\n\troute {\n\t\tmetrics /metrics\n\t\trespond 404\n\t}\n}");
        expect(caddyfile).toMatch(/\n\t\tmetrics\n\t\}\n\}\n/);
    });

    it("logs JSON without Authorization's value, cookies or Set-Cookie, rotated", () => {
        for (const field of ["request>headers>Cookie", "resp_headers>Set-Cookie"]) {
            expect(caddyfile).toContain(`${field} delete`);
        }
        // Only its presence, for the login limit (test/unit/loginLimit.test.ts).
        expect(caddyfile).toContain("request>headers>Authorization replace REDACTED");
        expect(caddyfile).toContain("wrap json");
        expect(caddyfile).toContain("roll_size 100MiB");
    });

    it("serves a textfile at its own path on Caddy's metrics listener, after /metrics and before the 404, as Prometheus's text format", () => {
        const text = renderCaddyfile({
            ...BASE_POLICY,
            metrics: { port: 5092, textfile: { path: "/retention/metrics", file: "/run/counts/dso_registry_retention.prom" } },
        });
        const site = text.slice(text.indexOf("http://:5092 {"));
        expect(site).toContain(
            "\t@textfileWritten {\n\t\tmethod GET HEAD\n\t\tpath /retention/metrics\n\t\tfile {\n\t\t\troot /run/counts\n\t\t\ttry_files /dso_registry_retention.prom\n\t\t}\n\t}",
        );
        const at = (needle: string) => site.indexOf(needle);
        for (const needle of [
            "\t\theader @textfile Content-Type",
            "\t\thandle @textfileWritten {",
            "\t\t\trewrite * /dso_registry_retention.prom",
            "\t\trespond @textfile 200",
        ]) {
            expect(at(needle)).toBeGreaterThan(at("\t\tmetrics /metrics"));
            expect(at(needle)).toBeLessThan(at("\t\trespond 404"));
        }
        expect(site).toContain(`Content-Type "${PROMETHEUS_TEXT_CONTENT_TYPE}"`);
    });

    it("has no textfile route without a textfile", () => {
        expect(caddyfile).not.toMatch(/textfile|file_server/);
    });

    it("has no metrics listener or access log unless asked", () => {
        const plain = renderCaddyfile(BASE_POLICY);
        expect(plain).not.toContain("metrics");
        expect(plain).not.toContain("log {");
    });
});

describe("node_exporter on the host", () => {
    it("is told to listen on loopback before anything else, and a second run changes nothing", () => {
        const root = mkdtempSync(path.join(tmpdir(), "dso-node-exporter-"));
        try {
            // Stand-ins: the exporter is installed, systemd is not running here.
            const bin = path.join(root, "bin");
            mkdirSync(bin);
            writeFileSync(path.join(bin, "prometheus-node-exporter"), "#!/bin/sh\n", { mode: 0o755 });
            const env = { ...process.env, DSO_ROOT: root, PATH: `${bin}:${process.env.PATH}` };
            const first = spawnSync("/bin/sh", ["-c", nodeExporterScript(false)], { env, encoding: "utf8" });
            expect(first.status, first.stderr).toBe(0);
            expect(first.stdout).toContain("changed node exporter: listening on 127.0.0.1:9100");
            expect(readFileSync(path.join(root, "etc/default/prometheus-node-exporter"), "utf8")).toContain(
                'ARGS="--web.listen-address=127.0.0.1:9100 --collector.textfile.directory=/var/lib/prometheus/node-exporter"',
            );
            const second = spawnSync("/bin/sh", ["-c", nodeExporterScript(false)], { env, encoding: "utf8" });
            expect(second.stdout.trim()).toBe("unchanged node exporter");
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
