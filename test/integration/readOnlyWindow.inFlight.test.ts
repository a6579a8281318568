/**
 * The read-only window waits for writes that were already past the front (components/upkeep/sh/
 * front-window.sh, sourced by every window of both placements), against real Caddy and real
 * Distribution: a blob upload streaming slowly when the marker appears finishes, and lands whole,
 * before the window's work begins; what comes after it is refused. An upload that trickles past the
 * drain is cut and the window proceeds. Writes without valid push credentials are answered 401 at once,
 * their bodies never read. Both placements' fronts, on the pinned Caddy both run: the external host's
 * (TLS, its marker) and the in-cluster sidecar's (plain HTTP behind the ingress, the GC job's marker).
 * With s3 storage (Distribution 3 on a real S3 API), where there is no folder to watch, the GC job's
 * window waits for the upload requests Distribution is serving: a PUT paused in its body lands before
 * the work begins, or makes the window give up; a session idle between requests gets the 503.
 * Why: docs/decisions/maintenance-window.md, docs/decisions/access-policy.md.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { renderSidecarCaddyfile } from "../../components/inCluster/sidecarFront";
import { FRONT_WINDOW_PARAMS } from "../../components/upkeep/frontWindow";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../support/realRegistry";
import { type S3Server, startS3Server } from "../support/s3Server";
import { run } from "../support/serverProcess";

const FRONT_WINDOW_SH = path.join(__dirname, "../../components/upkeep/sh/front-window.sh");
const LAYER_BYTES = 3 * 2 ** 20;
/** About 10 s for the layer: the window opens 2 s into it. */
const RATE = "300K";

const PLACEMENTS = [
    {
        placement: "external host",
        scheme: "https",
        caddyfileFor: (p: AccessPolicy) => renderCaddyfile(p),
    },
    {
        placement: "in-cluster sidecar",
        scheme: "http",
        caddyfileFor: (p: AccessPolicy) => renderSidecarCaddyfile({ ...p, tls: { kind: "plain-http" } }),
    },
] as const;

/** curl with the push account on stdin and the test CA; prints status, then headers. */
function curlArgs(reg: RealRegistry, extra: readonly string[]): string[] {
    return ["-sS", "--cacert", reg.ca.caCertFile, "-K", "-", "-o", "/dev/null", "-D", "-", ...extra];
}

describe.each(PLACEMENTS)("$placement: the window waits for an upload in flight", ({ scheme, caddyfileFor }) => {
    let reg: RealRegistry;
    let marker: string;
    let base: string;
    let credentials: string;
    beforeAll(async () => {
        const markerDir = path.join(tmpdir(), `window-${randomBytes(4).toString("hex")}`);
        marker = path.join(markerDir, "read-only");
        reg = await startRealRegistry({
            policy: { readOnlySignals: [{ kind: "file", path: marker }] },
            caddyfileFor,
            caddyBinary: pinnedCaddy(),
        });
        base = `${scheme}://${reg.authority}`;
        credentials = `user = "${reg.push.username}:${reg.push.password}"\n`;
    }, 120_000);
    afterAll(async () => {
        run("rm", ["-rf", path.dirname(marker)]);
        await reg?.stop();
    });

    /** Starts an upload session as the push account; returns its location (absolute). */
    function startUpload(repository: string): string {
        const r = run("curl", [...curlArgs(reg, ["-X", "POST", `${base}/v2/${repository}/blobs/uploads/`])], { input: credentials });
        const location = /^location:\s*(\S+)/im.exec(r.stdout)?.[1];
        if (!location) throw new Error(`no upload location: ${r.stdout}\n${r.stderr}`);
        return location.startsWith("http") ? location : `${base}${location}`;
    }

    test("a slow blob PUT started before the marker lands whole before the window's work begins; the next write gets 503", async () => {
        const layer = randomBytes(LAYER_BYTES);
        const digest = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
        const layerFile = path.join(reg.dir, "layer");
        writeFileSync(layerFile, layer);
        const slow = startUpload("team/slow");
        const pending = startUpload("team/pending");
        const sep = slow.includes("?") ? "&" : "?";
        // The monolithic PUT streams for about 10 s.
        const upload: ChildProcess = spawn(
            "curl",
            [...curlArgs(reg, ["--limit-rate", RATE, "-X", "PUT", "-T", layerFile, "-w", "%{http_code}", `${slow}${sep}digest=${digest}`])],
            { stdio: ["pipe", "pipe", "pipe"] },
        );
        upload.stdin?.end(credentials);
        let uploadOut = "";
        upload.stdout?.on("data", (d) => {
            uploadOut += d;
        });
        const uploadDone = new Promise<number>((resolve) => upload.on("exit", () => resolve(Date.now())));
        await new Promise((r) => setTimeout(r, 2000));

        // The window, as every upkeep script opens it, watching the registry's storage.
        const script = [
            `FRONT_SETTLE_SECONDS=${FRONT_WINDOW_PARAMS.FRONT_SETTLE_SECONDS}`,
            `FRONT_DRAIN_SECONDS=${FRONT_WINDOW_PARAMS.FRONT_DRAIN_SECONDS}`,
            `. "${FRONT_WINDOW_SH}"`,
            `open_front_window "$1" "$2"`,
        ].join("\n");
        const window = await new Promise<{ code: number; out: string; began: number }>((resolve) => {
            const child = spawn("sh", ["-c", script, "window", marker, reg.dataDir], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d) => {
                out += d;
            });
            child.stderr.on("data", (d) => {
                out += d;
            });
            child.on("exit", (code) => resolve({ code: code ?? -1, out, began: Date.now() }));
        });
        const finished = await uploadDone;
        expect(window.code, window.out).toBe(0);
        expect(uploadOut).toMatch(/201$/);
        // The upload ended before the window's work began, and its files were all in place by then.
        expect(finished).toBeLessThanOrEqual(window.began);
        const hex = digest.slice("sha256:".length);
        const v2 = path.join(reg.dataDir, "docker/registry/v2");
        for (const file of [
            path.join(v2, "blobs/sha256", hex.slice(0, 2), hex, "data"),
            path.join(v2, "repositories/team/slow/_layers/sha256", hex, "link"),
        ]) {
            expect(statSync(file).mtimeMs).toBeLessThanOrEqual(window.began);
        }
        expect(window.out).toContain("waiting for writes in flight");

        // While the window is open: a PATCH of an upload started before it is refused; a pusher's blob
        // check is refused; a pull of the blob goes on.
        const patch = run("curl", [...curlArgs(reg, ["-X", "PATCH", "--data-binary", "x", pending])], { input: credentials });
        expect(patch.stdout).toMatch(/^HTTP\/\S+ 503/);
        expect(patch.stdout).toMatch(/^retry-after: \d+/im);
        const blobUrl = `${base}/v2/team/slow/blobs/${digest}`;
        const head = run("curl", ["-sS", "--cacert", reg.ca.caCertFile, "-o", "/dev/null", "-w", "%{http_code}", "-I", blobUrl]);
        expect(head.stdout).toBe("503");
        const get = run("curl", ["-sS", "--cacert", reg.ca.caCertFile, "-o", "/dev/null", "-w", "%{http_code}", blobUrl]);
        expect(get.stdout).toBe("200");
    }, 120_000);
    test("an upload that trickles past the drain is cut, the window proceeds, and the client's next request for it finds no session", async () => {
        run("rm", ["-f", marker]);
        const location = startUpload("team/trickle");
        // A chunked PATCH, as docker sends a layer, at 16 KiB/s: a 4 KiB chunk every quarter second.
        const url = new URL(location);
        const socket = await connectTo(reg, scheme);
        socket.on("error", () => undefined);
        socket.write(
            [
                `PATCH ${url.pathname}${url.search} HTTP/1.1`,
                `Host: ${reg.authority}`,
                `Authorization: Basic ${Buffer.from(`${reg.push.username}:${reg.push.password}`).toString("base64")}`,
                "Content-Type: application/octet-stream",
                "Transfer-Encoding: chunked",
                "",
                "",
            ].join("\r\n"),
        );
        const chunks = setInterval(() => socket.write(`1000\r\n${randomBytes(2048).toString("hex")}\r\n`), 250);
        try {
            await new Promise((r) => setTimeout(r, 1000));
            const drain = 2 * FRONT_WINDOW_PARAMS.FRONT_SETTLE_SECONDS;
            const script = [
                `FRONT_SETTLE_SECONDS=${FRONT_WINDOW_PARAMS.FRONT_SETTLE_SECONDS}`,
                `FRONT_DRAIN_SECONDS=${drain}`,
                `. "${FRONT_WINDOW_SH}"`,
                `open_front_window "$1" "$2"`,
            ].join("\n");
            // Asynchronously: the client goes on sending while the window waits.
            const window = await new Promise<{ code: number; out: string }>((resolve) => {
                const child = spawn("sh", ["-c", script, "window", marker, reg.dataDir], { stdio: ["ignore", "pipe", "pipe"] });
                let out = "";
                child.stdout.on("data", (d) => {
                    out += d;
                });
                child.stderr.on("data", (d) => {
                    out += d;
                });
                child.on("exit", (code) => resolve({ code: code ?? -1, out }));
            });
            expect(window.code, window.out).toBe(0);
            expect(window.out).toMatch(new RegExp(`still streaming after ${drain} s: cut`));
            expect(socket.destroyed).toBe(false);
            run("rm", ["-f", marker]);
            // The client's next request for that session, after the window: the session is gone.
            const sep = location.includes("?") ? "&" : "?";
            const digest = `sha256:${"0".repeat(64)}`;
            const put = run("curl", [...curlArgs(reg, ["-X", "PUT", "-w", "\n%{http_code}", `${location}${sep}digest=${digest}`])], {
                input: credentials,
            });
            expect(put.stdout).toMatch(/404$/);
        } finally {
            clearInterval(chunks);
            socket.destroy();
            run("rm", ["-f", marker]);
        }
    }, 60_000);
    test("an upload paused in its body past the settle time, then finished in the same request, commits nothing inside the window", async () => {
        run("rm", ["-f", marker]);
        const layer = randomBytes(256 * 1024);
        const hex = createHash("sha256").update(layer).digest("hex");
        const location = new URL(startUpload("team/paused"));
        location.searchParams.set("digest", `sha256:${hex}`);
        const socket = await connectTo(reg, scheme);
        let response = "";
        socket.on("data", (d) => {
            response += d;
        });
        socket.on("error", () => undefined);
        const answered = new Promise<void>((resolve) => {
            socket.on("data", () => response.includes("\r\n\r\n") && resolve());
            socket.once("close", () => resolve());
        });
        try {
            // A monolithic PUT: half its body, then a pause longer than the settle time.
            socket.write(
                [
                    `PUT ${location.pathname}${location.search} HTTP/1.1`,
                    `Host: ${reg.authority}`,
                    `Authorization: Basic ${Buffer.from(`${reg.push.username}:${reg.push.password}`).toString("base64")}`,
                    "Content-Type: application/octet-stream",
                    `Content-Length: ${layer.length}`,
                    "",
                    "",
                ].join("\r\n"),
            );
            socket.write(layer.subarray(0, layer.length / 2));
            await new Promise((r) => setTimeout(r, 1000));
            const window = await openWindow(FRONT_WINDOW_PARAMS.FRONT_DRAIN_SECONDS);
            expect(window.code, window.out).toBe(0);
            // The window's work has begun: the client goes on, and its request ends.
            socket.write(layer.subarray(layer.length / 2));
            await Promise.race([answered, new Promise((r) => setTimeout(r, 20_000))]);
            expect(response).toMatch(/^HTTP\/1\.1 \d{3} /);
            expect(response).not.toMatch(/^HTTP\/1\.1 201 /);
            const v2 = path.join(reg.dataDir, "docker/registry/v2");
            expect(existsSync(path.join(v2, "blobs/sha256", hex.slice(0, 2), hex))).toBe(false);
            expect(existsSync(path.join(v2, "repositories/team/paused/_layers/sha256", hex))).toBe(false);
        } finally {
            socket.destroy();
            run("rm", ["-f", marker]);
        }
    }, 60_000);

    /** The window as every upkeep script opens it, watching the registry's storage, with a drain of `drain` s. */
    function openWindow(drain: number): Promise<{ code: number; out: string }> {
        const script = [
            `FRONT_SETTLE_SECONDS=${FRONT_WINDOW_PARAMS.FRONT_SETTLE_SECONDS}`,
            `FRONT_DRAIN_SECONDS=${drain}`,
            `. "${FRONT_WINDOW_SH}"`,
            `open_front_window "$1" "$2"`,
        ].join("\n");
        return new Promise((resolve) => {
            const child = spawn("sh", ["-c", script, "window", marker, reg.dataDir], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d) => {
                out += d;
            });
            child.stderr.on("data", (d) => {
                out += d;
            });
            child.on("exit", (code) => resolve({ code: code ?? -1, out }));
        });
    }

    test("during the window, a blob PATCH sent with Connection: close (as skopeo sends it) gets the 503 after its body, not a reset", async () => {
        // The upload session starts before the window opens; its PATCH meets the window.
        run("rm", ["-f", marker]);
        const location = new URL(startUpload("team/closing"));
        mkdirSync(path.dirname(marker), { recursive: true });
        writeFileSync(marker, "");
        try {
            const bodyBytes = 64 * 1024;
            const exchange = await rawExchange(
                reg,
                scheme,
                [
                    `PATCH ${location.pathname}${location.search} HTTP/1.1`,
                    `Host: ${reg.authority}`,
                    `Authorization: Basic ${Buffer.from(`${reg.push.username}:${reg.push.password}`).toString("base64")}`,
                    "Connection: close",
                    "Content-Type: application/octet-stream",
                    `Content-Length: ${bodyBytes}`,
                ],
                randomBytes(bodyBytes),
            );
            // The front answers once the body is in: before, it answered at once and closed, and a
            // client still writing saw its connection reset.
            expect(exchange.answeredBeforeBody).toBe(false);
            expect(exchange.writeError).toBeUndefined();
            expect(exchange.response).toMatch(/^HTTP\/1\.1 503 /);
            expect(exchange.response).toMatch(/^retry-after: \d+/im);
            expect(exchange.response).toContain("read-only maintenance window");
        } finally {
            run("rm", ["-f", marker]);
        }
    }, 60_000);
    test("during the window, PATCHes without valid push credentials that send 1 KiB of 1 MiB and stall are answered 401 at once, their bodies never read", async () => {
        const location = new URL(startUpload("team/stalled"));
        mkdirSync(path.dirname(marker), { recursive: true });
        writeFileSync(marker, "");
        try {
            const head = (authorization: readonly string[]) => [
                `PATCH ${location.pathname}${location.search} HTTP/1.1`,
                `Host: ${reg.authority}`,
                ...authorization,
                "Content-Type: application/octet-stream",
                `Content-Length: ${2 ** 20}`,
            ];
            const wrong = `Basic ${Buffer.from(`${reg.push.username}:not-the-password`).toString("base64")}`;
            // Twenty at once, anonymous and with a wrong password: each is answered while its body is outstanding.
            const exchanges = await Promise.all(
                Array.from({ length: 20 }, (_, i) => stalledExchange(reg, scheme, head(i % 2 === 0 ? [] : [`Authorization: ${wrong}`]))),
            );
            for (const exchange of exchanges) {
                expect(exchange.response).toMatch(/^HTTP\/1\.1 401 /);
                expect(exchange.response).toMatch(/^www-authenticate: Bearer /im);
            }
        } finally {
            run("rm", ["-f", marker]);
        }
    }, 60_000);
});

/**
 * The GC job's window in the pod when the registry stores in s3 (with Maven the pod is one, so the window is
 * the marker's; gc-step.sh): no folder to watch, so the window reads Distribution's upload requests in flight
 * from its metrics on the pod's loopback (FRONT_REGISTRY_METRICS, as `inClusterGcStepScript` renders it).
 * The in-cluster sidecar's front, Distribution 3 on a real S3 API (versitygw).
 */
describe("in-cluster sidecar with s3 storage: the window waits for the uploads Distribution is serving", () => {
    const BUCKET = "registry";
    let s3: S3Server;
    let reg: RealRegistry;
    let marker: string;
    let base: string;
    beforeAll(async () => {
        marker = path.join(tmpdir(), `window-${randomBytes(4).toString("hex")}`, "read-only");
        s3 = await startS3Server([BUCKET]);
        reg = await startRealRegistry({
            s3: { server: s3, bucket: BUCKET },
            metrics: true,
            policy: { readOnlySignals: [{ kind: "file", path: marker }] },
            caddyfileFor: (p) => renderSidecarCaddyfile({ ...p, tls: { kind: "plain-http" } }),
            caddyBinary: pinnedCaddy(),
        });
        base = `http://${reg.authority}`;
    }, 120_000);
    afterAll(async () => {
        run("rm", ["-rf", path.dirname(marker)]);
        await reg?.stop();
        await s3?.stop();
    });

    /** The blobs in the bucket, by their hex digests. */
    const blobsInBucket = async () =>
        (await s3.listKeys(BUCKET, "registry/docker/registry/v2/blobs/")).map((key) => key.split("/").at(-2) ?? "");

    /** The window as gc-step.sh opens it with a bucket: no folder, Distribution's metrics; a drain of `drain` s. */
    function openWindow(drain: number): Promise<{ code: number; out: string; began: number }> {
        const script = [
            `FRONT_SETTLE_SECONDS=${FRONT_WINDOW_PARAMS.FRONT_SETTLE_SECONDS}`,
            `FRONT_DRAIN_SECONDS=${drain}`,
            `. "${FRONT_WINDOW_SH}"`,
            'FRONT_REGISTRY_METRICS="$2"',
            'open_front_window "$1"',
        ].join("\n");
        const metrics = `http://127.0.0.1:${reg.metricsPorts!.distribution}/metrics`;
        return new Promise((resolve) => {
            const child = spawn("sh", ["-c", script, "window", marker, metrics], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d) => {
                out += d;
            });
            child.stderr.on("data", (d) => {
                out += d;
            });
            child.on("exit", (code) => resolve({ code: code ?? -1, out, began: Date.now() }));
        });
    }

    /**
     * A monolithic PUT of a fresh 256 KiB blob to a session opened now, as the push account: its head and
     * half its body are sent, then it pauses until `finish` sends the rest and resolves with the status line
     * and when it came.
     */
    async function pausedPut(repository: string) {
        const credentials = `Basic ${Buffer.from(`${reg.push.username}:${reg.push.password}`).toString("base64")}`;
        const opened = run(
            "curl",
            ["-sS", "-o", "/dev/null", "-D", "-", "-K", "-", "-X", "POST", `${base}/v2/${repository}/blobs/uploads/`],
            {
                input: `user = "${reg.push.username}:${reg.push.password}"\n`,
            },
        );
        const location = new URL(/^location:\s*(\S+)/im.exec(opened.stdout)?.[1] ?? "", base);
        const layer = randomBytes(256 * 1024);
        const hex = createHash("sha256").update(layer).digest("hex");
        location.searchParams.set("digest", `sha256:${hex}`);
        const socket = await connectTo(reg, "http");
        let response = "";
        socket.on("error", () => undefined);
        const answered = new Promise<number>((resolve) => {
            socket.on("data", (d) => {
                response += d;
                if (response.includes("\r\n\r\n")) resolve(Date.now());
            });
            socket.once("close", () => resolve(Date.now()));
        });
        socket.write(
            [
                `PUT ${location.pathname}${location.search} HTTP/1.1`,
                `Host: ${reg.authority}`,
                `Authorization: ${credentials}`,
                "Content-Type: application/octet-stream",
                `Content-Length: ${layer.length}`,
                "",
                "",
            ].join("\r\n"),
        );
        socket.write(layer.subarray(0, layer.length / 2));
        return {
            hex,
            async finish(): Promise<{ status: string; at: number }> {
                socket.write(layer.subarray(layer.length / 2));
                const at = await Promise.race([answered, new Promise<number>((r) => setTimeout(() => r(Date.now()), 20_000))]);
                socket.destroy();
                return { status: response.split("\r\n")[0] ?? "", at };
            },
        };
    }

    test("an upload paused in its body when the window opens, then finished, lands whole before the window's work begins", async () => {
        run("rm", ["-f", marker]);
        const put = await pausedPut("team/paused-s3");
        await new Promise((r) => setTimeout(r, 1000));
        const window = openWindow(FRONT_WINDOW_PARAMS.FRONT_DRAIN_SECONDS);
        // The client goes on 3 s into the window: past the settle time, well within the drain.
        await new Promise((r) => setTimeout(r, 3000));
        const finished = await put.finish();
        const opened = await window;
        try {
            expect(finished.status).toMatch(/^HTTP\/1\.1 201 /);
            // The commit came before the window's work began.
            expect(finished.at, opened.out).toBeLessThanOrEqual(opened.began);
            expect(opened.code, opened.out).toBe(0);
            expect(opened.out).toContain("waiting for 1 upload requests in flight");
            expect(await blobsInBucket()).toContain(put.hex);
        } finally {
            run("rm", ["-f", marker]);
        }
    }, 60_000);

    test("an upload still paused in its body after the drain makes the window give up: nothing commits inside its work", async () => {
        run("rm", ["-f", marker]);
        const put = await pausedPut("team/stuck-s3");
        await new Promise((r) => setTimeout(r, 1000));
        const opened = await openWindow(2 * FRONT_WINDOW_PARAMS.FRONT_SETTLE_SECONDS);
        // Where the window began its work, the client now commits its blob inside it (the marker still there).
        const finished = await put.finish();
        try {
            const committedInsideTheWork = opened.code === 0 && /^HTTP\/1\.1 201 /.test(finished.status);
            expect(committedInsideTheWork, `${opened.out}\n${finished.status}`).toBe(false);
            expect(opened.code, opened.out).toBe(1);
            expect(opened.out).toContain(
                "1 upload requests still in flight after 4 s, which a bucket leaves nothing to cut: the window gives up",
            );
        } finally {
            run("rm", ["-f", marker]);
        }
    }, 60_000);

    test("an upload session idle when the window opens: its PUT inside the window gets 503, and no blob lands", async () => {
        run("rm", ["-f", marker]);
        const credentials = `user = "${reg.push.username}:${reg.push.password}"\n`;
        const opened = run(
            "curl",
            ["-sS", "-o", "/dev/null", "-D", "-", "-K", "-", "-X", "POST", `${base}/v2/team/idle-s3/blobs/uploads/`],
            {
                input: credentials,
            },
        );
        const location = new URL(/^location:\s*(\S+)/im.exec(opened.stdout)?.[1] ?? "", base);
        const layer = randomBytes(64 * 1024);
        const hex = createHash("sha256").update(layer).digest("hex");
        const layerFile = path.join(reg.dir, "idle-layer");
        writeFileSync(layerFile, layer);
        // Its first chunk, as docker sends one; the session then waits for its next request.
        const patch = run(
            "curl",
            [
                "-sS",
                "-o",
                "/dev/null",
                "-D",
                "-",
                "-K",
                "-",
                "-X",
                "PATCH",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                `@${layerFile}`,
                location.href,
            ],
            { input: credentials },
        );
        expect(patch.stdout).toMatch(/^HTTP\/\S+ 202/);
        const next = new URL(/^location:\s*(\S+)/im.exec(patch.stdout)?.[1] ?? "", base);
        const window = await openWindow(FRONT_WINDOW_PARAMS.FRONT_DRAIN_SECONDS);
        try {
            expect(window.code, window.out).toBe(0);
            next.searchParams.set("digest", `sha256:${hex}`);
            const commit = run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-K", "-", "-X", "PUT", next.href], {
                input: credentials,
            });
            expect(commit.stdout).toMatch(/^HTTP\/\S+ 503/);
            expect(await blobsInBucket()).not.toContain(hex);
        } finally {
            run("rm", ["-f", marker]);
        }
    }, 60_000);
});

/**
 * Sends a request's head and the first KiB of its body over a socket of its own, waits a second, then
 * the rest; reports whether any answer came in that second, a write that failed, and the response.
 */
async function rawExchange(
    reg: RealRegistry,
    scheme: string,
    head: readonly string[],
    body: Buffer,
): Promise<{ answeredBeforeBody: boolean; writeError?: string; response: string }> {
    const socket = await connectTo(reg, scheme);
    let response = "";
    let writeError: string | undefined;
    socket.on("data", (d) => {
        response += d;
    });
    socket.on("error", (e) => {
        writeError ??= e.message;
    });
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    socket.write(body.subarray(0, 1024));
    await new Promise((r) => setTimeout(r, 1000));
    const answeredBeforeBody = response.length > 0;
    socket.end(body.subarray(1024));
    await Promise.race([ended, new Promise((r) => setTimeout(r, 10_000))]);
    socket.destroy();
    return { answeredBeforeBody, writeError, response };
}

/**
 * Sends a request's head and the first KiB of its body, then nothing more: resolves with what the front
 * answered once the answer (its head) is in, or after 20 s with whatever came (nothing, when the front
 * waits for the body).
 */
async function stalledExchange(reg: RealRegistry, scheme: string, head: readonly string[]): Promise<{ response: string }> {
    const socket = await connectTo(reg, scheme);
    let response = "";
    const answered = new Promise<void>((resolve) => {
        socket.on("data", (d) => {
            response += d;
            if (response.includes("\r\n\r\n")) resolve();
        });
        socket.once("close", () => resolve());
    });
    socket.on("error", () => undefined);
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    socket.write(randomBytes(1024));
    await Promise.race([answered, new Promise((r) => setTimeout(r, 20_000))]);
    socket.destroy();
    return { response };
}

/** A connection to the front: TLS with the test CA on the external host's front, plain TCP on the sidecar's. */
async function connectTo(reg: RealRegistry, scheme: string): Promise<net.Socket> {
    const [host, port] = [reg.authority.replace(/:\d+$/, ""), Number(reg.authority.split(":").pop())];
    const socket =
        scheme === "https"
            ? tls.connect({ host: "127.0.0.1", servername: host, port, ca: readFileSync(reg.ca.caCertFile) })
            : net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
        socket.once(scheme === "https" ? "secureConnect" : "connect", () => resolve());
        socket.once("error", reject);
    });
    return socket;
}
