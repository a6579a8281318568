/**
 * The kind placement's pull-history harvest (components/kind/sh/pull-harvest.sh) as the program renders it,
 * run with busybox's applets alone (the maintenance container's shell) and a `docker` stand-in that answers
 * `inspect` and `logs --since` from files the test writes: what it reads of the front's log, where it
 * starts the next time, and what it does when the front was replaced between two harvests.
 * test/integration/kindRetention.pulls.test.ts runs it in the real container against a real front.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { type KindLayout, kindPullHarvestScript, MAINTENANCE_PULLS } from "../../components/kind/scripts";

const DAY = 86_400;
const NOW = Math.floor(Date.now() / 1000);
const LAYOUT: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/srv/kind-registry" };
const GC = {
    schedule: "0 3 * * *",
    deleteUntagged: false,
    retention: { mode: "apply" as const, rules: [{ prefix: "team/", keepPulledWithinDays: 30 }], protect: [] },
};

const dirs: string[] = [];
afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A pull of `repo:ref` at `ts` as the front logs it (Caddy's JSON access log). */
function pull(repo: string, ref: string, ts: number): string {
    return JSON.stringify({
        level: "info",
        ts: ts + 0.25,
        logger: "http.log.access.log0",
        msg: "handled request",
        request: { method: "GET", uri: `/v2/${repo}/manifests/${ref}`, headers: { "User-Agent": ["containerd/v2.1.0"] } },
        status: 200,
        resp_headers: {},
    });
}

/** RFC 3339 as `docker inspect` prints `.Created`. */
const rfc3339 = (seconds: number) => `${new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, ".123456789Z")}`;

/**
 * The stand-in: `inspect` prints `<state>/front` ("ID CREATED RUNNING"), or fails when it is missing;
 * `logs [--since=N]` prints the lines of `<state>/log` ("SECONDS JSON") from N on, or fails when
 * `<state>/logs-fail` exists; each call is appended to `<state>/calls`.
 */
const STAND_IN = `#!/bin/sh
echo "$*" >>"$STATE/calls"
case $1 in
inspect) [ -f "$STATE/front" ] || { echo "Error: No such container" >&2; exit 1; }; cat "$STATE/front" ;;
logs)
    [ ! -f "$STATE/logs-fail" ] || { echo "Error response from daemon: configured logging driver does not support reading" >&2; exit 1; }
    since=0
    case $2 in --since=*) since=\${2#--since=} ;; esac
    awk -v since="$since" '$1 + 0 >= since + 0 { sub(/^[0-9]+ /, ""); print }' "$STATE/log" 2>/dev/null
    ;;
*) exit 2 ;;
esac
`;

let root = "";
let state = "";
let bin = "";

beforeEach(() => {
    const scratch = mkdtempSync(path.join(tmpdir(), "dso-kind-harvest-"));
    dirs.push(scratch);
    root = path.join(scratch, "root");
    state = path.join(scratch, "state");
    bin = path.join(scratch, "bin");
    for (const d of [root, state, bin]) mkdirSync(d);
    const install = spawnSync("busybox", ["--install", "-s", bin]);
    if (install.status !== 0) throw new Error(`busybox --install: ${install.stderr}`);
    writeFileSync(path.join(bin, "docker"), STAND_IN, { mode: 0o755 });
});

const historyFile = () => path.join(root, MAINTENANCE_PULLS, "history");
const history = () => readFileSync(historyFile(), "utf8").trim().split("\n");
const harvested = () =>
    readFileSync(path.join(root, MAINTENANCE_PULLS, "harvested"), "utf8")
        .trim()
        .split(" ");
const calls = () => readFileSync(path.join(state, "calls"), "utf8").trim().split("\n");

function front(id: string, created: number, running = true): void {
    writeFileSync(path.join(state, "front"), `${id} ${rfc3339(created)} ${running}\n`);
}

function log(...entries: [string, string, number][]): void {
    writeFileSync(path.join(state, "log"), entries.map(([repo, ref, ts]) => `${ts} ${pull(repo, ref, ts)}\n`).join(""));
}

function harvest(): { status: number | null; stdout: string; stderr: string } {
    const script = kindPullHarvestScript(LAYOUT, GC);
    if (!script) throw new Error("no harvest rendered");
    const file = path.join(state, "pull-harvest.sh");
    writeFileSync(file, script);
    writeFileSync(path.join(state, "calls"), "");
    return spawnSync(path.join(bin, "sh"), [file], { env: { PATH: bin, STATE: state, DSO_ROOT: root }, encoding: "utf8" });
}

describe("the kind pull-history harvest", () => {
    it("is rendered only with a rule that keeps pulled tags", () => {
        expect(kindPullHarvestScript(LAYOUT, undefined)).toBeUndefined();
        expect(
            kindPullHarvestScript(LAYOUT, { ...GC, retention: { ...GC.retention, rules: [{ prefix: "team/", keepNewest: 3 }] } }),
        ).toBeUndefined();
        expect(kindPullHarvestScript(LAYOUT, GC)).toContain("KEEP_DAYS='30'");
    });

    it("reads the whole log of a front it has not read, then only from its last harvest on (less the margin)", () => {
        front("f1", NOW - 5 * DAY);
        log(["team/app", "r1", NOW - 4 * DAY], ["team/app", "r2", NOW - 100]);
        const first = harvest();
        expect(first.status, first.stderr).toBe(0);
        expect(calls()).toContain("logs kind-registry");
        expect(history()).toEqual(
            expect.arrayContaining([`since ${NOW - 4 * DAY}`, `team/app r1 ${NOW - 4 * DAY}`, `team/app r2 ${NOW - 100}`]),
        );
        const [id, until, how] = harvested();
        expect([id, how]).toEqual(["f1", "running"]);
        expect(Number(until)).toBeGreaterThanOrEqual(NOW);

        log(["team/app", "r1", NOW - 4 * DAY], ["team/app", "r2", NOW - 100], ["team/app", "r1", NOW + 1]);
        const second = harvest();
        expect(second.status, second.stderr).toBe(0);
        expect(calls()).toContain(`logs --since=${Number(until) - 300} kind-registry`);
        expect(history().sort()).toEqual([`since ${NOW - 4 * DAY}`, `team/app r1 ${NOW + 1}`, `team/app r2 ${NOW - 100}`].sort());
    });

    it("starts recording again at a new front's start when the old one was replaced after the last harvest", () => {
        front("f1", NOW - 40 * DAY);
        log(["team/app", "r1", NOW - 35 * DAY], ["team/app", "r2", NOW - 3 * DAY]);
        expect(harvest().status).toBe(0);
        expect(history()[0]).toBe(`since ${NOW - 35 * DAY}`);
        // Replaced by hand after that harvest: the pulls it logged in between are gone with it.
        front("f2", NOW + 5);
        log(["team/app", "r3", NOW + 10]);
        const after = harvest();
        expect(after.status, after.stderr).toBe(0);
        expect(after.stderr).toContain("the front was replaced since");
        expect(calls()).toContain("logs kind-registry");
        expect(history()).toEqual(expect.arrayContaining([`since ${NOW + 5}`, `team/app r2 ${NOW - 3 * DAY}`, `team/app r3 ${NOW + 10}`]));
        expect(harvested()[0]).toBe("f2");
    });

    it("keeps its since across a replacement when the old front was read after it had stopped (its log was whole)", () => {
        front("f1", NOW - 40 * DAY, false);
        log(["team/app", "r1", NOW - 35 * DAY]);
        expect(harvest().status).toBe(0);
        expect(harvested()[2]).toBe("stopped");
        front("f2", NOW + 5);
        log(["team/app", "r3", NOW + 10]);
        const after = harvest();
        expect(after.status, after.stderr).toBe(0);
        expect(after.stderr).not.toContain("replaced");
        expect(history()[0]).toBe(`since ${NOW - 35 * DAY}`);
    });

    it("changes nothing when the log cannot be read or there is no front, and says so", () => {
        front("f1", NOW - 5 * DAY);
        log(["team/app", "r1", NOW - 4 * DAY]);
        expect(harvest().status).toBe(0);
        const before = [readFileSync(historyFile(), "utf8"), harvested().join(" ")];
        writeFileSync(path.join(state, "logs-fail"), "");
        const failed = harvest();
        expect(failed.status).toBe(1);
        expect(failed.stderr).toContain("the log of kind-registry cannot be read");
        rmSync(path.join(state, "front"));
        const gone = harvest();
        expect(gone.status).toBe(1);
        expect(gone.stderr).toContain("no front container kind-registry");
        expect([readFileSync(historyFile(), "utf8"), harvested().join(" ")]).toEqual(before);
        expect(existsSync(path.join(root, MAINTENANCE_PULLS, "lock"))).toBe(false);
    });
});
