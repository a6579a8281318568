/**
 * The `kind` stack under the real Pulumi engine, as docs/kind.md's workflow runs it: the cluster first,
 * then `pulumi preview --diff` and `pulumi up` with the committed stack (its push account generated, so
 * no secret to set); the registry's three containers on the Docker host, each node's containerd
 * configured, the KEP-1755 ConfigMap on the API server; an image pushed from the Docker host with the
 * account `stack output --show-secrets` shows is pulled in each node under both of its names; first a preview
 * that stops before any change because the cluster has no ingress controller for the web UI, then, with
 * `kind.ui.servedBy: front` as that message says, the web UI's
 * container beside them, served by the front at localhost:5002/registry/ on the API's own origin, and the
 * front's realm chosen by the authority each client came by (pods' kind-registry:5002, the Docker host's
 * and the browser's localhost:5002); a second `up` plans
 * nothing and a refresh finds nothing; the front's users file edited by hand shows in `preview --refresh`
 * and `up --refresh` puts it back, and a node's file removed by hand is put back by the node watcher;
 * the upkeep container running the disk guard from the start; then the web UI turned off, the
 * registry's image bumped and scheduled garbage collection turned on (the upkeep container's
 * crontab, a collection run in it), each checked in the engine's events
 * and on the running containers; and `destroy`, after which only the images in the data directory are
 * left, with the marker that says whose they are; then a `kind.dataDir` that holds someone else's file,
 * which `up` refuses before it writes anything there or runs a container.
 *
 * What differs from a kind cluster, and why:
 * - The Docker host is a private dockerd in a test network namespace (test/support/dockerEngine.ts),
 *   reached by the program's `docker` commands through DOCKER_HOST: no daemon of this machine is
 *   touched, and the registry's `127.0.0.1:5002` is that namespace's loopback.
 * - The nodes are kind-like containers without the kind binary (test/support/kindNode.ts): containerd
 *   configured as kind configures it, named and labelled like kind's, on the network `kind`; pulls go
 *   through containerd's CRI, as the kubelet's do. One node lacks `config_path` (an older node image).
 * - The cluster's API is the engine tier's control plane (kwok nodes), under a kubeconfig whose
 *   context is named `kind-kind` as `kind create cluster` names it.
 * - Images are built here and given the names the stack pins (no registry can be pulled from); the
 *   bumped image is the same Distribution under a new tag; the UI's is a stand-in that serves a page
 *   with the settings the stack's container gives it (test/support/registryUiStandIn).
 * - `kind.dataDir` is a directory of the test instead of the default under the home directory.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { KIND_DATA_DIR_MARKER, NODE_RECHECK_SECONDS } from "../../components/kind/scripts";
import { BUMPED_REGISTRY_IMAGE, DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { type DockerClient, type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, pinnedCaddyImage, registryImage, registryUiStandInImage } from "../support/dockerImages";
import { criPullUntil, criRemoveImage, dockerCliImage, type KindNode, startKindNode } from "../support/kindNode";
import { type ControlPlane, startControlPlane } from "../support/kubeControlPlane";
import { createNetns, type TestNetns } from "../support/netns";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir } from "../support/serverProcess";

const STACK = "kind";
const IMAGE = "dev/app:1";
const CONTAINERS = ["kind-registry", "kind-registry-distribution", "kind-registry-node-watcher"];
/** The upkeep container: the disk guard (on by default), and the collection with registry.maintenance.garbageCollection.enabled. */
const MAINTENANCE = "kind-registry-maintenance";
/** The web UI's container, with registry.ui.enabled (on in the committed stack). */
const UI = "kind-registry-ui";
const CONFIG_MAP = "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting";

let scratch: string;
let dataDir: string;
let ns: TestNetns;
let engine: DockerEngine;
/** The developer's docker CLI on the Docker host: its own logins. */
let developer: DockerClient;
let nodes: KindNode[] = [];
let kube: ControlPlane;
let ws: Workspace;

/** The control plane's admin kubeconfig with the names `kind create cluster` gives its cluster. */
function kindKubeconfig(source: string, file: string): string {
    const config = YAML.parse(readFileSync(source, "utf8"));
    config.clusters[0].name = "kind-kind";
    config.users[0].name = "kind-kind";
    config.contexts = [{ name: "kind-kind", context: { cluster: "kind-kind", user: "kind-kind" } }];
    config["current-context"] = "kind-kind";
    writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
    return file;
}

interface PreEvent {
    op: string;
    urn: string;
    old?: { custom?: boolean };
    new?: { custom?: boolean };
}

/** The engine events of `up --json` / `destroy --json`: one JSON document per event, each at a line start. */
function preEvents(output: string): PreEvent[] {
    return output
        .split(/\n(?=\{)/)
        .filter((doc) => doc.trim())
        .map((doc) => (JSON.parse(doc) as { resourcePreEvent?: { metadata: PreEvent } }).resourcePreEvent?.metadata)
        .filter((m): m is PreEvent => m !== undefined);
}

/** What the engine did, from its events: "op name" per custom resource (providers left out), sorted. */
function executed(output: string): string[] {
    const ops = new Map<string, Set<string>>();
    for (const m of preEvents(output)) {
        if (m.urn.includes("::pulumi:providers:") || (m.new ?? m.old)?.custom !== true) continue;
        ops.set(m.urn, (ops.get(m.urn) ?? new Set()).add(m.op));
    }
    return [...ops]
        .map(([urn, set]) => {
            const op =
                set.has("replace") || set.has("create-replacement") ? "replace" : ["create", "update", "delete"].find((o) => set.has(o));
            return `${op ?? [...set].join("+")} ${urn.split("::").pop()}`;
        })
        .filter((line) => !line.startsWith("same "))
        .sort();
}

/** A command resource's stdout as the state holds it. */
async function commandStdout(name: string): Promise<string> {
    const state = await ws.exportState(STACK);
    const resource = (state.deployment.resources ?? []).find((r) => String(r.urn).endsWith(`::${name}`));
    return String((resource?.outputs as { stdout?: string } | undefined)?.stdout ?? "");
}

/** `docker inspect` of a container on the Docker host: whether it runs, its id and image; undefined when gone. */
function container(name: string): { running: boolean; id: string; image: string } | undefined {
    const r = engine.docker(["inspect", "-f", "{{.State.Running}} {{.Id}} {{.Config.Image}}", name]);
    if (r.code !== 0) return undefined;
    const [running, id, image] = r.stdout.trim().split(" ");
    return { running: running === "true", id: id ?? "", image: image ?? "" };
}

const nodeFile = (node: string, file: string) => engine.docker(["exec", node, "cat", file]);

/** Pulls `ref` through the node's CRI, trying again while containerd restarts. */
const pullInNode = (node: KindNode, ref: string) => criPullUntil(node, ref);

/** The front's answer to GET /v2/ with `host` as the Host header, from the Docker host's loopback. */
function frontChallenge(host: string): string {
    const r = ns.run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "-H", `Host: ${host}`, "http://127.0.0.1:5002/v2/"]);
    return r.stdout;
}

async function waitForFront(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!/^HTTP\/\S+ 401/.test(frontChallenge("localhost:5002"))) {
        if (Date.now() > deadline) throw new Error(`the front did not answer\n${engine.docker(["logs", "kind-registry"]).stderr}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** The front's answer to GET `urlPath` with Host localhost:5002, as a browser on the Docker host sends it: status line and headers, then the body. */
function fromFront(urlPath: string): string {
    return ns.run("curl", ["-sS", "-D", "-", "-H", "Host: localhost:5002", `http://127.0.0.1:5002${urlPath}`]).stdout;
}

beforeAll(async () => {
    scratch = privateDir("engine-kind");
    dataDir = path.join(scratch, "dso-registry-kind");
    ns = await createNetns({ prefix: "ke", subnet: "198.19.64.0/20" });
    ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    engine = await startDockerEngine(ns);
    developer = engine.client();
    // The images the stack pins: registry.image, registry.caddyImage, kind.watcherImage.
    registryImage(engine);
    pinnedCaddyImage(engine);
    dockerCliImage(engine);
    // registry.ui.image: the UI's stand-in under the name the stack pins.
    registryUiStandInImage(engine);
    // The kind workflow's first step: `kind create cluster` (its nodes on the network "kind"), then the registry.
    nodes = [
        startKindNode(engine, { cluster: "kind", name: "kind-control-plane", runDir: path.join(scratch, "run-cp") }),
        startKindNode(engine, { cluster: "kind", name: "kind-worker", runDir: path.join(scratch, "run-w"), configPath: false }),
    ];
    kube = startControlPlane();
    const kubeconfig = kindKubeconfig(kube.kubeconfig, path.join(scratch, "kubeconfig"));
    // The program's commands run `docker` on this machine against the Docker host, with a docker config of their own.
    ws = openWorkspace({
        stackFiles: [STACK],
        env: { KUBECONFIG: kubeconfig, DOCKER_HOST: engine.host, DOCKER_CONFIG: engine.client().configDir },
    });
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    kube?.stop();
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("kind stack, real engine", () => {
    it("previews every resource as a create and runs nothing", async () => {
        const init = await ws.shell(`npx pulumi stack init ${STACK}`);
        expect(init.code, init.stderr).toBe(0);
        // A directory of the test instead of kind.dataDir's default under the home directory.
        mkdirSync(dataDir);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:kind.dataDir", dataDir, "-s", STACK]);
        // The committed stack puts the web UI behind the cluster's ingress; this API server has no IngressClass:
        // preview stops before anything runs, with the install that fixes it and the other way on.
        const refused = await ws.shell(`npx pulumi preview --diff -s ${STACK}`);
        expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
        const said = refused.stdout + refused.stderr;
        expect(said).toContain("The cluster lacks something this stack needs; nothing was changed.");
        expect(said).toContain("no ingress controller would serve the web UI");
        expect(said).toContain("helm install traefik traefik/traefik");
        expect(said).toContain(`npx pulumi config set --path 'dso-registry:kind.ui.servedBy' front -s ${STACK}`);
        expect(container(CONTAINERS[0] as string)).toBeUndefined();
        // A class named in kind.ui.ingressClass that the cluster lacks stops it the same way.
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:kind.ui.ingressClass", "nginx", "-s", STACK]);
        const named = await ws.shell(`npx pulumi preview -s ${STACK}`);
        expect(named.code, named.stdout + named.stderr).not.toBe(0);
        expect(named.stdout + named.stderr).toContain(
            "IngressClass nginx (needed by Ingress hostk8s/registry-ui): the cluster has no IngressClass, so no ingress controller would serve the web UI",
        );
        await ws.pulumiOk(["config", "rm", "--path", "dso-registry:kind.ui.ingressClass", "-s", STACK]);
        // The way on it names: the UI the front serves (the UI in a real cluster behind its ingress: kindCluster.test.ts).
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:kind.ui.servedBy", "front", "-s", STACK]);
        const preview = await ws.shell(`npx pulumi preview --diff -s ${STACK}`);
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        expect(preview.stdout).toMatch(/\+ \d+ to create/);
        expect([...CONTAINERS, UI, MAINTENANCE].map(container)).toEqual([undefined, undefined, undefined, undefined, undefined]);
        expect(await kube.get(CONFIG_MAP)).toBeUndefined();
    });

    it("`up` creates the files, the containers (the UI's among them), the nodes' configuration and the ConfigMap, and nothing of the UI in the cluster", async () => {
        const up = await ws.pulumi(["up", "--yes", "--json", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect(executed(up.stdout)).toEqual(
            [
                "create kind-registry-caddyfile-write",
                "create kind-registry-containers",
                // The disk guard (registry.diskGuard, on by default), run by the upkeep container's crond.
                "create kind-registry-crontab-write",
                // kind.dataDir claimed for the stack's registry before any file is written into it.
                "create kind-registry-data-dir",
                "create kind-registry-decoy",
                "create kind-registry-disk-guard-script-write",
                // Every file above, read back by a refresh (docs/decisions/drift-on-hosts.md).
                "create kind-registry-files-check",
                "create kind-registry-local-registry-hosting",
                "create kind-registry-node-script-write",
                "create kind-registry-nodes",
                // The rotation overlap's file and the previous-passwords files (docs/decisions/rotation-overlap.md).
                "create kind-registry-overlap-write",
                "create kind-registry-registry-config-write",
                "create kind-registry-users-pull-previous-write",
                "create kind-registry-users-pull-write",
                "create kind-registry-users-push-previous-write",
                "create kind-registry-users-push-write",
                "create kind-registry-watcher-script-write",
                "create registry-accounts-push",
                "create registry-accounts-push-overlap",
            ].sort(),
        );
        const containers = await commandStdout("kind-registry-containers");
        for (const what of ["distribution", "front", "node watcher", "web UI", "maintenance (garbage collection, disk guard)"]) {
            expect(containers).toContain(`changed ${what}`);
        }
        const configured = await commandStdout("kind-registry-nodes");
        expect(configured).toContain("node kind-control-plane: configured");
        expect(configured).toContain("node kind-worker: configured");
    });

    it("the registry's containers run: the front on the kind network and 127.0.0.1:5002, Distribution behind it only", async () => {
        for (const name of CONTAINERS) expect(container(name)?.running, name).toBe(true);
        const networks = (name: string) =>
            Object.keys(JSON.parse(engine.dockerOk(["inspect", "-f", "{{json .NetworkSettings.Networks}}", name]))).sort();
        expect(networks("kind-registry")).toEqual(["kind", "kind-registry-backend"]);
        expect(networks("kind-registry-distribution")).toEqual(["kind-registry-backend"]);
        // The UI's container: on the backend network only, where the front reaches it, and no port of the host.
        expect(container(UI)?.running).toBe(true);
        expect(networks(UI)).toEqual(["kind-registry-backend"]);
        expect(engine.dockerOk(["port", UI]).trim()).toBe("");
        expect(engine.dockerOk(["port", "kind-registry"])).toMatch(/^5002\/tcp -> 127\.0\.0\.1:5002$/);
        await waitForFront();
        for (const node of ["kind-control-plane", "kind-worker"]) {
            for (const dir of ["localhost:5002", "kind-registry:5002"]) {
                expect(nodeFile(node, `/etc/containerd/certs.d/${dir}/hosts.toml`).stdout).toContain('[host."http://kind-registry:5002"]');
            }
        }
        expect(nodeFile("kind-worker", "/etc/containerd/config.toml").stdout).toContain('config_path = "/etc/containerd/certs.d"');
    });

    it("the API server holds the KEP-1755 ConfigMap", async () => {
        const configMap = await kube.get<{ data: Record<string, string> }>(CONFIG_MAP);
        expect(YAML.parse(configMap?.data["localRegistryHosting.v1"] ?? "")).toMatchObject({
            host: "localhost:5002",
            hostFromContainerRuntime: "kind-registry:5002",
            hostFromClusterNetwork: "kind-registry:5002",
        });
    });

    it("an image pushed on the Docker host with the push account of `stack output` is pulled in each node by both names", async () => {
        const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
        expect(push.username).toBe("ci-push");
        const login = developer.login("localhost:5002", push);
        expect(login.code, login.stderr).toBe(0);
        payloadImage(developer, `localhost:5002/${IMAGE}`);
        developer.dockerOk(["push", `localhost:5002/${IMAGE}`]);
        for (const node of nodes) {
            expect(await pullInNode(node, `localhost:5002/${IMAGE}`)).toMatch(/^sha256:/);
            expect(await pullInNode(node, `kind-registry:5002/${IMAGE}`)).toMatch(/^sha256:/);
        }
        const state = JSON.stringify(await ws.exportState(STACK));
        expect(state).not.toContain(push.password);
    }, 300_000);

    it("a second `up` with no change plans nothing, and a refresh right after finds nothing to change", async () => {
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        const refresh = await ws.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
    });

    it("files edited by hand: the front's users file shows in `preview --refresh` and `up --refresh` puts it back with the containers made anew; a node's file is put back by the watcher", async () => {
        const users = path.join(dataDir, "front", "users-push");
        const placed = readFileSync(users, "utf8");
        const before = container("kind-registry")?.id;
        writeFileSync(users, `${placed}intruder $2a$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\n`);

        const preview = await ws.pulumi(["preview", "--refresh", "--json", "-s", STACK]);
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        const steps = (JSON.parse(preview.stdout) as { steps: { op: string; urn: string }[] }).steps
            .filter((step) => step.op !== "same" && step.op !== "refresh")
            .map((step) => `${step.op} ${step.urn.split("::").pop()}`);
        expect(steps).toEqual(["update kind-registry-files-check"]);

        const up = await ws.pulumi(["up", "--refresh", "--yes", "--skip-preview", "--json", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect(executed(up.stdout).filter((l) => !l.startsWith("refresh"))).toEqual(["update kind-registry-files-check"]);
        expect(readFileSync(users, "utf8")).toBe(placed);
        // The front reads its users file at start: it is made anew.
        expect(container("kind-registry")?.id).not.toBe(before);
        await waitForFront();
        // A node's file, once the new watcher has configured the nodes at its start: put back on the watcher's
        // own loop (NODE_RECHECK_SECONDS), with no up.
        const watcherLog = () => {
            const logs = engine.docker(["logs", "kind-registry-node-watcher"]);
            return logs.stdout + logs.stderr;
        };
        while (!watcherLog().includes("node kind-worker: configured")) await new Promise((r) => setTimeout(r, 500));
        const hostsToml = "/etc/containerd/certs.d/kind-registry:5002/hosts.toml";
        expect(engine.docker(["exec", "kind-worker", "rm", hostsToml]).code).toBe(0);
        const deadline = Date.now() + (NODE_RECHECK_SECONDS + 30) * 1000;
        while (nodeFile("kind-worker", hostsToml).code !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
        expect(nodeFile("kind-worker", hostsToml).stdout).toContain('[host."http://kind-registry:5002"]');
        expect(watcherLog()).toContain(`wrote ${hostsToml}`);
        const again = await ws.pulumi(["up", "--refresh", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 300_000);

    it("the web UI at http://localhost:5002/registry/, from its container through the front, on the origin whose realm the browser gets", async () => {
        const page = fromFront("/registry/");
        expect(page).toMatch(/^HTTP\/\S+ 200/);
        expect(page).toContain('id="status"');
        // The settings the stack gives the UI's container: the API on the page's own origin.
        expect(fromFront("/registry/config.js")).toContain('"registryUrl": "http://localhost:5002"');
        expect(fromFront("/registry")).toMatch(/^HTTP\/\S+ 308[\s\S]*^location: \/registry\/\r?$/im);
        expect(frontChallenge("localhost:5002")).toContain('realm="http://localhost:5002/v2/token"');
        expect(frontChallenge("kind-registry:5002")).toContain('realm="http://kind-registry:5002/v2/token"');
        // The earlier releases' UI origin is no realm of its own.
        expect(frontChallenge("localhost:8080")).toContain('realm="http://localhost:5002/v2/token"');
    });

    it("the web UI turned off: its container removed, the front alone restarted, /registry/ no longer served", async () => {
        const before = Object.fromEntries(CONTAINERS.map((name) => [name, container(name)?.id]));
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.ui.enabled", "false", "-s", STACK]);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--json", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        // The files' check follows what it reads back (the new Caddyfile) and what it runs after a repair.
        expect(executed(up.stdout)).toEqual([
            "update kind-registry-caddyfile-write",
            "update kind-registry-containers",
            "update kind-registry-files-check",
        ]);
        expect(await commandStdout("kind-registry-containers")).toContain("removed web UI");
        expect(container(UI)).toBeUndefined();
        await waitForFront();
        expect(fromFront("/registry/")).not.toMatch(/^HTTP\/\S+ 200/);
        expect(frontChallenge("kind-registry:5002")).toContain('realm="http://kind-registry:5002/v2/token"');
        expect(container("kind-registry")?.id).not.toBe(before["kind-registry"]);
        expect(container("kind-registry-distribution")?.id).toBe(before["kind-registry-distribution"]);
        expect(container("kind-registry-node-watcher")?.id).toBe(before["kind-registry-node-watcher"]);
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("the registry's image bumped: Distribution alone runs the new image, with the images pushed before", async () => {
        const before = Object.fromEntries(CONTAINERS.map((name) => [name, container(name)?.id]));
        // The same Distribution under the new tag: no other image can be pulled here.
        engine.dockerOk(["tag", DEPLOYED_REGISTRY_IMAGE, BUMPED_REGISTRY_IMAGE]);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.image", BUMPED_REGISTRY_IMAGE, "-s", STACK]);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--json", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        // The check's repair runs the containers' script, which names the image.
        expect(executed(up.stdout)).toEqual(["update kind-registry-containers", "update kind-registry-files-check"]);
        expect(container("kind-registry-distribution")).toMatchObject({ running: true, image: BUMPED_REGISTRY_IMAGE });
        expect(container("kind-registry-distribution")?.id).not.toBe(before["kind-registry-distribution"]);
        expect(container("kind-registry")?.id).toBe(before["kind-registry"]);
        expect(container("kind-registry-node-watcher")?.id).toBe(before["kind-registry-node-watcher"]);
        const node = nodes[0]!;
        await criRemoveImage(node.socket, `localhost:5002/${IMAGE}`);
        await criRemoveImage(node.socket, `kind-registry:5002/${IMAGE}`);
        expect(await pullInNode(node, `localhost:5002/${IMAGE}`)).toMatch(/^sha256:/);
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 300_000);

    it("garbage collection turned on: the upkeep container takes it, the front and Distribution take their new files, a collection keeps the image", async () => {
        const before = Object.fromEntries(CONTAINERS.map((name) => [name, container(name)?.id]));
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.maintenance.garbageCollection.enabled", "true", "-s", STACK]);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--json", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect(executed(up.stdout).sort()).toEqual([
            "create kind-registry-gc-script-write",
            "update kind-registry-caddyfile-write",
            "update kind-registry-containers",
            // The collection's line beside the disk guard's.
            "update kind-registry-crontab-write",
            "update kind-registry-files-check",
            "update kind-registry-registry-config-write",
        ]);
        expect(container(MAINTENANCE)).toMatchObject({ running: true, image: "docker:29.9.3-cli" });
        // The marker's check in the Caddyfile, no blob-descriptor cache in Distribution's config.
        expect(container("kind-registry")?.id).not.toBe(before["kind-registry"]);
        expect(container("kind-registry-distribution")?.id).not.toBe(before["kind-registry-distribution"]);
        expect(container("kind-registry-node-watcher")?.id).toBe(before["kind-registry-node-watcher"]);
        await waitForFront();
        // A collection now, as docs/kind.md runs one: nothing is deleted, so the image stays and pulls.
        const collected = engine.docker(["exec", MAINTENANCE, "/bin/sh", "/dso/gc.sh"]);
        expect(collected.code, collected.stdout + collected.stderr).toBe(0);
        expect(collected.stdout).toContain("garbage collection done");
        const node = nodes[0]!;
        await criRemoveImage(node.socket, `localhost:5002/${IMAGE}`);
        expect(await pullInNode(node, `localhost:5002/${IMAGE}`)).toMatch(/^sha256:/);
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 300_000);

    it("`destroy` removes the containers, the nodes' files and the cluster's object, and keeps the images", async () => {
        const r = await ws.pulumi(["destroy", "--yes", "--json", "-s", STACK]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(executed(r.stdout).filter((l) => !l.startsWith("delete "))).toEqual([]);
        expect([...CONTAINERS, MAINTENANCE].map(container)).toEqual([undefined, undefined, undefined, undefined]);
        expect(engine.docker(["network", "inspect", "kind-registry-backend"]).code).not.toBe(0);
        for (const node of ["kind-control-plane", "kind-worker"]) {
            expect(engine.docker(["exec", node, "ls", "/etc/containerd/certs.d"]).stdout.trim()).toBe("");
        }
        expect(await kube.get(CONFIG_MAP)).toBeUndefined();
        expect(existsSync(path.join(dataDir, "images/docker/registry/v2/repositories/dev/app/_manifests/tags/1"))).toBe(true);
        const leftFiles = ["front", "bin", "window"].flatMap((dir) =>
            existsSync(path.join(dataDir, dir)) ? readdirSync(path.join(dataDir, dir)).map((f) => `${dir}/${f}`) : [],
        );
        expect(leftFiles).toEqual([]);
        expect(readFileSync(path.join(dataDir, KIND_DATA_DIR_MARKER), "utf8")).toContain("stack=dso-registry/kind\n");
        expect((await ws.exportState(STACK)).deployment.resources ?? []).toEqual([]);
    });

    it("a kind.dataDir that holds someone else's file: `up` stops before it writes anything there or runs a container", async () => {
        const theirs = path.join(scratch, "theirs");
        mkdirSync(theirs);
        writeFileSync(path.join(theirs, "notes.txt"), "mine\n");
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:kind.dataDir", theirs, "-s", STACK]);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).not.toBe(0);
        expect(up.stdout + up.stderr).toContain(`kind.dataDir is ${theirs}, and it holds what this stack did not put there: notes.txt.`);
        expect(readdirSync(theirs)).toEqual(["notes.txt"]);
        expect([...CONTAINERS, UI, MAINTENANCE].map(container)).toEqual([undefined, undefined, undefined, undefined, undefined]);
        const destroy = await ws.pulumi(["destroy", "--yes", "--skip-preview", "-s", STACK]);
        expect(destroy.code, destroy.stdout + destroy.stderr).toBe(0);
    });
});
