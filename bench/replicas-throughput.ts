/**
 * Pull throughput against the number of registry replicas (1, 2, 3) on one bucket, all in the same run:
 * the in-cluster registry as test/support/registryReplicas.ts plays it (per replica Distribution 2.8.3
 * and 3.x alike with the rendered config and environment, the pinned Caddy with the rendered sidecar
 * Caddyfile; nginx as the Ingress balancing per request over the fronts), on the test S3 server
 * (test/support/s3Server.ts), everything on loopback. s3 storage means every blob flows through
 * Distribution (`redirect: false`, the default), so this is the path that replicas could widen.
 *
 * The 3 replicas run once; an Ingress of its own for each count balances over the first 1, 2 or all 3
 * fronts, and the rounds go through the three Ingresses in turn, so that other load on the machine
 * falls on every count alike. Per replica count, median of `--runs` rounds:
 *   - blobs: `--clients` concurrent anonymous downloads of one layer (`--size-mib`) through the Ingress;
 *     each must fetch the whole size, and one per round is hashed against the digest; MiB/s is the bytes
 *     of all downloads over the wall time;
 *   - manifests: `--clients` curls at once, each GETting the image's manifest by digest `--requests`
 *     times over one connection; every answer must be a 200 of the manifest's size, one per curl is
 *     hashed; requests/s over the wall time.
 *
 *   npx tsx bench/replicas-throughput.ts [--clients 16] [--size-mib 32] [--runs 3] [--requests 100] [--version 2|3]
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import { distributionBinaries } from "../test/support/distributionBinaries";
import { ingressLocations, ingressNginxConf } from "../test/support/ingress";
import { makeAccount, makeOciImage, makeTestCa, skopeoCopy } from "../test/support/realRegistry";
import { REPLICAS_HOST, startRegistryReplicas, synthReplicaObjects } from "../test/support/registryReplicas";
import { startS3Server } from "../test/support/s3Server";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../test/support/serverProcess";
import { arg, median, runBench } from "./support";

const HOST = REPLICAS_HOST;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** Runs curl with `args`; resolves with its exit code and its stdout (as bytes when `hash`, hashed). */
function curl(args: readonly string[], hash: boolean): Promise<{ code: number | null; stdout: string; sha256: string; bytes: number }> {
    const child = spawn("curl", ["-sS", ...args], { stdio: ["ignore", "pipe", "ignore"] });
    const hasher = createHash("sha256");
    let stdout = "";
    let bytes = 0;
    child.stdout.on("data", (d: Buffer) => {
        bytes += d.length;
        if (hash) hasher.update(d);
        else stdout += d.toString();
    });
    return new Promise((resolve) =>
        child.once("close", (code) => resolve({ code, stdout, sha256: `sha256:${hasher.digest("hex")}`, bytes })),
    );
}

interface Round {
    readonly failures: number;
    readonly perSecond: number;
}

async function blobRound(url: string, ca: string, clients: number, size: number, digest: string): Promise<Round> {
    const start = process.hrtime.bigint();
    const results = await Promise.all(
        Array.from({ length: clients }, (_, i) =>
            i === 0
                ? curl(["--fail", "--cacert", ca, "-o", "-", url], true).then(
                      (r) => r.code === 0 && r.bytes === size && r.sha256 === digest,
                  )
                : curl(["--fail", "--cacert", ca, "-o", "/dev/null", "-w", "%{size_download}", url], false).then(
                      (r) => r.code === 0 && Number(r.stdout) === size,
                  ),
        ),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const ok = results.filter(Boolean).length;
    return { failures: clients - ok, perSecond: (ok * size) / seconds };
}

async function manifestRound(
    url: string,
    ca: string,
    clients: number,
    requests: number,
    size: number,
    digest: string,
    dir: string,
): Promise<Round> {
    // One curl config per client: the same URL `requests` times, each to /dev/null, over one connection.
    const config = path.join(dir, "manifests.curl");
    writeFileSync(
        config,
        [
            `header = "Accept: ${OCI_MANIFEST}"`,
            `cacert = "${ca}"`,
            ...Array.from({ length: requests }, () => `url = "${url}"\noutput = "/dev/null"`),
        ].join("\n"),
    );
    const start = process.hrtime.bigint();
    const results = await Promise.all(
        Array.from({ length: clients }, async () => {
            const [all, hashed] = await Promise.all([
                curl(["-K", config, "-w", "%{http_code} %{size_download}\\n"], false),
                curl(["--cacert", ca, "-H", `Accept: ${OCI_MANIFEST}`, "-o", "-", url], true),
            ]);
            const good = all.stdout.split("\n").filter((l) => l === `200 ${size}`).length;
            return hashed.sha256 === digest ? good + 1 : good;
        }),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const ok = results.reduce((a, b) => a + b, 0);
    return { failures: clients * (requests + 1) - ok, perSecond: ok / seconds };
}

async function main(): Promise<void> {
    const clients = arg("clients", 16);
    const sizeMib = arg("size-mib", 32);
    const runs = arg("runs", 3);
    const requests = arg("requests", 100);
    const binaries = distributionBinaries();
    const binary = arg("version", 2) === 3 ? binaries.v3 : binaries.v2;
    const scratch = privateDir("bench-replicas");
    const s3 = await startS3Server(["bench"]);
    try {
        const ca = makeTestCa(path.join(scratch, "ca"), [HOST]);
        const push = makeAccount("ci-push");
        const objects = await synthReplicaObjects({
            version: binary.version,
            replicas: 3,
            bucket: "bench",
            endpoint: s3.endpoint,
            s3: s3.credentials,
            push,
            ca,
            // The bench is one client address: the token endpoint's limit is not what is measured.
            noLoginLimitOnLoopback: true,
        });

        const image = makeOciImage(path.join(scratch, "image"), sizeMib * 1024 * 1024);
        const manifestDigest = JSON.parse(readFileSync(path.join(image.dir, "index.json"), "utf8")).manifests[0].digest as string;
        const manifestBytes = readFileSync(path.join(image.dir, "blobs/sha256", manifestDigest.slice(7)));
        const layer = JSON.parse(manifestBytes.toString()).layers[0] as { digest: string; size: number };

        console.log(
            `Distribution ${binary.version}, ${clients} concurrent clients, layer ${(layer.size / 1024 / 1024).toFixed(1)} MiB, ${requests} manifest GETs per client, loopback, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`,
        );
        console.log("| replicas | blob downloads, MiB/s (failures) | manifest GETs, requests/s (failures) |");
        console.log("|---|---|---|");
        const replicas = await startRegistryReplicas({ objects, count: 3, binary, bucketPort: Number(new URL(s3.endpoint).port), ca });
        const ingresses: ServerProcess[] = [];
        try {
            const r = skopeoCopy(image.ref, `docker://${replicas.authority}/team/bench:1`, { certDir: replicas.certDir, creds: push });
            if (r.code !== 0) throw new Error(`push failed:\n${r.stderr}`);
            // The Ingresses over the first 1 and 2 fronts (the replicas' own one is over all 3), with the
            // rendered Ingresses' directives; reads are anonymous, so no token is asked for.
            const { http, locations } = ingressLocations(objects.filter((o) => o.kind === "Ingress"));
            const authorities = new Map<number, string>([[3, replicas.authority]]);
            for (const count of [1, 2]) {
                const dir = path.join(scratch, `ingress-${count}`);
                mkdirSync(dir);
                const port = await freePort();
                const conf = path.join(dir, "nginx.conf");
                writeFileSync(
                    conf,
                    ingressNginxConf({
                        dir,
                        listen: `127.0.0.1:${port}`,
                        serverNames: [HOST, "127.0.0.1"],
                        certFile: ca.serverCertFile,
                        keyFile: ca.serverKeyFile,
                        upstream: "registry_replicas",
                        http: [
                            ...http,
                            `upstream registry_replicas { ${replicas.replicas
                                .slice(0, count)
                                .map((p) => `server 127.0.0.1:${p.front} max_fails=0;`)
                                .join(" ")} }`,
                        ],
                        locations,
                    }),
                );
                ingresses.push(startServer("/usr/sbin/nginx", ["-c", conf, "-p", dir]));
                await waitForPort(port, 30_000, `ingress over ${count}`);
                authorities.set(count, `127.0.0.1:${port}`);
            }
            const blobs = new Map<number, Round[]>([1, 2, 3].map((n) => [n, []]));
            const manifests = new Map<number, Round[]>([1, 2, 3].map((n) => [n, []]));
            for (let i = 0; i < runs; i++) {
                for (const count of [1, 2, 3]) {
                    const base = `https://${authorities.get(count)}/v2/team/bench`;
                    blobs
                        .get(count)!
                        .push(await blobRound(`${base}/blobs/${layer.digest}`, ca.caCertFile, clients, layer.size, layer.digest));
                    manifests
                        .get(count)!
                        .push(
                            await manifestRound(
                                `${base}/manifests/${manifestDigest}`,
                                ca.caCertFile,
                                clients,
                                requests,
                                manifestBytes.length,
                                manifestDigest,
                                scratch,
                            ),
                        );
                }
            }
            const failures = (rs: Round[]) => rs.reduce((n, r) => n + r.failures, 0);
            for (const count of [1, 2, 3]) {
                const b = blobs.get(count)!;
                const m = manifests.get(count)!;
                console.log(
                    `| ${count} | ${(median(b.map((r) => r.perSecond)) / 1024 / 1024).toFixed(0)} (${failures(b)}) | ${median(m.map((r) => r.perSecond)).toFixed(0)} (${failures(m)}) |`,
                );
            }
            console.log(`load after: ${loadavg()[0]!.toFixed(2)}`);
        } finally {
            for (const ingress of ingresses) await ingress.stop();
            await replicas.stop();
        }
    } finally {
        await s3.stop();
        removeDir(scratch);
    }
}

runBench(main);
