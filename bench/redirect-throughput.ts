/**
 * Blob pull throughput of the in-cluster registry on its three storage paths, all in the same run: the
 * single pod on the filesystem (its claim; the front serves each blob from the file), s3 storage with
 * the blobs proxied (`registry.storage.s3.redirect: false`, the default: the store to Distribution to the
 * front) and s3 storage with `redirect: true` (the front passes Distribution's 307 to a presigned URL of
 * the store, and the client fetches the blob from the store itself). Each is the stack the program
 * synthesizes, with one replica, played as test/support/registryReplicas.ts plays it (Distribution at
 * the version asked, the pinned Caddy as the sidecar, nginx as the Ingress with TLS), on the test S3
 * server (test/support/s3Server.ts, one bucket per s3 stack) behind an nginx of its own that adds TLS
 * (the test CA's certificate, which the registry image trusts), as an object store answers HTTPS:
 * downloads from the store pay for TLS as downloads from the registry do (`--store-tls 0`: the S3 server's
 * plain HTTP, the store as the other benches have it). Everything on loopback.
 *
 * Before measuring, the rendered config.yml of each s3 stack must say `redirect: disable:` as its
 * setting asks. Per round and path, `--clients` concurrent anonymous downloads of one layer
 * (`--size-mib`), curl following redirects; every download must answer 200 with the layer's digest
 * (each one hashed), and on the redirect path come from the store after exactly one redirect (curl's
 * effective URL is the presigned one), on the others from the registry without one; afterwards the
 * fronts' access logs must show every blob GET answered 307 on the redirect path and 200 on the others.
 * MiB/s is the bytes of all downloads over the round's wall time; the paths take turns round by round,
 * so that other load on the machine falls on each alike. Min, median and max over `--runs` rounds.
 *
 *   npx tsx bench/redirect-throughput.ts [--clients 8] [--size-mib 64] [--runs 5] [--version 2|3] [--store-tls 1|0]
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import type { K8sObject } from "../components/shared/k8sObject";
import { distributionBinaries } from "../test/support/distributionBinaries";
import { ingressNginxConf } from "../test/support/ingress";
import { makeAccount, makeOciImage, makeTestCa, skopeoCopy } from "../test/support/realRegistry";
import { type RegistryReplicas, startRegistryReplicas, synthReplicaObjects } from "../test/support/registryReplicas";
import { startS3Server } from "../test/support/s3Server";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../test/support/serverProcess";
import { arg, median, mib, runBench } from "./support";

interface Path {
    readonly name: string;
    /** The bucket, for the s3 paths. */
    readonly bucket?: string;
    readonly redirect: boolean;
}

const PATHS: readonly Path[] = [
    { name: "filesystem (single pod, the front serves the file)", redirect: false },
    { name: "s3, proxied (redirect: false)", bucket: "proxied", redirect: false },
    { name: "s3, redirect: true (the client fetches from the store)", bucket: "redirected", redirect: true },
];

/** The `storage.redirect` of the config.yml in the objects' ConfigMaps. */
function renderedRedirect(objects: readonly K8sObject[]): unknown {
    for (const o of objects) {
        const text = o.kind === "ConfigMap" ? ((o as { data?: Record<string, string> }).data?.["config.yml"] ?? undefined) : undefined;
        if (text) return (YAML.parse(text) as { storage?: { redirect?: unknown } }).storage?.redirect;
    }
    throw new Error("no ConfigMap among the objects holds config.yml");
}

interface Download {
    readonly code: number | null;
    readonly bytes: number;
    readonly sha256: string;
    /** curl's `%{http_code} %{num_redirects} %{url_effective}`. */
    readonly written: string;
}

/** Downloads `url` with curl following redirects; the body is hashed as it comes. */
function download(url: string, ca: string): Promise<Download> {
    const child = spawn(
        "curl",
        ["-sS", "--fail", "-L", "--cacert", ca, "-o", "-", "-w", "%{stderr}\\n%{http_code} %{num_redirects} %{url_effective}\\n", url],
        { stdio: ["ignore", "pipe", "pipe"] },
    );
    const hasher = createHash("sha256");
    let bytes = 0;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
        bytes += d.length;
        hasher.update(d);
    });
    child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
    });
    return new Promise((resolve) =>
        child.once("close", (code) =>
            resolve({ code, bytes, sha256: `sha256:${hasher.digest("hex")}`, written: stderr.trim().split("\n").at(-1) ?? "" }),
        ),
    );
}

interface Round {
    readonly failures: number;
    readonly perSecond: number;
    /** What each failed download was, for the report. */
    readonly problems: string[];
}

/**
 * `clients` downloads at once; each must be the whole layer, and end at a URL that starts with `urlPrefix`
 * and holds `urlHolds` after `redirects` redirects.
 */
async function blobRound(
    url: string,
    ca: string,
    clients: number,
    layer: { digest: string; size: number },
    expected: { redirects: number; urlPrefix: string; urlHolds: string },
): Promise<Round> {
    const start = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: clients }, () => download(url, ca)));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const problems = results
        .filter(
            (r) =>
                !(
                    r.code === 0 &&
                    r.bytes === layer.size &&
                    r.sha256 === layer.digest &&
                    r.written.startsWith(`200 ${expected.redirects} ${expected.urlPrefix}`) &&
                    r.written.includes(expected.urlHolds)
                ),
        )
        .map((r) => `curl exit ${r.code}, ${r.bytes} bytes, ${r.sha256}, ${r.written}`);
    return { failures: problems.length, perSecond: ((clients - problems.length) * layer.size) / seconds, problems };
}

async function main(): Promise<void> {
    const clients = arg("clients", 8);
    const sizeMib = arg("size-mib", 64);
    const runs = arg("runs", 5);
    const binaries = distributionBinaries();
    const binary = arg("version", 2) === 3 ? binaries.v3 : binaries.v2;
    const scratch = privateDir("bench-redirect");
    const s3 = await startS3Server(PATHS.flatMap((p) => (p.bucket ? [p.bucket] : [])));
    const deployments = new Map<Path, RegistryReplicas>();
    let storeTls: ServerProcess | undefined;
    try {
        const ca = makeTestCa(path.join(scratch, "ca"), ["localhost"]);
        // The store over TLS: nginx in front of the S3 server, the Host header as sent (signatures cover it).
        let storePort = s3.port;
        if (arg("store-tls", 1) !== 0) {
            const storeDir = path.join(scratch, "store-tls");
            mkdirSync(storeDir);
            storePort = await freePort();
            const storeConf = path.join(storeDir, "nginx.conf");
            writeFileSync(
                storeConf,
                ingressNginxConf({
                    dir: storeDir,
                    listen: `127.0.0.1:${storePort}`,
                    serverNames: ["127.0.0.1"],
                    certFile: ca.serverCertFile,
                    keyFile: ca.serverKeyFile,
                    upstream: `127.0.0.1:${s3.port}`,
                    directives: [
                        "client_max_body_size 0;",
                        "proxy_buffering off;",
                        "proxy_request_buffering off;",
                        "proxy_http_version 1.1;",
                    ],
                }),
            );
            storeTls = startServer("/usr/sbin/nginx", ["-c", storeConf, "-p", storeDir]);
            await waitForPort(storePort, 30_000, "the store's TLS");
        }
        const store = storeTls ? `https://127.0.0.1:${storePort}` : s3.endpoint;
        const push = makeAccount("ci-push");
        const image = makeOciImage(path.join(scratch, "image"), sizeMib * 1024 * 1024);
        const manifestDigest = JSON.parse(readFileSync(path.join(image.dir, "index.json"), "utf8")).manifests[0].digest as string;
        const layer = JSON.parse(readFileSync(path.join(image.dir, "blobs/sha256", manifestDigest.slice(7)), "utf8")).layers[0] as {
            digest: string;
            size: number;
        };

        for (const p of PATHS) {
            const common = { version: binary.version, replicas: 1, push, ca, noLoginLimitOnLoopback: true };
            const objects = await synthReplicaObjects(
                p.bucket
                    ? { ...common, bucket: p.bucket, endpoint: store, s3: s3.credentials, redirect: p.redirect }
                    : { ...common, filesystem: true },
            );
            if (p.bucket) {
                const redirect = renderedRedirect(objects);
                if (JSON.stringify(redirect) !== JSON.stringify({ disable: !p.redirect }))
                    throw new Error(`${p.name}: the rendered config.yml has storage.redirect ${JSON.stringify(redirect)}`);
            }
            const deployment = await startRegistryReplicas({
                objects,
                count: 1,
                binary,
                ...(p.bucket ? { bucketPort: storePort, ...(storeTls ? { storeCaFile: ca.caCertFile } : {}) } : {}),
                ca,
            });
            deployments.set(p, deployment);
            const pushed = skopeoCopy(image.ref, `docker://${deployment.authority}/team/bench:1`, {
                certDir: deployment.certDir,
                creds: push,
            });
            if (pushed.code !== 0) throw new Error(`${p.name}: push failed:\n${pushed.stderr}`);
        }

        console.log(
            `Distribution ${binary.version}, the store over ${storeTls ? "TLS" : "plain HTTP"}, ${clients} concurrent clients, layer ${(layer.size / 1024 / 1024).toFixed(1)} MiB, ${runs} rounds, loopback, ${cpus().length} cores, load ${loadavg()
                .map((l) => l.toFixed(2))
                .join(" ")}`,
        );
        const rounds = new Map<Path, Round[]>(PATHS.map((p) => [p, []]));
        for (let i = 0; i < runs; i++) {
            for (const p of PATHS) {
                const url = `https://${deployments.get(p)!.authority}/v2/team/bench/blobs/${layer.digest}`;
                const expected = p.redirect
                    ? {
                          redirects: 1,
                          urlPrefix: `${store}/${p.bucket}/`,
                          urlHolds: `/docker/registry/v2/blobs/sha256/${layer.digest.slice(7, 9)}/${layer.digest.slice(7)}/data?X-Amz-`,
                      }
                    : { redirects: 0, urlPrefix: url, urlHolds: "" };
                rounds.get(p)!.push(await blobRound(url, ca.caCertFile, clients, layer, expected));
            }
        }

        // What the fronts answered to the blob GETs: 307 on the redirect path, 200 on the others, every one.
        const answers = (p: Path) => {
            const statuses = deployments
                .get(p)!
                .frontRequests(0)
                .filter((r) => r.method === "GET" && r.uri.includes("/blobs/sha256:"))
                .map((r) => r.status);
            const expected = p.redirect ? 307 : 200;
            return { count: statuses.length, other: statuses.filter((s) => s !== expected).length, expected };
        };

        console.log(
            "| path | blob downloads, MiB/s: min / median / max | vs. filesystem (medians) | failures | front's answers to the blob GETs |",
        );
        console.log("|---|---|---|---|---|");
        const baseline = median(rounds.get(PATHS[0]!)!.map((r) => r.perSecond));
        let failed = 0;
        for (const p of PATHS) {
            const rs = rounds.get(p)!;
            const speeds = rs.map((r) => r.perSecond).sort((a, b) => a - b);
            const failures = rs.reduce((n, r) => n + r.failures, 0);
            const a = answers(p);
            failed += failures + a.other + (a.count === runs * clients ? 0 : 1);
            console.log(
                `| ${p.name} | ${mib(speeds[0]!)} / ${mib(median(speeds))} / ${mib(speeds.at(-1)!)} | ${(median(speeds) / baseline).toFixed(2)}× | ${failures} of ${runs * clients} | ${a.count} GETs, ${a.count - a.other} answered ${a.expected} |`,
            );
            for (const problem of rs.flatMap((r) => r.problems).slice(0, 3)) console.log(`  ${problem}`);
        }
        console.log(
            `load after: ${loadavg()
                .map((l) => l.toFixed(2))
                .join(" ")}`,
        );
        if (failed > 0) throw new Error("some downloads failed or did not take the path expected (above)");
    } finally {
        for (const d of deployments.values()) await d.stop();
        await storeTls?.stop();
        await s3.stop();
        removeDir(scratch);
    }
}

runBench(main);
