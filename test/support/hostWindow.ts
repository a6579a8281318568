/**
 * The external host's upkeep scripts run under sh in a private root ($DSO_ROOT), made before each
 * test of the file that asks for it and removed after it: stand-ins for `docker`, `restic`, `curl`
 * (Distribution answering at once) and dso-registry-verify record, at each call, whether the read-only
 * window's marker exists, and `flock` and `sleep` stand-ins return at once: the lock and the settle wait
 * are not what those tests are about, and the run needs no program beyond sh's standard tools.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach } from "vitest";
import { type ContainerSpec, defaultHostLayout, hostPaths } from "../../components/externalHost/scripts";

export const layout = defaultHostLayout("/srv/data/registry");
export const spec: ContainerSpec = { name: "dso-registry", image: "registry:2.8.3", layout };
/** The read-only window's marker, as a path on the host. */
export const marker = hostPaths(layout).readOnlyMarker;

/** An executable stand-in at `file` whose `body` knows, as $m, whether the marker exists. */
function standIn(file: string, ...body: string[]): void {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, ["#!/bin/sh", `if [ -e "$DSO_ROOT${marker}" ]; then m=marker; else m=no-marker; fi`, ...body, ""].join("\n"), {
        mode: 0o755,
    });
}

/**
 * Makes the stand-ins before each test of the calling file and removes them after it. `root()` is the
 * current test's $DSO_ROOT; `runScript` runs a script there and gives its exit code and the calls the
 * stand-ins recorded, each with "marker" or "no-marker".
 */
export function hostWithStandIns() {
    let root = "";
    beforeEach(() => {
        root = mkdtempSync(path.join(tmpdir(), "dso-window-"));
        const bin = (name: string) => path.join(root, "bin", name);
        // A registry something was pushed to: Distribution's collector has repositories to walk.
        mkdirSync(path.join(root, layout.dataDir, "docker/registry/v2/repositories"), { recursive: true });
        // Each call is logged with "marker" or "no-marker"; `docker exec` fails when asked to. `inspect`
        // (not logged) finds the stack's own containers, labelled dso-registry.spec.
        standIn(
            bin("docker"),
            '[ "$1" = inspect ] && { case "$*" in *Labels*) echo spec-1 ;; esac; exit 0; }',
            'echo "$1 $m" >> "$DSO_ROOT/calls"',
            '[ "$1" = exec ] && [ -e "$DSO_ROOT/exec-fails" ] && exit 1',
            "exit 0",
        );
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

    return {
        root: () => root,
        runScript(script: string) {
            const env = { ...process.env, DSO_ROOT: root, PATH: `${path.join(root, "bin")}:${process.env.PATH}` };
            const result = spawnSync("/bin/sh", ["-c", script], { env, encoding: "utf8" });
            return { code: result.status, calls: readFileSync(path.join(root, "calls"), "utf8").trim().split("\n") };
        },
    };
}
