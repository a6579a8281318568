/**
 * Node trust over SSH under the real Pulumi engine: the local stack's in-cluster registry on a real API
 * server, with `nodes.delivery: ssh` to two k3s nodes, each a real OpenSSH server on loopback with a
 * private root ($DSO_ROOT) that plays the machine (`systemctl` and `k3s` are stand-ins on its PATH, as
 * in the integration tier). Then the transitions that only the engine's order decides: a node entry
 * renamed (the new entry's creates run before the old entry's deletes, on the same machine), the SSH
 * key rotated in the same `up` that removes a node, and a node whose machine is gone removed from the
 * list, with the procedure docs/lifecycle.md gives. Each `up` is followed by the checks of what is on
 * the machines and by an `up` that must plan nothing.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { writeNodeStubs } from "../support/nodeStubs";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir, runOk } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";

const STACK = "lab";
const REGISTRY = "registry-dso.jmann.local";
const REGISTRIES_YAML = "/etc/rancher/k3s/registries.yaml";
const CA_FILE = `/etc/rancher/k3s/dso-registry-ca-${REGISTRY}.crt`;
const MARKER = `/var/lib/dso-registry/node-trust/dso-registry.${STACK}.owner`;
const OPERATOR_HOSTS = "127.0.0.1 localhost\n10.1.1.1 other.example.test\n";

let kube: ControlPlane;
let ws: Workspace;
let stubs: string;
let keys: string;
const nodes: SshServer[] = [];

/** A client key pair made at test time: [private key, public line]. */
function keyPair(name: string): [string, string] {
    const file = path.join(keys, name);
    runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `dso-engine-${name}`, "-f", file]);
    return [readFileSync(file, "utf8"), readFileSync(`${file}.pub`, "utf8").trim()];
}

/** A node's machine as the operator leaves it: their /etc/hosts, k3s's directory, k3s active and Ready. */
function freshMachine(node: SshServer): void {
    mkdirSync(path.join(node.root, "etc/rancher/k3s"), { recursive: true });
    writeFileSync(path.join(node.root, "etc/hosts"), OPERATOR_HOSTS);
    writeFileSync(path.join(node.root, "active-units"), "k3s\nk3s-agent\n");
    writeFileSync(path.join(node.root, "node-ready"), "True");
}

interface NodeEntry {
    name: string;
    node: SshServer;
    role: "server" | "agent";
}

/** The stack file: the local stack with node trust over SSH to `entries`, and no Jenkins. */
function writeStack(entries: readonly NodeEntry[]): void {
    const file = path.join(ws.projectDir, `Pulumi.${STACK}.yaml`);
    const local = YAML.parse(readFileSync(path.join(ws.projectDir, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, unknown> };
    const current = YAML.parse(readFileSync(file, "utf8") ?? "") as { config: Record<string, unknown>; encryptionsalt?: string } | null;
    const config = {
        ...local.config,
        // Pulumi's own entries (the encrypted secrets) stay as `config set` wrote them.
        ...Object.fromEntries(Object.entries(current?.config ?? {}).filter(([k]) => k === "dso-registry:sshPrivateKey")),
        "dso-registry:jenkins": { enabled: false },
        "dso-registry:nodes": {
            delivery: "ssh",
            runtime: "k3s",
            registryAddress: "127.0.0.1",
            restartTimeoutSeconds: 10,
            list: entries.map((e) => ({
                name: e.name,
                role: e.role,
                host: e.node.host,
                port: e.node.port,
                user: e.node.user,
                hostKey: e.node.hostKey,
                kubernetesNodeName: e.name,
            })),
        },
    };
    writeFileSync(file, YAML.stringify({ ...(current?.encryptionsalt ? { encryptionsalt: current.encryptionsalt } : {}), config }));
}

const read = (node: SshServer, file: string) => node.readFile(file);

/** What node trust leaves on a machine, for the assertions. */
function trustOn(node: SshServer) {
    return {
        registries: read(node, REGISTRIES_YAML) ?? "",
        ca: read(node, CA_FILE) ?? "",
        hosts: read(node, "/etc/hosts") ?? "",
        owner: (read(node, MARKER) ?? "").trim(),
    };
}

/** `up` with `extra` flags; the stack's first previews, as a user's does, the later ones skip the preview (one program run less). */
async function up(extra: string[] = [], options: { readonly preview?: boolean } = {}) {
    const flags = options.preview ? [] : ["--skip-preview"];
    const result = await ws.pulumi(["up", "--yes", ...flags, "-s", STACK, ...extra], { timeoutMs: 15 * 60_000 });
    return { ...result, all: result.stdout + result.stderr };
}

let server: NodeEntry;
let agent: NodeEntry;
let firstKey: [string, string];
/** What answers on the port of the node whose machine is gone. */
let gone: Server | undefined;
let secondKey: [string, string];

beforeAll(async () => {
    kube = await startLocalCluster();
    stubs = privateDir("engine-node-stubs");
    writeNodeStubs(stubs);
    keys = privateDir("engine-node-keys");
    firstKey = keyPair("first");
    secondKey = keyPair("second");
    for (let i = 0; i < 2; i++) {
        const node = await startSshServer({ pathPrefix: stubs });
        node.authorize([firstKey[1]]);
        freshMachine(node);
        nodes.push(node);
    }
    server = { name: "lab-server", node: nodes[0]!, role: "server" };
    agent = { name: "lab-agent", node: nodes[1]!, role: "agent" };
    ws = openWorkspace({ stackFiles: ["local"], env: { KUBECONFIG: kube.kubeconfig } });
    await ws.pulumiOk(["stack", "init", STACK]);
    writeStack([server, agent]);
    await ws.pulumiOk(["config", "set", "--secret", "dso-registry:sshPrivateKey", "-s", STACK], { input: firstKey[0] });
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await new Promise((resolve) => (gone ? gone.close(resolve) : resolve(undefined)));
    for (const node of nodes) await node.stop();
    if (stubs) removeDir(stubs);
    if (keys) removeDir(keys);
    kube?.stop();
});

describe("node trust over SSH, real engine", () => {
    it("`up` gives each node the registry's CA, its registries.yaml entry and /etc/hosts block, restarts k3s, and marks the node its entry's", async () => {
        const result = await up([], { preview: true });
        expect(result.code, result.all).toBe(0);
        for (const entry of [server, agent]) {
            const trust = trustOn(entry.node);
            expect(trust.registries, entry.name).toContain(REGISTRY);
            expect(trust.ca, entry.name).toMatch(/^-----BEGIN CERTIFICATE-----/);
            expect(trust.hosts, entry.name).toContain(`127.0.0.1 ${REGISTRY}`);
            expect(trust.hosts, entry.name).toContain(OPERATOR_HOSTS.trim());
            expect(trust.owner, entry.name).toBe(`node-trust-${entry.name}`);
            expect(read(entry.node, "/systemctl.log"), entry.name).toMatch(/^restart k3s/m);
        }
    });

    it("a second `up` plans nothing and touches no node", async () => {
        const before = nodes.map((n) => read(n, "/systemctl.log"));
        const result = await up(["--expect-no-changes"]);
        expect(result.code, result.all).toBe(0);
        expect(nodes.map((n) => read(n, "/systemctl.log"))).toEqual(before);
    });

    it("renaming a node entry keeps its machine's trust: the old entry's deletes, run last, leave the new entry's files", async () => {
        const renamed: NodeEntry = { ...agent, name: "lab-agent-one" };
        writeStack([server, renamed]);
        const result = await up();
        expect(result.code, result.all).toBe(0);
        const trust = trustOn(agent.node);
        expect(trust.registries).toContain(REGISTRY);
        expect(trust.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
        expect(trust.hosts).toContain(`127.0.0.1 ${REGISTRY}`);
        expect(trust.owner).toBe("node-trust-lab-agent-one");
        expect(result.all).toContain("belongs to node-trust-lab-agent-one now; left in place");
        agent = renamed;
        const again = await up(["--expect-no-changes"]);
        expect(again.code, again.all).toBe(0);
    });

    it("rotating the SSH key in the same `up` that removes a node works while the old key is still authorized; then the old key is revoked", async () => {
        for (const node of nodes) node.authorize([firstKey[1], secondKey[1]]);
        await ws.pulumiOk(["config", "set", "--secret", "dso-registry:sshPrivateKey", "-s", STACK], { input: secondKey[0] });
        writeStack([server]);
        const result = await up();
        expect(result.code, result.all).toBe(0);
        // The removed node's deletes ran with the old key from the state: everything of the stack is gone from it.
        const removed = trustOn(agent.node);
        expect(removed).toEqual({ registries: expect.not.stringContaining(REGISTRY), ca: "", hosts: OPERATOR_HOSTS, owner: "" });
        for (const node of nodes) node.authorize([secondKey[1]]);
        const again = await up(["--expect-no-changes"]);
        expect(again.code, again.all).toBe(0);
        expect(trustOn(server.node).registries).toContain(REGISTRY);
    });

    it("a node whose machine is gone: `up` cannot delete over SSH and says so; the lifecycle procedure forgets it and the next `up` works", async () => {
        writeStack([server, agent]);
        freshMachine(agent.node);
        agent.node.authorize([secondKey[1]]);
        const added = await up();
        expect(added.code, added.all).toBe(0);
        expect(trustOn(agent.node).owner).toBe("node-trust-lab-agent-one");
        // The machine is gone: its SSH port closes every connection at once. (A port left free could be
        // taken by one of the engine's own gRPC servers, where an SSH handshake would wait forever.)
        const port = agent.node.port;
        await agent.node.stop();
        gone = createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => gone!.listen(port, "127.0.0.1", resolve));
        writeStack([server]);
        const failed = await up();
        expect(failed.code).not.toBe(0);
        expect(failed.all).toMatch(/node-trust-lab-agent-one/);
        expect(failed.all).toMatch(/handshake|EOF|connection reset|dial/i);

        const urn = ((await ws.exportState(STACK)).deployment.resources ?? [])
            .map((r) => String(r.urn))
            .find((u) => u.endsWith("::node-trust-lab-agent-one"));
        expect(urn).toBeDefined();
        const forget = await ws.pulumi(["state", "delete", urn!, "--target-dependents", "--yes", "-s", STACK]);
        expect(forget.code, forget.stdout + forget.stderr).toBe(0);
        const result = await up();
        expect(result.code, result.all).toBe(0);
        const state = JSON.stringify(await ws.exportState(STACK));
        expect(state).not.toContain("lab-agent-one");
        const again = await up(["--expect-no-changes"]);
        expect(again.code, again.all).toBe(0);
    });

    it("`destroy` removes the stack's trust from the remaining node and leaves the operator's files", async () => {
        const result = await ws.pulumi(["destroy", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
        expect(result.code, result.stdout + result.stderr).toBe(0);
        const trust = trustOn(server.node);
        expect(trust).toEqual({ registries: expect.not.stringContaining(REGISTRY), ca: "", hosts: OPERATOR_HOSTS, owner: "" });
    });
});
