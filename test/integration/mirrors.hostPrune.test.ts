/**
 * The external host's pull-through cache and its prune job, as the prod stack's synth renders them,
 * run for real over SSH against a real Docker engine (Debian's docker.io, the locally built
 * default `registry.image`) inside a test network namespace that plays the registry host. The engine
 * pulls through the cache container; the prune script empties the cache past a tiny `maxSize` and
 * removes blobs older than `maxAge`, and the cache still serves pulls afterwards, fetching again from
 * its upstream, while the registry's own data directory is left as it was. With the upstream stopped,
 * the cache restarted (its start script) serves what it holds, read-only, and turns to proxy mode once
 * the upstream is back.
 *
 * What differs from production, and why: the upstream is a plain-HTTP Distribution on the
 * namespace's address (containers here have neither public DNS nor public CAs), so the cache's
 * files are the same renderer's output with that remote URL, placed by the synth's own write
 * commands. The limits under test are made tiny by changing the two numbers of the synth's prune line.
 * The cache listens on its unix socket only; the engine pulls through Caddy on the namespace's
 * loopback, with nothing but the front's `reverse_proxy` to that socket (the rendered front's routes
 * are proven in mirrors.test.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { hostMirrorFiles, hostMirrorPaths } from "../../components/mirrors/hostCaches";
import { DOCKER_HUB, MIRROR_FILE_ROLES, MIRROR_FILES } from "../../components/mirrors/mirrors";
import { type CacheHost, startCacheHost } from "../support/cacheHost";
import { committedSynthDir } from "../support/committedSynth";
import type { DockerEngine } from "../support/dockerEngine";
import type { TestNetns } from "../support/netns";
import { makeOciImage, skopeoPushPlainHttp } from "../support/realRegistry";
import { type SocketFront, startSocketFront } from "../support/socketFront";
import { CADDY_USER, NOBODY, socketRequestAs } from "../support/socketRequest";
import type { SshServer } from "../support/sshServer";

/** The prod stack's layout (Pulumi.prod.yaml: dataDir /srv/data/registry, mirrors docker.io, ghcr.io, registry.k8s.io). */
const layout = defaultHostLayout("/srv/data/registry");
const cache = hostMirrorPaths(
    { pathName: DOCKER_HUB.name },
    `${layout.dataDir}-mirrors`,
    layout.registryConfigDir,
    layout.mirrorSocketsDir,
);
/** The loopback port the docker.io cache was published on before it listened on its socket (hash of its name onto 5101–5999). */
const FORMER_CACHE_PORT = 5663;
/** Where the test's Caddy listens for the engine's pulls. */
const FRONT_PORT = 5400;
const PRUNE_SCRIPT = "/usr/local/sbin/dso-registry-mirror-prune";
const UPSTREAM_PORT = 5300;
const REPOSITORY = "library/m2app";

let host: CacheHost;
let ns: TestNetns;
let engine: DockerEngine;
let ssh: SshServer;
let front: SocketFront;
let scratch: string;
let hostDir: string;
/** What the engine pulls: the cache on the host's loopback. */
let imageRef: string;
/** The image pushed to the upstream (an OCI layout). */
let sourceImage: string;

const onDisk = (p: string) => path.join(ssh.root, p);

/** A command the synth wrote for the registry host, without the `sudo -n ` a root session does not need. */
function synthCommand(name: string): string {
    const text = readFileSync(path.join(hostDir, "commands", `${name}.sh`), "utf8");
    return text.replace(/^sudo -n /, "");
}

function runRemote(script: string, stdin = ""): string {
    const result = ssh.runScript(script, stdin);
    if (result.code !== 0) throw new Error(`script failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout.trim();
}

/**
 * The synth's prune script with other limits (KiB, minutes) and the test's upstream for the docker.io
 * cache: its line in the script's CACHES parameter ("CONTAINER LIMIT MINUTES UPSTREAM DIR").
 */
function pruneScriptWith(limitKiB: number, maxAgeMinutes: number): string {
    const script = readFileSync(path.join(hostDir, PRUNE_SCRIPT), "utf8");
    const line = new RegExp(`^((?:CACHES=')?${cache.container.replace(/\./g, "\\.")}) \\d+ \\d+ ${DOCKER_HUB.remoteUrl} (\\S+)$`, "m");
    if (!line.test(script)) throw new Error(`the synth's prune script has no line for ${cache.container} in CACHES:\n${script}`);
    return script.replace(line, `$1 ${limitKiB} ${maxAgeMinutes} ${upstreamUrl()} $2`);
}

const upstreamUrl = () => `http://${ns.address}:${UPSTREAM_PORT}`;

/** Sets the file times of the cached blobs two hours back; returns that time. */
function ageCachedBlobs(blobs: readonly string[]): Date {
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    for (const f of blobs) utimesSync(f, twoHoursAgo, twoHoursAgo);
    return twoHoursAgo;
}

/** The synth's job reporter, which the prune script runs itself through (monitoring, on in the prod stack). */
const REPORTER = "/usr/local/sbin/dso-registry-report";

/** Places the prune script (and the synth's reporter) where the synth puts them, and runs it as cron does. */
function runPrune(script: string): string {
    for (const [hostPath, body] of [
        [REPORTER, readFileSync(path.join(hostDir, REPORTER), "utf8")],
        [PRUNE_SCRIPT, script],
    ] as const) {
        mkdirSync(path.dirname(onDisk(hostPath)), { recursive: true });
        writeFileSync(onDisk(hostPath), body, { mode: 0o755 });
    }
    return runRemote(`exec "$DSO_ROOT${PRUNE_SCRIPT}"`);
}

/** Blob data files in the cache's storage. */
function cachedBlobFiles(): string[] {
    const root = onDisk(`${cache.dataDir}/docker/registry/v2/blobs/sha256`);
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((fan) =>
        readdirSync(path.join(root, fan))
            .map((d) => path.join(root, fan, d, "data"))
            .filter((f) => existsSync(f)),
    );
}

/** Waits until the cache has stored `count` blobs (it stores behind the response). */
async function waitForCachedBlobs(count: number): Promise<string[]> {
    for (let i = 0; i < 600 && cachedBlobFiles().length < count; i++) await new Promise((r) => setTimeout(r, 100));
    return cachedBlobFiles();
}

/** Blob GETs the upstream has logged for the repository so far. */
function upstreamBlobFetches(): number {
    return host.upstream
        .output()
        .split("\n")
        .filter((l) => l.includes(`"GET /v2/${REPOSITORY}/blobs/sha256:`)).length;
}

/** A pull by the engine with nothing of the image on it. */
/**
 * The image pulled anew through the front. A cache the prune has just started again answers only once its
 * start script has found the upstream and started Distribution; until then the front holds each request for
 * its retry window and then answers 502 (nodes use the upstream meanwhile, docs/mirrors.md), so a 502 is
 * tried again for up to 30 s.
 */
async function freshPull(): Promise<{ code: number; output: string }> {
    const until = Date.now() + 30_000;
    for (;;) {
        engine.docker(["rmi", imageRef]);
        const r = engine.docker(["pull", imageRef]);
        const output = `${r.stdout}\n${r.stderr}`;
        if (r.code === 0 || !output.includes("502 Bad Gateway") || Date.now() > until) return { code: r.code, output };
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}

/** Every file under the registry's own data directory with its content, to compare before and after. */
function registryDataSnapshot(): Record<string, string> {
    const root = onDisk(layout.dataDir);
    const walk = (dir: string): [string, string][] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
            const p = path.join(dir, e.name);
            return e.isDirectory() ? walk(p) : [[path.relative(root, p), readFileSync(p, "utf8")] as [string, string]];
        });
    return Object.fromEntries(walk(root));
}

function containerState(): { running: boolean; startedAt: string } {
    const [running, startedAt] = engine.dockerOk(["inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", cache.container]).split(" ");
    return { running: running === "true", startedAt: startedAt ?? "" };
}

beforeAll(async () => {
    const synthHosts = path.join(committedSynthDir("prod"), "hosts");
    const target = readdirSync(synthHosts).find((d) => existsSync(path.join(synthHosts, d, PRUNE_SCRIPT)));
    if (!target) throw new Error("the prod synth has no registry host with a mirror prune script");
    hostDir = path.join(synthHosts, target);

    host = await startCacheHost({ name: "m2-prune", prefix: "mtwo", subnet: "198.18.160.0/20", upstreamPort: UPSTREAM_PORT });
    ({ ns, engine, ssh, scratch } = host);
    sourceImage = makeOciImage(path.join(scratch, "image"), 512 * 1024).ref;
    skopeoPushPlainHttp(ns, sourceImage, `docker://${ns.address}:${UPSTREAM_PORT}/${REPOSITORY}:1`);
    imageRef = `127.0.0.1:${FRONT_PORT}/${REPOSITORY}:1`;
    front = await startSocketFront(ns, FRONT_PORT, onDisk(cache.socket));

    // The registry's own data, which no cache step may touch.
    mkdirSync(onDisk(`${layout.dataDir}/docker/registry/v2/repositories/team/app`), { recursive: true });
    writeFileSync(onDisk(`${layout.dataDir}/docker/registry/v2/repositories/team/app/marker`), "the registry's own data\n");
}, 300_000);

afterAll(async () => {
    await front?.stop();
    await host?.stop();
}, 120_000);

describe("the external host's pull-through cache and its prune job, over SSH against a real Docker engine", () => {
    test("the synth's script runs the cache container on its unix socket with its own storage beside the registry's data", async () => {
        const files = hostMirrorFiles({ remoteUrl: upstreamUrl(), ttl: "168h" });
        for (const file of Object.values(MIRROR_FILES)) {
            const write = synthCommand(`registry-host-mirrors-docker-io-${MIRROR_FILE_ROLES[file]}-write.create`);
            expect(runRemote(write, files[file])).toMatch(/^changed /);
        }
        expect(runRemote(synthCommand("registry-host-mirrors-docker-io-run.create"))).toBe(`changed mirror container ${cache.container}`);
        const c = JSON.parse(engine.dockerOk(["inspect", cache.container]))[0];
        const caddyGid = ns.run("getent", ["group", "caddy"]).stdout.split(":")[2];
        expect({
            running: c.State.Running,
            restart: c.HostConfig.RestartPolicy.Name,
            user: c.Config.User,
            ports: c.HostConfig.PortBindings,
            mounts: c.Mounts.map((m: { Source: string; Destination: string }) => [m.Source, m.Destination]).sort(),
        }).toEqual({
            running: true,
            restart: "unless-stopped",
            user: `0:${caddyGid}`,
            ports: {},
            mounts: [
                ...Object.values(MIRROR_FILES).map((f) => [onDisk(`${cache.configDir}/${f}`), `/etc/dso-registry/${f}`]),
                [onDisk(cache.socketDir), "/run/dso-registry"],
                [onDisk(cache.dataDir), "/var/lib/registry"],
            ].sort(),
        });
        // The start script logs its choice once the upstream has answered its check (busy machines take a moment).
        await expect
            .poll(() => engine.dockerOk(["logs", cache.container]), { timeout: 30_000, interval: 500 })
            .toContain(`${upstreamUrl()} answers: serving as its pull-through cache`);
    });

    test("no path around the front: the former loopback port refuses, only Caddy's group opens the cache's socket", async () => {
        const socket = onDisk(cache.socket);
        for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
        expect(ns.run("curl", ["-sS", "-o", "/dev/null", "--max-time", "5", `http://127.0.0.1:${FORMER_CACHE_PORT}/v2/`]).code).toBe(7);
        expect(ns.run("stat", ["-c", "%A %U %G", socket]).stdout.trim()).toBe("srwxrwx--- root caddy");
        for (const dir of [cache.socketDir, layout.mirrorSocketsDir]) {
            expect(ns.run("stat", ["-c", "%a %U %G", onDisk(dir)]).stdout.trim(), dir).toBe("750 root caddy");
        }
        expect(socketRequestAs(ns, NOBODY, socket, "http://localhost/v2/").code).toBe(7);
        expect(socketRequestAs(ns, CADDY_USER, socket, "http://localhost/v2/").stdout).toBe("200");
    });

    test("the engine pulls through the cache, which fetched from the upstream and stored the image", async () => {
        const status = () => ns.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${FRONT_PORT}/v2/`]).stdout;
        for (let i = 0; i < 100 && status() !== "200"; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        const before = upstreamBlobFetches();
        const pulled = await freshPull();
        expect(pulled.code, pulled.output).toBe(0);
        expect(upstreamBlobFetches()).toBeGreaterThan(before);
        expect((await waitForCachedBlobs(2)).length).toBeGreaterThanOrEqual(2);
    });

    test("the synth's prune job (50Gi, 168h) reports the cache within its limits and leaves it running as it was", () => {
        const before = containerState();
        const blobs = cachedBlobFiles();
        const out = runPrune(readFileSync(path.join(hostDir, PRUNE_SCRIPT), "utf8"));
        expect(out).toMatch(new RegExp(`^${cache.container.replace(/\./g, "\\.")}: \\d+ KiB of 52428800 KiB$`, "m"));
        expect(out).toContain("dso-registry-mirror-ghcr.io: no cache yet");
        // Its outcome and the caches' sizes, left for node_exporter's textfile collector.
        const textfiles = onDisk("/var/lib/prometheus/node-exporter");
        expect(readFileSync(path.join(textfiles, "dso_registry_cache-prune.prom"), "utf8")).toMatch(
            /^dso_registry_upkeep_success\{task="cache-prune"\} 1$/m,
        );
        expect(readFileSync(path.join(textfiles, "dso_registry_caches.prom"), "utf8")).toMatch(
            new RegExp(`^dso_registry_cache_limit_bytes\\{cache="${cache.container.replace(/\./g, "\\.")}"\\} ${52428800 * 1024}$`, "m"),
        );
        expect(containerState()).toEqual(before);
        expect(cachedBlobFiles()).toEqual(blobs);
    });

    test("past a tiny maxSize the job empties the cache, which still serves the image, fetched again from the upstream", async () => {
        const registryData = registryDataSnapshot();
        expect(cachedBlobFiles().length).toBeGreaterThanOrEqual(2);
        const out = runPrune(pruneScriptWith(64, 10080));
        expect(out).toMatch(/dso-registry-mirror-docker\.io: \d+ KiB exceeded 64 KiB; emptied/);
        expect(cachedBlobFiles()).toEqual([]);
        expect(containerState().running).toBe(true);

        const before = upstreamBlobFetches();
        const pulled = await freshPull();
        expect(pulled.code, pulled.output).toBe(0);
        expect(upstreamBlobFetches()).toBeGreaterThan(before);
        expect((await waitForCachedBlobs(2)).length).toBeGreaterThanOrEqual(2);
        expect(registryDataSnapshot()).toEqual(registryData);
    });

    test("blobs older than maxAge are removed; the cache fetches them again at the next pull and stores them anew", async () => {
        const registryData = registryDataSnapshot();
        const blobs = await waitForCachedBlobs(2);
        // Stored two hours ago, as far as the file times tell; the limit is one hour.
        const twoHoursAgo = ageCachedBlobs(blobs);
        const out = runPrune(pruneScriptWith(52428800, 60));
        expect(out).toContain(`dso-registry-mirror-docker.io: removed ${blobs.length} blobs stored more than 60 minutes ago`);
        expect(cachedBlobFiles()).toEqual([]);
        expect(containerState().running).toBe(true);

        const before = upstreamBlobFetches();
        const pulled = await freshPull();
        expect(pulled.code, pulled.output).toBe(0);
        expect(upstreamBlobFetches()).toBeGreaterThan(before);
        const again = await waitForCachedBlobs(blobs.length);
        expect(again.length).toBe(blobs.length);
        for (const f of again) expect(statSync(f).mtimeMs).toBeGreaterThan(twoHoursAgo.getTime() + 3600 * 1000);
        expect(registryDataSnapshot()).toEqual(registryData);
    });

    test("blobs younger than maxAge stay, and the cache is not restarted", () => {
        const before = containerState();
        const blobs = cachedBlobFiles();
        const out = runPrune(pruneScriptWith(52428800, 60));
        expect(out).not.toContain("removed");
        expect(containerState()).toEqual(before);
        expect(cachedBlobFiles()).toEqual(blobs);
    });

    test("while the upstream does not answer, the job leaves the cache running with what it holds", async () => {
        const before = containerState();
        const blobs = cachedBlobFiles();
        ageCachedBlobs(blobs);
        await host.upstream.stop();
        try {
            for (const [limit, what] of [
                [64, "too large"],
                [52428800, "too old"],
            ] as const) {
                const out = runPrune(pruneScriptWith(limit, 60));
                expect(out, what).toContain(`${upstreamUrl()} does not answer, so the cache is left running as it is`);
                expect(containerState(), what).toEqual(before);
                expect(cachedBlobFiles(), what).toEqual(blobs);
            }
            // It still serves what it holds to the nodes.
            const pulled = await freshPull();
            expect(pulled.code, pulled.output).toBe(0);
        } finally {
            await host.startUpstream();
        }
    });

    test("restarted while its upstream does not answer (the host rebooted in an outage), the cache serves what it holds, read-only; it turns to proxy mode once the upstream is back", async () => {
        const socket = onDisk(cache.socket);
        const logs = () => engine.docker(["logs", cache.container]);
        const said = (text: string) => {
            const l = logs();
            return `${l.stdout}${l.stderr}`.split(text).length - 1;
        };
        await host.upstream.stop();
        try {
            engine.dockerOk(["restart", cache.container]);
            for (let i = 0; i < 300 && socketRequestAs(ns, CADDY_USER, socket, "http://localhost/v2/").stdout !== "200"; i++) {
                await new Promise((r) => setTimeout(r, 100));
            }
            expect(said(`${upstreamUrl()} does not answer: serving what this cache holds, read-only`)).toBeGreaterThan(0);
            const pulled = await freshPull();
            expect(pulled.code, pulled.output).toBe(0);
            // Read-only: Distribution itself refuses a write (the front refuses them before it anyway).
            const write = socketRequestAs(ns, CADDY_USER, socket, `http://localhost/v2/${REPOSITORY}/blobs/uploads/`, ["-X", "POST"]);
            expect(write.stdout).toBe("405");
        } finally {
            await host.startUpstream();
        }
        // A tag only the upstream has comes through once the cache asks it again (every MIRROR_PROBE_SECONDS).
        skopeoPushPlainHttp(ns, sourceImage, `docker://${ns.address}:${UPSTREAM_PORT}/${REPOSITORY}:2`);
        for (let i = 0; i < 600 && said("answers again: turning to the pull-through cache") === 0; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        const second = imageRef.replace(/:1$/, ":2");
        const r = engine.docker(["pull", second]);
        expect(r.code, `${r.stdout}\n${r.stderr}\n${logs().stdout.slice(-3000)}`).toBe(0);
        engine.docker(["rmi", second]);
    });

    test("the backup copies the registry's data and config but no cache", () => {
        const backup = readFileSync(path.join(hostDir, "usr/local/sbin/dso-registry-backup"), "utf8");
        const paths = (/^BACKED_UP='([^']*)'$/m.exec(backup)?.[1] ?? "").split("\n");
        expect(paths).toContain(layout.dataDir);
        const holdsCache = paths.filter((p) => cache.dataDir === p || cache.dataDir.startsWith(`${p}/`));
        expect(holdsCache).toEqual([]);
    });

    test("delete removes the cache container, its socket and its storage", () => {
        expect(runRemote(synthCommand("registry-host-mirrors-docker-io-run.delete"))).toBe(
            `removed mirror container ${cache.container} and its cache`,
        );
        expect(engine.docker(["inspect", cache.container]).code).not.toBe(0);
        expect(existsSync(onDisk(cache.dataDir))).toBe(false);
        expect(existsSync(onDisk(cache.socketDir))).toBe(false);
        expect(existsSync(onDisk(`${layout.dataDir}/docker/registry/v2/repositories/team/app/marker`))).toBe(true);
    });
});
