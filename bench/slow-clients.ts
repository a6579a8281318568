/**
 * The front's memory under clients that send their request headers slowly and never finish them, and the
 * time a well-behaved client waits meanwhile. Real Caddy (the pinned one, every placement's front) with the
 * rendered Caddyfile in the sidecar's shape (plain HTTP) or the host's (TLS), run with the environment the
 * placements give it (`FRONT_ENVIRONMENT`), real Distribution behind it, on loopback.
 *
 * Each slow client opens a connection (a TLS handshake first with `--tls`) and writes a request line and
 * `--header-kib` KiB of headers in 2 KiB pieces spread over `--spread` seconds, then stays silent; when the
 * front closes a connection, the client opens a new one and starts again, so that `--clients` connections
 * are always trying for `--seconds` seconds. Meanwhile a well-behaved client asks, every half second on a
 * new connection, for the ping (`GET /v2/`, 401) and for a blob (200, served from the files).
 *
 * Prints Caddy's resident memory (VmRSS) before and at its peak, how many slow connections the front
 * closed (and the 431 answers among them), and the well-behaved client's median and worst time and its
 * failures. Nothing is asserted: the figures go to docs/access-policy.md#slow-clients.
 *
 * With `--stalled-downloads N`, N clients instead download a `--blob-mib` MiB blob through the proxy (the
 * front without the blob shortcut, as with s3 storage or a cache), read its head and then stop reading; after
 * `--seconds` (under Caddy's minute without progress) it prints Caddy's memory before and at its peak, and
 * per stalled download. `--proxy-buffer 64KiB` measures the proxy with other read and write buffers than
 * the rendered ones.
 *
 *   npx tsx bench/slow-clients.ts [--clients 4000] [--header-kib 60] [--spread 20] [--seconds 40] [--tls]
 *   npx tsx bench/slow-clients.ts --stalled-downloads 500 [--blob-mib 16] [--seconds 30] [--tls] [--proxy-buffer 64KiB]
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../components/accessPolicy/policy";
import { renderSidecarCaddyfile } from "../components/inCluster/sidecarFront";
import { FRONT_ENVIRONMENT } from "../components/shared/front";
import { pinnedCaddy } from "../test/support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../test/support/realRegistry";
import { run } from "../test/support/serverProcess";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const CLIENTS = arg("clients", 4000);
const HEADER_KIB = arg("header-kib", 60);
const SPREAD_SECONDS = arg("spread", 20);
const SECONDS = arg("seconds", 40);
const TLS = process.argv.includes("--tls");
/** Compare with Caddy's environment as the program ran it before (none of `FRONT_ENVIRONMENT`). */
const BARE = process.argv.includes("--bare-environment");
/** Caddy's open-files limit (soft and hard), as the placements set it; unset: the shell's. */
const NOFILE = arg("nofile", 0);
const STALLED_DOWNLOADS = arg("stalled-downloads", 0);
const BLOB_MIB = arg("blob-mib", 16);
const PROXY_BUFFER = process.argv.includes("--proxy-buffer") ? process.argv[process.argv.indexOf("--proxy-buffer") + 1] : undefined;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

function connect(reg: RealRegistry): net.Socket {
    const port = Number(reg.authority.split(":").pop());
    return TLS
        ? tls.connect({ host: "127.0.0.1", port, servername: "127.0.0.1", ca: readFileSync(reg.ca.caCertFile) })
        : net.connect({ host: "127.0.0.1", port });
}

interface SlowStats {
    closed: number;
    answered431: number;
    connected: number;
}

/** One slow client, for as long as `running()` holds: a new connection each time the front closes one. */
function slowClient(reg: RealRegistry, stats: SlowStats, running: () => boolean): void {
    if (!running()) return;
    const socket = connect(reg);
    const pieces = Math.ceil((HEADER_KIB * 1024) / 2048);
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let answer = "";
    socket.on("error", () => undefined);
    socket.on("data", (d) => {
        answer += d.toString("latin1");
    });
    socket.once(TLS ? "secureConnect" : "connect", () => {
        stats.connected++;
        socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${reg.authority}\r\n`);
        const step = () => {
            if (sent >= pieces || socket.destroyed) return;
            socket.write(`X-Slow-${sent}: ${"a".repeat(2048 - 16)}\r\n`);
            sent++;
            timer = setTimeout(step, (SPREAD_SECONDS * 1000) / pieces);
        };
        // The first piece a little later for each client, so that the writes spread over time.
        timer = setTimeout(step, Math.random() * 1000);
    });
    socket.once("close", () => {
        if (timer) clearTimeout(timer);
        stats.closed++;
        if (answer.startsWith("HTTP/1.1 431")) stats.answered431++;
        setTimeout(() => slowClient(reg, stats, running), 100);
    });
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
}
const sockets = new Set<net.Socket>();

/** One request of the well-behaved client on a new connection: its status and time, or an error. */
function wellBehaved(reg: RealRegistry, urlPath: string): Promise<{ ms: number; status?: number; error?: string }> {
    const started = performance.now();
    return new Promise((resolve) => {
        const socket = connect(reg);
        let answer = "";
        const done = (error?: string) => {
            socket.destroy();
            const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]) || undefined;
            resolve({ ms: performance.now() - started, ...(status ? { status } : {}), ...(error ? { error } : {}) });
        };
        const timeout = setTimeout(() => done("no answer in 30 s"), 30_000);
        socket.on("error", (e) => {
            clearTimeout(timeout);
            done(e.message);
        });
        socket.on("data", (d) => {
            answer += d.toString("latin1");
            if (answer.includes("\r\n\r\n")) {
                clearTimeout(timeout);
                done();
            }
        });
        socket.once(TLS ? "secureConnect" : "connect", () =>
            socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: ${reg.authority}\r\nConnection: close\r\n\r\n`),
        );
    });
}

/**
 * `count` downloads of `blob` that read the answer's head and then stop reading (the socket paused), held
 * for `SECONDS`: Caddy's memory before, at its peak, and per download; how many the front answered 200.
 */
async function stalledDownloads(reg: RealRegistry, blob: string, count: number): Promise<void> {
    const pid = reg.caddyPid!;
    const before = rssMiB(pid);
    let peak = before;
    let answered = 0;
    for (let i = 0; i < count; i++) {
        const socket = connect(reg);
        socket.on("error", () => undefined);
        socket.once(TLS ? "secureConnect" : "connect", () => socket.write(`GET ${blob} HTTP/1.1\r\nHost: ${reg.authority}\r\n\r\n`));
        socket.once("data", (d) => {
            if (d.toString("latin1").startsWith("HTTP/1.1 200")) answered++;
            socket.pause();
        });
        sockets.add(socket);
        // A few at a time, so that each is answered and stalls before the next one asks.
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100));
    }
    const ends = Date.now() + SECONDS * 1000;
    let files = 0;
    while (Date.now() < ends) {
        peak = Math.max(peak, rssMiB(pid));
        files = Math.max(files, readdirSync(`/proc/${pid}/fd`).length);
        await new Promise((r) => setTimeout(r, 250));
    }
    const shape = TLS ? "host's front (TLS)" : "sidecar (plain HTTP)";
    console.log(`${shape}, pinned Caddy, proxy buffers ${PROXY_BUFFER ?? "as rendered"}, ${BLOB_MIB} MiB blob through the proxy`);
    console.log(
        `Caddy's open files at most ${files}, its limit ${/Max open files\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1]}`,
    );
    console.log(
        `${count} stalled downloads (${answered} answered 200), held ${SECONDS} s: RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB, ${((peak - before) / count).toFixed(2)} MiB each`,
    );
    console.log(`load average ${readFileSync("/proc/loadavg", "utf8").trim()}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
    if (!BARE) for (const [name, value] of Object.entries(FRONT_ENVIRONMENT)) process.env[name] = value;
    const rendered = (p: AccessPolicy) => (TLS ? renderCaddyfile(p) : renderSidecarCaddyfile({ ...p, tls: { kind: "plain-http" } }));
    const caddyfileFor = (p: AccessPolicy) =>
        PROXY_BUFFER ? rendered(p).replace(/(read|write)_buffer \S+/g, `$1_buffer ${PROXY_BUFFER}`) : rendered(p);
    const stalled = STALLED_DOWNLOADS > 0;
    const reg = await startRealRegistry({ caddyfileFor, caddyBinary: pinnedCaddy(), blobShortcut: !stalled });
    try {
        // A blob placed behind the front (the setup is not under test): the well-behaved client downloads it.
        const layer = randomBytes(stalled ? BLOB_MIB * 1024 * 1024 : 64 * 1024);
        const digest = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
        const registry = `http://127.0.0.1:${reg.registryPort}`;
        const started = await fetch(`${registry}/v2/team/app/blobs/uploads/`, { method: "POST" });
        const location = new URL(started.headers.get("location") ?? "", registry);
        location.searchParams.set("digest", digest);
        const put = await fetch(location, { method: "PUT", body: layer, headers: { "Content-Type": "application/octet-stream" } });
        if (put.status !== 201) throw new Error(`placing the blob: ${put.status}`);
        const blob = `/v2/team/app/blobs/${digest}`;
        const pid = reg.caddyPid!;
        if (NOFILE > 0) run("prlimit", ["--pid", String(pid), `--nofile=${NOFILE}:${NOFILE}`]);
        if (stalled) return await stalledDownloads(reg, blob, STALLED_DOWNLOADS);
        const before = rssMiB(pid);
        let peak = before;
        const stats: SlowStats = { closed: 0, answered431: 0, connected: 0 };
        const ends = Date.now() + SECONDS * 1000;
        const running = () => Date.now() < ends;
        for (let i = 0; i < CLIENTS; i++) slowClient(reg, stats, running);
        const sampler = setInterval(() => {
            peak = Math.max(peak, rssMiB(pid));
        }, 250);
        const times: number[] = [];
        const failures: string[] = [];
        while (running()) {
            for (const urlPath of ["/v2/", blob]) {
                const r = await wellBehaved(reg, urlPath);
                if (r.status === (urlPath === "/v2/" ? 401 : 200)) times.push(r.ms);
                else failures.push(r.error ?? `status ${r.status}`);
            }
            await new Promise((r) => setTimeout(r, 500));
        }
        clearInterval(sampler);
        for (const s of sockets) s.destroy();
        const shape = TLS ? "host's front (TLS)" : "sidecar (plain HTTP)";
        console.log(`${shape}, pinned Caddy, environment ${BARE ? "bare" : JSON.stringify(FRONT_ENVIRONMENT)}`);
        console.log(
            `${CLIENTS} slow clients, ${HEADER_KIB} KiB of headers each over ${SPREAD_SECONDS} s, for ${SECONDS} s: RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB (+${(peak - before).toFixed(0)})`,
        );
        console.log(`slow connections made ${stats.connected}, closed by the front ${stats.closed} (431: ${stats.answered431})`);
        console.log(
            `well-behaved client: ${times.length} answered, median ${median(times).toFixed(1)} ms, worst ${Math.max(...times).toFixed(1)} ms, failures ${failures.length}${failures.length ? ` (${[...new Set(failures)].join("; ")})` : ""}`,
        );
        console.log(`Caddy's open-files limit: ${/Max open files\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1]}`);
        console.log(`load average ${readFileSync("/proc/loadavg", "utf8").trim()}`);
    } finally {
        for (const s of sockets) s.destroy();
        await reg.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
