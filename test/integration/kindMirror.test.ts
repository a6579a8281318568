/**
 * The kind placement's pull-through cache for docker.io (components/kind: the cache containers of
 * `containers-apply.sh`, the front's `/v2/mirrors/docker.io/` route, the node script's hosts.toml) on
 * the real Docker engine, with a kind-like node pulling through containerd's CRI as the kubelet does.
 *
 * Docker Hub is a stand-in: Distribution with the test's images, reached by the cache in plain HTTP
 * (its `remoteUrl`) and by the node as `registry-1.docker.io` over TLS (a hosts entry and the test CA
 * in the node's system bundle: the public name and CAs a real node uses), both serving the same
 * storage. The node pulls `docker.io/library/app:1` through the cache; with the cache stopped it falls
 * back to the upstream; with the upstream stopped the cache still serves what it holds, also restarted
 * meanwhile (its start script serves it read-only). A cache removed from the stack takes its container,
 * storage and the nodes' hosts.toml with it.
 */
import { readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import {
    containersApplyScript,
    containersDeleteScript,
    type KindLayout,
    kindMirrorPaths,
    nodesConfigureScript,
} from "../../components/kind/scripts";
import type { MirrorSpec } from "../../components/mirrors/mirrors";
import { DISTRIBUTION } from "../../components/shared/facts";
import { UPSTREAM_REGISTRY } from "../support/distributionBinaries";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { onHost, onHostOk as onHostOkOf, placeKindFiles } from "../support/kindFiles";
import { criPullUntil, criRemoveImage, dockerCliImage, KIND_CERTS_DIR, type KindNode, startKindNode } from "../support/kindNode";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount, makeOciImage, makeTestCa, type TestCa } from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";

const UPSTREAM_HTTP_PORT = 5001;
const FILES = { distribution: "files-1", front: "files-1", watcher: "files-1" };
const IMAGE = "docker.io/library/app:1";

let ns: TestNetns;
let engine: DockerEngine;
let scratch = "";
let layout: KindLayout;
let ca: TestCa;
let node: KindNode;
let spec: MirrorSpec;
let upstreams: ServerProcess[] = [];
let images: { distribution: string; front: string; watcher: string };

const onHostOk = (script: string) => onHostOkOf(engine, script);

/** The placement's files as the component renders them, with the caches of `mirrors`. */
const placeFiles = (mirrors: readonly MirrorSpec[]) => placeKindFiles(layout, { push: makeAccount("ci-push"), mirrors });

/** The stand-in for Docker Hub: one storage, served in plain HTTP to the cache and over TLS as registry-1.docker.io. */
async function startUpstreams(): Promise<void> {
    const storage = { kind: "filesystem" as const, rootDirectory: path.join(scratch, "upstream-data") };
    const plain = path.join(scratch, "upstream-http.yml");
    writeFileSync(plain, renderRegistryConfig({ addr: `${ns.address}:${UPSTREAM_HTTP_PORT}`, storage, deletesEnabled: false }));
    const tls = path.join(scratch, "upstream-tls.yml");
    writeFileSync(
        tls,
        renderRegistryConfig({
            addr: `${ns.address}:443`,
            storage,
            deletesEnabled: false,
            tls: { certificate: ca.serverCertFile, key: ca.serverKeyFile },
        }),
    );
    upstreams = [ns.startServer(UPSTREAM_REGISTRY, ["serve", plain]), ns.startServer(UPSTREAM_REGISTRY, ["serve", tls])];
    await ns.waitForPort(UPSTREAM_HTTP_PORT, 30_000, "upstream (HTTP)");
    await ns.waitForPort(443, 30_000, "upstream (TLS)");
}

async function stopUpstreams(): Promise<void> {
    for (const u of upstreams) await u.stop();
    upstreams = [];
}

const frontLog = () => engine.docker(["logs", layout.registryName]).stdout;
const mirrorState = () => {
    const state = engine.docker([
        "inspect",
        "-f",
        "{{.State.Status}} {{json .NetworkSettings.Networks}}",
        "kind-registry-mirror-docker.io",
    ]);
    const logs = engine.docker(["logs", "--tail", "20", "kind-registry-mirror-docker.io"]);
    return `cache: ${state.stdout}${state.stderr}\n${logs.stdout}${logs.stderr}`;
};
const diagnose = () => `${frontLog().slice(-3000)}\n${mirrorState()}\n${upstreams.map((u) => u.output()).join("\n")}`;
/**
 * The CRI pull of IMAGE, tried again until it succeeds. Each try may take long: while the cache is down,
 * the front retries it for its lb_try_duration (20 s) on each request before the node falls back.
 */
const pull = () => criPullUntil(node, IMAGE, 240_000, diagnose, 120_000);

beforeAll(async () => {
    scratch = privateDir("kind-mirror");
    layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: path.join(scratch, "data") };
    ns = await createNetns({ prefix: "kc", subnet: "198.19.48.0/20" });
    ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    ca = makeTestCa(path.join(scratch, "ca"), ["registry-1.docker.io"]);
    await startUpstreams();
    // Docker Hub's library/app:1, pushed to the stand-in.
    const image = makeOciImage(path.join(scratch, "image"));
    const pushed = ns.run("skopeo", [
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        image.ref,
        `docker://${ns.address}:${UPSTREAM_HTTP_PORT}/library/app:1`,
    ]);
    if (pushed.code !== 0) throw new Error(pushed.stderr);
    engine = await startDockerEngine(ns);
    images = { distribution: registryImage(engine), front: pinnedCaddyImage(engine), watcher: dockerCliImage(engine) };
    spec = {
        upstream: "docker.io",
        pathName: "docker.io",
        // The stack's `remoteUrl`: here the stand-in in plain HTTP.
        remoteUrl: `http://${ns.address}:${UPSTREAM_HTTP_PORT}`,
        ttl: "168h",
        maxSize: "20Gi",
        hasCredentials: false,
    };
    node = startKindNode(engine, {
        cluster: "kind",
        name: "kind-control-plane",
        runDir: path.join(scratch, "run-node"),
        config: { version: 2, configPath: KIND_CERTS_DIR },
        hosts: [`registry-1.docker.io:${ns.address}`],
        caBundle: ca.caCertPem,
    });
}, 600_000);

afterAll(async () => {
    if (engine && layout) onHost(engine, containersDeleteScript(layout));
    await engine?.stop();
    await stopUpstreams();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("the kind registry's pull-through cache for docker.io, on a real Docker engine with a kind-like node", () => {
    it("runs the cache and points the node's containerd at it, the upstream as fallback", () => {
        const runs = placeFiles([spec]);
        const applied = onHostOk(containersApplyScript(layout, images, FILES, runs));
        expect(applied).toContain("changed cache docker.io");
        onHostOk(nodesConfigureScript(layout));
        // Written by this run or by the watcher, which the containers' start set configuring the node too.
        const hostsToml = engine.docker(["exec", node.name, "cat", "/etc/containerd/certs.d/docker.io/hosts.toml"]).stdout;
        expect(hostsToml).toContain('[host."http://kind-registry:5002/v2/mirrors/docker.io"]');
        expect(hostsToml).toContain('server = "https://registry-1.docker.io"');
        const networks = Object.keys(
            JSON.parse(engine.dockerOk(["inspect", "-f", "{{json .NetworkSettings.Networks}}", "kind-registry-mirror-docker.io"])),
        ).sort();
        // Behind the front on the backend network, out to the upstream on its own; not on the kind network.
        expect(networks).toEqual(["kind-registry-backend", "kind-registry-egress"]);
    });

    it("the cache answers the front only: not the Docker host at either of its addresses, not the node", async () => {
        const networks = JSON.parse(
            engine.dockerOk(["inspect", "-f", "{{json .NetworkSettings.Networks}}", "kind-registry-mirror-docker.io"]),
        ) as Record<string, { IPAddress: string }>;
        const port = DISTRIBUTION.containerPort;
        const backend = `http://${networks["kind-registry-backend"]!.IPAddress}:${port}/v2/`;
        // The front reaches it by its name, on the backend network.
        const deadline = Date.now() + 30_000;
        while (
            engine.docker(["exec", layout.registryName, "wget", "-qO-", `http://kind-registry-mirror-docker.io:${port}/v2/`]).code !== 0
        ) {
            if (Date.now() > deadline) throw new Error(`the front does not reach the cache\n${diagnose()}`);
            await new Promise((r) => setTimeout(r, 250));
        }
        // As on a Docker host, which forwards between its bridges.
        ns.run("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
        try {
            for (const url of [backend, `http://${networks["kind-registry-egress"]!.IPAddress}:${port}/v2/`]) {
                expect(ns.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url]).stdout, url).toBe("000");
                expect(engine.docker(["exec", node.name, "timeout", "5", "wget", "-qO-", url]).code, url).not.toBe(0);
            }
        } finally {
            ns.run("sysctl", ["-qw", "net.ipv4.ip_forward=0"]);
        }
    });

    it("the node pulls docker.io/library/app:1 through the front's /v2/mirrors/docker.io/, and the cache keeps it", async () => {
        expect(await pull()).toMatch(/^sha256:/);
        expect(frontLog()).toContain("/v2/mirrors/docker.io/library/app/manifests/1");
        const blobs = path.join(kindMirrorPaths(layout, spec).dir, "data/docker/registry/v2/blobs/sha256");
        expect(readdirSync(blobs).length).toBeGreaterThan(0);
    }, 180_000);

    it("with the upstream stopped, the cache still serves what it holds", async () => {
        await stopUpstreams();
        try {
            await criRemoveImage(node.socket, IMAGE);
            expect(await pull()).toMatch(/^sha256:/);
        } finally {
            await startUpstreams();
        }
    }, 300_000);

    it("restarted while the upstream is stopped, the cache serves what it holds, read-only", async () => {
        await stopUpstreams();
        try {
            engine.dockerOk(["restart", "kind-registry-mirror-docker.io"]);
            await criRemoveImage(node.socket, IMAGE);
            expect(await pull()).toMatch(/^sha256:/);
            expect(mirrorState()).toContain(`${spec.remoteUrl} does not answer: serving what this cache holds, read-only`);
        } finally {
            await startUpstreams();
        }
    }, 300_000);

    it("restarted (as when the Docker host restarts), the cache serves again", async () => {
        engine.dockerOk(["restart", "kind-registry-mirror-docker.io"]);
        await criRemoveImage(node.socket, IMAGE);
        const reached = engine.docker(["exec", layout.registryName, "wget", "-qO-", "http://kind-registry-mirror-docker.io:5000/v2/"]);
        expect(await pull(), `${reached.stdout}${reached.stderr}`).toMatch(/^sha256:/);
        expect(frontLog().split("/v2/mirrors/docker.io/library/app/manifests/1").length).toBeGreaterThan(2);
    }, 300_000);

    it("with the cache stopped, the node falls back to the upstream itself", async () => {
        engine.dockerOk(["stop", "kind-registry-mirror-docker.io"]);
        await criRemoveImage(node.socket, IMAGE);
        expect(await pull()).toMatch(/^sha256:/);
    }, 300_000);

    it("a cache removed from the stack takes its container, its storage and the node's hosts.toml with it", () => {
        const runs = placeFiles([]);
        const applied = onHostOk(containersApplyScript(layout, images, FILES, runs));
        expect(applied).toContain("removed cache docker.io and its storage");
        expect(engine.docker(["inspect", "kind-registry-mirror-docker.io"]).code).not.toBe(0);
        expect(engine.docker(["network", "inspect", "kind-registry-egress"]).code).not.toBe(0);
        const configured = onHostOk(nodesConfigureScript(layout));
        expect(configured).toContain("(its cache is no longer listed)");
        expect(engine.docker(["exec", node.name, "ls", "/etc/containerd/certs.d"]).stdout.split("\n").sort()).toEqual(
            ["", "kind-registry:5002", "localhost:5002"].sort(),
        );
    });
});
