/**
 * Throughput of the access policy's Caddy front: a 256 MiB blob on loopback through the external host's
 * rendered Caddyfile (TLS in Caddy) on the pinned Caddy, which every placement runs, against Distribution
 * serving TLS itself, all measured in the same run (every path and every front in each round, in turn), over
 * HTTP/1.1 and HTTP/2; min / median / max of the rounds (5 by default) and the ratio of the medians. "HTTP/2" is what
 * the client offers: Distribution's own TLS gives it, a front as rendered (HTTP/1.1 only) gives HTTP/1.1, and each
 * row says the version its transfers went over where it is not the one asked for. Beside each
 * figure, the CPU time the servers spent on one transfer (Distribution's alone, or Caddy's and Distribution's
 * behind a front), from /proc: a figure that, unlike the speed, hardly moves with what else the two cores run.
 * With --pin, curl runs on CPU 0 and every server on the other CPUs, so that the client no longer takes turns
 * with the servers on one core, as where clients are other machines (with two cores the servers share one).
 *
 * Downloads (GET) go through two fronts: the shipped one, where Caddy serves blob downloads from
 * Distribution's files (filesystem storage), and the proxy-only one (no `blobFiles`, as with s3 storage), where
 * every byte goes through Distribution behind Caddy. Pushes go through the shipped front as docker and
 * containerd push a layer: POST to start an upload, one PATCH with the whole blob, PUT with the digest, with
 * the rendered policy's push account; the time of the three together.
 *
 * With --profile-seconds N, each proxy-only front's CPU is profiled for N seconds while it serves downloads
 * (with --profile-push, while it takes pushes) back to back over HTTP/1.1, then HTTP/2 (Caddy's admin
 * endpoint, /debug/pprof/profile), and `go tool pprof -top` prints where the time went. With --profile-file, the
 * shipped fronts are profiled instead, while they serve downloads from the file.
 *
 * With --caddy previous, the fronts run the Caddy of the last landed release (tools/caddy-previous) instead;
 * with --both, that Caddy's fronts run beside the pinned one's in the same rounds. Its Caddyfile leaves out the
 * lines only the pinned Caddy reads (the body timeouts), as that release's did.
 *
 * Beside the pinned Caddy's fronts as rendered: --without-body-timeouts adds the pinned Caddy's fronts without
 * the body timeouts (`read_body_idle`, `timeouts { read_timeout }`); --variant-buffer 1MiB adds them with
 * proxy buffers of that size; --variant-http2 adds them with HTTP/2 offered; --variant-binary PATH adds the fronts as rendered on another Caddy binary (a build
 * with a change to compare). With --proxy-buffer 64KiB, every proxy-only front's transport reads and writes
 * Distribution's answers with buffers of that size instead of the rendered ones (what a stalled download through
 * the proxy holds: bench/slow-clients.ts).
 *
 *   npx tsx bench/policy-throughput.ts [--size-mib 256] [--runs 5] [--both | --caddy previous] [--without-body-timeouts]
 *     [--variant-buffer 1MiB] [--variant-timeout LINE] [--variant-http2] [--variant-binary PATH] [--profile-seconds 10 [--profile-push | --profile-file]]
 *     [--proxy-buffer 64KiB] [--pin]
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import * as path from "node:path";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../components/accessPolicy/policy";
import { DEFAULT_IMAGES } from "../components/shared/defaults";
import { pinnedCaddy, previousCaddy, previousCaddyVersion, withoutPinnedOnlyLines } from "../test/support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../test/support/realRegistry";
import { freePort, privateDir, removeDir, runOk } from "../test/support/serverProcess";
import { arg, cpuMs, curl, median, mib, pinCpus, runBench, uploadBlob } from "./support";

/**
 * A client that asks for `http` got `version`: HTTP/1.1 is always given when asked; a client that offers HTTP/2
 * gets it only where the front offers it (`AccessPolicy.http2`), else HTTP/1.1, as ALPN settles.
 */
function negotiated(http: "1.1" | "2", version: string | undefined): "1.1" | "2" {
    if (version === "1.1" || (version === "2" && http === "2")) return version;
    throw new Error(`asked for HTTP/${http}, got HTTP/${version}`);
}

/** Bytes per second of one download, and the HTTP version it went over. */
function download(reg: RealRegistry, digest: string, http: "1.1" | "2"): Transfer {
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
    return { bps: Number(speed), version: negotiated(http, version) };
}

/** One transfer's speed (bytes per second) and the HTTP version it went over. */
interface Transfer {
    readonly bps: number;
    readonly version: "1.1" | "2";
}

/** Who answered a blob GET: Distribution's ETag is the quoted digest, Caddy's file server's is not. */
function servedBy(reg: RealRegistry, digest: string): "Distribution" | "file" {
    const headers = curl(["--cacert", reg.ca.caCertFile, "--head", `${reg.url}/v2/bench/blob/blobs/${digest}`]);
    return new RegExp(`^etag:\\s*"${digest}"`, "im").test(headers) ? "Distribution" : "file";
}

/**
 * Bytes per second of one push of `file` as Distribution's clients push a layer (docker, containerd): POST to
 * start an upload, one PATCH with the whole body, PUT with the digest; the time of the three together. With
 * the push account (`withAuth`), given on curl's stdin.
 */
function push(reg: RealRegistry, file: string, digest: string, http: "1.1" | "2", withAuth: boolean): Transfer {
    const auth = withAuth ? `user = "${reg.push.username}:${reg.push.password}"\n` : "";
    const common = ["-K", "-", "--cacert", reg.ca.caCertFile, http === "2" ? "--http2" : "--http1.1", "-D", "-", "-o", "/dev/null"];
    const step = (args: string[]): { location: string; seconds: number; version: "1.1" | "2" } => {
        const out = curl([...common, "-w", "\n%{time_total} %{http_version}", ...args], auth);
        const [seconds, version] = out.trim().split("\n").at(-1)!.split(" ");
        const location = /^location:\s*(\S+)/im.exec(out)?.[1] ?? "";
        return {
            location: location.startsWith("/") ? reg.url + location : location,
            seconds: Number(seconds),
            version: negotiated(http, version),
        };
    };
    const started = step(["-X", "POST", `${reg.url}/v2/bench/blob/blobs/uploads/`]);
    if (!started.location) throw new Error("no upload location after POST");
    // No Expect: 100-continue, as Go's registry clients send none.
    const patched = step(["-X", "PATCH", "-H", "Expect:", "-H", "Content-Type: application/octet-stream", "-T", file, started.location]);
    if (!patched.location) throw new Error("no upload location after PATCH");
    const target = `${patched.location}${patched.location.includes("?") ? "&" : "?"}digest=${digest}`;
    const put = step(["-X", "PUT", "-H", "Content-Length: 0", target]);
    return { bps: statSync(file).size / (started.seconds + patched.seconds + put.seconds), version: patched.version };
}

/**
 * Where a front's CPU goes: a CPU profile from its admin endpoint while downloads (or, with `pushes`, pushes of
 * `file`) run back to back over `http`, printed by `go tool pprof -top` (Go from the PATH or /usr/local/go).
 */
async function profile(
    reg: RealRegistry,
    digest: string,
    adminPort: number,
    seconds: number,
    scratch: string,
    caddy: CaddyUnderTest,
    http: "1.1" | "2",
    pushes: boolean,
    file: string,
    fileFront: boolean,
): Promise<void> {
    const out = path.join(scratch, "caddy.pprof");
    const profiler = spawn("curl", ["-sS", "-o", out, `http://127.0.0.1:${adminPort}/debug/pprof/profile?seconds=${seconds}`], {
        stdio: "ignore",
    });
    const done = new Promise<number | null>((resolve) => profiler.on("exit", resolve));
    const end = Date.now() + seconds * 1000;
    let count = 0;
    while (Date.now() < end) {
        if (pushes) push(reg, file, digest, http, true);
        else download(reg, digest, http);
        count++;
    }
    if ((await done) !== 0) throw new Error("the profile could not be fetched");
    const go = ["go", "/usr/local/go/bin/go"].find((g) => runOk("sh", ["-c", `command -v ${g} || true`]).stdout.trim() !== "");
    if (!go) throw new Error("no go to read the profile with");
    console.log(
        `\n${fileFront ? "the shipped front's" : "the proxy-only front's"} CPU (${caddy.label}) over ${seconds} s of ${count} back-to-back ${pushes ? "pushes" : "downloads"} (HTTP/${http}):`,
    );
    console.log(runOk(go, ["tool", "pprof", "-top", "-nodecount=30", caddy.binary, out]).stdout);
}

/** A Caddy the fronts run, how the rows name it, and what it does to the rendered Caddyfile. */
interface CaddyUnderTest {
    readonly binary: string;
    readonly label: string;
    readonly edit: (caddyfile: string) => string;
    /** Policy fields rendered instead of the front's own (`--variant-http2`: HTTP/2 offered). */
    readonly policy?: Partial<AccessPolicy>;
}

/**
 * The Caddys the fronts run: the pinned one, or the last landed release's with --caddy previous, or both with
 * --both (the previous one without the lines only the pinned one reads, as that release's front had none).
 */
function caddysUnderTest(): CaddyUnderTest[] {
    const pinned: CaddyUnderTest = { binary: pinnedCaddy(), label: `pinned ${DEFAULT_IMAGES.caddy}`, edit: (t) => t };
    const previous = (): CaddyUnderTest => ({
        binary: previousCaddy(),
        label: `previous Caddy ${previousCaddyVersion()}`,
        edit: withoutPinnedOnlyLines,
    });
    const variants = process.argv.includes("--without-body-timeouts")
        ? [{ ...pinned, label: "pinned, no body timeouts", edit: withoutPinnedOnlyLines }]
        : [];
    const b = process.argv.indexOf("--variant-buffer");
    if (b > 0) {
        const size = process.argv[b + 1];
        variants.push({
            ...pinned,
            label: `pinned, proxy buffers ${size}`,
            edit: (t) => t.replace(/(read|write)_buffer \S+/g, `$1_buffer ${size}`),
        });
    }
    // --variant-timeout "write_max_chunk 1MiB": the pinned Caddy with that line added to the server's timeouts.
    process.argv.forEach((a, j) => {
        if (a !== "--variant-timeout") return;
        const line = process.argv[j + 1]!;
        variants.push({
            ...pinned,
            label: `pinned, ${line}`,
            edit: (t) => t.replace(/^\t\ttimeouts \{\n/m, `\t\ttimeouts {\n\t\t\t${line}\n`),
        });
    });
    // --variant-http2: the pinned Caddy with HTTP/2 offered beside HTTP/1.1 (`AccessPolicy.http2`), as every front
    // rendered before they went to HTTP/1.1 only.
    if (process.argv.includes("--variant-http2")) variants.push({ ...pinned, label: "pinned, HTTP/2 offered", policy: { http2: true } });
    // --variant-binary PATH: another Caddy build (one with a change of yours to compare) on the front as rendered.
    process.argv.forEach((a, j) => {
        if (a !== "--variant-binary") return;
        const binary = process.argv[j + 1]!;
        variants.push({ binary, label: `Caddy at ${binary}`, edit: (t) => t });
    });
    if (process.argv.includes("--both")) return [pinned, ...variants, previous()];
    const i = process.argv.indexOf("--caddy");
    const which = i > 0 ? process.argv[i + 1] : "pinned";
    if (which === "previous") return [previous()];
    if (which !== "pinned") throw new Error(`--caddy takes "pinned" or "previous", not ${which}`);
    return [pinned, ...variants];
}

/** One Caddy's two fronts: as shipped (blob downloads from the file) and proxy-only (every byte proxied). */
interface Fronts {
    readonly caddy: CaddyUnderTest;
    readonly shipped: RealRegistry;
    readonly proxied: RealRegistry;
    readonly adminPort: number;
    /** The shipped front's admin endpoint: only with --profile-file (as rendered, it has none). */
    readonly shippedAdminPort?: number;
}

/** min / median / max of bytes per second, as MiB/s. */
const spread = (values: number[]) => `${mib(Math.min(...values))}/${mib(median(values))}/${mib(Math.max(...values))}`;

async function main(): Promise<void> {
    const caddys = caddysUnderTest();
    const sizeMib = arg("size-mib", 256);
    const runs = arg("runs", 5);
    const scratch = privateDir("bench");
    const direct = await startRealRegistry({ caddy: false, registryTls: true });
    const i = process.argv.indexOf("--proxy-buffer");
    const buffer = i > 0 ? process.argv[i + 1] : undefined;
    const all: Fronts[] = [];
    try {
        for (const caddy of caddys) {
            // The external host's front as it ships: the host's Caddyfile shape, HTTP/1.1 only as every front.
            const adminPort = await freePort();
            const shippedAdminPort = process.argv.includes("--profile-file") ? await freePort() : undefined;
            const hostFront = (p: AccessPolicy) =>
                caddy.edit(
                    renderCaddyfile({ ...p, ...caddy.policy, ...(shippedAdminPort ? { admin: `127.0.0.1:${shippedAdminPort}` } : {}) }),
                );
            const proxiedFront = (p: AccessPolicy) => {
                const text = caddy.edit(renderCaddyfile({ ...p, ...caddy.policy, admin: `127.0.0.1:${adminPort}` }));
                return buffer ? text.replace(/(read|write)_buffer \S+/g, `$1_buffer ${buffer}`) : text;
            };
            const proxied = await startRealRegistry({ blobShortcut: false, caddyfileFor: proxiedFront, caddyBinary: caddy.binary });
            const shipped = await startRealRegistry({ caddyfileFor: hostFront, caddyBinary: caddy.binary }).catch(async (e: unknown) => {
                await proxied.stop();
                throw e;
            });
            all.push({ caddy, shipped, proxied, adminPort, shippedAdminPort });
        }
        const file = path.join(scratch, "blob");
        const data = randomBytes(sizeMib * 1024 * 1024);
        writeFileSync(file, data);
        const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
        uploadBlob(direct, file, digest, false);
        for (const { shipped, proxied } of all) {
            uploadBlob(proxied, file, digest, true);
            uploadBlob(shipped, file, digest, true);
            if (servedBy(proxied, digest) !== "Distribution" || servedBy(shipped, digest) !== "file") {
                throw new Error(
                    "the fronts do not answer as intended: the proxy-only front must proxy, the shipped front must serve the file",
                );
            }
        }
        // --pin: curl on CPU 0, every server on the others.
        if (process.argv.includes("--pin")) {
            const servers = [direct, ...all.flatMap((f) => [f.shipped, f.proxied])];
            pinCpus(
                servers.flatMap((reg) => [reg.caddyPid, reg.registryPid]).filter((pid): pid is number => pid !== undefined),
                cpus().length,
            );
        }
        // One warm-up each, so the page cache holds every copy.
        for (const reg of [direct, ...all.flatMap((f) => [f.shipped, f.proxied])]) download(reg, digest, "1.1");

        const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
        console.log(
            `blob ${sizeMib} MiB, ${runs} rounds, proxy buffers ${buffer ?? "as rendered"}, MiB/s min/median/max (loopback, ${cpus().length} cores${process.argv.includes("--pin") ? ", curl on CPU 0 and the servers on the others" : ""}, load ${load()})`,
        );
        // Every path and every front in each round, in turn, so load changes hit them alike.
        type Path = { readonly label: string; readonly http: "1.1" | "2"; readonly push: boolean };
        const paths: Path[] = [
            { label: "pull HTTP/1.1", http: "1.1", push: false },
            { label: "pull HTTP/2", http: "2", push: false },
            { label: "push HTTP/1.1", http: "1.1", push: true },
            { label: "push HTTP/2", http: "2", push: true },
        ];
        const key = (p: Path, who: string) => `${p.label}|${who}`;
        const results = new Map<string, number[]>();
        /** The HTTP versions a path's transfers went over (a client offering HTTP/2 gets HTTP/1.1 from a front without it). */
        const versions = new Map<string, Set<string>>();
        /** The CPU time the servers of a path spent on each transfer (Caddy's and Distribution's together behind a front). */
        const cpu = new Map<string, number[]>();
        const add = (to: Map<string, number[]>, k: string, v: number) => to.set(k, [...(to.get(k) ?? []), v]);
        const record = (k: string, reg: RealRegistry, transfer: () => Transfer) => {
            const pids = [reg.caddyPid, reg.registryPid].filter((pid): pid is number => pid !== undefined);
            const before = cpuMs(pids);
            const done = transfer();
            add(results, k, done.bps);
            add(cpu, k, cpuMs(pids) - before);
            versions.set(k, (versions.get(k) ?? new Set<string>()).add(`HTTP/${done.version}`));
        };
        for (let round = 0; round < runs; round++) {
            for (const p of paths) {
                if (p.push) {
                    record(key(p, "direct"), direct, () => push(direct, file, digest, p.http, false));
                    for (const f of all) record(key(p, f.caddy.label), f.shipped, () => push(f.shipped, file, digest, p.http, true));
                } else {
                    record(key(p, "direct"), direct, () => download(direct, digest, p.http));
                    for (const f of all) {
                        record(key(p, `${f.caddy.label} file`), f.shipped, () => download(f.shipped, digest, p.http));
                        record(key(p, `${f.caddy.label} proxy`), f.proxied, () => download(f.proxied, digest, p.http));
                    }
                }
            }
        }
        /** The servers' CPU time a transfer took, min / median / max in ms. */
        const cpuSpread = (k: string) => {
            const values = cpu.get(k)!;
            return `cpu ${Math.min(...values)}/${median(values)}/${Math.max(...values)} ms`;
        };
        const ratio = (x: number[], base: number[]) => `${(median(x) / median(base)).toFixed(2)}x`;
        for (const p of paths) {
            const base = results.get(key(p, "direct"))!;
            /** The version a path's transfers went over, where it is not the one the client asked for. */
            const over = (k: string) => {
                const got = [...versions.get(k)!];
                return got.length === 1 && got[0] === `HTTP/${p.http}` ? "" : ` (over ${got.join(", ")})`;
            };
            console.log(`\n${p.label}: registry-TLS ${spread(base)} ${cpuSpread(key(p, "direct"))}${over(key(p, "direct"))}`);
            for (const f of all) {
                const columns = p.push
                    ? [["front", f.caddy.label]]
                    : [
                          ["file", `${f.caddy.label} file`],
                          ["proxy", `${f.caddy.label} proxy`],
                      ];
                const cells = columns.map(([name, k]) => {
                    const values = results.get(key(p, k!))!;
                    return `${name} ${spread(values)} ${ratio(values, base)} ${cpuSpread(key(p, k!))}${over(key(p, k!))}`;
                });
                console.log(`  ${f.caddy.label.padEnd(28)} ${cells.join("   ")}`);
            }
        }
        console.log(`\nload ${load()}`);
        const profileSeconds = arg("profile-seconds", 0);
        if (profileSeconds > 0) {
            for (const f of all) {
                for (const http of ["1.1", "2"] as const) {
                    const fileFront = f.shippedAdminPort !== undefined;
                    await profile(
                        fileFront ? f.shipped : f.proxied,
                        digest,
                        f.shippedAdminPort ?? f.adminPort,
                        profileSeconds,
                        scratch,
                        f.caddy,
                        http,
                        process.argv.includes("--profile-push"),
                        file,
                        fileFront,
                    );
                }
            }
        }
    } finally {
        for (const f of all.reverse()) {
            await f.shipped.stop();
            await f.proxied.stop();
        }
        await direct.stop();
        removeDir(scratch);
    }
}

runBench(main);
