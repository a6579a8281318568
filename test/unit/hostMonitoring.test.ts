/**
 * Monitoring on the external host (components/externalHost/hostMonitoring.ts): node_exporter is told to
 * listen on loopback before anything else, run under sh with stand-ins, and a second run changes nothing.
 * The upkeep jobs' reports node_exporter reads: reporting.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeExporterScript } from "../../components/externalHost/hostMonitoring";

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
