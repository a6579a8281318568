/**
 * One registry for two real kind clusters (`kind.clusterNames`, docs/kind.md#several-clusters): two
 * `kind create cluster` on one private Docker engine (test/support/kindCluster.ts, `addKindCluster`), their
 * contexts `kind-a` and `kind-b` in one kubeconfig, the committed `kind` stack told to serve both. An image
 * pushed once runs as a pod in each; each cluster holds the KEP-1755 ConfigMap. `b` taken off the list and
 * `up`: its nodes' files and its ConfigMap are gone, `a` still pulls. `b` listed again and `up`: configured
 * again. `destroy`: both clusters' objects and nodes' containerd files are what they were before the first `up`.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import type { DockerClient } from "../support/dockerEngine";
import { busyboxImage, pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { addKindCluster, type KindCluster, startKindCluster } from "../support/kindCluster";
import { dockerCliImage } from "../support/kindNode";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir } from "../support/serverProcess";

const STACK = "kind";
const IMAGE = "localhost:5002/dev/alpine:3.20";
/** The kinds a kind stack writes in a cluster (its ConfigMap), and what the test's pods make. */
const OBJECT_KINDS = ["namespaces", "configmaps", "secrets", "serviceaccounts", "services", "deployments", "pods", "roles", "rolebindings"];

let a: KindCluster;
let b: KindCluster;
let scratch: string;
let ws: Workspace | undefined;
let developer: DockerClient;
let before: Record<string, { objects: string[]; nodeFiles: string[] }>;

/** Every object of OBJECT_KINDS in the cluster, as "Kind namespace/name uid", sorted. */
function clusterObjects(c: KindCluster): string[] {
    const r = c.kubectl(["get", OBJECT_KINDS.join(","), "-A", "-o", "json"]);
    if (r.code !== 0) throw new Error(`kubectl get (${c.context}): ${r.stderr}`);
    const { items } = JSON.parse(r.stdout) as { items: { kind: string; metadata: { namespace?: string; name: string; uid: string } }[] };
    return items.map((i) => `${i.kind} ${i.metadata.namespace ?? ""}/${i.metadata.name} ${i.metadata.uid}`).sort();
}

/** The cluster's node's containerd files: each directory under certs.d, each file's digest, config.toml's. */
function nodeFiles(c: KindCluster): string[] {
    const r = c.engine.docker([
        "exec",
        `${c.name}-control-plane`,
        "sh",
        "-c",
        "{ find /etc/containerd/certs.d -type d -exec printf '%s/\\n' {} +; find /etc/containerd/certs.d -type f -exec sha256sum {} +; } 2>/dev/null; sha256sum /etc/containerd/config.toml",
    ]);
    if (r.code !== 0) throw new Error(`docker exec ${c.name}-control-plane: ${r.stderr}`);
    return r.stdout.trim().split("\n").sort();
}

/** The registry's hosts.toml in the cluster's node, or undefined when there is none. */
function registryHostsToml(c: KindCluster): string | undefined {
    const r = c.engine.docker(["exec", `${c.name}-control-plane`, "cat", "/etc/containerd/certs.d/localhost:5002/hosts.toml"]);
    return r.code === 0 ? r.stdout : undefined;
}

/** The KEP-1755 document in the cluster's kube-public, or undefined when the ConfigMap is absent. */
function localRegistryHosting(c: KindCluster): Record<string, unknown> | undefined {
    const r = c.kubectl(["get", "configmap", "-n", "kube-public", "local-registry-hosting", "-o", "json", "--ignore-not-found"]);
    if (r.code !== 0) throw new Error(`kubectl get configmap (${c.context}): ${r.stderr}`);
    if (r.stdout.trim() === "") return undefined;
    return YAML.parse((JSON.parse(r.stdout) as { data: Record<string, string> }).data["localRegistryHosting.v1"] ?? "");
}

/** Runs the pushed image as pod `name` in the cluster (pulled anew); its log, once it has finished. */
function runPod(c: KindCluster, name: string): string {
    const created = c.kubectl([
        "run",
        name,
        "--restart=Never",
        "--image-pull-policy=Always",
        `--image=${IMAGE}`,
        "--",
        "echo",
        `pulled in ${c.name}`,
    ]);
    if (created.code !== 0) throw new Error(`kubectl run (${c.context}): ${created.stderr}`);
    const waited = c.kubectl(["wait", "--for=jsonpath={.status.phase}=Succeeded", `pod/${name}`, "--timeout=180s"]);
    const described = () => c.kubectl(["describe", "pod", name]).stdout;
    if (waited.code !== 0) throw new Error(`pod ${name} in ${c.context} did not succeed: ${waited.stderr}\n${described()}`);
    // The pod has succeeded; its log may take the kubelet a moment to serve on a loaded machine (an empty answer).
    let logs = "";
    let stderr = "";
    for (let attempt = 0; attempt < 15 && logs === ""; attempt++) {
        if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
        const r = c.kubectl(["logs", name]);
        logs = r.stdout.trim();
        stderr = r.stderr;
    }
    if (logs === "") throw new Error(`pod ${name} in ${c.context} succeeded, but its log stayed empty: ${stderr}\n${described()}`);
    c.kubectl(["delete", "pod", name, "--wait=true"]);
    return logs;
}

beforeAll(async () => {
    scratch = privateDir("kind-clusters-test");
    const started = Date.now();
    a = await startKindCluster({ name: "a" });
    b = await addKindCluster(a, "b", 6444);
    console.log(
        `kind clusters: node image ${a.timings.image} s, kind create cluster a ${a.timings.create} s, b ${b.timings.create} s, all ${Math.round((Date.now() - started) / 1000)} s`,
    );
    registryImage(a.engine);
    pinnedCaddyImage(a.engine);
    dockerCliImage(a.engine);
    busyboxImage(a.engine, "alpine:3.20");
    developer = a.engine.client();
    ws = openWorkspace({
        stackFiles: [STACK],
        env: { KUBECONFIG: a.kubeconfig, DOCKER_HOST: a.engine.host, DOCKER_CONFIG: developer.configDir },
    });
    before = {
        a: { objects: clusterObjects(a), nodeFiles: nodeFiles(a) },
        b: { objects: clusterObjects(b), nodeFiles: nodeFiles(b) },
    };
}, 40 * 60_000);

afterAll(async () => {
    ws?.close();
    await b?.stop();
    await a?.stop();
    if (scratch) removeDir(scratch);
});

describe("one kind registry for two real kind clusters", () => {
    const config = (args: readonly string[]) => (ws as Workspace).pulumiOk(["config", ...args, "-s", STACK]);
    const up = async () => {
        const r = await (ws as Workspace).pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        return r;
    };

    it(
        "an image pushed once runs as a pod in each cluster, and each cluster holds the KEP-1755 ConfigMap",
        async () => {
            const w = ws as Workspace;
            await w.pulumiOk(["stack", "init", STACK]);
            await config(["set", "--path", "dso-registry:kind.dataDir", path.join(scratch, "dso-registry-kind")]);
            await config(["set", "--path", "dso-registry:registry.ui.enabled", "false"]);
            await config(["rm", "--path", "dso-registry:kind.clusterName"]);
            await config(["set", "--path", "dso-registry:kind.clusterNames[0]", "a"]);
            await config(["set", "--path", "dso-registry:kind.clusterNames[1]", "b"]);
            await config(["set", "kubernetes:context", "kind-a"]);
            const started = Date.now();
            await up();
            console.log(`up with two clusters: ${Math.round((Date.now() - started) / 1000)} s`);

            const push = (await w.output(STACK, "pushCredentials")) as { username: string; password: string };
            expect(developer.login("localhost:5002", push).code).toBe(0);
            developer.dockerOk(["tag", "alpine:3.20", IMAGE]);
            developer.dockerOk(["push", IMAGE]);
            expect(runPod(a, "hello")).toBe("pulled in a");
            expect(runPod(b, "hello")).toBe("pulled in b");
            for (const c of [a, b]) {
                expect(registryHostsToml(c), c.name).toContain('[host."http://kind-registry:5002"]');
                expect(localRegistryHosting(c), c.name).toMatchObject({
                    host: "localhost:5002",
                    hostFromContainerRuntime: "kind-registry:5002",
                });
            }
            // The stack's own cluster keeps the single cluster's resources; b has its own provider.
            const names = ((await w.exportState(STACK)).deployment.resources ?? []).map((r) => String(r.urn).split("::").pop());
            expect(names).toEqual(
                expect.arrayContaining([
                    "kind-registry-nodes",
                    "kind-registry-nodes-b",
                    "kind-registry-local-registry-hosting",
                    "kind-registry-local-registry-hosting-b",
                    "kind-registry-k8s-b",
                ]),
            );
        },
        20 * 60_000,
    );

    it(
        "b taken off the list: its node's files and its ConfigMap are gone, a still pulls; listed again, b is configured again",
        async () => {
            await config(["rm", "--path", "dso-registry:kind.clusterNames[1]"]);
            await up();
            expect(registryHostsToml(b)).toBeUndefined();
            expect(nodeFiles(b)).toEqual(before.b?.nodeFiles);
            expect(localRegistryHosting(b)).toBeUndefined();
            expect(registryHostsToml(a)).toContain('[host."http://kind-registry:5002"]');
            expect(localRegistryHosting(a)).toMatchObject({ host: "localhost:5002" });
            expect(runPod(a, "again")).toBe("pulled in a");
            expect(a.engine.docker(["inspect", "-f", "{{.State.Running}}", "kind-registry-node-watcher"]).stdout.trim()).toBe("true");

            await config(["set", "--path", "dso-registry:kind.clusterNames[1]", "b"]);
            await up();
            expect(registryHostsToml(b)).toContain('[host."http://kind-registry:5002"]');
            expect(localRegistryHosting(b)).toMatchObject({ host: "localhost:5002" });
            expect(runPod(b, "again")).toBe("pulled in b");
        },
        20 * 60_000,
    );

    it(
        "destroy leaves both clusters' objects and nodes' files as they were before the first up",
        async () => {
            const destroyed = await (ws as Workspace).pulumi(["destroy", "--yes", "--skip-preview", "-s", STACK], {
                timeoutMs: 15 * 60_000,
            });
            expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
            for (const c of [a, b]) {
                expect(clusterObjects(c), c.name).toEqual(before[c.name]?.objects);
                expect(nodeFiles(c), c.name).toEqual(before[c.name]?.nodeFiles);
            }
            expect(a.engine.docker(["inspect", "kind-registry-node-watcher"]).code).not.toBe(0);
        },
        20 * 60_000,
    );
});
