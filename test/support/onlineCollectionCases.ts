/**
 * Garbage collection while pushes go on (docs/decisions/online-collection.md), with real software: Distribution 2.8.3 and 3.1.2 (their Go
 * modules, test/support/distributionBinaries.ts), on filesystem storage and on an S3 API that checks
 * signatures (versitygw), behind the pinned Caddy with the rendered Caddyfile and its hold
 * (`AccessPolicy.sweepHold`), the collection being components/upkeep/sh/online-collect.sh.
 *
 * Per case, clients run without pause while online collections run one after the other: a pusher of new
 * images, each on a new layer and a layer shared with earlier images; a mounter that mounts an image's
 * blobs into another repository and puts its manifest there; a retagger that reads a manifest by tag and
 * puts it under a new tag; and a re-pusher of images whose manifests were deleted (garbage at the mark:
 * the dangerous case), to the repository they were deleted from, checking each blob first as docker does.
 * Between collections the test deletes more images. Each client retries a 503 (the hold's answer) and
 * starts its image again when a manifest names a blob the registry no longer has (what a CI retry does).
 * Then every image a client put is read back whole through the front, the product's verify script finds
 * every tagged image whole, and, with the clients stopped, one more online collection removes exactly the
 * blobs an offline collection of the same state lists (`--dry-run`), byte for byte, after which a real
 * offline collection finds nothing more to remove.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderShellScript } from "../../components/shared/shellScript";
import { renderVerifyScript } from "../../components/upkeep/verify";
import { pinnedCaddy } from "./caddyBinaries";
import { type DistributionBinary, distributionBinaries } from "./distributionBinaries";
import { type RealRegistry, startRealRegistry } from "./realRegistry";
import {
    Client,
    clientLoops,
    heldUntilReleased,
    type Image,
    type Landed,
    MANIFEST_TYPE,
    makeImage,
    mountRound,
    pick,
    pushRound,
    readBackWhole,
    sha,
} from "./registryWire";
import { S3_REGION, type S3Server, startS3Server } from "./s3Server";
import { run, runAsync } from "./serverProcess";

const BINARIES = distributionBinaries();
/** Online collections while the clients run, per case. */
const COLLECTIONS = 5;
/** Images the test deletes before each collection (their blobs become garbage). */
const DELETED_PER_ROUND = 4;
const SETTLE_SECONDS = 1;
/**
 * How long before the mark a request still protects what it names. The setting's default is an hour; here
 * two seconds, so that garbage the test made a few seconds before a mark is removed by it (what the clients
 * touch during the mark stays protected all the same).
 */
const GRACE_SECONDS = 2;
/** How long the sweep keeps what it set aside before the second mark: long enough here for the test to write a late manifest. */
const QUARANTINE_SECONDS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every blob file of a storage root (a directory, or a bucket's folder in the S3 server's backend): digest → bytes. */
function blobsOnDisk(root: string): Map<string, number> {
    const blobs = new Map<string, number>();
    const base = path.join(root, "docker/registry/v2/blobs/sha256");
    let prefixes: string[] = [];
    try {
        prefixes = readdirSync(base);
    } catch {
        return blobs;
    }
    for (const prefix of prefixes) {
        for (const hex of readdirSync(path.join(base, prefix))) {
            try {
                blobs.set(hex, statSync(path.join(base, prefix, hex, "data")).size);
            } catch {
                // A blob directory without data: nothing a client can read.
            }
        }
    }
    return blobs;
}

type Storage = "filesystem" | "s3";

/** The cases of one storage, each version of Distribution in turn: one test file per storage, so that the two run side by side. */
export function describeOnlineCollection(storage: Storage): void {
    const CASES = [BINARIES.v2, BINARIES.v3].map((binary) => ({ binary, storage }));
    describe.each(CASES.map((c) => [`Distribution ${c.binary.version}, ${c.storage}`, c] as const))(
        "online collection: %s",
        (_label, c: { binary: DistributionBinary; storage: Storage }) => {
            let s3: S3Server | undefined;
            let registry: RealRegistry;
            let client: Client;
            let bin: string;
            let script: string;
            const bucket = `online-${c.binary.version.replace(/\./g, "-")}`;

            /** The storage root as the test reads it (the S3 server's backend keeps objects as files). */
            const storageRoot = () => (s3 ? path.join(s3.root, bucket, "registry") : registry.dataDir);

            beforeAll(async () => {
                if (c.storage === "s3") s3 = await startS3Server([bucket]);
                registry = await startRealRegistry({
                    caddyBinary: pinnedCaddy(),
                    registryBinary: c.binary.path,
                    accessLog: true,
                    sweepHold: true,
                    // Online collection needs Distribution without its blob-descriptor cache (distribution#3743).
                    blobDescriptorCache: false,
                    ...(s3 ? { s3: { server: s3, bucket } } : {}),
                });
                client = new Client({
                    address: "127.0.0.1",
                    port: registry.caddyPort as number,
                    caCertPem: registry.ca.caCertPem,
                    username: registry.push.username,
                    password: registry.push.password,
                });
                bin = path.join(registry.dir, "bin");
                run("mkdir", ["-p", bin]);
                symlinkSync(c.binary.path, path.join(bin, "registry"));
                const curlConfig = path.join(registry.dir, "s3-curl.conf");
                if (s3)
                    writeFileSync(curlConfig, `user = "${s3.credentials.accessKeyId}:${s3.credentials.secretAccessKey}"\n`, {
                        mode: 0o600,
                    });
                script = writeCollector("online-collect", {});
            });

            /** The collection script with the test's timings, or `timings` instead; its path. */
            const writeCollector = (name: string, timings: { graceSeconds?: number; quarantineSeconds?: number }) => {
                const curlConfig = path.join(registry.dir, "s3-curl.conf");
                const file = path.join(registry.dir, name);
                writeFileSync(
                    file,
                    renderShellScript(path.join(__dirname, "onlineCollection.sh"), {
                        REGISTRY_URL: `http://127.0.0.1:${registry.registryPort}`,
                        HTTP_CLIENT: "curl",
                        UNIX_SOCKET: "",
                        REGISTRY_CONFIG: path.join(registry.dir, "config.yml"),
                        ONLINE_HOLD_DIR: registry.sweepHoldDir as string,
                        ONLINE_GATE_TARGET: registry.gateTarget as string,
                        ONLINE_ACCESS_LOG: registry.accessLogFile as string,
                        ONLINE_GRACE_SECONDS: timings.graceSeconds ?? GRACE_SECONDS,
                        ONLINE_SETTLE_SECONDS: SETTLE_SECONDS,
                        ONLINE_QUARANTINE_SECONDS: timings.quarantineSeconds ?? QUARANTINE_SECONDS,
                        ONLINE_STORE: s3 ? "" : registry.dataDir,
                        ONLINE_S3_URL: s3 ? `${s3.endpoint}/${bucket}/registry` : "",
                        ONLINE_S3_REGION: S3_REGION,
                        ONLINE_S3_CURL_CONFIG: s3 ? curlConfig : "",
                    }),
                    { mode: 0o700 },
                );
                return file;
            };

            afterAll(async () => {
                client?.agent.destroy();
                await registry?.stop();
                await s3?.stop();
            });

            const collectEnv = () => ({
                PATH: `${bin}:${process.env.PATH}`,
                OTEL_TRACES_EXPORTER: "none",
                ...(s3
                    ? {
                          REGISTRY_STORAGE_S3_ACCESSKEY: s3.credentials.accessKeyId,
                          REGISTRY_STORAGE_S3_SECRETKEY: s3.credentials.secretAccessKey,
                      }
                    : {}),
            });

            /** One online collection; its summary line parsed. */
            const collectOnline = async (collector = script, timeoutSeconds = 300) => {
                // coreutils' timeout signals the script's whole process group, its sleeps too.
                const out = await runAsync("timeout", ["-s", "KILL", String(timeoutSeconds), "sh", collector], {
                    env: collectEnv(),
                    timeoutMs: (timeoutSeconds + 10) * 1000,
                });
                expect(out.code, `${out.stdout}\n${out.stderr}`).toBe(0);
                const m = /(\d+) candidates, (\d+) protected .*, (\d+) swept, (\d+) bytes reclaimed/.exec(out.stdout);
                const [candidates, protectedCount, swept, bytes] = m ? m.slice(1).map(Number) : [0, 0, 0, 0];
                const shut = /the gate was shut for (\d+) s/.exec(out.stdout);
                // Manifests are held (the gate shut) exactly when there is something to sweep.
                expect(shut !== null, out.stdout).toBe((candidates ?? 0) > 0);
                return { candidates, protected: protectedCount, swept, bytes, gateSeconds: Number(shut?.[1] ?? 0), out: out.stdout };
            };

            test("every candidate protected (blobs uploaded within the grace, named by no manifest): the gate shuts and opens again, nothing is set aside, and the collection ends without waiting out the quarantine", async () => {
                const orphans = [randomBytes(2048), randomBytes(3072)];
                for (const data of orphans) await client.pushBlob("protected/orphans", data);
                // A grace of ten minutes protects them; a quarantine of ten minutes would outlast the two minutes
                // the run is given, were it waited for with nothing aside.
                const collector = writeCollector("online-collect-protected", { graceSeconds: 600, quarantineSeconds: 600 });
                const done = await collectOnline(collector, 120);
                expect(done.candidates, done.out).toBe(orphans.length);
                expect(done.protected, done.out).toBe(orphans.length);
                expect(done.swept, done.out).toBe(0);
                const onDisk = blobsOnDisk(storageRoot());
                for (const data of orphans) expect(onDisk.get(sha(data))).toBe(data.length);
                const hold = readdirSync(registry.sweepHoldDir as string);
                expect(hold).toEqual(["gate"]);
                expect((await client.request("HEAD", `/v2/protected/orphans/blobs/sha256:${sha(orphans[0] as Buffer)}`)).status).toBe(200);
            });

            test("the hold: a held blob's check 404; with the gate away, its commit, its mount and a manifest PUT wait at the front and land when it is back, while reads and other commits go on", async () => {
                const image = makeImage([randomBytes(1000), randomBytes(1200)]);
                await client.pushImage("hold/a", "v1", image);
                const layer = image.layers[0] as Buffer;
                const digest = `sha256:${sha(layer)}`;
                const hold = path.join(registry.sweepHoldDir as string, digest);
                const gate = path.join(registry.sweepHoldDir as string, "gate");
                expect((await client.request("HEAD", `/v2/hold/a/blobs/${digest}`)).status).toBe(200);
                /** An upload session's commit of `blob`, as a path and query. */
                const commitOf = async (blob: Buffer) => {
                    const start = await client.request("POST", "/v2/hold/b/blobs/uploads/");
                    expect(start.status).toBe(202);
                    const location = new URL(String(start.headers.location), registry.url);
                    location.searchParams.set("digest", `sha256:${sha(blob)}`);
                    return `${location.pathname}${location.search}`;
                };
                const commit = await commitOf(layer);
                writeFileSync(hold, "");
                rmSync(gate);
                try {
                    expect((await client.request("HEAD", `/v2/hold/a/blobs/${digest}`)).status).toBe(404);
                    // A pull's GET is not held; another blob's check is not either, nor its commit.
                    expect((await client.request("GET", `/v2/hold/a/blobs/${digest}`)).status).toBe(200);
                    expect((await client.request("HEAD", `/v2/hold/a/blobs/sha256:${sha(image.config)}`)).status).toBe(200);
                    const other = randomBytes(300);
                    expect((await client.request("PUT", await commitOf(other), other)).status).toBe(201);
                    const answers = await heldUntilReleased(
                        {
                            commit: client.request("PUT", commit, layer),
                            mount: client.request("POST", `/v2/hold/c/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=hold/a`),
                            manifest: client.request("PUT", "/v2/hold/a/manifests/v2", image.manifest, { "Content-Type": MANIFEST_TYPE }),
                        },
                        2000,
                        async () => {
                            // Reads go on meanwhile.
                            const v1 = await client.request("GET", "/v2/hold/a/manifests/v1", undefined, { Accept: MANIFEST_TYPE });
                            expect(v1.status).toBe(200);
                            const v2 = await client.request("GET", "/v2/hold/a/manifests/v2", undefined, { Accept: MANIFEST_TYPE });
                            expect(v2.status).toBe(404);
                            // As the collection ends: the hold goes, the gate comes back, and every write waiting goes on.
                            rmSync(hold);
                            symlinkSync(registry.gateTarget as string, gate);
                        },
                    );
                    expect([answers.commit.status, answers.mount.status, answers.manifest.status]).toEqual([201, 201, 201]);
                } finally {
                    rmSync(hold, { force: true });
                    rmSync(gate, { force: true });
                    symlinkSync(registry.gateTarget as string, gate);
                }
                const got = await client.request("GET", "/v2/hold/a/manifests/v2", undefined, { Accept: MANIFEST_TYPE });
                expect(sha(got.body)).toBe(image.digest.slice(7));
                expect(sha((await client.request("GET", `/v2/hold/c/blobs/${digest}`)).body)).toBe(sha(layer));
            });

            test("a manifest Distribution writes after the sweep set its blobs aside (its blob check passed before): the second mark finds it, and they go back", {
                timeout: 180_000,
            }, async () => {
                const image = makeImage([randomBytes(5000), randomBytes(700)]);
                await client.pushImage("late/a", "v1", image);
                await client.deleteImage("late/a", image);
                await sleep((GRACE_SECONDS + 1) * 1000);
                const root = storageRoot();
                const layer = sha(image.layers[0] as Buffer);
                const manifest = image.digest.slice(7);
                const running = collectOnline();
                // The layer set aside, every hold gone and the gate back: the collection waits out its quarantine.
                const holds = registry.sweepHoldDir as string;
                const deadline = Date.now() + 60_000;
                while (!(existsSync(path.join(root, "docker/registry/v2/dso-swept", layer)) && readdirSync(holds).join() === "gate")) {
                    if (Date.now() > deadline) throw new Error("the layer was not set aside within a minute");
                    await sleep(50);
                }
                // What Distribution writes for a PUT of the image as late/a:v2 whose blob check passed just before
                // the set-aside and which stalled past the log's second reading: the manifest's content, its
                // revision, its tag (files in the storage, as the filesystem driver and the S3 server's backend keep them).
                const write = (rel: string, content: string | Buffer) => {
                    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
                    writeFileSync(path.join(root, rel), content);
                };
                const manifests = "docker/registry/v2/repositories/late/a/_manifests";
                write(`docker/registry/v2/blobs/sha256/${manifest.slice(0, 2)}/${manifest}/data`, image.manifest);
                write(`${manifests}/revisions/sha256/${manifest}/link`, image.digest);
                write(`${manifests}/tags/v2/index/sha256/${manifest}/link`, image.digest);
                write(`${manifests}/tags/v2/current/link`, image.digest);
                const result = await running;
                const got = await client.request("GET", "/v2/late/a/manifests/v2", undefined, { Accept: MANIFEST_TYPE });
                expect(got.status, got.body.toString()).toBe(200);
                expect(sha(got.body)).toBe(manifest);
                for (const blob of [...image.layers, image.config]) {
                    const b = await client.request("GET", `/v2/late/a/blobs/sha256:${sha(blob)}`);
                    expect(b.status, `blob ${sha(blob)}: ${b.body}`).toBe(200);
                    expect(sha(b.body)).toBe(sha(blob));
                }
                expect(result.out).toMatch(/online collection: [1-9]\d* blobs put back \(referenced by a manifest the second mark found\)/);
            });

            test("collections run while clients push, mount, retag and re-push garbage; every image stays whole; reclaimed bytes match an offline collection", {
                timeout: 600_000,
            }, async () => {
                const landed: Landed[] = [];
                const base = Array.from({ length: 4 }, () => randomBytes(2048));
                /** Deleted images: garbage at the next mark, pushed again by the re-pusher. */
                const deleted: { repo: string; image: Image }[] = [];
                let nextRepush: { repo: string; image: Image }[] = [];
                let n = 0;
                const fresh = () => makeImage([randomBytes(3000 + (n % 7) * 512), base[n++ % base.length] as Buffer]);

                // Seed: images that stay, and garbage.
                for (let i = 0; i < 6; i++) {
                    const image = fresh();
                    await client.pushImage(`seed/app-${i % 3}`, `v${i}`, image);
                    landed.push({ repo: `seed/app-${i % 3}`, tag: `v${i}`, image });
                }
                const makeGarbage = async (round: number) => {
                    for (let i = 0; i < DELETED_PER_ROUND; i++) {
                        const repo = `garbage/g-${i % 2}`;
                        const image = makeImage([randomBytes(4000 + i * 100), randomBytes(1500)]);
                        await client.pushImage(repo, `r${round}-${i}`, image);
                        await client.deleteImage(repo, image);
                        // Half of them the re-pusher pushes again, from the moment the next collection starts:
                        // during its mark and its hold, while they are garbage at the mark. The other half stays garbage.
                        if (i % 2 === 0) nextRepush.push({ repo, image });
                    }
                };
                await makeGarbage(0);

                const clients = clientLoops({
                    push: pushRound(client, landed, fresh, 4),
                    mount: mountRound(client, landed, 4),
                    retag: async (i) => {
                        const from = pick(landed);
                        // Distribution's filesystem driver rewrites a link file in place: a GET that reads one while
                        // another client puts the same manifest gets 500 "invalid checksum digest format" (no collection
                        // involved). Read again, as a client's retry does.
                        let got = await client.request("GET", `/v2/${from.repo}/manifests/${from.tag}`, undefined, {
                            Accept: MANIFEST_TYPE,
                        });
                        for (let t = 0; got.status === 500 && t < 10; t++) {
                            client.counts.linkRace++;
                            await sleep(50);
                            got = await client.request("GET", `/v2/${from.repo}/manifests/${from.tag}`, undefined, {
                                Accept: MANIFEST_TYPE,
                            });
                        }
                        expect(got.status, `GET ${from.repo}:${from.tag}: ${got.body}\n${registry.logs().registry.slice(-3000)}`).toBe(200);
                        expect(sha(got.body)).toBe(from.image.digest.slice(7));
                        if (await client.putManifest(from.repo, `t${i}`, from.image))
                            landed.push({ repo: from.repo, tag: `t${i}`, image: from.image });
                    },
                    repush: async (i) => {
                        if (deleted.length === 0) {
                            await sleep(50);
                            return;
                        }
                        const again = pick(deleted);
                        await client.pushImage(again.repo, `again-${i}`, again.image);
                        landed.push({ repo: again.repo, tag: `again-${i}`, image: again.image });
                    },
                });
                const rounds = clients.rounds;

                const collections: Awaited<ReturnType<typeof collectOnline>>[] = [];
                try {
                    for (let k = 1; k <= COLLECTIONS; k++) {
                        deleted.push(...nextRepush);
                        nextRepush = [];
                        collections.push(await collectOnline());
                        await makeGarbage(k);
                        await sleep((GRACE_SECONDS + 1) * 1000);
                    }
                } finally {
                    await clients.stop();
                }
                const total = Object.values(rounds).reduce((a, b) => a + b, 0);
                console.log(
                    `${_label}: ${COLLECTIONS} online collections during ${total} client rounds (${JSON.stringify(rounds)}); ` +
                        `per collection ${collections.map((x) => `${x.candidates}/${x.protected}/${x.swept}/${x.bytes}/${x.gateSeconds}`).join(" ")} (candidates/protected/swept/bytes/gate shut s); ` +
                        `client answers ${JSON.stringify(client.counts)}`,
                );
                expect(collections.reduce((a, x) => a + (x.swept ?? 0), 0)).toBeGreaterThan(0);
                expect(collections.reduce((a, x) => a + (x.protected ?? 0), 0)).toBeGreaterThan(0);

                // Every image a client put: its manifest by its tag, and every blob of it whole in its repository, through the front.
                const blobsRead = await readBackWhole(client, landed);
                console.log(`${_label}: ${landed.length} tags and ${blobsRead} blobs (per repository) read back whole`);
                // The product's verify script: every tagged image served whole by Distribution itself.
                const verifyScript = path.join(registry.dir, "verify");
                writeFileSync(
                    verifyScript,
                    renderVerifyScript({
                        base: `http://127.0.0.1:${registry.registryPort}`,
                        client: "curl",
                        registryLogs: "the test's registry log",
                        remedy: "REMEDY",
                        ...(s3 ? {} : { blobStore: registry.dataDir }),
                    }),
                );
                const verify = run("sh", [verifyScript]);
                expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);

                // Clients stopped: what an offline collection of this state removes, then the online one.
                await makeGarbage(COLLECTIONS + 1);
                await sleep((GRACE_SECONDS + 1) * 1000);
                const dry = run("registry", ["garbage-collect", "--dry-run", path.join(registry.dir, "config.yml")], { env: collectEnv() });
                expect(dry.code, dry.stderr).toBe(0);
                const offline = new Set(
                    [...dry.stdout.matchAll(/^blob eligible for deletion: sha256:([0-9a-f]{64})$/gm)].map((m) => m[1] as string),
                );
                const before = blobsOnDisk(storageRoot());
                const offlineBytes = [...offline].reduce((a, hex) => a + (before.get(hex) ?? 0), 0);
                const last = await collectOnline();
                const after = blobsOnDisk(storageRoot());
                const removed = [...before.keys()].filter((hex) => !after.has(hex));
                const removedBytes = removed.reduce((a, hex) => a + (before.get(hex) ?? 0), 0);
                console.log(
                    `${_label}: clients stopped: offline would remove ${offline.size} blobs, ${offlineBytes} bytes; online removed ${removed.length}, ${removedBytes} bytes (it reports ${last.bytes})`,
                );
                expect(new Set(removed)).toEqual(offline);
                expect(removedBytes).toBe(offlineBytes);
                expect(last.bytes).toBe(offlineBytes);
                // A real offline collection now finds nothing more.
                const real = run("registry", ["garbage-collect", path.join(registry.dir, "config.yml")], { env: collectEnv() });
                expect(real.code, real.stderr).toBe(0);
                expect(blobsOnDisk(storageRoot()).size).toBe(after.size);
                expect(readFileSync(path.join(registry.dir, "config.yml"), "utf8")).not.toMatch(/blobdescriptor/);
            });
        },
    );
}
