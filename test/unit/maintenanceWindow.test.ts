/**
 * The external host's read-only window tells Caddy it is open: garbage collection creates the marker
 * the Caddyfile's `@maintenance` matcher looks for before the writable registry stops, and removes it
 * only once the writable registry runs again, also when the job fails; the backup's window is the
 * marker alone, around its second pass, and never touches the registry container. Run under sh with
 * `docker`, `restic`, `curl` (Distribution answering at once) and dso-registry-verify stand-ins that
 * record, at each call, whether the marker exists, and `flock` and `sleep` stand-ins that return at
 * once: the lock and the settle wait are not what these tests are about, and the run needs no program
 * beyond sh's standard tools.
 * Covers: components/externalHost/scripts.ts, components/externalHost/backupScripts.ts, components/externalHost/caddySite.ts (`caddySitePolicy`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { backupScript } from "../../components/externalHost/backupScripts";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { type ContainerSpec, defaultHostLayout, gcScript, hostPaths } from "../../components/externalHost/scripts";

const layout = defaultHostLayout("/srv/data/registry");
const spec: ContainerSpec = { name: "dso-registry", image: "registry:2.8.3", layout };
const marker = hostPaths(layout).readOnlyMarker;
let root: string;

/** An executable stand-in at `file` whose `body` knows, as $m, whether the marker exists. */
function standIn(file: string, ...body: string[]): void {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, ["#!/bin/sh", `if [ -e "$DSO_ROOT${marker}" ]; then m=marker; else m=no-marker; fi`, ...body, ""].join("\n"), {
        mode: 0o755,
    });
}

beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "dso-window-"));
    const bin = (name: string) => path.join(root, "bin", name);
    // A registry something was pushed to: Distribution's collector has repositories to walk.
    mkdirSync(path.join(root, layout.dataDir, "docker/registry/v2/repositories"), { recursive: true });
    // Each call is logged with "marker" or "no-marker"; `docker exec` fails when asked to.
    standIn(bin("docker"), 'echo "$1 $m" >> "$DSO_ROOT/calls"', '[ "$1" = exec ] && [ -e "$DSO_ROOT/exec-fails" ] && exit 1', "exit 0");
    standIn(
        bin("restic"),
        "for a; do case $a in backup|forget|init|cat) sub=$a; break ;; esac; done",
        'echo "restic-$sub $m" >> "$DSO_ROOT/calls"',
        '[ "$sub" = backup ] && [ "$m" = marker ] && [ -e "$DSO_ROOT/backup-fails" ] && exit 1',
        'if [ "$sub" = backup ]; then echo "snapshot 0123abcd saved"; fi',
        "exit 0",
    );
    // The writable registry's wait for Distribution: answered at the first try.
    standIn(bin("curl"), 'echo "curl $m" >> "$DSO_ROOT/calls"');
    standIn(bin("flock"));
    standIn(bin("sleep"));
    standIn(path.join(root, hostPaths(layout).verifyScript), 'echo "verify $m" >> "$DSO_ROOT/calls"');
});

afterEach(() => {
    rmSync(root, { recursive: true, force: true });
});

function runScript(script: string) {
    const env = { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
    const result = spawnSync("/bin/sh", ["-c", script], { env, encoding: "utf8" });
    return { code: result.status, calls: readFileSync(path.join(root, "calls"), "utf8").trim().split("\n") };
}

test("garbage collection: the marker exists from before the writable registry stops until it runs again", () => {
    const { code, calls } = runScript(gcScript(spec, "spec-1", false));
    expect(code).toBe(0);
    expect(calls).toEqual([
        "stop marker",
        "rm marker",
        "run marker",
        "exec marker",
        "stop marker",
        "rm marker",
        "run marker",
        "curl marker",
        "verify no-marker",
    ]);
    expect(existsSync(path.join(root, marker))).toBe(false);
});

const backup = () =>
    backupScript(spec, { kind: "sftp", host: "backup-01", port: 22, user: "b", path: "/r", hostKey: "ssh-ed25519 AAAA" }, 2);

test("backup: the marker exists only around the second pass, and the registry container is never stopped or replaced", () => {
    const { code, calls } = runScript(backup());
    expect(code).toBe(0);
    expect(calls).toEqual([
        "restic-cat no-marker",
        "restic-backup no-marker",
        "restic-backup marker",
        "restic-forget no-marker",
        "restic-forget no-marker",
    ]);
    expect(existsSync(path.join(root, marker))).toBe(false);
});

test("a failed second pass of the backup removes the marker too", () => {
    writeFileSync(path.join(root, "backup-fails"), "");
    const { code, calls } = runScript(backup());
    expect(code).not.toBe(0);
    expect(calls).toEqual(["restic-cat no-marker", "restic-backup no-marker", "restic-backup marker"]);
    expect(existsSync(path.join(root, marker))).toBe(false);
});

test("a failed garbage collection removes the marker too, after the writable registry is back", () => {
    writeFileSync(path.join(root, "exec-fails"), "");
    const { code, calls } = runScript(gcScript(spec, "spec-1", false));
    expect(code).not.toBe(0);
    expect(calls.slice(-2)).toEqual(["run marker", "curl marker"]);
    expect(existsSync(path.join(root, marker))).toBe(false);
});

test("garbage collection on a registry nobody has pushed to yet collects nothing and succeeds", () => {
    rmSync(path.join(root, layout.dataDir, "docker"), { recursive: true });
    writeFileSync(path.join(root, "exec-fails"), "");
    const env = { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
    const result = spawnSync("/bin/sh", ["-c", gcScript(spec, "spec-1", false)], { env, encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("the registry holds no repository yet: nothing to collect");
    expect(readFileSync(path.join(root, "calls"), "utf8")).not.toContain("exec");
});

test("the host's Caddyfile watches the marker the scripts write", () => {
    const policy = caddySitePolicy({
        layout,
        registryHost: "registry.example.com",
        port: 443,
        tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
        requiresAuthForPull: false,
        allowedNetworks: [],
        deletesEnabled: false,
        blobFiles: true,
        upstream: "127.0.0.1:5000",
    });
    expect(policy.readOnlySignals).toEqual([{ kind: "file", path: marker }]);
    expect(execFileSync("/bin/sh", ["-n", "-c", gcScript(spec, "spec-1", true)]).toString()).toBe("");
});
