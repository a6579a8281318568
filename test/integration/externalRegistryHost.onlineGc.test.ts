/**
 * Garbage collection while pushes go on, on the external host (`registry.maintenance.garbageCollection.mode`
 * "online"), as the program places it: a test network namespace plays the host, with a real Docker engine
 * running Distribution (the default `registry.image`, built here) from the config the registry container's
 * plan writes without the blob-descriptor cache, and the front's container (the pinned Caddy) made by
 * caddy-apply.sh from the Caddyfile the site's policy renders with the holds. Its files live under a private
 * root ($DSO_ROOT) that dockerd bind-mounts from. The job is the placed dso-registry-gc, run on the host while
 * clients push, mount and retag through the front; on filesystem storage and on an S3 API that checks
 * signatures (versitygw, inside the namespace), the job reaching the bucket with the registry's key.
 *
 * What differs from production, and why: the collection's grace and quarantine are 2 and 3 seconds instead
 * of an hour and a minute (the script's parameters, replaced in its text), so that garbage the test makes
 * seconds before a collection is collectable and a run takes seconds.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { verifyScript } from "../../components/externalHost/backupScripts";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { type HostRegistryStorage, planRegistryContainer } from "../../components/externalHost/registryContainer";
import {
    type ContainerSpec,
    caddyApplyScript,
    containerScript,
    defaultHostLayout,
    gcScript,
    hostPaths,
    renderStorageEnvFile,
} from "../../components/externalHost/scripts";
import { ONLINE_COLLECTION, onlineS3Url } from "../../components/upkeep/onlineCollection";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { frontAccountAndTlsFiles } from "../support/externalHostFront";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount, makeTestCa, type TestAccount, type TestCa } from "../support/realRegistry";
import {
    Client,
    clientLoops,
    heldUntilReleased,
    type Landed,
    MANIFEST_TYPE,
    makeImage,
    mountRound,
    pick,
    pushRound,
    readBackWhole,
    sha,
} from "../support/registryWire";
import { S3_REGION, type S3Server, startS3Server } from "../support/s3Server";
import { privateDir, type RunResult, removeDir, runAsync } from "../support/serverProcess";

const HOST = "registry.online.test";
const layout = defaultHostLayout("/srv/data/registry");
const paths = hostPaths(layout);
const BUCKET = "online-host";
const GRACE_SECONDS = 2;
const QUARANTINE_SECONDS = 3;
/** Collections while the clients run, per storage. */
const COLLECTIONS = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let ns: TestNetns;
let engine: DockerEngine;
let s3: S3Server;
let ca: TestCa;
let scratch: string;
let pusher: TestAccount;

beforeAll(async () => {
    scratch = privateDir("online-gc");
    ca = makeTestCa(path.join(scratch, "ca"), [HOST]);
    ns = await createNetns({ prefix: "og", subnet: "198.18.16.0/20" });
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
    engine = await startDockerEngine(ns);
    registryImage(engine);
    pinnedCaddyImage(engine);
    s3 = await startS3Server([BUCKET], undefined, ns);
    pusher = makeAccount("ci-push");
}, 300_000);

afterAll(async () => {
    await engine?.stop();
    await s3?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe.each(["filesystem", "s3"] as const)("online garbage collection on the external host, %s storage", (storage) => {
    let root: string;
    let spec: ContainerSpec;
    let client: Client;
    const onHost = (p: string) => path.join(root, p);
    const place = (p: string, body: string, mode: number) => {
        mkdirSync(path.dirname(onHost(p)), { recursive: true });
        writeFileSync(onHost(p), body, { mode });
        chmodSync(onHost(p), mode);
    };
    const env = () => ({ ...engine.env, DSO_ROOT: root });
    const mustRun = (script: string): string => {
        const r = ns.run("sh", [onHost(script)], { env: env() });
        if (r.code !== 0) throw new Error(`${script} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        return r.stdout;
    };
    /** The placed GC job, run on the host without blocking the clients. */
    const collect = () => {
        const [command, args] = ns.wrap("sh", [onHost(paths.gcScript)]);
        return runAsync(command, args, { env: env(), timeoutMs: 300_000 });
    };
    const registryId = () => engine.dockerOk(["inspect", "-f", "{{.Id}} {{.State.Running}}", "dso-registry"]).trim();
    /** Every blob the storage holds (its blob folder, or the bucket's keys), by digest. */
    const storedBlobs = async (): Promise<Set<string>> => {
        if (storage === "s3") {
            const keys = await s3.listKeys(BUCKET, "registry/docker/registry/v2/blobs/");
            return new Set(keys.flatMap((k) => /\/([0-9a-f]{64})\/data$/.exec(k)?.slice(1) ?? []));
        }
        const base = onHost(`${layout.dataDir}/docker/registry/v2/blobs/sha256`);
        if (!existsSync(base)) return new Set();
        return new Set(
            readdirSync(base).flatMap((prefix) =>
                readdirSync(path.join(base, prefix)).filter((hex) => existsSync(path.join(base, prefix, hex, "data"))),
            ),
        );
    };
    /** What Distribution's own offline mark would remove now. */
    const dryRun = () =>
        new Set(
            [
                ...engine
                    .dockerOk(["exec", "dso-registry", "registry", "garbage-collect", "--dry-run", "/etc/dso-registry/config.yml"])
                    .matchAll(/^blob eligible for deletion: sha256:([0-9a-f]{64})$/gm),
            ].map((m) => m[1] as string),
        );

    beforeAll(async () => {
        root = privateDir(`online-gc-${storage}`);
        const hostStorage: HostRegistryStorage =
            storage === "s3"
                ? {
                      kind: "s3",
                      bucket: BUCKET,
                      region: S3_REGION,
                      endpoint: s3.endpoint,
                      forcePathStyle: true,
                      rootDirectory: "/registry",
                      redirect: false,
                      credentials: s3.credentials,
                  }
                : { kind: "filesystem" };
        spec = {
            name: "dso-registry",
            image: registryImage(engine),
            layout,
            ...(storage === "s3" ? { storage: { kind: "s3", bucket: BUCKET, endpoint: s3.endpoint } } : {}),
        };
        // Distribution's files as the registry container's plan writes them, the cache off as online mode asks.
        const registry = planRegistryContainer("registry-host-container", {
            connection: { kind: "local", name: "test", sudo: false },
            spec,
            storage: hostStorage,
            deletesEnabled: true,
            blobDescriptorCache: false,
        });
        for (const f of registry.files) {
            if (typeof f.args.content === "string") place(f.args.path, f.args.content, Number.parseInt(f.args.mode, 8));
        }
        expect(readFileSync(onHost(paths.registryConfig), "utf8")).not.toMatch(/blobdescriptor/);
        if (storage === "s3") place(paths.storageEnv, renderStorageEnvFile(s3.credentials), 0o600);
        else mkdirSync(onHost(layout.dataDir), { recursive: true });
        place("/usr/local/sbin/start-registry", containerScript(spec, registry.specFingerprint), 0o755);
        expect(mustRun("/usr/local/sbin/start-registry")).toContain("changed container");

        // The front: its container made by caddy-apply.sh, on the site's policy with the holds.
        for (const f of frontAccountAndTlsFiles(layout, pusher, ca)) place(f.path, f.body, f.mode);
        const policy = caddySitePolicy({
            layout,
            registryHost: HOST,
            port: 443,
            tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
            requiresAuthForPull: false,
            allowedNetworks: [],
            deletesEnabled: true,
            blobFiles: storage === "filesystem",
            upstream: `unix/${paths.registrySocket}`,
            sweepHold: true,
        });
        place(layout.caddyfile, renderCaddyfile(policy), 0o644);
        place("/usr/local/sbin/apply-front", caddyApplyScript(layout, `fp-${storage}`, pinnedCaddyImage(engine), [443], true), 0o755);
        expect(mustRun("/usr/local/sbin/apply-front")).toContain("changed caddy");

        // The jobs as the host's upkeep places them, online, with the test's grace and quarantine.
        place(paths.verifyScript, verifyScript(spec), 0o755);
        const online =
            storage === "s3"
                ? {
                      s3Url: onlineS3Url({ bucket: BUCKET, region: S3_REGION, endpoint: s3.endpoint, rootDirectory: "/registry" }),
                      s3Region: S3_REGION,
                  }
                : {};
        const gc = gcScript(spec, registry.specFingerprint, false, undefined, undefined, false, false, online);
        const timings = gc
            .replace(`ONLINE_GRACE_SECONDS='${ONLINE_COLLECTION.graceSeconds}'`, `ONLINE_GRACE_SECONDS='${GRACE_SECONDS}'`)
            .replace(
                `ONLINE_QUARANTINE_SECONDS='${ONLINE_COLLECTION.quarantineSeconds}'`,
                `ONLINE_QUARANTINE_SECONDS='${QUARANTINE_SECONDS}'`,
            );
        expect(timings.match(/ONLINE_(GRACE|QUARANTINE)_SECONDS='[23]'/g)).toHaveLength(2);
        place(paths.gcScript, timings, 0o755);

        client = new Client({ address: ns.address, port: 443, servername: HOST, caCertPem: ca.caCertPem, ...pusher });
    }, 300_000);

    afterAll(() => {
        client?.agent.destroy();
        // The next storage's host starts with no container of this one's.
        engine?.docker(["rm", "-f", "dso-registry", "dso-registry-front"]);
        if (root) removeDir(root);
    });

    test("the front's container sees the collection's holds: a held blob's check answers 404; with the gate away, its mount and a manifest PUT wait and then land", async () => {
        const image = makeImage([randomBytes(900), randomBytes(300)]);
        await client.pushImage("hold/a", "v1", image);
        const digest = `sha256:${sha(image.layers[0] as Buffer)}`;
        expect((await client.request("HEAD", `/v2/hold/a/blobs/${digest}`)).status).toBe(200);
        // The gate, as caddy-apply.sh made it: a link to Distribution's socket, followed inside the front's container.
        const gate = onHost(`${paths.sweepHold}/gate`);
        expect(readlinkSync(gate)).toBe(paths.registrySocket);
        place(`${paths.sweepHold}/${digest}`, "", 0o644);
        rmSync(gate);
        try {
            expect((await client.request("HEAD", `/v2/hold/a/blobs/${digest}`)).status).toBe(404);
            const answers = await heldUntilReleased(
                {
                    mount: client.request("POST", `/v2/hold/b/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=hold/a`),
                    manifest: client.request("PUT", "/v2/hold/a/manifests/v2", image.manifest, { "Content-Type": MANIFEST_TYPE }),
                },
                2000,
                () => {
                    rmSync(onHost(`${paths.sweepHold}/${digest}`));
                    symlinkSync(paths.registrySocket, gate);
                },
            );
            expect([answers.mount.status, answers.manifest.status]).toEqual([201, 201]);
        } finally {
            // The link's target is a path inside the front's container: lstat, not exists, tells whether it is there.
            rmSync(onHost(`${paths.sweepHold}/${digest}`), { force: true });
            rmSync(gate, { force: true });
            symlinkSync(paths.registrySocket, gate);
        }
        expect((await client.request("HEAD", `/v2/hold/a/blobs/${digest}`)).status).toBe(200);
    });

    test("docker's push whose manifest comes while the gate is away waits at the front, and lands when the gate is back", async () => {
        ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, ca.caCertPem);
        expect(engine.login(HOST, pusher).code).toBe(0);
        const ref = payloadImage(engine, `${HOST}/hold/docker:${storage}`, { payloadBytes: 64 * 1024 });
        const gate = onHost(`${paths.sweepHold}/gate`);
        rmSync(gate);
        // The gate comes back from a process of its own: docker's push runs synchronously here.
        const lifter = spawn("sh", ["-c", 'sleep 4; ln -s "$1" "$2"', "sh", paths.registrySocket, gate], { stdio: "ignore" });
        try {
            const pushed = engine.docker(["push", ref]);
            expect(pushed.code, `${pushed.stdout}\n${pushed.stderr}`).toBe(0);
        } finally {
            lifter.kill();
            rmSync(gate, { force: true });
            symlinkSync(paths.registrySocket, gate);
        }
        // The front's log: docker's manifest PUT was held (it took seconds), and answered 201, not 503.
        const puts = readFileSync(onHost(paths.accessLog), "utf8")
            .split("\n")
            .filter((line) => line.includes(`/v2/hold/docker/manifests/${storage}`))
            .map((line) => JSON.parse(line) as { request: { method: string }; status: number; duration: number })
            .filter((entry) => entry.request.method === "PUT");
        expect(puts.map((p) => p.status)).toEqual([201]);
        expect(puts[0]?.duration).toBeGreaterThan(1);
        const got = await client.request("GET", `/v2/hold/docker/manifests/${storage}`, undefined, {
            Accept: "application/vnd.docker.distribution.manifest.v2+json",
        });
        expect(got.status, got.body.toString()).toBe(200);
    });

    test("the job collects while clients push, mount and retag: Distribution never restarts, no window opens, every image stays whole", {
        timeout: 300_000,
    }, async () => {
        const landed: Landed[] = [];
        const shared = randomBytes(2048);
        let n = 0;
        const fresh = () => makeImage([randomBytes(3000 + (n++ % 5) * 400), shared]);
        for (let i = 0; i < 4; i++) {
            const image = fresh();
            await client.pushImage(`seed/app-${i % 2}`, `v${i}`, image);
            landed.push({ repo: `seed/app-${i % 2}`, tag: `v${i}`, image });
        }
        /** Images pushed and deleted: garbage at the next mark. */
        const makeGarbage = async (round: number) => {
            for (let i = 0; i < 3; i++) {
                const image = makeImage([randomBytes(4000 + i * 100), randomBytes(1000)]);
                await client.pushImage("garbage/g", `r${round}-${i}`, image);
                await client.deleteImage("garbage/g", image);
            }
        };
        const before = registryId();
        const clients = clientLoops({
            push: pushRound(client, landed, fresh, 3),
            mount: mountRound(client, landed, 3),
            retag: async (i) => {
                const from = pick(landed);
                if (await client.putManifest(from.repo, `t${i}`, from.image))
                    landed.push({ repo: from.repo, tag: `t${i}`, image: from.image });
            },
        });
        const runs: RunResult[] = [];
        try {
            for (let k = 0; k < COLLECTIONS; k++) {
                await makeGarbage(k);
                await sleep((GRACE_SECONDS + 1) * 1000);
                runs.push(await collect());
            }
        } finally {
            await clients.stop();
        }
        const swept = runs.map((r) => Number(/online collection: \d+ candidates, \d+ protected .*, (\d+) swept/.exec(r.stdout)?.[1] ?? -1));
        console.log(
            `${storage}: ${COLLECTIONS} online collections on the host during ${JSON.stringify(clients.rounds)} client rounds; swept ${swept.join(", ")}; client answers ${JSON.stringify(client.counts)}`,
        );
        for (const r of runs) {
            expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
            expect(r.stdout).toContain("collecting garbage while the registry takes pushes (online)");
            expect(r.stdout).toMatch(/verified: \d+ tagged images, \d+ blobs, all served/);
            expect(r.stdout).not.toMatch(/read-only/);
        }
        expect(swept.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        expect(Object.values(clients.rounds).every((x) => x > 0)).toBe(true);
        // The same Distribution throughout, and no window's marker left (none was made: no retention, no Maven).
        expect(registryId()).toBe(before);
        expect(existsSync(onHost(paths.readOnlyMarker))).toBe(false);
        // Every hold gone, the gate back.
        expect(readdirSync(onHost(paths.sweepHold))).toEqual(["gate"]);
        expect(readlinkSync(onHost(`${paths.sweepHold}/gate`))).toBe(paths.registrySocket);
        // Every image a client put, read back whole through the front.
        expect(await readBackWhole(client, landed)).toBeGreaterThan(0);
    });

    test("with no client writing, the job removes exactly what Distribution's offline collection would", { timeout: 120_000 }, async () => {
        const image = makeImage([randomBytes(6000), randomBytes(800)]);
        await client.pushImage("garbage/last", "x", image);
        await client.deleteImage("garbage/last", image);
        await sleep((GRACE_SECONDS + 1) * 1000);
        const offline = dryRun();
        expect(offline.size).toBeGreaterThan(0);
        const stored = await storedBlobs();
        const run = await collect();
        expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
        const after = await storedBlobs();
        expect(new Set([...stored].filter((hex) => !after.has(hex)))).toEqual(offline);
        expect(dryRun()).toEqual(new Set());
        // Nothing is left aside in the storage's set-aside folder.
        if (storage === "s3") expect(await s3.listKeys(BUCKET, "registry/docker/registry/v2/dso-swept/")).toEqual([]);
        else expect(readdirSync(onHost(`${layout.dataDir}/docker/registry/v2/dso-swept`))).toEqual([]);
    });
});
