/**
 * The front's read-only window as both placements' upkeep scripts open it
 * (components/upkeep/sh/front-window.sh), run under sh: the marker exists before the settle wait and the
 * window's work, and goes when the window closes, when the work fails and when the script is
 * signalled; an upload that goes on streaming holds the window back for FRONT_DRAIN_SECONDS at most, then
 * is cut (or left, for a backup). `sleep` and the work are stand-ins that record whether the marker
 * exists; `sleep` also writes to the files a test names in TRICKLE, as a client streaming into them would.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { FRONT_DRAIN_SECONDS, FRONT_SETTLE_SECONDS } from "../../components/upkeep/frontWindow";

const FRAGMENT = path.join(__dirname, "../../components/upkeep/sh/front-window.sh");
let dir: string;
let marker: string;
let seen: string;

beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "dso-front-window-"));
    marker = path.join(dir, "run/read-only");
    seen = path.join(dir, "seen");
    mkdirSync(path.join(dir, "bin"));
    const recorder = (name: string, then: string) =>
        `#!/bin/sh\nif [ -e "${marker}" ]; then echo "marker ${name} $*" >> "${seen}"; else echo "no marker ${name} $*" >> "${seen}"; fi\n${then}\n`;
    // A write a clock tick after the marker was touched, so that `find -newer` sees it.
    const trickle = 'for f in ${TRICKLE:-}; do /bin/sleep 0.02; if [ -d "$(dirname "$f")" ]; then echo x >> "$f"; fi; done\nexit 0';
    writeFileSync(path.join(dir, "bin", "sleep"), recorder("sleep", trickle), { mode: 0o755 });
    writeFileSync(path.join(dir, "bin", "work"), recorder("work", 'exit "${WORK_STATUS:-0}"'), { mode: 0o755 });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** `body` after the fragment, under `sh -c` with the stand-ins first on PATH. */
function script(body: string): string {
    return [
        `FRONT_SETTLE_SECONDS=${FRONT_SETTLE_SECONDS}`,
        `FRONT_DRAIN_SECONDS=${FRONT_DRAIN_SECONDS}`,
        "set -eu",
        `. '${FRAGMENT}'`,
        `marker='${marker}'`,
        body,
    ].join("\n");
}
const env = (extra: Record<string, string> = {}) => ({ PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`, ...extra });
const run = (body: string, extra: Record<string, string> = {}) =>
    spawnSync("/bin/sh", ["-c", script(body)], { env: env(extra), encoding: "utf8" });
const calls = () =>
    readFileSync(seen, "utf8")
        .trim()
        .split("\n")
        .map((line) => line.trimEnd());

test("the marker exists before the settle wait and the work, and is gone once the window closes", () => {
    const result = run('open_marker_window "$marker"\nwork\nclose_marker_window\nwork after');
    expect(result.status).toBe(0);
    expect(calls()).toEqual([`marker sleep ${FRONT_SETTLE_SECONDS}`, "marker work", "no marker work after"]);
    expect(existsSync(marker)).toBe(false);
});

test("a failed step inside the window removes the marker and fails with its status", () => {
    const result = run('open_marker_window "$marker"\nwork\nclose_marker_window', { WORK_STATUS: "3" });
    expect(result.status).toBe(3);
    expect(calls()).toEqual([`marker sleep ${FRONT_SETTLE_SECONDS}`, "marker work"]);
    expect(existsSync(marker)).toBe(false);
});

test("a signal during the window ends the script and removes the marker", async () => {
    const ready = path.join(dir, "ready");
    const child = spawn("/bin/sh", ["-c", script(`open_marker_window "$marker"\n: > '${ready}'\nwhile :; do /bin/sleep 0.1; done`)], {
        env: env(),
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (!existsSync(ready)) {
        if (Date.now() > deadline) throw new Error("the window did not open");
        await new Promise((r) => setTimeout(r, 20));
    }
    expect(existsSync(marker)).toBe(true);
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(existsSync(marker)).toBe(false);
});

test("open_front_window alone leaves closing to its caller (the host's GC, whose restore removes the marker)", () => {
    const result = run('open_front_window "$marker"\nwork');
    expect(result.status).toBe(0);
    expect(calls()).toEqual([`marker sleep ${FRONT_SETTLE_SECONDS}`, "marker work"]);
    expect(existsSync(marker)).toBe(true);
});

describe("an upload still streaming when the drain ends", () => {
    const storage = () => path.join(dir, "storage/docker/registry/v2/repositories/team/app/_uploads");
    const settles = FRONT_DRAIN_SECONDS / FRONT_SETTLE_SECONDS;
    beforeEach(() => {
        mkdirSync(path.join(storage(), "streaming"), { recursive: true });
        mkdirSync(path.join(storage(), "idle"), { recursive: true });
        writeFileSync(path.join(storage(), "idle/data"), "x");
    });

    test("is cut after FRONT_DRAIN_SECONDS, and the window's work begins", () => {
        const streaming = path.join(storage(), "streaming/data");
        const result = run(`open_front_window "$marker" '${path.join(dir, "storage")}'\nwork`, { TRICKLE: streaming });
        expect(result.status, result.stderr).toBe(0);
        expect(result.stdout).toContain(`upload streaming still streaming after ${FRONT_DRAIN_SECONDS} s: cut`);
        expect(existsSync(path.join(storage(), "streaming"))).toBe(false);
        expect(calls().filter((c) => c.startsWith("marker sleep"))).toHaveLength(settles + 1);
        expect(calls().at(-1)).toBe("marker work");
    });

    test("with the storage quiet, every upload session left is cut before the work (a request paused in its body cannot commit inside the window)", () => {
        const result = run(`open_front_window "$marker" '${path.join(dir, "storage")}'\nwork`);
        expect(result.status, result.stderr).toBe(0);
        expect(result.stdout).toContain("upload idle open when the window's work begins: cut");
        expect(result.stdout).toContain("upload streaming open when the window's work begins: cut");
        expect(existsSync(path.join(storage(), "idle"))).toBe(false);
        expect(existsSync(path.join(storage(), "streaming"))).toBe(false);
        expect(calls().filter((c) => c.startsWith("marker sleep"))).toHaveLength(1);
        expect(calls().at(-1)).toBe("marker work");
    });

    test("a backup's window (FRONT_LATE_UPLOADS=leave) leaves the sessions of a quiet storage as they are", () => {
        const result = run(`FRONT_LATE_UPLOADS=leave\nopen_front_window "$marker" '${path.join(dir, "storage")}'\nwork`);
        expect(result.status, result.stderr).toBe(0);
        expect(existsSync(path.join(storage(), "idle/data"))).toBe(true);
        expect(calls().at(-1)).toBe("marker work");
    });

    test("is left as it is by a backup's window (FRONT_LATE_UPLOADS=leave), which begins its work then", () => {
        const streaming = path.join(storage(), "streaming/data");
        const result = run(`FRONT_LATE_UPLOADS=leave\nopen_front_window "$marker" '${path.join(dir, "storage")}'\nwork`, {
            TRICKLE: streaming,
        });
        expect(result.status, result.stderr).toBe(0);
        expect(result.stdout).toContain("left as it is");
        expect(existsSync(streaming)).toBe(true);
        expect(calls().filter((c) => c.startsWith("marker sleep"))).toHaveLength(settles);
        expect(calls().at(-1)).toBe("marker work");
    });

    test("a write that is no upload and still goes on then makes the window give up", () => {
        const other = path.join(dir, "storage/docker/registry/v2/repositories/team/app/_manifests/tags/1/current/link");
        mkdirSync(path.dirname(other), { recursive: true });
        const result = run(`open_front_window "$marker" '${path.join(dir, "storage")}'\nwork`, { TRICKLE: other });
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`writes still in flight after ${FRONT_DRAIN_SECONDS} s`);
        expect(calls()).not.toContain("marker work");
    });
});
