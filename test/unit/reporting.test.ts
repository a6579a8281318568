/**
 * The upkeep jobs on the external host report their outcome (components/upkeep/reporting.ts): the
 * rendered garbage-collection script, with monitoring on, runs itself again through the rendered
 * reporter, which leaves dso_registry_gc.prom for node_exporter: success, last success (kept across a
 * failed run), duration, what the data directory lost. Run under sh with `docker`, `curl`, `flock`,
 * `sleep` and dso-registry-verify stand-ins, with $DSO_ROOT as the host's root.
 * Covers: components/upkeep/reporting.ts, components/externalHost/scripts.ts, components/externalHost/hostMonitoring.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { renderOverlapMatchers } from "../../components/accessPolicy/usersFile";
import { hostReporting, monitoringPaths, reporterScript } from "../../components/externalHost/hostMonitoring";
import { type ContainerSpec, defaultHostLayout, gcScript, hostPaths, statusScript } from "../../components/externalHost/scripts";

const layout = defaultHostLayout("/srv/data/registry");
const spec: ContainerSpec = { name: "dso-registry", image: "registry:2.8.3", hostPort: 5000, layout };
const paths = monitoringPaths(layout);
let root: string;

function place(file: string, text: string): void {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text, { mode: 0o755 });
}

beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "dso-report-"));
    mkdirSync(path.join(root, layout.dataDir, "docker/registry/v2/repositories"), { recursive: true });
    // Something for the "collection" to free: the docker stand-in removes it on `exec`. Its `inspect`
    // finds the stack's own containers, labelled dso-registry.spec.
    writeFileSync(path.join(root, layout.dataDir, "garbage"), Buffer.alloc(64 * 1024));
    place(
        "/bin/docker",
        '#!/bin/sh\nif [ "$1" = exec ]; then [ -e "$DSO_ROOT/exec-fails" ] && exit 1; rm -f "$DSO_ROOT/srv/data/registry/garbage"; fi\nif [ "$1" = inspect ]; then case "$*" in *Labels*) echo spec-1 ;; esac; fi\nexit 0\n',
    );
    for (const name of ["curl", "flock", "sleep"]) place(`/bin/${name}`, "#!/bin/sh\nexit 0\n");
    place(hostPaths(layout).verifyScript, "#!/bin/sh\nexit 0\n");
    place(paths.reporter, reporterScript());
    place(hostPaths(layout).gcScript, gcScript(spec, "spec-1", false, undefined, hostReporting(layout)));
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

function runGc() {
    const env = { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
    return spawnSync("/bin/sh", [path.join(root, hostPaths(layout).gcScript)], { env, encoding: "utf8" });
}

const textfile = () => readFileSync(path.join(root, paths.textfileDir, "dso_registry_gc.prom"), "utf8");
const value = (series: string) => new RegExp(`^${series}\\{task="gc"\\} (\\d+)$`, "m").exec(textfile())?.[1];

test("a garbage collection run by hand leaves its outcome for node_exporter, moved into place whole", () => {
    const result = runGc();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("gc succeeded");
    expect(value("dso_registry_upkeep_success")).toBe("1");
    expect(Number(value("dso_registry_upkeep_last_success_timestamp_seconds"))).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(Number(value("dso_registry_upkeep_bytes_freed"))).toBeGreaterThanOrEqual(64 * 1024);
    // No temporary file is left beside it for node_exporter to read.
    expect(readdirSync(path.join(root, paths.textfileDir))).toEqual(["dso_registry_gc.prom"]);
});

test("a failed collection reports failure, keeps the last success and exits non-zero", () => {
    expect(runGc().status).toBe(0);
    const lastSuccess = value("dso_registry_upkeep_last_success_timestamp_seconds");
    writeFileSync(path.join(root, "exec-fails"), "");
    const result = runGc();
    expect(result.status).not.toBe(0);
    expect(value("dso_registry_upkeep_success")).toBe("0");
    expect(value("dso_registry_upkeep_last_success_timestamp_seconds")).toBe(lastSuccess);
});

test("without monitoring the script runs as before and leaves no outcome", () => {
    place(hostPaths(layout).gcScript, gcScript(spec, "spec-1", false));
    expect(runGc().status).toBe(0);
    expect(existsSync(path.join(root, paths.textfileDir))).toBe(false);
});

test("dso-registry-status shows each job's last run with its result, and the ones that never ran", () => {
    expect(runGc().status).toBe(0);
    writeFileSync(path.join(root, "exec-fails"), "");
    expect(runGc().status).not.toBe(0);
    place("/bin/systemctl", "#!/bin/sh\necho caddy.service active\n");
    // Nothing listens on this port: the status says it could not read the certificate.
    const status = statusScript(spec, { host: "registry.example.test", port: 1, textfileDir: paths.textfileDir });
    const env = { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
    const result = spawnSync("/bin/sh", ["-c", status], { env, encoding: "utf8" });
    expect(result.stdout).toMatch(/^gc: FAILED at \d{4}-\d\d-\d\d \d\d:\d\d UTC in \d+ s; last success \d{4}-\d\d-\d\d \d\d:\d\d UTC$/m);
    expect(result.stdout).toContain("backup: never ran");
    expect(result.stdout).toContain("could not read the certificate served on 127.0.0.1:1");
    expect(result.stdout).toContain("== free disk");
});

test("the status says when the generated passwords are due for rotation, that they are overdue, or that only the counter rotates them", () => {
    place("/bin/systemctl", "#!/bin/sh\necho caddy.service active\n");
    const env = { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
    const run = (passwordRotation?: { everyDays: number; due: number }) =>
        spawnSync(
            "/bin/sh",
            [
                "-c",
                statusScript(spec, {
                    host: "registry.example.test",
                    port: 1,
                    textfileDir: "",
                    ...(passwordRotation ? { passwordRotation } : {}),
                }),
            ],
            { env, encoding: "utf8" },
        ).stdout;
    const now = Math.floor(Date.now() / 1000);
    const soon = now + 10 * 86400 + 3600;
    expect(run({ everyDays: 90, due: soon })).toContain(
        `rotated every 90 days: the next rotation is due ${new Date(soon * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC (10 days left)`,
    );
    expect(run({ everyDays: 90, due: now - 86400 })).toMatch(
        /^OVERDUE: the generated passwords are older than 90 days since .* UTC; run pulumi up to rotate them$/m,
    );
    expect(run()).toContain("rotated by hand only (containerRegistry.rotation)");
    expect(run()).not.toContain("overlap:");

    // The front's overlap file, as a placement writes it after a rotation: one account inside its overlap, one past it.
    const previous = (until: number) => ({ bcryptHash: `$2b$10$${"a".repeat(53)}`, prefix: "x", until });
    place(
        hostPaths(layout).overlapMatchers,
        renderOverlapMatchers([
            { username: "ci", previous: previous(now + 5 * 3600 + 600) },
            { username: "team-a-ci", previous: previous(now - 60) },
            { username: "flux" },
        ]),
    );
    const shown = run();
    expect(shown).toMatch(/^overlap: the previous password of ci keeps working until .* UTC \(5 hours left\); pipelines still using it/m);
    expect(shown).toMatch(/^overlap: the previous password of team-a-ci stopped working at .* UTC$/m);
    expect(shown).not.toContain("flux");
});
