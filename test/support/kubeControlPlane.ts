/**
 * A real Kubernetes control plane for the engine tier: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (fake nodes whose pods become Running without containers), built from Go
 * modules by tools/engine/build.sh --kube and started on 127.0.0.1 by tools/engine/kube/start.sh.
 *
 * `get`, `list` and `apply` speak to the API server directly with the admin client certificate of the
 * kubeconfig start.sh writes, so that the tests read what the server holds, not what Pulumi says.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import * as path from "node:path";
import { parse } from "yaml";
import { engineSet, PROJECT_DIR } from "./pulumiEngine";
import { privateDir, removeDir, waitUntil } from "./serverProcess";

export interface KubeObject {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly metadata: { name: string; namespace?: string; [key: string]: unknown };
    readonly [key: string]: unknown;
}

export interface ControlPlane {
    /** Path of the admin kubeconfig. */
    readonly kubeconfig: string;
    /** start.sh's directory (its pki/ and env), for a real node that joins (test/support/kubeNode.ts). */
    readonly dir: string;
    /** GET a path (e.g. /api/v1/namespaces/jenkins/configmaps/x); undefined on 404. */
    get<T = KubeObject>(apiPath: string): Promise<T | undefined>;
    /** Creates an object with a POST to a collection path. */
    create(collectionPath: string, object: KubeObject): Promise<void>;
    /** Deletes an object by path; resolves whether it existed or not. */
    remove(apiPath: string): Promise<void>;
    /** Waits until GET of a path answers 404. */
    waitGone(apiPath: string, timeoutMs?: number): Promise<void>;
    stop(): void;
}

export interface ControlPlaneOptions {
    /** Where the API server listens (default 127.0.0.1): a real node's veth address on this machine's side. */
    readonly address?: string;
    /** kwok's fake nodes (default 1); 0 runs no kwok, for a real kubelet to register instead. */
    readonly fakeNodes?: number;
    /** The Services' range (default 10.96.0.0/24). */
    readonly serviceCidr?: string;
}

export function startControlPlane(options: ControlPlaneOptions = {}): ControlPlane {
    const bin = path.join(engineSet(), "bin");
    const dir = privateDir("kube");
    const script = (name: string) => path.join(PROJECT_DIR, "tools/engine/kube", name);
    const env = {
        ...process.env,
        ...(options.address ? { KUBE_ADDRESS: options.address } : {}),
        ...(options.fakeNodes !== undefined ? { KUBE_FAKE_NODES: String(options.fakeNodes) } : {}),
        ...(options.serviceCidr ? { KUBE_SERVICE_CIDR: options.serviceCidr } : {}),
    };
    const started = spawnSync("sh", [script("start.sh"), dir, bin], { encoding: "utf8", env });
    if (started.status !== 0) {
        spawnSync("sh", [script("stop.sh"), dir]);
        removeDir(dir);
        throw new Error(`the Kubernetes control plane did not start:\n${started.stdout}\n${started.stderr}`);
    }
    const kubeconfig = path.join(dir, "kubeconfig");
    const config = parse(readFileSync(kubeconfig, "utf8"));
    const cluster = config.clusters[0].cluster;
    const user = config.users[0].user;
    const server = new URL(cluster.server);
    const tls = {
        ca: Buffer.from(cluster["certificate-authority-data"], "base64"),
        cert: Buffer.from(user["client-certificate-data"], "base64"),
        key: Buffer.from(user["client-key-data"], "base64"),
    };
    const call = (method: string, apiPath: string, body?: unknown) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
            const req = request(
                {
                    host: server.hostname,
                    port: server.port,
                    path: apiPath,
                    method,
                    ...tls,
                    headers: body === undefined ? {} : { "content-type": "application/json" },
                },
                (res) => {
                    let text = "";
                    res.setEncoding("utf8").on("data", (chunk) => (text += chunk));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
                },
            );
            req.once("error", reject);
            req.end(body === undefined ? undefined : JSON.stringify(body));
        });
    const get = async <T>(apiPath: string): Promise<T | undefined> => {
        const r = await call("GET", apiPath);
        if (r.status === 404) return undefined;
        if (r.status !== 200) throw new Error(`GET ${apiPath}: ${r.status} ${r.body}`);
        return JSON.parse(r.body) as T;
    };
    return {
        kubeconfig,
        dir,
        get,
        async create(collectionPath, object) {
            const r = await call("POST", collectionPath, object);
            if (r.status !== 201) throw new Error(`POST ${collectionPath}: ${r.status} ${r.body}`);
        },
        async remove(apiPath) {
            const r = await call("DELETE", apiPath);
            if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new Error(`DELETE ${apiPath}: ${r.status} ${r.body}`);
        },
        async waitGone(apiPath, timeoutMs = 120_000) {
            await waitUntil(async () => (await get(apiPath)) === undefined, { timeout: timeoutMs, interval: 500 }).catch(
                (error: unknown) => {
                    throw new Error(`${apiPath} still exists after ${timeoutMs} ms`, { cause: error });
                },
            );
        },
        stop() {
            spawnSync("sh", [script("stop.sh"), dir]);
            removeDir(dir);
        },
    };
}

/**
 * A default StorageClass with static volumes, so that claims bind as on a cluster with a provisioner
 * (microk8s's hostpath-storage, k3s's local-path). kwok's pods mount nothing: the volumes hold no data. On a
 * real node, `hostPathRoot` puts each volume in a directory of the node, made when a pod first mounts it.
 */
export async function provideVolumes(kube: ControlPlane, count: number, size = "500Gi", hostPathRoot?: string): Promise<void> {
    await kube.create("/apis/storage.k8s.io/v1/storageclasses", {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: "test-volumes", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
        provisioner: "kubernetes.io/no-provisioner",
        volumeBindingMode: "Immediate",
        allowVolumeExpansion: true,
    });
    for (let i = 0; i < count; i++) {
        await kube.create("/api/v1/persistentvolumes", {
            apiVersion: "v1",
            kind: "PersistentVolume",
            metadata: { name: `test-volume-${i}` },
            spec: {
                capacity: { storage: size },
                accessModes: ["ReadWriteOnce"],
                storageClassName: "test-volumes",
                persistentVolumeReclaimPolicy: "Retain",
                hostPath: hostPathRoot
                    ? { path: `${hostPathRoot}/test-volume-${i}`, type: "DirectoryOrCreate" }
                    : { path: `/nonexistent/test-volume-${i}` },
            },
        });
    }
}

/** A Namespace object, for prerequisites a stack expects to exist. */
export const namespace = (name: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
