/**
 * The pull history's shell (components/upkeep/sh/pull-history.sh): which access-log entries count as pulls,
 * and how they merge into the history, with busybox's applets alone (as a registry image has them) and with
 * the system's sh and awk (as the external host runs it). The entries are the front's JSON format, built
 * here; test/integration/retention.pulls.test.ts reads the real front's log.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = path.join(__dirname, "../../components/upkeep/sh/pull-history.sh");
const DAY = 86_400;
const NOW = Math.floor(Date.now() / 1000);
const DIGEST = `sha256:${"a".repeat(64)}`;
const OTHER = `sha256:${"b".repeat(64)}`;

/** One access-log entry as the front writes it (Caddy's field names). */
function entry(o: { ts?: number; method?: string; uri: string; status?: number; digest?: string; agent?: string }): string {
    return JSON.stringify({
        level: "info",
        ts: o.ts ?? NOW - 10 + 0.123456,
        logger: "http.log.access.log0",
        msg: "handled request",
        request: {
            remote_ip: "127.0.0.1",
            proto: "HTTP/1.1",
            method: o.method ?? "GET",
            host: "registry.example.test",
            uri: o.uri,
            headers: { "User-Agent": [o.agent ?? "containerd/v2.1.0"], "Docker-Content-Digest": [OTHER] },
        },
        bytes_read: 0,
        user_id: "",
        duration: 0.001,
        size: 500,
        status: o.status ?? 200,
        resp_headers: {
            "Content-Type": ["application/vnd.oci.image.manifest.v1+json"],
            ...(o.digest ? { "Docker-Content-Digest": [o.digest] } : {}),
        },
    });
}

const dirs: string[] = [];
afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
    const d = mkdtempSync(path.join(tmpdir(), "dso-pull-history-"));
    dirs.push(d);
    return d;
}

let busybox: string | undefined;
function busyboxDir(): string {
    if (!busybox) {
        busybox = path.join(scratch(), "bin");
        mkdirSync(busybox);
        const r = spawnSync("busybox", ["--install", "-s", busybox]);
        if (r.status !== 0) throw new Error(`busybox --install: ${r.stderr}`);
    }
    return busybox;
}

const SHELLS = [
    { name: "busybox", shell: () => path.join(busyboxDir(), "sh"), env: () => ({ PATH: busyboxDir() }) },
    { name: "the system's sh and awk", shell: () => "/bin/sh", env: () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" }) },
];

describe.each(SHELLS)("pull-history.sh with $name", ({ shell, env }) => {
    const sh = (script: string, input: string) => {
        const r = spawnSync(shell(), ["-c", `. "$1"\n${script}`, "sh", SCRIPT], { input, env: env(), encoding: "utf8" });
        if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
        return r.stdout;
    };

    it("counts a successful GET or HEAD of a manifest, by tag or digest, with the digest it was answered with", () => {
        const lines = [
            entry({ uri: "/v2/team/app/manifests/1.0", digest: DIGEST, ts: NOW - 100.5 }),
            entry({ method: "HEAD", uri: "/v2/team/app/manifests/1.1?ns=registry.example.test", digest: OTHER, ts: NOW - 50 }),
            entry({ uri: `/v2/team/app/manifests/${DIGEST}`, digest: DIGEST, ts: NOW - 40 }),
            // Not pulls: a miss, an upload, a blob, the ping, a browser, a malformed line.
            entry({ uri: "/v2/team/app/manifests/2.0", status: 404, ts: NOW - 30 }),
            entry({ method: "PUT", uri: "/v2/team/app/manifests/3.0", status: 201, digest: DIGEST, ts: NOW - 30 }),
            entry({ uri: `/v2/team/app/blobs/${DIGEST}`, ts: NOW - 30 }),
            entry({ uri: "/v2/", status: 401, ts: NOW - 1000 }),
            entry({ uri: "/v2/team/app/manifests/4.0", agent: "Mozilla/5.0 (X11; Linux x86_64)", digest: DIGEST, ts: NOW - 30 }),
            '{"ts": not json',
        ];
        const out = sh("pulls_from_log", `${lines.join("\n")}\n`)
            .trim()
            .split("\n");
        expect(out).toEqual([
            `team/app 1.0 ${NOW - 101}`,
            `team/app ${DIGEST} ${NOW - 101}`,
            `team/app 1.1 ${NOW - 50}`,
            `team/app ${OTHER} ${NOW - 50}`,
            `team/app ${DIGEST} ${NOW - 40}`,
            `seen ${NOW - 1000}`,
        ]);
    });

    it("merges by the latest time (twice the same entries change nothing), drops what is older than the window, and keeps its since", () => {
        const dir = scratch();
        const history = path.join(dir, "pulls", "history");
        const log = [
            entry({ uri: "/v2/team/app/manifests/old", ts: NOW - 40 * DAY }),
            entry({ uri: "/v2/team/app/manifests/1.0", ts: NOW - 10 * DAY }),
            entry({ uri: "/v2/team/app/manifests/1.0", ts: NOW - 2 * DAY }),
        ].join("\n");
        sh(`pulls_from_log | merge_pulls ${history} 30 ${NOW}`, `${log}\n`);
        const first = readFileSync(history, "utf8");
        expect(first.split("\n")[0]).toBe(`since ${NOW - 40 * DAY}`);
        expect(first).toContain(`team/app 1.0 ${NOW - 2 * DAY}\n`);
        expect(first).not.toContain("team/app old");
        sh(`pulls_from_log | merge_pulls ${history} 30 ${NOW}`, `${log}\n`);
        expect(readFileSync(history, "utf8")).toBe(first);
        // A later run with newer entries only: the since stays.
        sh(`pulls_from_log | merge_pulls ${history} 30 ${NOW}`, `${entry({ uri: "/v2/team/app/manifests/1.2", ts: NOW - 5 })}\n`);
        const later = readFileSync(history, "utf8");
        expect(later.split("\n")[0]).toBe(`since ${NOW - 40 * DAY}`);
        expect(later).toContain(`team/app 1.2 ${NOW - 5}\n`);
        expect(later).toContain(`team/app 1.0 ${NOW - 2 * DAY}\n`);
    });

    it("starts a history with nothing read at the time of the run", () => {
        const history = path.join(scratch(), "history");
        sh(`pulls_from_log | merge_pulls ${history} 30 ${NOW}`, "");
        expect(readFileSync(history, "utf8")).toBe(`since ${NOW}\n`);
    });
});
