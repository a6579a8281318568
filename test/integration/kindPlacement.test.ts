/**
 * The kind placement on the real Docker engine, with kind-like nodes instead of the kind binary
 * (test/support/kindNode.ts): the placement's own scripts (components/kind/sh, rendered as the program
 * renders them) run the registry's containers on a private dockerd and configure the nodes; an image
 * pushed from the Docker host with the push account to localhost:5002 is pulled inside each node by
 * containerd's CRI plugin (what the kubelet calls) under both references, localhost:5002/… and
 * kind-registry:5002/…. A node without config_path is fixed; nodes removed and created again are
 * configured by the watcher and pull the same image (the data directory outlives them); a restart of
 * the registry's containers needs nothing from the nodes; an anonymous push is refused.
 *
 * Twice: nodes on Debian's containerd 1.6 (config version 2, as kind's images before v0.27), and nodes on
 * containerd 2 as kind's images since v0.27 ship it (tools/containerd2), with version 3 configs too: kind's
 * own config needs nothing (containerd 2's default config_path, read by a CRI that pulls by itself); a
 * version 3 config without config_path gets it under containerd 2's section name, and a restart.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    containersApplyScript,
    containersDeleteScript,
    type KindLayout,
    kindPaths,
    nodesConfigureScript,
} from "../../components/kind/scripts";
import { DISTRIBUTION } from "../../components/shared/facts";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { onHost as onHostOf, onHostOk as onHostOkOf, placeKindFiles, runKindRecipeRegistry } from "../support/kindFiles";
import {
    containerd2,
    criPullUntil,
    criRemoveImage,
    DEBIAN_CONTAINERD,
    dockerCliImage,
    KIND_CERTS_DIR,
    type KindNode,
    type NodeContainerd,
    type NodeContainerdConfig,
    nodeContainerdConfig,
    startKindNode,
} from "../support/kindNode";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";

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

/** One node of a case: its name, its containerd config, and whether the node script restarts its containerd. */
interface NodeCase {
    readonly name: string;
    readonly config: NodeContainerdConfig;
    readonly restarted: boolean;
}

/** A containerd the nodes run (built in beforeAll when it is containerd 2), with the nodes of the cluster. */
interface ContainerdCase {
    readonly label: string;
    readonly containerd: () => NodeContainerd;
    readonly nodes: readonly NodeCase[];
}

const CASES: readonly ContainerdCase[] = [
    {
        label: "Debian's containerd 1.6, config version 2",
        containerd: () => DEBIAN_CONTAINERD,
        nodes: [
            { name: "kind-control-plane", config: { version: 2, configPath: KIND_CERTS_DIR }, restarted: false },
            // An older node image: no registry section.
            { name: "kind-worker", config: { version: 2 }, restarted: true },
            // `containerd config default`'s layout: the key present and empty (replaced, not repeated).
            { name: "kind-worker2", config: { version: 2, configPath: "" }, restarted: true },
        ],
    },
    {
        label: "containerd 2 of kind's node images, config versions 2 and 3",
        containerd: containerd2,
        nodes: [
            // containerd 2's own section names, config_path set (a cluster's containerdConfigPatches).
            { name: "kind-control-plane", config: { version: 3, configPath: KIND_CERTS_DIR }, restarted: false },
            // What kind's node images since v0.27 ship: version 2, no config_path, the CRI pulling by itself
            // (discard_unpacked_layers), which reads containerd 2's default config_path.
            { name: "kind-worker", config: { version: 2, discardUnpackedLayers: true }, restarted: false },
            // Version 3 without config_path: the CRI pulls through the transfer service, which reads no
            // hosts directory from the default config_path (containerd#12415), so it is set.
            { name: "kind-worker2", config: { version: 3 }, restarted: true },
        ],
    },
];

const onHostOk = (script: string) => onHostOkOf(engine, script);
const onHost = (script: string) => onHostOf(engine, script);

/** The files the component places in kind.dataDir, rendered as it renders them. */
function placeFiles(): void {
    placeKindFiles(layout, { push, pull: [makeAccount("cluster-pull")] });
}

/** The nodes of cluster "kind" as `c` lays them out, on its containerd. */
function createNodes(c: ContainerdCase, containerd: NodeContainerd): KindNode[] {
    generation++;
    return c.nodes.map((node) =>
        startKindNode(engine, {
            cluster: "kind",
            name: node.name,
            runDir: path.join(scratch, `run-${node.name}-${generation}`),
            containerd,
            config: node.config,
        }),
    );
}

/** The node's containerd config after the node script: config_path set once where it restarted, else as placed. */
function expectConfigAfterScript(node: NodeCase, containerd: NodeContainerd): void {
    const config = nodeFile(node.name, "/etc/containerd/config.toml").stdout;
    if (node.restarted) {
        expect(config.match(/config_path/g)).toHaveLength(1);
        expect(config).toContain(`config_path = "${KIND_CERTS_DIR}"`);
    } else {
        expect(config).toBe(nodeContainerdConfig(node.config, containerd.major));
    }
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

/** The nodes whose containerd the node script restarted, from the output of the scripts that run it. */
function restartedNodes(output: string): string[] {
    const nodes: string[] = [];
    let restarted = false;
    for (const line of output.split("\n")) {
        if (line === "restarted containerd") restarted = true;
        const configured = /^node (\S+): configured$/.exec(line);
        if (configured) {
            if (restarted) nodes.push(configured[1]!);
            restarted = false;
        }
    }
    return nodes;
}

/** The node watcher's log once it has configured each of `names`. */
async function watcherConfigured(names: readonly string[]): Promise<string> {
    const deadline = Date.now() + 60_000;
    for (;;) {
        const log = engine.docker(["logs", "kind-registry-node-watcher"]).stdout;
        if (names.every((name) => log.includes(`node ${name}: configured`))) return log;
        if (Date.now() > deadline) throw new Error(`the node watcher did not configure ${names.join(", ")}:\n${log}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

const nodeFile = (node: string, file: string) => engine.docker(["exec", node, "cat", file]);

describe.each(CASES)("the kind placement on a Docker engine with kind-like nodes: $label", (c) => {
    let containerd: NodeContainerd;

    beforeAll(async () => {
        containerd = c.containerd();
        scratch = privateDir("kind-placement");
        layout = { ...LAYOUT, dataDir: path.join(scratch, "data") };
        ns = await createNetns({ prefix: "kd", subnet: "198.19.48.0/20" });
        ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
        engine = await startDockerEngine(ns);
        images = { distribution: registryImage(engine), front: pinnedCaddyImage(engine), watcher: dockerCliImage(engine) };
        push = makeAccount("ci-push");
        placeFiles();
        // As in the kind workflow (docs/kind.md): the cluster exists first, then `pulumi up`.
        nodes = createNodes(c, containerd);
        // containerd 2 is built from Go modules on a cold cache (a few minutes on 2 cores).
    }, 900_000);

    afterAll(async () => {
        await engine?.stop();
        await ns?.destroy();
        if (scratch) removeDir(scratch);
    });

    it("a kind-registry container of kind's own local-registry recipe stops the apply before any change, and the delete keeps it", () => {
        // kind's documented recipe (runKindRecipeRegistry says which).
        const recipe = runKindRecipeRegistry(engine, images.distribution);
        expect(recipe.code, recipe.stderr).toBe(0);
        const id = recipe.stdout.trim();
        const state = () =>
            engine.docker(["inspect", "-f", "{{.Id}} {{.State.Running}} {{.State.StartedAt}}", "kind-registry"]).stdout.trim();
        const before = state();
        const paths = kindPaths(layout);
        try {
            const applied = onHost(containersApplyScript(layout, images, FILES));
            expect(applied.code, applied.stdout).not.toBe(0);
            expect(applied.stderr).toContain("A container named kind-registry exists on this Docker host and this stack did not make it");
            expect(applied.stderr).toContain("docker rename kind-registry <another name>");
            expect(applied.stderr).toContain("kind.containerName");
            // Nothing changed: the recipe's container runs as it did, and none of the stack's exists.
            expect(state()).toBe(before);
            expect(before.startsWith(`${id} true`)).toBe(true);
            for (const name of [paths.distributionName, paths.watcherName]) expect(engine.docker(["inspect", name]).code).not.toBe(0);
            expect(engine.docker(["network", "inspect", paths.backendNetwork]).code).not.toBe(0);
            const removed = onHost(containersDeleteScript(layout));
            expect(removed.code, removed.stderr).toBe(0);
            expect(removed.stdout).toContain("kept container kind-registry: this stack did not make it");
            expect(state()).toBe(before);
        } finally {
            engine.docker(["rm", "-f", id]);
        }
    });

    it("runs the containers and configures every node, fixing a node whose containerd lacks config_path", async () => {
        const applied = onHostOk(containersApplyScript(layout, images, FILES));
        expect(applied).toContain("changed front");
        // The front's limits, as the external host's front has them (FRONT_MEMORY).
        const limits = engine.docker([
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{json .HostConfig.Ulimits}} {{json .Config.Env}}",
            "kind-registry",
        ]);
        expect(limits.stdout).toMatch(/^536870912 \[\{"Name":"nofile","Hard":2048,"Soft":2048\}\] .*"GOMEMLIMIT=\d+MiB"/);
        // Distribution 3 would export traces without it (DISTRIBUTION.environment).
        const env = engine.docker(["inspect", "-f", "{{json .Config.Env}}", kindPaths(layout).distributionName]);
        expect((JSON.parse(env.stdout) as string[]).filter((e) => e.startsWith("OTEL_"))).toEqual(["OTEL_TRACES_EXPORTER=none"]);
        const configured = onHostOk(nodesConfigureScript(layout));
        for (const node of c.nodes) expect(configured).toContain(`node ${node.name}: configured`);
        // The node watcher, started with the containers, configures the running nodes too, at the same
        // time: a node may be restarted by both. Only the nodes whose containerd does not read certs.d yet
        // are restarted.
        const watcherLog = await watcherConfigured(c.nodes.map((n) => n.name));
        const restarted = new Set([...restartedNodes(configured), ...restartedNodes(watcherLog)]);
        expect([...restarted].sort()).toEqual(c.nodes.filter((n) => n.restarted).map((n) => n.name));
        for (const node of c.nodes) {
            for (const dir of ["localhost:5002", "kind-registry:5002"]) {
                expect(nodeFile(node.name, `/etc/containerd/certs.d/${dir}/hosts.toml`).stdout).toContain(
                    '[host."http://kind-registry:5002"]',
                );
            }
            expectConfigAfterScript(node, containerd);
        }
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

    it("nothing but the front reaches Distribution: not the Docker host, not a container on the kind network, not a node", () => {
        const { distributionName } = kindPaths(layout);
        const address = engine.dockerOk(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", distributionName]);
        expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        const url = `http://${address}:${DISTRIBUTION.containerPort}/v2/`;
        // The front itself reaches it there.
        expect(engine.docker(["exec", layout.registryName, "wget", "-qO-", url]).code).toBe(0);
        // As on a Docker host, which forwards between its bridges.
        ns.run("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
        try {
            const fromHost = ns.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url]);
            expect(fromHost.stdout).toBe("000");
            const fromKindNetwork = engine.docker([
                "run",
                "--rm",
                "--network",
                layout.network,
                "--entrypoint",
                "timeout",
                images.watcher,
                "5",
                "wget",
                "-qO-",
                url,
            ]);
            expect(fromKindNetwork.code).not.toBe(0);
            const fromNode = engine.docker(["exec", nodes[0]!.name, "timeout", "5", "wget", "-qO-", url]);
            expect(fromNode.code).not.toBe(0);
        } finally {
            ns.run("sysctl", ["-qw", "net.ipv4.ip_forward=0"]);
        }
    });

    it("a backend network made before (the Docker host's address on it) is made again, and its containers run again", async () => {
        const { distributionName, backendNetwork } = kindPaths(layout);
        const attached = [distributionName, layout.registryName];
        for (const name of attached) engine.dockerOk(["network", "disconnect", backendNetwork, name]);
        engine.dockerOk(["network", "rm", backendNetwork]);
        engine.dockerOk(["network", "create", "--internal", backendNetwork]);
        for (const name of attached) engine.dockerOk(["network", "connect", backendNetwork, name]);
        const applied = onHostOk(containersApplyScript(layout, images, FILES));
        expect(applied).toContain(`removed network ${backendNetwork}`);
        expect(applied).toContain("changed distribution");
        expect(applied).toContain("changed front");
        const gateway = engine.dockerOk(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", backendNetwork]);
        expect(ns.run("ip", ["-4", "-o", "addr"]).stdout).not.toContain(`inet ${gateway}/`);
        await waitForFront();
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
        nodes = createNodes(c, containerd);
        for (const node of nodes) {
            expect(await pullInNode(node, `localhost:5002/${IMAGE}`)).toMatch(/^sha256:/);
            expect(await pullInNode(node, `kind-registry:5002/${IMAGE}`)).toMatch(/^sha256:/);
        }
        await watcherConfigured(c.nodes.map((n) => n.name));
        for (const node of c.nodes) expectConfigAfterScript(node, containerd);
    }, 300_000);

    it("removing the containers keeps the images in the data directory", () => {
        const removed = onHostOk(containersDeleteScript(layout));
        expect(removed).toContain("kept the images");
        expect(engine.docker(["inspect", "kind-registry"]).code).not.toBe(0);
        expect(existsSync(path.join(layout.dataDir, "images/docker/registry/v2/repositories/dev/app/_manifests/tags/1"))).toBe(true);
    });
});
