/**
 * The kind placement on the real Docker engine, with kind-like nodes instead of the kind binary
 * (test/support/kindNode.ts): the placement's own scripts (components/kind/sh, rendered as the program
 * renders them) run the registry's containers on a private dockerd and configure the nodes; an image
 * pushed from the Docker host with the push account to localhost:5002 is pulled inside each node by
 * containerd's CRI plugin (what the kubelet calls) under both references, localhost:5002/… and
 * kind-registry:5002/…. A node without config_path is fixed; nodes removed and created again are
 * configured by the watcher and pull the same image (the data directory outlives them); a restart of
 * the registry's containers needs nothing from the nodes; an anonymous push is refused.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderKindCaddyfile, renderKindRegistryConfig } from "../../components/kind/front";
import {
    containersApplyScript,
    containersDeleteScript,
    type KindLayout,
    kindPaths,
    nodeInsideScript,
    nodesConfigureScript,
    nodeWatchScript,
} from "../../components/kind/scripts";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, registryImage } from "../support/dockerImages";
import { caddyImage, criPullUntil, criRemoveImage, dockerCliImage, type KindNode, startKindNode } from "../support/kindNode";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount, makeDecoyHash, type TestAccount } from "../support/realRegistry";
import { privateDir, type RunResult, removeDir, run } from "../support/serverProcess";

const LAYOUT: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "" };
const IMAGE = "dev/app:1";
const FILES = { distribution: "files-1", front: "files-1", watcher: "files-1" };
let ns: TestNetns;
let engine: DockerEngine;
let scratch: string;
let layout: KindLayout;
let push: TestAccount;
let nodes: KindNode[] = [];
let images: { distribution: string; front: string; watcher: string };
let generation = 0;

/** A placement script on the Docker host, as the program's command runs it. */
function onHost(script: string): RunResult {
    return run("/bin/sh", ["-c", script], { env: engine.env, timeout: 300_000 });
}

function onHostOk(script: string): string {
    const r = onHost(script);
    if (r.code !== 0) throw new Error(`script exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

/** The files the component places in kind.dataDir, rendered as it renders them. */
function placeFiles(): void {
    const p = kindPaths(layout);
    const pull = makeAccount("cluster-pull");
    const files: [string, string][] = [
        [
            p.caddyfile,
            renderKindCaddyfile({
                registryName: layout.registryName,
                port: layout.port,
                distributionName: p.distributionName,
                requiresAuthForPull: false,
                deletesEnabled: false,
                decoy: { accounts: { push: [push.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
            }),
        ],
        [p.pushUsers, renderUsersFile("push", [push])],
        [p.pullUsers, renderUsersFile("pull", [pull])],
        [p.registryConfig, renderKindRegistryConfig(false)],
        [p.nodeScript, nodeInsideScript(layout)],
        [p.watcherScript, nodeWatchScript(layout)],
    ];
    for (const [file, content] of files) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content, { mode: 0o600 });
    }
}

/** Nodes of cluster "kind": a control plane with config_path, a worker without (an older node image). */
function createNodes(): KindNode[] {
    generation++;
    const runDir = (name: string) => path.join(scratch, `run-${name}-${generation}`);
    return [
        startKindNode(engine, { cluster: "kind", name: "kind-control-plane", runDir: runDir("cp") }),
        startKindNode(engine, { cluster: "kind", name: "kind-worker", runDir: runDir("w"), configPath: false }),
    ];
}

/** Pulls `ref` through the node's CRI, trying again while containerd (re)starts or the watcher works. */
const pullInNode = (node: KindNode, ref: string) =>
    criPullUntil(node, ref, 90_000, () =>
        [
            engine.docker(["exec", node.name, "cat", "/etc/containerd/config.toml"]).stdout,
            engine.docker(["exec", node.name, "ps"]).stdout,
            engine.docker(["exec", node.name, "sh", "-c", "grep -v PullImage /var/log/containerd.log | tail -n 40"]).stdout,
        ].join("\n"),
    );

async function waitForFront(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
        const code = ns.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:5002/v2/"]).stdout;
        if (code === "401") return;
        if (Date.now() > deadline) throw new Error(`front did not answer (${code})\n${engine.docker(["logs", "kind-registry"]).stderr}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

const nodeFile = (node: string, file: string) => engine.docker(["exec", node, "cat", file]);

beforeAll(async () => {
    scratch = privateDir("kind-placement");
    layout = { ...LAYOUT, dataDir: path.join(scratch, "data") };
    ns = await createNetns({ prefix: "kd", subnet: "198.19.48.0/20" });
    ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    engine = await startDockerEngine(ns);
    images = { distribution: registryImage(engine), front: caddyImage(engine), watcher: dockerCliImage(engine) };
    push = makeAccount("ci-push");
    placeFiles();
    // As in seed 004's workflow: the cluster exists first, then `pulumi up`.
    nodes = createNodes();
}, 300_000);

afterAll(async () => {
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("the kind placement on a Docker engine with kind-like nodes", () => {
    it("runs the containers and configures every node, fixing a node whose containerd lacks config_path", async () => {
        const applied = onHostOk(containersApplyScript(layout, images, FILES));
        expect(applied).toContain("changed front");
        const configured = onHostOk(nodesConfigureScript(layout));
        expect(configured).toContain("node kind-control-plane: configured");
        expect(configured).toContain("node kind-worker: configured");
        // Only the worker lacked config_path: its containerd alone is restarted.
        expect(configured.match(/restarted containerd/g)).toHaveLength(1);
        for (const node of ["kind-control-plane", "kind-worker"]) {
            for (const dir of ["localhost:5002", "kind-registry:5002"]) {
                expect(nodeFile(node, `/etc/containerd/certs.d/${dir}/hosts.toml`).stdout).toContain('[host."http://kind-registry:5002"]');
            }
        }
        expect(nodeFile("kind-worker", "/etc/containerd/config.toml").stdout).toContain('config_path = "/etc/containerd/certs.d"');
        await waitForFront();
    });

    it("an image pushed on the host with the push account is pulled in each node by both references", async () => {
        expect(engine.login("localhost:5002", push).code).toBe(0);
        payloadImage(engine, `localhost:5002/${IMAGE}`);
        engine.dockerOk(["push", `localhost:5002/${IMAGE}`]);
        for (const node of nodes) {
            expect(await pullInNode(node, `localhost:5002/${IMAGE}`)).toMatch(/^sha256:/);
            expect(await pullInNode(node, `kind-registry:5002/${IMAGE}`)).toMatch(/^sha256:/);
        }
    }, 300_000);

    it("lists the pushed tag to a client without credentials, as docs/kind.md's last step does", () => {
        const listed = ns.run("curl", ["-sS", "http://127.0.0.1:5002/v2/dev/app/tags/list"]);
        expect(listed.code, listed.stderr).toBe(0);
        expect(JSON.parse(listed.stdout)).toEqual({ name: "dev/app", tags: ["1"] });
        expect(readFileSync(path.resolve(__dirname, "../../docs/kind.md"), "utf8")).toContain(
            'curl -s http://localhost:5002/v2/dev/app/tags/list    # reads need no credentials: {"name":"dev/app","tags":["1"]}',
        );
    });

    it("refuses an anonymous push", () => {
        const anonymous = engine.client();
        payloadImage(anonymous, "localhost:5002/dev/anonymous:1");
        const pushed = anonymous.docker(["push", "localhost:5002/dev/anonymous:1"]);
        expect(pushed.code).not.toBe(0);
        const upload = ns.run("curl", [
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "http://127.0.0.1:5002/v2/dev/anonymous/blobs/uploads/",
        ]);
        expect(upload.stdout).toBe("401");
    });

    it("runs again without changing anything", () => {
        const applied = onHostOk(containersApplyScript(layout, images, FILES));
        expect(applied).toContain("unchanged distribution");
        expect(applied).toContain("unchanged front");
        expect(applied).toContain("unchanged node watcher");
        const configured = onHostOk(nodesConfigureScript(layout));
        expect(configured).not.toContain("wrote");
        expect(configured).not.toContain("restarted containerd");
    });

    it("a restart of the registry's containers needs nothing from the nodes", async () => {
        engine.dockerOk(["restart", "kind-registry-distribution", "kind-registry"]);
        await waitForFront();
        const node = nodes[0]!;
        await criRemoveImage(node.socket, `kind-registry:5002/${IMAGE}`);
        await criRemoveImage(node.socket, `localhost:5002/${IMAGE}`);
        expect(await pullInNode(node, `kind-registry:5002/${IMAGE}`)).toMatch(/^sha256:/);
    }, 300_000);

    it("nodes removed and created again (a new cluster) are configured by the watcher and pull the image still there", async () => {
        engine.dockerOk(["rm", "-f", "--volumes", ...nodes.map((n) => n.name)]);
        nodes = createNodes();
        for (const node of nodes) {
            expect(await pullInNode(node, `localhost:5002/${IMAGE}`)).toMatch(/^sha256:/);
            expect(await pullInNode(node, `kind-registry:5002/${IMAGE}`)).toMatch(/^sha256:/);
        }
        expect(nodeFile("kind-worker", "/etc/containerd/config.toml").stdout).toContain('config_path = "/etc/containerd/certs.d"');
        expect(engine.dockerOk(["logs", "kind-registry-node-watcher"])).toContain("node kind-worker: configured");
    }, 300_000);

    it("removing the containers keeps the images in the data directory", () => {
        const removed = onHostOk(containersDeleteScript(layout));
        expect(removed).toContain("kept the images");
        expect(engine.docker(["inspect", "kind-registry"]).code).not.toBe(0);
        expect(existsSync(path.join(layout.dataDir, "images/docker/registry/v2/repositories/dev/app/_manifests/tags/1"))).toBe(true);
    });
});
