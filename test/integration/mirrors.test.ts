/**
 * Pull-through caches with real software, inside a test network namespace whose /etc/hosts makes
 * `registry-1.docker.io` a local stand-in: Distribution with TLS from a test CA plays Docker Hub, the
 * rendered front (Caddy) and the rendered cache are the mirror, and containerd pulls `docker.io/library/…` with `ctr --hosts-dir`
 * through the rendered hosts.toml: it gets the image from the cache, still gets it with the upstream
 * stopped (from the running proxy, and from a cache restarted meanwhile, read-only), and gets it from
 * the upstream itself with the cache stopped. A cache started while its upstream is down serves what it
 * holds and becomes the pull-through cache once the upstream answers.
 *
 * Each cache runs as its container does: its start script (busybox's sh, wget and timeout, as in the
 * registry image) beside its two rendered configs, with the deployed Distribution as `registry`.
 * The upstreams' CA is trusted through SSL_CERT_FILE (it stands in for the public CAs a node trusts);
 * the registry's CA only through hosts.toml's `ca`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import {
    DOCKER_HUB,
    MIRROR_FILES,
    type MirrorSpec,
    mirrorCaFile,
    renderMirrorEnvFile,
    renderMirrorFiles,
    renderMirrorHostsToml,
    type UpstreamAccount,
} from "../../components/mirrors/mirrors";
import { DISTRIBUTION } from "../../components/shared/facts";
import { DEBIAN_CADDY_STAND_IN, pinnedCaddy } from "../support/caddyBinaries";
import { type DistributionBinary, deployedRegistry, distributionBinaries, UPSTREAM_REGISTRY } from "../support/distributionBinaries";
import { busyboxRootfs } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import {
    caddyEnv,
    makeAccount,
    makeOciImage,
    makeTestCa,
    type PrivateContainerd,
    skopeoPushPlainHttp,
    startContainerd,
    type TestAccount,
    type TestCa,
} from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";

const REGISTRY = "registry.mr.test";
const HEADER = "# test";
/** Addresses inside the namespace (its own loopback): nothing leaves it. */
const DOCKER_HUB_ADDRESS = "127.0.0.2";
/** An upstream that needs an account for every pull: the rendered front (token realm) with its Distribution. */
const PRIVATE_UPSTREAM = "private.mr.test";
const PRIVATE_ADDRESS = "127.0.0.3";

let ns: TestNetns;
let scratch: string;
let upstreamCa: TestCa;
let registryCa: TestCa;
const servers: Record<string, ServerProcess> = {};
const containerds: PrivateContainerd[] = [];
let image: { ref: string };
let pushAccount: TestAccount;
/** The pull-only account nodes hold: the caches need an account (`registry.mirrorPull` unset, no allowlist). */
let nodeAccount: TestAccount;
/** The private upstream's pull account: what the secret mirrorCredentials holds for it. */
let upstreamAccount: TestAccount;

/** Ports of the caches inside the namespace. */
const CACHE_PORT = { dockerHub: 5101, private: 5102 } as const;

const dockerHub: MirrorSpec = {
    upstream: DOCKER_HUB.name,
    pathName: DOCKER_HUB.name,
    remoteUrl: DOCKER_HUB.remoteUrl,
    ttl: "168h",
    maxSize: "1Gi",
    hasCredentials: false,
};

const privateUpstream: MirrorSpec = {
    upstream: PRIVATE_UPSTREAM,
    pathName: PRIVATE_UPSTREAM,
    remoteUrl: `https://${PRIVATE_UPSTREAM}`,
    ttl: "168h",
    maxSize: "1Gi",
    hasCredentials: true,
};

/** Polls until `url` answers inside the namespace (any HTTP status). */
async function waitInside(url: string, what: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
        const r = ns.run("curl", ["-s", "-k", "-o", "/dev/null", "--max-time", "2", url]);
        if (r.code === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${what} did not answer at ${url}\n${servers[what]?.output() ?? ""}`);
}

/** Writes a Distribution config as the program renders it (its storage in `dataDir`, deletes off) to `file`; returns `file`. */
function writeRegistryConfig(file: string, addr: string, dataDir: string, tls?: { certificate: string; key: string }): string {
    writeFileSync(
        file,
        renderRegistryConfig({ addr, storage: { kind: "filesystem", rootDirectory: dataDir }, deletesEnabled: false, tls }),
    );
    return file;
}

/** Writes a front's Caddyfile as the program renders it, on port 443 with `ca`'s certificate, no admin endpoint and no deletes, to every network; returns its path. */
function writeFrontCaddyfile(
    file: string,
    ca: TestCa,
    site: Omit<Parameters<typeof renderCaddyfile>[0], "port" | "admin" | "tls" | "allowedNetworks" | "deletesEnabled">,
): string {
    const tls = { kind: "files", certFile: ca.serverCertFile, keyFile: ca.serverKeyFile } as const;
    writeFileSync(file, renderCaddyfile({ ...site, port: 443, admin: "off", tls, allowedNetworks: [], deletesEnabled: false }));
    return file;
}

function startUpstream(name: string, address: string): Promise<void> {
    const dir = path.join(scratch, name);
    mkdirSync(dir, { recursive: true });
    const config = writeRegistryConfig(path.join(dir, "config.yml"), `${address}:443`, path.join(dir, "data"), {
        certificate: upstreamCa.serverCertFile,
        key: upstreamCa.serverKeyFile,
    });
    servers[name] = ns.startServer(UPSTREAM_REGISTRY, ["serve", config]);
    return waitInside(`https://${address}/v2/`, name);
}

function mirrorDataDir(spec: MirrorSpec): string {
    return path.join(scratch, `cache-${spec.pathName}`);
}

/** A cache's directory of files, as its container's config directory holds them. */
const mirrorFilesDir = (spec: MirrorSpec) => path.join(scratch, `mirror-${spec.pathName}`);

/** The programs of the registry image: busybox's applets, and Distribution (the deployed one unless given) as `registry`. */
function imageBin(registry = deployedRegistry()): string {
    const root = path.join(scratch, `image-root-${registry.version}`);
    if (!existsSync(root)) {
        busyboxRootfs(root);
        symlinkSync(registry.path, path.join(root, "bin", "registry"));
    }
    return path.join(root, "bin");
}

/**
 * Starts a cache as the program runs it: its rendered files, its start script as the command, and the
 * upstream account only as the environment `renderMirrorEnvFile` renders (what `docker run --env-file`
 * or the Secret passes). Resolves once it answers, in whichever mode.
 */
function startMirror(
    spec: MirrorSpec,
    port: number,
    account?: UpstreamAccount,
    dataDir = mirrorDataDir(spec),
    registry = deployedRegistry(),
): Promise<void> {
    launchMirror(spec, port, account, dataDir, registry);
    return waitInside(`http://127.0.0.1:${port}/v2/`, `mirror-${spec.pathName}`);
}

/** Starts a cache's start script without waiting for it to answer. */
function launchMirror(
    spec: MirrorSpec,
    port: number,
    account: UpstreamAccount | undefined,
    dataDir: string,
    registry: DistributionBinary,
): void {
    const dir = mirrorFilesDir(spec);
    mkdirSync(dir, { recursive: true });
    const files = renderMirrorFiles({ addr: `127.0.0.1:${port}`, rootDirectory: dataDir, remoteUrl: spec.remoteUrl, ttl: spec.ttl });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    const accountEnv = account
        ? Object.fromEntries(
              renderMirrorEnvFile(account)
                  .split("\n")
                  .filter(Boolean)
                  .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
          )
        : {};
    const name = `mirror-${spec.pathName}`;
    const bin = imageBin(registry);
    // The namespace's wrapper needs this machine's PATH; the script gets the image's.
    servers[name] = ns.startServer(path.join(bin, "env"), [`PATH=${bin}`, "sh", path.join(dir, MIRROR_FILES.startScript)], {
        ...process.env,
        ...DISTRIBUTION.environment,
        SSL_CERT_FILE: upstreamCa.caCertFile,
        ...accountEnv,
    });
}

/** The pid of the Distribution a cache's start script runs (its only child that lives on). */
function registryPidOf(name: string): number {
    const pid = servers[name]!.child.pid!;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    const registry = children.find((c) => readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0").includes("serve"));
    if (!registry) throw new Error(`${name}: no Distribution among the start script's children ${children.join(" ")}`);
    return Number(registry);
}

/**
 * A certs.d directory as node trust lays it out: the registry's CA, and one hosts.toml per mirrored
 * upstream, with the node's pull account as node trust writes it (`withAccount` false: a node without it).
 */
function hostsDir(withAccount = true): string {
    const dir = path.join(scratch, withAccount ? "certs.d" : "certs.d-no-account");
    mkdirSync(path.join(dir, REGISTRY), { recursive: true });
    writeFileSync(path.join(dir, REGISTRY, "ca.crt"), registryCa.caCertPem);
    for (const spec of [dockerHub, privateUpstream]) {
        mkdirSync(path.join(dir, spec.upstream), { recursive: true });
        writeFileSync(
            path.join(dir, spec.upstream, "hosts.toml"),
            renderMirrorHostsToml({
                mirror: spec,
                registryHost: REGISTRY,
                registryPort: 443,
                caFile: mirrorCaFile(REGISTRY),
                header: HEADER,
                ...(withAccount
                    ? { authorization: `Basic ${Buffer.from(`${nodeAccount.username}:${nodeAccount.password}`).toString("base64")}` }
                    : {}),
            }),
        );
    }
    return dir;
}

/** A pull with a fresh containerd (nothing cached on the "node"), inside the namespace. */
async function pull(ref: string, withAccount = true): Promise<{ code: number; output: string }> {
    const ctrd = await startContainerd();
    containerds.push(ctrd);
    const r = ns.run("ctr", ["--address", ctrd.address, "images", "pull", "--hosts-dir", hostsDir(withAccount), ref], {
        env: { ...process.env, SSL_CERT_FILE: upstreamCa.caCertFile },
    });
    return { code: r.code, output: `${r.stdout}\n${r.stderr}` };
}

/** Manifest requests the upstream stand-in has logged for a repository so far. */
function upstreamManifestRequests(name: string, repository: string): number {
    return (servers[name]?.output() ?? "").split("\n").filter((l) => l.includes(`"GET /v2/${repository}/manifests/`)).length;
}

/** Blob files in a cache's storage. */
function cachedBlobs(spec: MirrorSpec): string[] {
    const root = path.join(mirrorDataDir(spec), "docker/registry/v2/blobs/sha256");
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((fan) => readdirSync(path.join(root, fan)).filter((d) => existsSync(path.join(root, fan, d, "data"))));
}

/** Waits until the cache has stored `count` blobs (Distribution stores behind the response, in the background). */
async function waitForCachedBlobs(spec: MirrorSpec, count: number): Promise<string[]> {
    for (let i = 0; i < 600 && cachedBlobs(spec).length < count; i++) await new Promise((r) => setTimeout(r, 100));
    return cachedBlobs(spec);
}

/**
 * The HTTP status of a request from inside the namespace, TLS verified with `ca` when given; the account,
 * when given, travels in a curl config on stdin.
 */
function statusInside(url: string, options: { ca?: TestCa; method?: string; account?: TestAccount } = {}): string {
    const args = ["-s", "-o", "/dev/null", "-w", "%{http_code}"];
    if (options.ca) args.push("--cacert", options.ca.caCertFile);
    if (options.method) args.push("-X", options.method);
    if (!options.account) return ns.run("curl", [...args, url]).stdout;
    return ns.run("curl", [...args, "-K", "-", url], { input: `user = "${options.account.username}:${options.account.password}"\n` })
        .stdout;
}

/**
 * Runs `body` with the Docker Hub stand-in stopped once the cache holds the image, and starts it again
 * after. With `cacheStopped`, the cache is stopped too for `body` (which starts its own) and started as
 * before after it.
 */
async function whileDockerHubIsDown(body: () => Promise<void>, cacheStopped = false): Promise<void> {
    await waitForCachedBlobs(dockerHub, 2);
    await servers["docker-hub"]!.stop();
    if (cacheStopped) await servers["mirror-docker.io"]!.stop();
    try {
        await body();
    } finally {
        if (cacheStopped) await servers["mirror-docker.io"]!.stop();
        await startUpstream("docker-hub", DOCKER_HUB_ADDRESS);
        if (cacheStopped) await startMirror(dockerHub, CACHE_PORT.dockerHub);
    }
}

function skopeoPush(destination: string): void {
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
        destination,
    ]);
    if (r.code !== 0) throw new Error(`skopeo copy to ${destination} failed\n${r.stderr}`);
}

/** The private upstream's Distribution (behind its front), reached over plain HTTP inside the namespace. */
const PRIVATE_BACKEND = "127.0.0.1:5200";

/**
 * The private upstream's front: the rendered Caddyfile with requiresAuthForPull, so every pull needs
 * an account and the ping answers a Bearer challenge whose realm is its /v2/token.
 */
function startPrivateFront(): Promise<void> {
    const dir = path.join(scratch, "private-front");
    mkdirSync(dir, { recursive: true });
    const pushUsers = path.join(dir, "users-push");
    const pullUsers = path.join(dir, "users-pull");
    writeFileSync(pushUsers, renderUsersFile("push", []), { mode: 0o600 });
    writeFileSync(pullUsers, renderUsersFile("pull", [upstreamAccount]), { mode: 0o600 });
    const caddyfile = writeFrontCaddyfile(path.join(dir, "Caddyfile"), upstreamCa, {
        siteAddress: PRIVATE_UPSTREAM,
        bindAddress: PRIVATE_ADDRESS,
        upstream: PRIVATE_BACKEND,
        requiresAuthForPull: true,
        pushUsersFile: pushUsers,
        pullUsersFile: pullUsers,
    });
    // A registry somewhere else, which the program does not run: Debian's Caddy, so that the upstream is
    // not the same build as the front under test, without the body idle timeouts it does not read.
    servers["private-front"] = ns.startServer(
        DEBIAN_CADDY_STAND_IN,
        ["run", "--adapter", "caddyfile", "--config", caddyfile],
        caddyEnv(dir),
    );
    return waitInside(`https://${PRIVATE_UPSTREAM}/v2/`, "private-front");
}

beforeAll(async () => {
    scratch = privateDir("mirrors");
    ns = await createNetns({ prefix: "mr", subnet: "198.18.96.0/20" });
    ns.writeEtcFile(
        "hosts",
        `127.0.0.1 localhost\n${ns.address} ${REGISTRY}\n${DOCKER_HUB_ADDRESS} registry-1.docker.io\n${PRIVATE_ADDRESS} ${PRIVATE_UPSTREAM}\n`,
    );
    upstreamCa = makeTestCa(path.join(scratch, "upstream-tls"), ["registry-1.docker.io", PRIVATE_UPSTREAM]);
    registryCa = makeTestCa(path.join(scratch, "registry-tls"), [REGISTRY]);
    image = makeOciImage(path.join(scratch, "image"), 256 * 1024);

    await startUpstream("docker-hub", DOCKER_HUB_ADDRESS);
    skopeoPush("docker://registry-1.docker.io/library/mrtest:1");

    await startMirror(dockerHub, CACHE_PORT.dockerHub);

    // The private upstream: its Distribution gets the image straight (the test is its only pusher), its front needs an account.
    const privateConfig = writeRegistryConfig(
        path.join(scratch, "private-registry.yml"),
        PRIVATE_BACKEND,
        path.join(scratch, "private-data"),
    );
    servers["private-registry"] = ns.startServer(UPSTREAM_REGISTRY, ["serve", privateConfig]);
    await waitInside(`http://${PRIVATE_BACKEND}/v2/`, "private-registry");
    skopeoPushPlainHttp(ns, image.ref, `docker://${PRIVATE_BACKEND}/team/app:1`);
    upstreamAccount = makeAccount("cache-pull");
    await startPrivateFront();
    await startMirror(privateUpstream, CACHE_PORT.private, upstreamAccount);

    // The registry itself, so that the front is the whole front.
    const registryConfig = writeRegistryConfig(path.join(scratch, "registry.yml"), "127.0.0.1:5000", path.join(scratch, "registry-data"));
    servers.registry = ns.startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment });
    await waitInside("http://127.0.0.1:5000/v2/", "registry");

    const pushUsers = path.join(scratch, "users-push");
    const pullUsers = path.join(scratch, "users-pull");
    pushAccount = makeAccount("ci-push");
    writeFileSync(pushUsers, renderUsersFile("push", [pushAccount]), { mode: 0o600 });
    nodeAccount = makeAccount("node-pull");
    writeFileSync(pullUsers, renderUsersFile("pull", [nodeAccount]), { mode: 0o600 });
    const caddyfile = writeFrontCaddyfile(path.join(scratch, "Caddyfile"), registryCa, {
        siteAddress: REGISTRY,
        bindAddress: ns.address,
        upstream: "127.0.0.1:5000",
        requiresAuthForPull: false,
        pushUsersFile: pushUsers,
        pullUsersFile: pullUsers,
        mirrorsRequireAuth: true,
        mirrors: [
            { pathName: dockerHub.pathName, upstream: `127.0.0.1:${CACHE_PORT.dockerHub}` },
            { pathName: privateUpstream.pathName, upstream: `127.0.0.1:${CACHE_PORT.private}` },
        ],
    });
    // The cluster's front, whose nodes pull through the caches: the sidecar's Caddy.
    servers.caddy = ns.startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(scratch));
    await ns.waitForPort(443, 30_000, "caddy");
}, 240_000);

afterAll(async () => {
    for (const c of containerds) await c.stop();
    for (const s of Object.values(servers)) await s.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
}, 120_000);

describe("pull-through cache with real containerd, Caddy and Distribution", () => {
    test("containerd pulls docker.io/library/mrtest:1 through the cache, which stores it and asked the upstream", async () => {
        const before = upstreamManifestRequests("docker-hub", "library/mrtest");
        const result = await pull("docker.io/library/mrtest:1");
        expect(result.code, result.output).toBe(0);
        // The cache fetched the manifest from the upstream, and now holds the layer and the config.
        expect(upstreamManifestRequests("docker-hub", "library/mrtest")).toBeGreaterThan(before);
        expect((await waitForCachedBlobs(dockerHub, 2)).length).toBeGreaterThanOrEqual(2);
    });

    test("with the upstream stopped, the cached image still pulls", async () => {
        await whileDockerHubIsDown(async () => {
            const result = await pull("docker.io/library/mrtest:1");
            expect(result.code, result.output).toBe(0);
            // Nothing on the cache's side of the namespace answers for docker.io any more: the image came from the cache.
            expect(ns.run("curl", ["-s", "-o", "/dev/null", "--max-time", "2", "https://registry-1.docker.io/v2/"]).code).not.toBe(0);
        });
    });

    test("a node without the pull account gets 401 from the cache: with the upstream stopped its pull fails, with the account it pulls", async () => {
        await whileDockerHubIsDown(async () => {
            const without = await pull("docker.io/library/mrtest:1", false);
            expect(without.code, without.output).not.toBe(0);
            expect(statusInside(`https://${REGISTRY}/v2/mirrors/docker.io/library/mrtest/manifests/1`, { ca: registryCa })).toBe("401");
            const withAccount = await pull("docker.io/library/mrtest:1");
            expect(withAccount.code, withAccount.output).toBe(0);
        });
    });

    test("with the upstream stopped, a cache restarted meanwhile serves what it holds, read-only; what it never fetched fails", async () => {
        await whileDockerHubIsDown(async () => {
            await startMirror(dockerHub, CACHE_PORT.dockerHub);
            expect(servers["mirror-docker.io"]!.output()).toContain(
                `${DOCKER_HUB.remoteUrl} does not answer: serving what this cache holds, read-only`,
            );
            const held = await pull("docker.io/library/mrtest:1");
            expect(held.code, held.output).toBe(0);
            const never = await pull("docker.io/library/never-fetched:1");
            expect(never.code, never.output).not.toBe(0);
        }, true);
    });

    test("the same with Distribution 2.8.3 (a stack that pins registry:2.8.3): restarted with the upstream stopped, it serves what the cache holds", async () => {
        await whileDockerHubIsDown(async () => {
            await startMirror(dockerHub, CACHE_PORT.dockerHub, undefined, mirrorDataDir(dockerHub), distributionBinaries().v2);
            expect(servers["mirror-docker.io"]!.output()).toContain("version=v2.8.3");
            const held = await pull("docker.io/library/mrtest:1");
            expect(held.code, held.output).toBe(0);
        }, true);
    });

    test("with the cache stopped, containerd falls back to the upstream itself", async () => {
        await servers["mirror-docker.io"]!.stop();
        try {
            const before = upstreamManifestRequests("docker-hub", "library/mrtest");
            const result = await pull("docker.io/library/mrtest:1");
            expect(result.code, result.output).toBe(0);
            expect(upstreamManifestRequests("docker-hub", "library/mrtest")).toBeGreaterThan(before);
        } finally {
            await startMirror(dockerHub, CACHE_PORT.dockerHub);
        }
    });

    test.each([
        ["PUT", "/v2/mirrors/docker.io/library/mrtest/manifests/2"],
        ["POST", "/v2/mirrors/docker.io/library/mrtest/blobs/uploads/"],
        ["DELETE", "/v2/mirrors/docker.io/library/mrtest/manifests/1"],
    ])("the front refuses %s %s even to a push account: mirrors are read-only", (method, urlPath) => {
        expect(statusInside(`https://${REGISTRY}${urlPath}`, { ca: registryCa, method, account: pushAccount })).toBe("405");
    });

    test("the same account's push to the registry itself is not refused by the mirror rule", () => {
        expect(
            statusInside(`https://${REGISTRY}/v2/team/app/blobs/uploads/`, { ca: registryCa, method: "POST", account: pushAccount }),
        ).toBe("202");
    });
});

describe("an upstream that needs an account (token challenge), with real containerd, Caddy and Distribution", () => {
    const privateRef = `${PRIVATE_UPSTREAM}/team/app:1`;
    const cacheName = `mirror-${PRIVATE_UPSTREAM}`;

    test("the upstream refuses an anonymous pull: only an account gets the image there", async () => {
        expect(statusInside(`https://${PRIVATE_UPSTREAM}/v2/team/app/manifests/1`, { ca: upstreamCa })).toBe("401");
    });

    test("with the account from mirrorCredentials, containerd pulls through the cache, which logged in and stored the image", async () => {
        const before = upstreamManifestRequests("private-registry", "team/app");
        const result = await pull(privateRef);
        expect(result.code, result.output).toBe(0);
        expect(upstreamManifestRequests("private-registry", "team/app")).toBeGreaterThan(before);
        // The node sent no credentials anywhere: the upstream gave the image to the cache only.
        expect((await waitForCachedBlobs(privateUpstream, 2)).length).toBeGreaterThanOrEqual(2);
    });

    test("the upstream password is on no command line and in no log", async () => {
        await pull(privateRef);
        const pid = registryPidOf(cacheName);
        const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        expect(commandLine).toContain("serve");
        // The account reached the process as its environment, the only way the program passes it.
        expect(readFileSync(`/proc/${pid}/environ`, "utf8")).toContain(`REGISTRY_PROXY_PASSWORD=${upstreamAccount.password}`);
        for (const p of [pid, servers[cacheName]!.child.pid!])
            expect(readFileSync(`/proc/${p}/cmdline`, "utf8")).not.toContain(upstreamAccount.password);
        for (const file of Object.values(MIRROR_FILES)) {
            expect(readFileSync(path.join(mirrorFilesDir(privateUpstream), file), "utf8"), file).not.toContain(upstreamAccount.password);
        }
        for (const [name, server] of Object.entries(servers)) expect(server.output(), name).not.toContain(upstreamAccount.password);
    });

    test("with a wrong account the upstream refuses the cache, and the node's fallback to the upstream needs an account too", async () => {
        await servers[cacheName]!.stop();
        const emptyCache = path.join(scratch, "cache-wrong-account");
        try {
            await startMirror(
                privateUpstream,
                CACHE_PORT.private,
                { username: upstreamAccount.username, password: "not-the-password" },
                emptyCache,
            );
            const before = upstreamManifestRequests("private-registry", "team/app");
            // Distribution 2.8 does not pass the upstream's 401 on: it answers "manifest unknown" (asked
            // with the node's account, which the caches need).
            const body = ns.run(
                "curl",
                [
                    "-s",
                    "-w",
                    "\n%{http_code}",
                    "--cacert",
                    registryCa.caCertFile,
                    "-K",
                    "-",
                    `https://${REGISTRY}/v2/mirrors/${PRIVATE_UPSTREAM}/team/app/manifests/1`,
                ],
                { input: `user = "${nodeAccount.username}:${nodeAccount.password}"\n` },
            ).stdout;
            expect(body).toMatch(/"code":"MANIFEST_UNKNOWN".*\n404$/s);
            expect(servers[cacheName]!.output()).toContain(`Discovered token authentication URL: https://${PRIVATE_UPSTREAM}/v2/token`);
            // The token realm refused the account, so the request never reached the upstream's registry.
            expect(upstreamManifestRequests("private-registry", "team/app")).toBe(before);
            const result = await pull(privateRef);
            expect(result.code).not.toBe(0);
            // containerd moved on to the upstream itself, which wants an account the node does not have.
            expect(result.output).toMatch(/401 Unauthorized/);
            expect(servers[cacheName]!.output()).not.toContain("not-the-password");
        } finally {
            await servers[cacheName]!.stop();
            removeDir(emptyCache);
            await startMirror(privateUpstream, CACHE_PORT.private, upstreamAccount);
        }
    });

    test("started while its upstream is down, the cache serves what it holds, read-only; once the upstream answers it is the pull-through cache again, logged in", async () => {
        await servers[cacheName]!.stop();
        await servers["private-front"]!.stop();
        try {
            await startMirror(privateUpstream, CACHE_PORT.private, upstreamAccount);
            expect(servers[cacheName]!.output()).toContain(
                `https://${PRIVATE_UPSTREAM} does not answer: serving what this cache holds, read-only`,
            );
            // containerd's fallback, the upstream itself, is down too: the image came from the cache.
            const held = await pull(privateRef);
            expect(held.code, held.output).toBe(0);
            expect(statusInside(`http://127.0.0.1:${CACHE_PORT.private}/v2/team/app/blobs/uploads/`, { method: "POST" })).toBe("405");
        } finally {
            await startPrivateFront();
        }
        // A tag only the upstream has: it comes through once the cache has asked the upstream again.
        skopeoPushPlainHttp(ns, image.ref, `docker://${PRIVATE_BACKEND}/team/app:2`);
        for (let i = 0; i < 600 && !servers[cacheName]!.output().includes("answers again: turning to the pull-through cache"); i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        const result = await pull(`${PRIVATE_UPSTREAM}/team/app:2`);
        expect(result.code, `${result.output}\n${servers[cacheName]!.output().slice(-3000)}`).toBe(0);
        // The cache resolved the tag at the upstream, with its account, and keeps it now.
        const tag = path.join(mirrorDataDir(privateUpstream), "docker/registry/v2/repositories/team/app/_manifests/tags/2/current/link");
        expect(existsSync(tag)).toBe(true);
    });
});
