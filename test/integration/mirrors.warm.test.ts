/**
 * A pull-through cache warmed ahead of need (`registry.mirrors[].warm`), with real software inside a test
 * network namespace whose /etc/hosts makes `registry-1.docker.io` a local stand-in: Distribution with TLS
 * from a test CA plays Docker Hub, holding a one-platform image and a multi-platform index (linux/amd64,
 * linux/arm64, linux/s390x); the rendered cache (its start script, busybox's tools, the deployed
 * Distribution) and the rendered front (Caddy) are the mirror. The rendered warm script, as the cluster's
 * Job runs it (busybox's wget, against the cache's own port), fetches the listed images; then the upstream
 * is stopped, and containerd (`ctr --hosts-dir` through the rendered hosts.toml) pulls every listed image
 * and each listed platform of the index, while an unlisted image and an unlisted platform fail. Before the
 * warm run, the same pull with the upstream stopped fails: the warm step is what makes it work. The external
 * host's rendered script (curl over the cache's unix socket) fills a second cache run on a socket as the host runs it.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { hostMirrorPaths, hostWarmScript } from "../../components/mirrors/hostCaches";
import {
    DOCKER_HUB,
    MIRROR_FILES,
    type MirrorSpec,
    mirrorCaFile,
    renderMirrorFiles,
    renderMirrorHostsToml,
} from "../../components/mirrors/mirrors";
import { mirrorWarm, renderWarmScript } from "../../components/mirrors/warm";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry, UPSTREAM_REGISTRY } from "../support/distributionBinaries";
import { busyboxRootfs } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import { caddyEnv, makeOciImage, makeTestCa, type PrivateContainerd, startContainerd, type TestCa } from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";

const REGISTRY = "registry.mw.test";
const DOCKER_HUB_ADDRESS = "127.0.0.2";
const CACHE_PORT = 5111;

let ns: TestNetns;
let scratch: string;
let upstreamCa: TestCa;
let registryCa: TestCa;
const servers: Record<string, ServerProcess> = {};
const containerds: PrivateContainerd[] = [];

const dockerHub: MirrorSpec = {
    upstream: DOCKER_HUB.name,
    pathName: DOCKER_HUB.name,
    remoteUrl: DOCKER_HUB.remoteUrl,
    ttl: "168h",
    maxSize: "1Gi",
    hasCredentials: false,
    // As a stack writes it: "single:1" is Docker Hub's library/single; platforms default (linux/amd64, linux/arm64).
    warm: mirrorWarm(DOCKER_HUB.name, { images: ["single:1", "library/multi:1"] }),
};

async function waitInside(url: string, what: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
        if (ns.run("curl", ["-s", "-k", "-o", "/dev/null", "--max-time", "2", url]).code === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${what} did not answer at ${url}\n${servers[what]?.output() ?? ""}`);
}

function startUpstream(): Promise<void> {
    const dir = path.join(scratch, "docker-hub");
    mkdirSync(dir, { recursive: true });
    const config = path.join(dir, "config.yml");
    writeFileSync(
        config,
        renderRegistryConfig({
            addr: `${DOCKER_HUB_ADDRESS}:443`,
            storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
            deletesEnabled: false,
            tls: { certificate: upstreamCa.serverCertFile, key: upstreamCa.serverKeyFile },
        }),
    );
    servers["docker-hub"] = ns.startServer(UPSTREAM_REGISTRY, ["serve", config]);
    return waitInside(`https://${DOCKER_HUB_ADDRESS}/v2/`, "docker-hub");
}

/** busybox's applets and the deployed Distribution as `registry`: the registry image's programs (Alpine's busybox has wget too). */
function imageBin(): string {
    const root = path.join(scratch, "image-root");
    if (!existsSync(root)) {
        busyboxRootfs(root);
        symlinkSync(deployedRegistry().path, path.join(root, "bin", "registry"));
    }
    return path.join(root, "bin");
}

const cacheData = () => path.join(scratch, "cache-data");

function startCache(): Promise<void> {
    const dir = path.join(scratch, "cache-files");
    mkdirSync(dir, { recursive: true });
    const files = renderMirrorFiles({
        addr: `127.0.0.1:${CACHE_PORT}`,
        rootDirectory: cacheData(),
        remoteUrl: dockerHub.remoteUrl,
        ttl: "168h",
    });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    const bin = imageBin();
    servers.cache = ns.startServer(path.join(bin, "env"), [`PATH=${bin}`, "sh", path.join(dir, MIRROR_FILES.startScript)], {
        ...process.env,
        ...DISTRIBUTION.environment,
        SSL_CERT_FILE: upstreamCa.caCertFile,
    });
    return waitInside(`http://127.0.0.1:${CACHE_PORT}/v2/`, "cache");
}

/** Runs the rendered warm script as the cluster's Job does: busybox's sh and wget, the cache's own address. */
function runWarm(images = dockerHub.warm!.images, client: "busybox-wget" | "curl" = "busybox-wget"): { code: number; output: string } {
    const script = path.join(scratch, "warm.sh");
    writeFileSync(
        script,
        renderWarmScript(
            { images, platforms: dockerHub.warm!.platforms },
            { base: `http://127.0.0.1:${CACHE_PORT}`, client, cacheLogs: "the cache's log" },
        ),
    );
    // busybox-wget: the image's tools alone; curl: the host's (this machine's curl, as the host's cron runs it).
    const bin = imageBin();
    const r = client === "curl" ? ns.run("sh", [script]) : ns.run(path.join(bin, "env"), [`PATH=${bin}`, "sh", script]);
    return { code: r.code, output: `${r.stdout}\n${r.stderr}` };
}

function hostsDir(): string {
    const dir = path.join(scratch, "certs.d");
    mkdirSync(path.join(dir, REGISTRY), { recursive: true });
    writeFileSync(path.join(dir, REGISTRY, "ca.crt"), registryCa.caCertPem);
    mkdirSync(path.join(dir, dockerHub.upstream), { recursive: true });
    writeFileSync(
        path.join(dir, dockerHub.upstream, "hosts.toml"),
        renderMirrorHostsToml({
            mirror: dockerHub,
            registryHost: REGISTRY,
            registryPort: 443,
            caFile: mirrorCaFile(REGISTRY),
            header: "# test",
        }),
    );
    return dir;
}

/** A pull by a fresh containerd (a node that holds nothing), of one platform. */
async function pull(ref: string, platform = "linux/amd64"): Promise<{ code: number; output: string }> {
    const ctrd = await startContainerd();
    containerds.push(ctrd);
    const r = ns.run("ctr", ["--address", ctrd.address, "images", "pull", "--platform", platform, "--hosts-dir", hostsDir(), ref], {
        env: { ...process.env, SSL_CERT_FILE: upstreamCa.caCertFile },
    });
    return { code: r.code, output: `${r.stdout}\n${r.stderr}` };
}

function cachedBlobs(): string[] {
    const root = path.join(cacheData(), "docker/registry/v2/blobs/sha256");
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((fan) => readdirSync(path.join(root, fan)).filter((d) => existsSync(path.join(root, fan, d, "data"))));
}

/** Runs `body` with the upstream stopped, and starts it again after. */
async function whileUpstreamIsDown(body: () => Promise<void>): Promise<void> {
    await servers["docker-hub"]!.stop();
    try {
        expect(ns.run("curl", ["-s", "-o", "/dev/null", "--max-time", "2", "https://registry-1.docker.io/v2/"]).code).not.toBe(0);
        await body();
    } finally {
        await startUpstream();
    }
}

function upstreamCurl(args: readonly string[], input?: string) {
    return ns.run("curl", ["-sS", "--cacert", upstreamCa.caCertFile, ...args], input === undefined ? {} : { input });
}

/** Pushes an image to the stand-in's repository under `tag`; returns its manifest's descriptor. */
function pushImage(name: string, repository: string, tag: string): { digest: string; size: number; mediaType: string } {
    const image = makeOciImage(path.join(scratch, `image-${name}`), 64 * 1024);
    const certDir = path.join(scratch, "skopeo-certs");
    mkdirSync(certDir, { recursive: true });
    writeFileSync(path.join(certDir, "ca.crt"), upstreamCa.caCertPem);
    const r = ns.run("skopeo", [
        "--insecure-policy",
        "copy",
        "--retry-times",
        "0",
        "--dest-cert-dir",
        certDir,
        "--dest-no-creds",
        image.ref,
        `docker://registry-1.docker.io/${repository}:${tag}`,
    ]);
    if (r.code !== 0) throw new Error(`skopeo copy failed\n${r.stderr}`);
    const head = upstreamCurl([
        "-I",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        `https://registry-1.docker.io/v2/${repository}/manifests/${tag}`,
    ]).stdout;
    const header = (n: string) => new RegExp(`^${n}:\\s*(\\S+)`, "im").exec(head)?.[1] ?? "";
    return { digest: header("Docker-Content-Digest"), size: Number(header("Content-Length")), mediaType: header("Content-Type") };
}

beforeAll(async () => {
    scratch = privateDir("mirror-warm");
    ns = await createNetns({ prefix: "mw", subnet: "198.18.112.0/20" });
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${REGISTRY}\n${DOCKER_HUB_ADDRESS} registry-1.docker.io\n`);
    upstreamCa = makeTestCa(path.join(scratch, "upstream-tls"), ["registry-1.docker.io"]);
    registryCa = makeTestCa(path.join(scratch, "registry-tls"), [REGISTRY]);
    await startUpstream();

    pushImage("single", "library/single", "1");
    pushImage("other", "library/other", "1");
    // A multi-platform index: three images by digest, each under a platform of its own.
    const platforms = [
        { architecture: "amd64", os: "linux" },
        { architecture: "arm64", os: "linux", variant: "v8" },
        { architecture: "s390x", os: "linux" },
    ];
    const manifests = platforms.map((platform) => ({
        ...pushImage(platform.architecture, "library/multi", platform.architecture),
        platform,
    }));
    const index = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
    const put = upstreamCurl(
        [
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary",
            "@-",
            "https://registry-1.docker.io/v2/library/multi/manifests/1",
        ],
        index,
    );
    if (put.stdout !== "201") throw new Error(`index push answered ${put.stdout}\n${put.stderr}`);

    await startCache();

    const pushUsers = path.join(scratch, "users-push");
    const pullUsers = path.join(scratch, "users-pull");
    writeFileSync(pushUsers, renderUsersFile("push", []), { mode: 0o600 });
    writeFileSync(pullUsers, renderUsersFile("pull", []), { mode: 0o600 });
    const registryConfig = path.join(scratch, "registry.yml");
    writeFileSync(
        registryConfig,
        renderRegistryConfig({
            addr: "127.0.0.1:5000",
            storage: { kind: "filesystem", rootDirectory: path.join(scratch, "registry-data") },
            deletesEnabled: false,
        }),
    );
    servers.registry = ns.startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment });
    await waitInside("http://127.0.0.1:5000/v2/", "registry");
    const caddyfile = path.join(scratch, "Caddyfile");
    writeFileSync(
        caddyfile,
        renderCaddyfile({
            siteAddress: REGISTRY,
            bindAddress: ns.address,
            upstream: "127.0.0.1:5000",
            requiresAuthForPull: false,
            pushUsersFile: pushUsers,
            pullUsersFile: pullUsers,
            mirrors: [{ pathName: dockerHub.pathName, upstream: `127.0.0.1:${CACHE_PORT}` }],
            port: 443,
            admin: "off",
            tls: { kind: "files", certFile: registryCa.serverCertFile, keyFile: registryCa.serverKeyFile },
            allowedNetworks: [],
            deletesEnabled: false,
        }),
    );
    servers.caddy = ns.startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(scratch));
    await ns.waitForPort(443, 30_000, "caddy");
}, 240_000);

afterAll(async () => {
    for (const c of containerds) await c.stop();
    for (const s of Object.values(servers)) await s.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
}, 120_000);

describe("a cache warmed ahead of need, with real containerd, Caddy and Distribution", () => {
    test("without a warm run, a listed image fails once the upstream is stopped: the cache never fetched it", async () => {
        await whileUpstreamIsDown(async () => {
            const result = await pull("docker.io/library/single:1");
            expect(result.code, result.output).not.toBe(0);
        });
        expect(cachedBlobs()).toEqual([]);
    });

    test("the warm script fetches every listed image through the cache, the index's listed platforms only, one line each", async () => {
        const result = runWarm();
        expect(result.code, result.output).toBe(0);
        expect(result.output).toContain("warm: fetched library/single:1 (one image, 2 blobs)");
        expect(result.output).toContain("warm: fetched library/multi:1 (linux/amd64 linux/arm64/v8, 4 blobs)");
        expect(result.output).toContain("warm: all 2 images fetched");
        // Distribution stores manifests as blobs too, and each layer beside its answer: single's manifest, config and
        // layer, the index, and for each of its two listed platforms a manifest, a config and a layer (not s390x's).
        for (let i = 0; i < 600 && cachedBlobs().length < 10; i++) await new Promise((r) => setTimeout(r, 100));
        expect(cachedBlobs()).toHaveLength(10);
    });

    test("the external host's client (curl) reads the same list the same way", () => {
        const result = runWarm(dockerHub.warm!.images, "curl");
        expect(result.code, result.output).toBe(0);
        expect(result.output).toContain("warm: fetched library/multi:1 (linux/amd64 linux/arm64/v8, 4 blobs)");
    });

    test("the external host's rendered script (curl over the cache's unix socket) fills a cache of its own", async () => {
        // A second cache as the host runs it: Distribution on a unix socket, its own storage.
        const paths = hostMirrorPaths(
            dockerHub,
            path.join(scratch, "host-mirrors"),
            path.join(scratch, "host-config"),
            path.join(scratch, "host-run"),
        );
        mkdirSync(paths.socketDir, { recursive: true });
        mkdirSync(paths.configDir, { recursive: true });
        const files = renderMirrorFiles({ addr: paths.socket, rootDirectory: paths.dataDir, remoteUrl: dockerHub.remoteUrl, ttl: "168h" });
        for (const [name, content] of Object.entries(files)) writeFileSync(path.join(paths.configDir, name), content);
        const bin = imageBin();
        servers["host-cache"] = ns.startServer(
            path.join(bin, "env"),
            [`PATH=${bin}`, "sh", path.join(paths.configDir, MIRROR_FILES.startScript)],
            {
                ...process.env,
                ...DISTRIBUTION.environment,
                SSL_CERT_FILE: upstreamCa.caCertFile,
            },
        );
        const script = path.join(paths.configDir, "warm.sh");
        writeFileSync(script, hostWarmScript(paths, dockerHub.warm!));
        // The script waits for the cache to answer on its socket, then fetches.
        const r = ns.run("sh", [script]);
        expect(r.code, `${r.stdout}\n${r.stderr}\n${servers["host-cache"]!.output().slice(-2000)}`).toBe(0);
        expect(r.stdout).toContain("warm: fetched library/single:1 (one image, 2 blobs)");
        expect(r.stdout).toContain("warm: fetched library/multi:1 (linux/amd64 linux/arm64/v8, 4 blobs)");
        const blobs = path.join(paths.dataDir, "docker/registry/v2/blobs/sha256");
        const count = () => (existsSync(blobs) ? readdirSync(blobs).flatMap((fan) => readdirSync(path.join(blobs, fan))).length : 0);
        for (let i = 0; i < 600 && count() < 10; i++) await new Promise((res) => setTimeout(res, 100));
        expect(count()).toBe(10);
        await servers["host-cache"]!.stop();
    });

    test("with the upstream stopped, containerd pulls every listed image and platform; an unlisted image or platform fails", async () => {
        await whileUpstreamIsDown(async () => {
            for (const [ref, platform] of [
                ["docker.io/library/single:1", "linux/amd64"],
                ["docker.io/library/multi:1", "linux/amd64"],
                ["docker.io/library/multi:1", "linux/arm64"],
            ] as const) {
                const result = await pull(ref, platform);
                expect(result.code, `${ref} ${platform}\n${result.output}`).toBe(0);
            }
            const unlisted = await pull("docker.io/library/other:1");
            expect(unlisted.code, unlisted.output).not.toBe(0);
            const unlistedPlatform = await pull("docker.io/library/multi:1", "linux/s390x");
            expect(unlistedPlatform.code, unlistedPlatform.output).not.toBe(0);
        });
    });

    test("an image the upstream does not have fails with its reason, after the others are fetched; the run exits 1", () => {
        const result = runWarm(["library/missing 1", "library/other 1"]);
        expect(result.code, result.output).toBe(1);
        expect(result.output).toMatch(/warm: failed library\/missing:1: manifest 1 is unknown to the upstream/);
        expect(result.output).toContain("warm: fetched library/other:1 (one image, 2 blobs)");
        expect(result.output).toContain("warm: 1 of 2 images failed");
    });

    test("with the upstream stopped, a warm run says which images failed and why", async () => {
        await whileUpstreamIsDown(async () => {
            const result = runWarm(["library/never 1"]);
            expect(result.code, result.output).toBe(1);
            expect(result.output).toContain("warm: failed library/never:1:");
        });
    });
});
