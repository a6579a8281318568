/**
 * A real kind cluster for tests: the kind CLI (tools/kind/build.sh, built from its module into the engine
 * cache) runs `kind create cluster` against a private Docker engine (test/support/dockerEngine.ts: its own
 * data root, exec root and socket, in a test network namespace), with a node image built here
 * (test/support/kindNodeImage.ts). The cluster's API is published on the namespace's address, so the
 * kubeconfig kind writes (context `kind-<name>`) works from this machine, for kubectl and the Pulumi engine.
 *
 * What this machine needs that kind does not do by itself:
 * - kind runs its nodes with `docker run --privileged`, which asks for every capability the kernel knows;
 *   this machine withholds CAP_SYS_RESOURCE, and runc fails with "unable to apply caps: operation not
 *   permitted". The engine runs its containers through a runtime (kindNodeImage/runc-bounded, named in the
 *   engine's daemon.json) that leaves out of each container's spec the capabilities outside its own
 *   bounding set; everything else of `--privileged` (devices, writable /sys and cgroups) stays.
 * - The kubelet (v1.35 on) refuses cgroup v1 unless told otherwise (`failCgroupV1: false`); the node image's
 *   containerd runs with `restrict_oom_score_adj` (see kindNodeImage/containerd-config.toml).
 * - etcd and CoreDNS are the versions the engine set builds, named by a `kubeadmConfigPatches` entry.
 *
 * `stop()` runs `kind delete cluster`, stops the engine (by its PID), deletes the namespace and removes every
 * file it made.
 *
 * `addKindCluster(first, name, port)` creates another cluster on the same engine (kind's nodes of both on
 * the one `kind` network, their contexts in the one kubeconfig), as a developer with several clusters has.
 *
 * Usage:
 *   const cluster = await startKindCluster({ name: "kind" });
 *   const other = await addKindCluster(cluster, "other", 6444);   // other.stop() deletes that cluster alone
 *   cluster.kubectl(["get", "nodes"]);       // with the cluster's kubeconfig
 *   cluster.kind(["load", "image-archive", tar, "--name", cluster.name]);
 *   await cluster.stop();
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { type DockerEngine, startDockerEngine } from "./dockerEngine";
import { kindNodeBinaries, kindNodeImage, kubeadmImagePatch } from "./kindNodeImage";
import { createNetns, type TestNetns } from "./netns";
import { privateDir, type RunResult, removeDir, run } from "./serverProcess";

let kindDir: string | undefined;

/** The kind CLI (tools/kind/build.sh: built on first use, nothing when warm). */
export function kindBinary(): string {
    if (!kindDir) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/kind/build.sh"), "--quiet"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/kind/build.sh failed (exit ${build.status ?? build.signal})`);
        kindDir = build.stdout.trim().split("\n").at(-1) as string;
    }
    return path.join(kindDir, "kind");
}

export interface KindClusterOptions {
    /** The cluster's name (`kind create cluster --name`; default "kind"): nodes `<name>-control-plane`, context `kind-<name>`. */
    readonly name?: string;
    /** Extra lines of the cluster config's control-plane node entry (YAML, indented under `- role: control-plane`). */
    readonly controlPlane?: readonly string[];
}

export interface KindCluster {
    readonly name: string;
    /** `kind-<name>`. */
    readonly context: string;
    /** The kubeconfig kind wrote (its only context `kind-<name>`). */
    readonly kubeconfig: string;
    /** The private Docker engine the nodes run on (DOCKER_HOST for the registry's containers). */
    readonly engine: DockerEngine;
    readonly netns: TestNetns;
    /** The node image's reference. */
    readonly image: string;
    /** Seconds: getting the node image (built, or loaded from the cache), and `kind create cluster`. */
    readonly timings: { readonly image: number; readonly create: number };
    /** `kind args` against the engine; never throws. */
    kind(args: readonly string[]): RunResult;
    /** The engine set's `kubectl args` with the cluster's kubeconfig; never throws. */
    kubectl(args: readonly string[], input?: string): RunResult;
    /** Environment for clients of the cluster and its engine (KUBECONFIG, DOCKER_HOST). */
    readonly env: NodeJS.ProcessEnv;
    /** Deletes the cluster, stops the engine, removes the namespace and every file. Safe to call twice. */
    stop(): Promise<void>;
}

/** The cluster config: the API on the namespace's address, no CNI add-on, kubeadm told about this machine. */
function clusterConfig(apiAddress: string, imagePatch: string, controlPlane: readonly string[], apiServerPort = 6443): string {
    const indent = (text: string) =>
        text
            .trimEnd()
            .split("\n")
            .map((l) => `    ${l}`)
            .join("\n");
    return [
        "kind: Cluster",
        "apiVersion: kind.x-k8s.io/v1alpha4",
        "networking:",
        // Published where this machine reaches it (the namespace's end of its veth pair), not on the namespace's loopback.
        `  apiServerAddress: "${apiAddress}"`,
        // kind would pick a free port by listening on that address itself, which is not this machine's: the
        // namespace is the cluster's alone, so the API server's own port is free there.
        `  apiServerPort: ${apiServerPort}`,
        // The node image's containerd writes a bridge config per node (kind's kindnetd image cannot be pulled).
        "  disableDefaultCNI: true",
        "nodes:",
        "  - role: control-plane",
        ...controlPlane.map((l) => `    ${l}`),
        "kubeadmConfigPatches:",
        "  - |",
        indent(imagePatch),
        "  - |",
        indent(["kind: KubeletConfiguration", "failCgroupV1: false"].join("\n")),
        "",
    ].join("\n");
}

/** Creates the cluster; resolves once `kind create cluster` returned and the node is Ready. */
export async function startKindCluster(options: KindClusterOptions = {}): Promise<KindCluster> {
    const name = options.name ?? "kind";
    const kind = kindBinary();
    const binaries = kindNodeBinaries();
    const kubectlBin = path.join(binaries.bin, "kubectl");
    const dir = privateDir("kind-cluster");
    const kubeconfig = path.join(dir, "kubeconfig");
    // The runtime the engine runs containers through (see above), executable in a directory of ours.
    const runtime = path.join(dir, "runc-bounded");
    copyFileSync(path.join(__dirname, "kindNodeImage", "runc-bounded"), runtime);
    chmodSync(runtime, 0o755);
    const netns = await createNetns({ prefix: "kr", subnet: "198.19.96.0/20" });
    netns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    netns.writeEtcFile(
        "docker/daemon.json",
        `${JSON.stringify({ runtimes: { bounded: { path: runtime } }, "default-runtime": "bounded" })}\n`,
    );
    let engine: DockerEngine | undefined;
    const env = (): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG: kubeconfig, ...(engine ? { DOCKER_HOST: engine.host } : {}) });
    const kindRun = (args: readonly string[]) => run(kind, args, { env: env(), timeout: 15 * 60_000 });
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        if (engine) {
            kindRun(["delete", "cluster", "--name", name]);
            await engine.stop();
        }
        await netns.destroy();
        removeDir(dir);
    };
    try {
        engine = await startDockerEngine(netns);
        const image = kindNodeImage(engine, binaries);
        const configFile = path.join(dir, "cluster.yaml");
        writeFileSync(configFile, clusterConfig(netns.address, kubeadmImagePatch(binaries), options.controlPlane ?? []));
        const started = Date.now();
        const created = kindRun(["create", "cluster", "--name", name, "--image", image.ref, "--config", configFile, "--wait", "3m"]);
        const create = Math.round((Date.now() - started) / 1000);
        if (created.code !== 0)
            throw new Error(
                `kind create cluster failed (exit ${created.code})\n${created.stdout}\n${created.stderr}\n${engine.log().slice(-3000)}`,
            );
        const cluster: KindCluster = {
            name,
            context: `kind-${name}`,
            kubeconfig,
            engine,
            netns,
            image: image.ref,
            timings: { image: image.seconds, create },
            kind: kindRun,
            kubectl: (args, input) => run(kubectlBin, ["--context", `kind-${name}`, ...args], { env: env(), input, timeout: 600_000 }),
            env: env(),
            stop,
        };
        return cluster;
    } catch (error) {
        await stop();
        throw error;
    }
}

/**
 * Another cluster on `first`'s engine: its own name and API port on the namespace's address, its context
 * (`kind-<name>`) written into `first`'s kubeconfig. `stop()` deletes this cluster alone; `first.stop()`
 * stops the engine under both.
 */
export async function addKindCluster(first: KindCluster, name: string, apiServerPort: number): Promise<KindCluster> {
    const binaries = kindNodeBinaries();
    const kubectlBin = path.join(binaries.bin, "kubectl");
    const dir = privateDir("kind-cluster-more");
    const kindRun = (args: readonly string[]) => run(kindBinary(), args, { env: first.env, timeout: 15 * 60_000 });
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        kindRun(["delete", "cluster", "--name", name]);
        removeDir(dir);
    };
    try {
        const configFile = path.join(dir, "cluster.yaml");
        writeFileSync(configFile, clusterConfig(first.netns.address, kubeadmImagePatch(binaries), [], apiServerPort));
        const started = Date.now();
        const created = kindRun(["create", "cluster", "--name", name, "--image", first.image, "--config", configFile, "--wait", "3m"]);
        const create = Math.round((Date.now() - started) / 1000);
        if (created.code !== 0) {
            throw new Error(`kind create cluster --name ${name} failed (exit ${created.code})\n${created.stdout}\n${created.stderr}`);
        }
        return {
            ...first,
            name,
            context: `kind-${name}`,
            timings: { image: 0, create },
            kubectl: (args, input) => run(kubectlBin, ["--context", `kind-${name}`, ...args], { env: first.env, input, timeout: 600_000 }),
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
