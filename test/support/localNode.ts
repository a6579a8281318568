/**
 * The `local` (microk8s) stack's real node for the engine tier: a node whose pods run (./kubeNode.ts) with
 * the images the stack's pods need, built here under the names it pins (no registry can be reached), the
 * cluster's DNS, microk8s's certs.d for the node's containerd, the prerequisites microk8s gives
 * (./localCluster.ts) and the static volumes' directories made as microk8s's hostpath provisioner makes them.
 * And what the tests do from the node: push an image built here with skopeo.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import {
    blackboxExporterImage,
    busyboxImage,
    type ImageTarget,
    kubectlImage,
    nginxImage,
    type OciArchives,
    ociArchivePath,
    payloadImage,
    pinnedCaddyImage,
    registryImage,
    resticImage,
} from "./dockerImages";
import { type RealCluster, startRealCluster } from "./kubeNode";
import { addLocalPrerequisites } from "./localCluster";
import { engineSet, PROJECT_DIR } from "./pulumiEngine";
import { run, type ServerProcess, waitUntil } from "./serverProcess";
import type { TestHost } from "./testHost";

/** The local stack's registry name. */
export const LOCAL_REGISTRY = "registry-dso.jmann.local";
/** Where microk8s's containerd reads registry hosts, and so where the node-trust DaemonSet writes them. */
export const MICROK8S_CERTS_D = "/var/snap/microk8s/current/args/certs.d";
/** The node's directory of the static volumes the claims bind to. */
export const LOCAL_VOLUMES = "/srv/test-volumes";
/** On the node: the stack's CA (`ca.crt`) for skopeo, and the push account's auth file. */
export const NODE_CERT_DIR = "/root/push-certs";
export const NODE_AUTH_FILE = "/root/push-auth.json";

/**
 * Starts the node (or `nodes` nodes) and the control plane with what the local stack needs; `volumes` static
 * volumes; `images` adds images the test's settings need (the web UI's stand-in, say).
 */
export async function startLocalStackNode(
    volumes: number,
    images: (t: ImageTarget) => readonly string[] = () => [],
    nodes: 1 | 2 = 1,
): Promise<RealCluster> {
    const cluster = await startRealCluster({
        nodes,
        images: (t: ImageTarget) => [
            ...images(t),
            registryImage(t),
            pinnedCaddyImage(t),
            nginxImage(t),
            busyboxImage(t),
            blackboxExporterImage(t),
            kubectlImage(t, path.join(engineSet(), "bin/kubectl")),
            resticImage(t),
        ],
        certsDir: MICROK8S_CERTS_D,
        clusterDns: true,
    });
    await addLocalPrerequisites(cluster.kube, volumes, LOCAL_VOLUMES);
    // Each volume's directory as microk8s's hostpath provisioner (and k3s's local-path) makes it: open to every
    // user. The kubelet gives a hostPath volume no fsGroup ownership, so the registry (user 65532) writes only
    // where the directory lets it.
    const dirs = Array.from({ length: volumes }, (_, i) => `${LOCAL_VOLUMES}/test-volume-${i}`);
    for (const node of cluster.nodes) {
        const made = node.host.run("sh", ["-c", 'mkdir -p "$@" && chmod 0777 "$@"', "mkdirs", ...dirs]);
        if (made.code !== 0) throw new Error(`the volumes' directories on ${node.name}: ${made.stderr}`);
    }
    return cluster;
}

/** The directory of the images a test pushes from the node (OCI archives), under its scratch directory. */
export function nodeImageArchives(scratch: string): OciArchives {
    const archives = { archiveDir: path.join(scratch, "images") };
    mkdirSync(archives.archiveDir, { recursive: true });
    return archives;
}

/**
 * Builds a new image `ref` and copies it from the node to the registry with the stack's CA: with the push
 * account's auth file (NODE_AUTH_FILE), or anonymously.
 */
export function pushFromNode(
    cluster: RealCluster,
    scratch: string,
    ref: string,
    options: { readonly payloadBytes?: number; readonly anonymous?: boolean } = {},
) {
    const archives = nodeImageArchives(scratch);
    payloadImage(archives, ref, { payloadBytes: options.payloadBytes });
    return cluster.node.run("skopeo", [
        "copy",
        "--dest-cert-dir",
        NODE_CERT_DIR,
        ...(options.anonymous ? [] : ["--dest-authfile", NODE_AUTH_FILE]),
        `oci-archive:${ociArchivePath(archives, ref)}`,
        `docker://${ref}`,
    ]);
}

/**
 * A pod `name` in namespace default whose image is `image` (one pushed to the registry: the kubelet pulls it
 * through the node's trust), listing /payload and then waiting; once it runs, its log (that listing) and the
 * images the node's containerd holds. `node` places it on that node (by name; the first node's images are
 * listed otherwise). The pod is deleted after.
 */
export async function runPodOfImage(
    cluster: RealCluster,
    name: string,
    image: string,
    timeoutMs = 180_000,
    node = cluster.nodes[0],
): Promise<{ readonly log: string; readonly nodeImages: readonly string[] }> {
    const kubectl = (...args: string[]) =>
        run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input: "" });
    const started = kubectl(
        "run",
        name,
        "-n",
        "default",
        `--image=${image}`,
        "--restart=Never",
        ...(node && cluster.nodes.length > 1 ? [`--overrides=${JSON.stringify({ spec: { nodeName: node.name } })}`] : []),
        "--",
        "sh",
        "-c",
        "ls -l /payload && sleep 3600",
    );
    if (started.code !== 0) throw new Error(`kubectl run ${name}: ${started.stderr}`);
    try {
        const running = async () =>
            (await cluster.kube.get<{ status: { phase: string } }>(`/api/v1/namespaces/default/pods/${name}`))?.status.phase === "Running";
        await waitUntil(running, { timeout: timeoutMs, interval: 1000 }).catch((error: unknown) => {
            throw new Error(`pod ${name} of ${image}: not Running within ${timeoutMs / 1000} s\n${cluster.logs(15)}`, { cause: error });
        });
        return {
            log: kubectl("logs", "-n", "default", name).stdout,
            nodeImages: (node?.host ?? cluster.node).run("ctr", ["-n", "k8s.io", "images", "ls", "-q"]).stdout.split("\n"),
        };
    } finally {
        kubectl("delete", "pod", "-n", "default", name, "--wait=false");
    }
}

/**
 * The ingress's part on a node (microk8s's ingress listens on every node): the node's 127.0.0.1:443, where the
 * node trust's hosts entry sends the registry's name, relayed to `serviceIp`:443, the registry's TLS Service
 * (kube-proxy takes each connection to one pod).
 */
export function startNodeRelay(host: TestHost, serviceIp: string): ServerProcess {
    return host.startServer(process.execPath, [
        path.join(PROJECT_DIR, "node_modules/tsx/dist/cli.mjs"),
        path.join(PROJECT_DIR, "test/support/serviceProxyMain.ts"),
        "127.0.0.1",
        "443",
        serviceIp,
        "443",
    ]);
}

/** The push clients' files on `host`: the stack's CA (NODE_CERT_DIR/ca.crt) and the push account's auth file (NODE_AUTH_FILE); nothing secret on a command line. */
export function writeNodeClientFiles(host: TestHost, caPem: string, push: { readonly username: string; readonly password: string }): void {
    const auth = Buffer.from(`${push.username}:${push.password}`).toString("base64");
    for (const [script, input] of [
        [`mkdir -p ${NODE_CERT_DIR} && cat > ${NODE_CERT_DIR}/ca.crt`, caPem],
        [`umask 077 && cat > ${NODE_AUTH_FILE}`, JSON.stringify({ auths: { [LOCAL_REGISTRY]: { auth } } })],
    ] as const) {
        const written = host.run("sh", ["-c", script], { input });
        if (written.code !== 0) throw new Error(`${script}: ${written.stderr}`);
    }
}
