/**
 * The front's read-only window as both placements' maintenance scripts open it
 * (components/upkeep/sh/front-window.sh), run under sh: the marker exists before the settle wait and the
 * window's work, and goes when the window closes, when the work fails and when the script is
 * signalled. `sleep` and the work are stand-ins that record whether the marker exists.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { FRONT_SETTLE_SECONDS } from "../../components/upkeep/frontWindow";

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
    writeFileSync(path.join(dir, "bin", "sleep"), recorder("sleep", "exit 0"), { mode: 0o755 });
    writeFileSync(path.join(dir, "bin", "work"), recorder("work", 'exit "${WORK_STATUS:-0}"'), { mode: 0o755 });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** `body` after the fragment, under `sh -c` with the stand-ins first on PATH. */
function script(body: string): string {
    return [`FRONT_SETTLE_SECONDS=${FRONT_SETTLE_SECONDS}`, "set -eu", `. '${FRAGMENT}'`, `marker='${marker}'`, body].join("\n");
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
