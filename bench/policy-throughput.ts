/**
 * Throughput of the access policy's Caddy front: GET of a 256 MiB blob on loopback through the
 * external host's rendered Caddyfile (TLS in Caddy) on the pinned Caddy, which every placement runs,
 * against Distribution serving TLS itself, median of 5 each, all measured in the same run
 * (interleaved), over HTTP/1.1 and HTTP/2. Two fronts: the shipped one, where Caddy serves blob
 * downloads from Distribution's files (filesystem storage), and the proxy-only one (no `blobFiles`, as
 * with s3 storage), where every byte goes through Distribution behind Caddy.
 *
 * With --profile-seconds N, the proxy-only front's CPU is profiled for N seconds while it serves
 * downloads (Caddy's admin endpoint, /debug/pprof/profile), and `go tool pprof -top` prints where the
 * time went.
 *
 * With --caddy previous, the fronts run the Caddy of the last landed release (tools/caddy-previous) instead:
 * the same bench on the same machine, to compare a Caddy bump with.
 *
 * With --proxy-buffer 64KiB, the proxy-only front's transport reads and writes Distribution's answers with buffers
 * of that size instead of the rendered ones (what a stalled download through the proxy holds: bench/slow-clients.ts).
 *
 *   npx tsx bench/policy-throughput.ts [--size-mib 256] [--runs 5] [--profile-seconds 10] [--caddy previous] [--proxy-buffer 64KiB]
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../components/accessPolicy/policy";
import { DEFAULT_IMAGES } from "../components/shared/defaults";
import { pinnedCaddy, previousCaddy, previousCaddyVersion } from "../test/support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../test/support/realRegistry";
import { freePort, privateDir, removeDir, runOk } from "../test/support/serverProcess";
import { arg, curl, median, mib, runBench, uploadBlob } from "./support";

/** Bytes per second of one download. */
function download(reg: RealRegistry, digest: string, http: "1.1" | "2"): number {
    const out = curl([
        "--cacert",
        reg.ca.caCertFile,
        http === "2" ? "--http2" : "--http1.1",
        "-o",
        "/dev/null",
        "-w",
        "%{speed_download} %{http_version}",
        `${reg.url}/v2/bench/blob/blobs/${digest}`,
    ]);
    const [speed, version] = out.trim().split(" ");
    if (version !== (http === "2" ? "2" : "1.1")) throw new Error(`asked for HTTP/${http}, got HTTP/${version}`);
    return Number(speed);
}

/** Who answered a blob GET: Distribution's ETag is the quoted digest, Caddy's file server's is not. */
function servedBy(reg: RealRegistry, digest: string): "Distribution" | "file" {
    const headers = curl(["--cacert", reg.ca.caCertFile, "--head", `${reg.url}/v2/bench/blob/blobs/${digest}`]);
    return new RegExp(`^etag:\\s*"${digest}"`, "im").test(headers) ? "Distribution" : "file";
}

/**
 * Where the proxy-only front's CPU goes: a CPU profile from its admin endpoint while downloads run
 * back to back, printed by `go tool pprof -top` (Go from the PATH or /usr/local/go).
 */
function profile(reg: RealRegistry, digest: string, adminPort: number, seconds: number, scratch: string, binary: string): void {
    const out = path.join(scratch, "caddy.pprof");
    const script = [
        `curl -sS -o '${out}' 'http://127.0.0.1:${adminPort}/debug/pprof/profile?seconds=${seconds}' &`,
        "profiler=$!",
        `end=$(( $(date +%s) + ${seconds} ))`,
        `while [ "$(date +%s)" -lt "$end" ]; do curl -sS --http1.1 --cacert '${reg.ca.caCertFile}' -o /dev/null '${reg.url}/v2/bench/blob/blobs/${digest}'; done`,
        'wait "$profiler"',
    ].join("\n");
    runOk("sh", ["-c", script]);
    const go = ["go", "/usr/local/go/bin/go"].find((g) => runOk("sh", ["-c", `command -v ${g} || true`]).stdout.trim() !== "");
    if (!go) throw new Error("no go to read the profile with");
    console.log(`\nthe proxy-only front's CPU over ${seconds} s of back-to-back downloads (HTTP/1.1):`);
    console.log(runOk(go, ["tool", "pprof", "-top", "-nodecount=25", binary, out]).stdout);
}

/** The Caddy the fronts run (--caddy previous: the last landed release's), and how the rows name it. */
function caddyUnderTest(): { binary: string; label: string } {
    const i = process.argv.indexOf("--caddy");
    const which = i > 0 ? process.argv[i + 1] : "pinned";
    if (which === "previous") return { binary: previousCaddy(), label: `previous Caddy ${previousCaddyVersion()}` };
    if (which !== "pinned") throw new Error(`--caddy takes "pinned" or "previous", not ${which}`);
    return { binary: pinnedCaddy(), label: `pinned ${DEFAULT_IMAGES.caddy}` };
}

async function main(): Promise<void> {
    const caddy = caddyUnderTest();
    const sizeMib = arg("size-mib", 256);
    const runs = arg("runs", 5);
    const scratch = privateDir("bench");
    const direct = await startRealRegistry({ caddy: false, registryTls: true });
    // The external host's front as it ships: the host's Caddyfile shape, HTTP/2 offered, on the pinned Caddy.
    const adminPort = await freePort();
    const hostFront = (p: AccessPolicy) => renderCaddyfile(p);
    const i = process.argv.indexOf("--proxy-buffer");
    const buffer = i > 0 ? process.argv[i + 1] : undefined;
    const proxiedFront = (p: AccessPolicy) => {
        const text = renderCaddyfile({ ...p, admin: `127.0.0.1:${adminPort}` });
        return buffer ? text.replace(/(read|write)_buffer \S+/g, `$1_buffer ${buffer}`) : text;
    };
    const proxied = await startRealRegistry({ blobShortcut: false, caddyfileFor: proxiedFront, caddyBinary: caddy.binary });
    const fronted = await startRealRegistry({ caddyfileFor: hostFront, caddyBinary: caddy.binary });
    try {
        const file = path.join(scratch, "blob");
        const data = randomBytes(sizeMib * 1024 * 1024);
        writeFileSync(file, data);
        const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
        uploadBlob(direct, file, digest, false);
        uploadBlob(proxied, file, digest, true);
        uploadBlob(fronted, file, digest, true);
        if (servedBy(proxied, digest) !== "Distribution" || servedBy(fronted, digest) !== "file") {
            throw new Error("the fronts do not answer as intended: the proxy-only front must proxy, the shipped front must serve the file");
        }
        // One warm-up each, so the page cache holds every copy.
        for (const reg of [direct, proxied, fronted]) download(reg, digest, "1.1");

        console.log(
            `blob ${sizeMib} MiB, ${runs} runs each, proxy buffers ${buffer ?? "as rendered"}, median MiB/s (loopback, ${require("node:os").cpus().length} cores, load ${require("node:os").loadavg()[0].toFixed(2)})`,
        );
        console.log("front                                    registry-TLS  Caddy-file  ratio  Caddy-proxy  ratio");
        const rows = [
            [`HTTP/1.1, external host (${caddy.label})`, "1.1", fronted, proxied],
            [`HTTP/2, external host (${caddy.label})`, "2", fronted, proxied],
        ] as const;
        for (const [label, http, front, proxy] of rows) {
            const a: number[] = [];
            const b: number[] = [];
            const c: number[] = [];
            for (let i = 0; i < runs; i++) {
                a.push(download(direct, digest, http));
                b.push(download(front, digest, http));
                c.push(download(proxy, digest, http));
            }
            const ratio = (x: number[]) => `${(median(x) / median(a)).toFixed(2)}x`;
            console.log(
                `${label.padEnd(40)} ${mib(median(a)).padStart(12)}  ${mib(median(b)).padStart(10)}  ${ratio(b).padStart(5)}  ${mib(median(c)).padStart(11)}  ${ratio(c).padStart(5)}`,
            );
        }
        const profileSeconds = arg("profile-seconds", 0);
        if (profileSeconds > 0) profile(proxied, digest, adminPort, profileSeconds, scratch, caddy.binary);
    } finally {
        await fronted.stop();
        await proxied.stop();
        await direct.stop();
        removeDir(scratch);
    }
}

runBench(main);
