/**
 * Fleet scale: N concurrent downloads (default 64, like 64 nodes pulling at once) of one blob
 * (default 64 MiB) on loopback, all in the same run:
 *   - Distribution serving TLS itself (the baseline),
 *   - through the front (the rendered Caddyfile, Caddy serving the blob from Distribution's files),
 *   - through the front's mirror path (`/v2/mirrors/docker.io/…`, the rendered proxy Distribution, with
 *     the baseline Distribution as its upstream): cold (empty cache) and warm (the cache holds the blob).
 * Each scenario prints failures (a curl that failed or fetched the wrong size; in every round one of the
 * clients also hashes what it fetched, and a wrong sha256 is a failure too) and the aggregate
 * throughput (bytes of all downloads / wall time); the front's and the mirror's as a ratio of the
 * baseline. Median of `--runs` rounds for baseline, front and warm mirror (interleaved); cold runs once.
 *
 *   npx tsx bench/mirror-throughput.ts [--clients 64] [--size-mib 64] [--runs 3]
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import { DOCKER_HUB, renderMirrorConfig } from "../components/mirrors/mirrors";
import { pinnedCaddy } from "../test/support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../test/support/realRegistry";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../test/support/serverProcess";
import { arg, median, mib, runBench, uploadBlob } from "./support";

interface Round {
    readonly failures: number;
    /** Bytes of all successful downloads per second of wall time. */
    readonly bytesPerSecond: number;
}

/**
 * `clients` downloads of `url` at once; each must fetch exactly `size` bytes, and the first one's body
 * must also hash to `sha256Hex` (the others count bytes only, so that hashing does not load the machine).
 */
async function round(url: string, caCertFile: string, clients: number, size: number, sha256Hex: string): Promise<Round> {
    const one = (_: unknown, index: number) =>
        new Promise<boolean>((resolve) => {
            const hashed = index === 0;
            const output = hashed ? ["-o", "-"] : ["-o", "/dev/null", "-w", "%{size_download}"];
            const child = spawn("curl", ["-sS", "--fail", "--http1.1", "--cacert", caCertFile, ...output, url], {
                stdio: ["ignore", "pipe", "ignore"],
            });
            const hash = createHash("sha256");
            let bytes = 0;
            let out = "";
            child.stdout.on("data", (d: Buffer) => {
                if (hashed) {
                    hash.update(d);
                    bytes += d.length;
                } else {
                    out += d.toString();
                }
            });
            child.on("close", (code) =>
                resolve(code === 0 && (hashed ? bytes === size && hash.digest("hex") === sha256Hex : Number(out.trim()) === size)),
            );
        });
    const start = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: clients }, one));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const ok = results.filter(Boolean).length;
    return { failures: clients - ok, bytesPerSecond: (ok * size) / seconds };
}

async function main(): Promise<void> {
    const clients = arg("clients", 64);
    const sizeMib = arg("size-mib", 64);
    const runs = arg("runs", 3);
    const size = sizeMib * 1024 * 1024;
    const scratch = privateDir("bench-mirror");
    const servers: ServerProcess[] = [];
    const direct = await startRealRegistry({ caddy: false, registryTls: true });
    let fronted: RealRegistry | undefined;
    try {
        // The cache, with the baseline Distribution as its upstream (trusted through SSL_CERT_FILE).
        const mirrorPort = await freePort();
        const mirrorData = path.join(scratch, "cache");
        const mirrorConfig = path.join(scratch, "mirror.yml");
        writeFileSync(
            mirrorConfig,
            renderMirrorConfig({
                addr: `127.0.0.1:${mirrorPort}`,
                rootDirectory: mirrorData,
                remoteUrl: direct.url,
                logLevel: "warn",
            }),
        );
        const mirror = startServer("/usr/bin/docker-registry", ["serve", mirrorConfig], {
            ...process.env,
            SSL_CERT_FILE: direct.ca.caCertFile,
        });
        servers.push(mirror);
        await waitForPort(mirrorPort, 30_000, "mirror");
        // The shipped front, with the mirror route, on the pinned Caddy the external host runs (the figures in docs/performance.md).
        fronted = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            caddyfileFor: (policy) =>
                renderCaddyfile({ ...policy, mirrors: [{ pathName: DOCKER_HUB.name, upstream: `127.0.0.1:${mirrorPort}` }] }),
        });

        const file = path.join(scratch, "blob");
        const data = randomBytes(size);
        writeFileSync(file, data);
        const hex = createHash("sha256").update(data).digest("hex");
        const digest = `sha256:${hex}`;
        uploadBlob(direct, file, digest, false);
        uploadBlob(fronted, file, digest, true);
        const urls = {
            direct: `${direct.url}/v2/bench/blob/blobs/${digest}`,
            front: `${fronted.url}/v2/bench/blob/blobs/${digest}`,
            mirror: `${fronted.url}/v2/mirrors/${DOCKER_HUB.name}/bench/blob/blobs/${digest}`,
        };

        console.log(
            `${clients} concurrent downloads of a ${sizeMib} MiB blob, HTTP/1.1, loopback, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`,
        );
        const cold = await round(urls.mirror, fronted.ca.caCertFile, clients, size, hex);
        const cached = path.join(mirrorData, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
        for (let i = 0; i < 600 && !existsSync(cached); i++) await new Promise((r) => setTimeout(r, 100));
        if (!existsSync(cached)) throw new Error("the cache did not store the blob after the cold round");

        const rounds: Record<"direct" | "front" | "mirror", Round[]> = { direct: [], front: [], mirror: [] };
        for (let i = 0; i < runs; i++) {
            rounds.direct.push(await round(urls.direct, direct.ca.caCertFile, clients, size, hex));
            rounds.front.push(await round(urls.front, fronted.ca.caCertFile, clients, size, hex));
            rounds.mirror.push(await round(urls.mirror, fronted.ca.caCertFile, clients, size, hex));
        }
        const base = median(rounds.direct.map((r) => r.bytesPerSecond));
        const line = (what: string, rs: Round[]) => {
            const speed = median(rs.map((r) => r.bytesPerSecond));
            const failures = rs.reduce((n, r) => n + r.failures, 0);
            console.log(
                `${what.padEnd(34)} failures ${String(failures).padStart(3)} of ${clients * rs.length}   ${mib(speed).padStart(6)} MiB/s   ${(speed / base).toFixed(2)}x`,
            );
        };
        line("Distribution serving TLS itself", rounds.direct);
        line("through the front", rounds.front);
        line("mirror path, cold (empty cache)", [cold]);
        line("mirror path, warm (cached)", rounds.mirror);
    } finally {
        await fronted?.stop();
        for (const s of servers) await s.stop();
        await direct.stop();
        removeDir(scratch);
    }
}

runBench(main);
