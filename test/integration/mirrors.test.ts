/**
 * Pull-through caches with real software, inside a test network namespace whose /etc/hosts makes
 * `registry-1.docker.io` a local stand-in: Distribution with TLS from a test CA plays Docker Hub, the
 * rendered front (Caddy) and the rendered proxy Distribution are the mirror, and containerd pulls `docker.io/library/…` with `ctr --hosts-dir`
 * through the rendered hosts.toml: it gets the image from the cache, still gets it with the upstream
 * stopped, and gets it from the upstream itself with the cache stopped.
 *
 * The upstreams' CA is trusted through SSL_CERT_FILE (it stands in for the public CAs a node trusts);
 * the registry's CA only through hosts.toml's `ca`.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile, renderRegistryConfig, renderUsersFile } from "../../components/accessPolicy/accessPolicy";
import { DOCKER_HUB, type MirrorSpec, mirrorCaFile, renderMirrorConfig, renderMirrorHostsToml } from "../../components/mirrors/mirrors";
import { createNetns, type TestNetns } from "../support/netns";
import {
    caddyEnv,
    makeAccount,
    makeOciImage,
    makeTestCa,
    type PrivateContainerd,
    startContainerd,
    type TestAccount,
    type TestCa,
} from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";

const REGISTRY = "registry.mr.test";
const HEADER = "# test";
/** Addresses inside the namespace (its own loopback): nothing leaves it. */
const DOCKER_HUB_ADDRESS = "127.0.0.2";

let ns: TestNetns;
let scratch: string;
let upstreamCa: TestCa;
let registryCa: TestCa;
const servers: Record<string, ServerProcess> = {};
const containerds: PrivateContainerd[] = [];
let image: { ref: string };
let pushAccount: TestAccount;

const dockerHub: MirrorSpec = {
    upstream: DOCKER_HUB.name,
    pathName: DOCKER_HUB.name,
    remoteUrl: DOCKER_HUB.remoteUrl,
    ttl: "168h",
    maxSize: "1Gi",
    hasCredentials: false,
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

function startUpstream(name: string, address: string): Promise<void> {
    const dir = path.join(scratch, name);
    mkdirSync(dir, { recursive: true });
    const config = renderRegistryConfig({
        addr: `${address}:443`,
        storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
        deletesEnabled: false,
        tls: { certificate: upstreamCa.serverCertFile, key: upstreamCa.serverKeyFile },
    });
    writeFileSync(path.join(dir, "config.yml"), config);
    servers[name] = ns.startServer("/usr/bin/docker-registry", ["serve", path.join(dir, "config.yml")]);
    return waitInside(`https://${address}/v2/`, name);
}

function mirrorDataDir(spec: MirrorSpec): string {
    return path.join(scratch, `cache-${spec.pathName}`);
}

function startMirror(spec: MirrorSpec, port: number): Promise<void> {
    const file = path.join(scratch, `mirror-${spec.pathName}.yml`);
    writeFileSync(
        file,
        renderMirrorConfig({ addr: `127.0.0.1:${port}`, rootDirectory: mirrorDataDir(spec), remoteUrl: spec.remoteUrl, ttl: spec.ttl }),
    );
    const name = `mirror-${spec.pathName}`;
    servers[name] = ns.startServer("/usr/bin/docker-registry", ["serve", file], {
        ...process.env,
        SSL_CERT_FILE: upstreamCa.caCertFile,
    });
    return waitInside(`http://127.0.0.1:${port}/v2/`, name);
}

/** A certs.d directory as node trust lays it out: the registry's CA, and one hosts.toml per mirrored upstream. */
function hostsDir(): string {
    const dir = path.join(scratch, "certs.d");
    mkdirSync(path.join(dir, REGISTRY), { recursive: true });
    writeFileSync(path.join(dir, REGISTRY, "ca.crt"), registryCa.caCertPem);
    for (const spec of [dockerHub]) {
        mkdirSync(path.join(dir, spec.upstream), { recursive: true });
        writeFileSync(
            path.join(dir, spec.upstream, "hosts.toml"),
            renderMirrorHostsToml({
                mirror: spec,
                registryHost: REGISTRY,
                registryPort: 443,
                caFile: mirrorCaFile(REGISTRY),
                header: HEADER,
            }),
        );
    }
    return dir;
}

/** A pull with a fresh containerd (nothing cached on the "node"), inside the namespace. */
async function pull(ref: string): Promise<{ code: number; output: string }> {
    const ctrd = await startContainerd();
    containerds.push(ctrd);
    const r = ns.run("ctr", ["--address", ctrd.address, "images", "pull", "--hosts-dir", hostsDir(), ref], {
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

beforeAll(async () => {
    scratch = privateDir("mirrors");
    ns = await createNetns({ prefix: "mr", subnet: "198.18.96.0/20" });
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${REGISTRY}\n${DOCKER_HUB_ADDRESS} registry-1.docker.io\n`);
    upstreamCa = makeTestCa(path.join(scratch, "upstream-tls"), ["registry-1.docker.io"]);
    registryCa = makeTestCa(path.join(scratch, "registry-tls"), [REGISTRY]);
    image = makeOciImage(path.join(scratch, "image"), 256 * 1024);

    await startUpstream("docker-hub", DOCKER_HUB_ADDRESS);
    skopeoPush("docker://registry-1.docker.io/library/mrtest:1");

    await startMirror(dockerHub, 5101);
    // The registry itself, so that the front is the whole front.
    const registryConfig = path.join(scratch, "registry.yml");
    writeFileSync(
        registryConfig,
        renderRegistryConfig({
            addr: "127.0.0.1:5000",
            storage: { kind: "filesystem", rootDirectory: path.join(scratch, "registry-data") },
            deletesEnabled: false,
        }),
    );
    servers.registry = ns.startServer("/usr/bin/docker-registry", ["serve", registryConfig]);
    await waitInside("http://127.0.0.1:5000/v2/", "registry");

    const pushUsers = path.join(scratch, "users-push");
    const pullUsers = path.join(scratch, "users-pull");
    pushAccount = makeAccount("ci-push");
    writeFileSync(pushUsers, renderUsersFile("push", [pushAccount]), { mode: 0o600 });
    writeFileSync(pullUsers, renderUsersFile("pull", []), { mode: 0o600 });
    const caddyfile = path.join(scratch, "Caddyfile");
    writeFileSync(
        caddyfile,
        renderCaddyfile({
            siteAddress: REGISTRY,
            port: 443,
            bindAddress: ns.address,
            admin: "off",
            tls: { kind: "files", certFile: registryCa.serverCertFile, keyFile: registryCa.serverKeyFile },
            upstream: "127.0.0.1:5000",
            requiresAuthForPull: false,
            pushUsersFile: pushUsers,
            pullUsersFile: pullUsers,
            allowedNetworks: [],
            deletesEnabled: false,
            mirrors: [{ pathName: dockerHub.pathName, upstream: "127.0.0.1:5101" }],
        }),
    );
    servers.caddy = ns.startServer("/usr/bin/caddy", ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(scratch));
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
        await waitForCachedBlobs(dockerHub, 2);
        await servers["docker-hub"]!.stop();
        try {
            const result = await pull("docker.io/library/mrtest:1");
            expect(result.code, result.output).toBe(0);
            // Nothing on the cache's side of the namespace answers for docker.io any more: the image came from the cache.
            expect(ns.run("curl", ["-s", "-o", "/dev/null", "--max-time", "2", "https://registry-1.docker.io/v2/"]).code).not.toBe(0);
        } finally {
            await startUpstream("docker-hub", DOCKER_HUB_ADDRESS);
        }
    });

    test("with the cache stopped, containerd falls back to the upstream itself", async () => {
        await servers["mirror-docker.io"]!.stop();
        try {
            const before = upstreamManifestRequests("docker-hub", "library/mrtest");
            const result = await pull("docker.io/library/mrtest:1");
            expect(result.code, result.output).toBe(0);
            expect(upstreamManifestRequests("docker-hub", "library/mrtest")).toBeGreaterThan(before);
        } finally {
            await startMirror(dockerHub, 5101);
        }
    });

    test.each([
        ["PUT", "/v2/mirrors/docker.io/library/mrtest/manifests/2"],
        ["POST", "/v2/mirrors/docker.io/library/mrtest/blobs/uploads/"],
        ["DELETE", "/v2/mirrors/docker.io/library/mrtest/manifests/1"],
    ])("the front refuses %s %s even to a push account: mirrors are read-only", (method, urlPath) => {
        const r = ns.run(
            "curl",
            [
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                registryCa.caCertFile,
                "-X",
                method,
                "-K",
                "-",
                `https://${REGISTRY}${urlPath}`,
            ],
            { input: `user = "${pushAccount.username}:${pushAccount.password}"\n` },
        );
        expect(r.stdout).toBe("405");
    });

    test("the same account's push to the registry itself is not refused by the mirror rule", () => {
        const r = ns.run(
            "curl",
            [
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                registryCa.caCertFile,
                "-X",
                "POST",
                "-K",
                "-",
                `https://${REGISTRY}/v2/team/app/blobs/uploads/`,
            ],
            { input: `user = "${pushAccount.username}:${pushAccount.password}"\n` },
        );
        expect(r.stdout).toBe("202");
    });
});
