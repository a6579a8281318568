/**
 * A cluster whose pods really run: the engine tier's control plane (test/support/kubeControlPlane.ts,
 * without kwok) and one real node (or two: `nodes: 2`), each a test host (test/support/testHost.ts: its own
 * network and mount namespaces) running containerd, the kubelet and kube-proxy (tools/engine/kube/node-start.sh). Pods get
 * addresses on the node's bridge and run as the kubelet decides: security contexts, probes, volumes,
 * Services through kube-proxy's rules in the node's namespace, and (with `clusterDns`) CoreDNS as the
 * cluster's DNS, reading the Corefile of ConfigMap kube-system/coredns as a distribution's add-on does.
 *
 * No registry can be reached, so the images the pods need are built here (test/support/dockerImages.ts) as
 * OCI archives and imported into the node's containerd before the kubelet starts; a pod whose image is not
 * among them, and not pushed to a registry the node reaches, stays in ErrImagePull.
 *
 * The API server listens on this machine's end of the first node's veth pair, so that the kubelets reach it
 * and the engine on this machine too; a node reaches nothing else. Two nodes are joined by a veth pair of their
 * own, over which each routes the other's pod subnet (a pod reaches another node's pods as a cluster's pod
 * network lets it; Services balance over both nodes' pods). `stop()` ends every process of the node
 * (those in its mount namespace, and the containers, found in the kubelet's cgroup root), removes its
 * cgroups, then the control plane and the host; an exit hook ends the processes if a test never gets to.
 *
 * Usage:
 *   const cluster = await startRealCluster({ images: (t) => [registryImage(t), pinnedCaddyImage(t)] });
 *   cluster.kube.kubeconfig;                  // for the engine and kubectl
 *   cluster.node.run("ctr", [...]);          // on the node
 *   await cluster.stop();
 */
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import * as path from "node:path";
import { coreDnsImage, type ImageTarget, ociArchivePath, pauseImage } from "./dockerImages";
import { type ControlPlane, type KubeObject, startControlPlane } from "./kubeControlPlane";
import { engineSet, PROJECT_DIR } from "./pulumiEngine";
import { privateDir, removeDir, run } from "./serverProcess";
import { startTestHost, type TestHost } from "./testHost";

/** One node of the cluster: its machine, its name (as registered) and its directory (logs/ of its processes). */
export interface ClusterNode {
    readonly host: TestHost;
    readonly name: string;
    readonly dir: string;
}

export interface RealCluster {
    readonly kube: ControlPlane;
    /** The first node's machine: `run` a command on it (crictl-like checks with `ctr -n k8s.io`). */
    readonly node: TestHost;
    /** The first node's name (as registered) and address. */
    readonly nodeName: string;
    /** The first node's directory: logs/ of containerd, the kubelet and kube-proxy. */
    readonly nodeDir: string;
    /** Every node, the first one first. */
    readonly nodes: readonly ClusterNode[];
    /** The tail of the nodes' logs, for a failure's message. */
    logs(lines?: number): string;
    stop(): Promise<void>;
}

/**
 * The cluster's DNS as a cluster add-on runs it: CoreDNS in kube-system, reading ConfigMap `coredns` (key
 * `Corefile`, which the caller creates: the test's distribution's Corefile), behind Service `kube-dns` at
 * `CLUSTER_DNS`, with the rights its kubernetes plugin needs.
 */
async function startClusterDns(kube: ControlPlane, image: string): Promise<void> {
    const labels = { "k8s-app": "kube-dns" };
    await kube.create("/api/v1/namespaces/kube-system/serviceaccounts", {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "coredns", namespace: "kube-system" },
    });
    await kube.create("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "dso-test:coredns" },
        rules: [
            { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
            { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        ],
    } as unknown as KubeObject);
    await kube.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "dso-test:coredns" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "dso-test:coredns" },
        subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: "kube-system" }],
    } as unknown as KubeObject);
    await kube.create("/apis/apps/v1/namespaces/kube-system/deployments", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "coredns", namespace: "kube-system", labels },
        spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    serviceAccountName: "coredns",
                    dnsPolicy: "Default",
                    containers: [
                        {
                            name: "coredns",
                            image,
                            args: ["-conf", "/etc/coredns/Corefile"],
                            ports: [
                                { name: "dns", containerPort: 53, protocol: "UDP" },
                                { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                            ],
                            readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                            volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
                        },
                    ],
                    volumes: [{ name: "config", configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] } }],
                },
            },
        },
    } as unknown as KubeObject);
    await kube.create("/api/v1/namespaces/kube-system/services", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kube-dns", namespace: "kube-system", labels },
        spec: {
            clusterIP: CLUSTER_DNS,
            selector: labels,
            ports: [
                { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
                { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
            ],
        },
    } as unknown as KubeObject);
}

export interface RealClusterOptions {
    /** The images the pods need, built into the given target; each returns its reference. The pause image is always built. */
    readonly images?: (target: ImageTarget) => readonly string[];
    /** Names the node's /etc/hosts gives its own address (besides its name). */
    readonly hosts?: readonly string[];
    /** Where the node's containerd reads registry hosts (default /etc/containerd/certs.d; microk8s's for the local stack). */
    readonly certsDir?: string;
    /** Runs CoreDNS as the cluster's DNS (its ConfigMap `coredns` in kube-system is the caller's to create). */
    readonly clusterDns?: boolean;
    /** How many nodes: 1 (the default) or 2, each a machine of its own with the same images. */
    readonly nodes?: 1 | 2;
}

/** Each node's pod subnet (the n-th node's is the n-th): inside the test range, behind the node's own address (masqueraded). */
const POD_CIDRS = ["198.19.254.0/24", "198.19.255.0/24"] as const;
/** Both nodes' pod subnets. */
const CLUSTER_CIDR = "198.19.254.0/23";
/**
 * The link between two nodes (their own veth pair, the first node's end .1): each node routes the other's pod
 * subnet over it, as a cluster's pod network routes between nodes. Nothing of it is on this machine.
 */
const NODE_LINK = { first: "198.19.252.1", second: "198.19.252.2", bits: 30 } as const;
/** The Services' range, and cluster DNS's address in it (kube-proxy's rules live in the node's namespace only). */
const SERVICE_CIDR = "198.19.253.0/24";
export const CLUSTER_DNS = "198.19.253.10";

/** Every process whose mount namespace is `pid`'s, except `pid` itself. */
function processesInMountNamespace(pid: number): number[] {
    let ns: string;
    try {
        ns = readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
        return [];
    }
    const found: number[] = [];
    for (const entry of readdirSync("/proc")) {
        const other = Number(entry);
        if (!Number.isInteger(other) || other === pid) continue;
        try {
            if (readlinkSync(`/proc/${other}/ns/mnt`) === ns) found.push(other);
        } catch {
            // Gone, or a kernel thread.
        }
    }
    return found;
}

/** The cgroup `root` (a name of ours) in every hierarchy that has it. */
function cgroupDirs(root: string): string[] {
    const hierarchies = ["/sys/fs/cgroup", ...readdirSync("/sys/fs/cgroup").map((h) => path.join("/sys/fs/cgroup", h))];
    return hierarchies.map((h) => path.join(h, root)).filter((dir) => existsSync(path.join(dir, "cgroup.procs")));
}

/** The processes in cgroup `root` and below it: the pods' containers, each in a mount namespace of its own. */
function processesInCgroup(root: string): number[] {
    const found = new Set<number>();
    for (const dir of cgroupDirs(root)) {
        const listed = run("sh", ["-c", 'find "$1" -name cgroup.procs -exec cat {} +', "procs", dir]).stdout;
        for (const pid of listed.split("\n").filter(Boolean)) found.add(Number(pid));
    }
    return [...found];
}

/** Removes the cgroup `root` and everything below it from every hierarchy. */
function removeCgroups(root: string): void {
    for (const dir of cgroupDirs(root)) run("find", [dir, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]);
}

/** Sends `signal` to each of `pids` that is still there. */
function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
    for (const pid of pids) {
        try {
            process.kill(pid, signal);
        } catch {
            // Already gone.
        }
    }
}

/** A node's processes: those of its machine's mount namespace, and its pods' containers (in the kubelet's cgroup root). */
const processesOfNode = (host: TestHost, cgroupRoot: string) => [
    ...processesInMountNamespace(host.holderPid),
    ...processesInCgroup(cgroupRoot),
];

export async function startRealCluster(options: RealClusterOptions = {}): Promise<RealCluster> {
    const count = options.nodes ?? 1;
    const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    type Started = ClusterNode & { readonly cgroupRoot: string };
    const nodes: Started[] = [];
    let kube: ControlPlane | undefined;
    const logs = (lines = 30) =>
        nodes
            .filter((n) => existsSync(path.join(n.dir, "logs")))
            .flatMap((n) =>
                readdirSync(path.join(n.dir, "logs")).map(
                    (f) =>
                        `----- ${nodes.length > 1 ? `${n.name}: ` : ""}${f}\n${run("tail", ["-n", String(lines), path.join(n.dir, "logs", f)]).stdout}`,
                ),
            )
            .join("\n");
    const allProcesses = () => nodes.flatMap((n) => processesOfNode(n.host, n.cgroupRoot));
    // Should the test's process end without its afterAll (an error, a signal), nothing of the nodes keeps running.
    const onExit = () => signalAll(allProcesses(), "SIGKILL");
    process.once("exit", onExit);
    const stop = async () => {
        process.removeListener("exit", onExit);
        for (let round = 0; round < 3; round++) {
            const pids = allProcesses();
            if (pids.length === 0) break;
            signalAll(pids, round === 0 ? "SIGTERM" : "SIGKILL");
            await new Promise((r) => setTimeout(r, round === 0 ? 2000 : 500));
        }
        for (const n of nodes) removeCgroups(n.cgroupRoot);
        kube?.stop();
        // The link between the nodes goes with the first node's network namespace.
        for (const n of nodes) await n.host.destroy();
        for (const n of nodes) removeDir(n.dir);
    };
    try {
        for (let i = 0; i < count; i++) {
            const name = `dso-node-${i + 1}`;
            const host = await startTestHost({ prefix: "kn", subnet: "198.18.112.0/20", hosts: [name, ...(options.hosts ?? [])] });
            nodes.push({ host, name, dir: privateDir("kube-node"), cgroupRoot: `/dso-test-node-${suffix}-${i + 1}` });
        }
        const [first, second] = nodes as [Started, Started | undefined];
        kube = startControlPlane({ address: first.host.hostAddress, fakeNodes: 0, serviceCidr: SERVICE_CIDR });
        if (second) {
            // The second node reaches the API server (on the first node's link to this machine) through its own
            // link; the nodes route each other's pods over a link of their own.
            second.host.run("ip", ["route", "add", `${first.host.hostAddress}/32`, "via", second.host.hostAddress]);
            const link = `dnl${process.pid}`.slice(0, 15);
            const linked = run("ip", [
                "link",
                "add",
                link,
                "netns",
                first.host.name,
                "type",
                "veth",
                "peer",
                "name",
                link,
                "netns",
                second.host.name,
            ]);
            if (linked.code !== 0) throw new Error(`the link between the nodes: ${linked.stderr}`);
            for (const [n, own, other, pods] of [
                [first, NODE_LINK.first, NODE_LINK.second, POD_CIDRS[1]],
                [second, NODE_LINK.second, NODE_LINK.first, POD_CIDRS[0]],
            ] as const) {
                for (const args of [
                    ["addr", "add", `${own}/${NODE_LINK.bits}`, "dev", link],
                    ["link", "set", link, "up"],
                    ["route", "add", pods, "via", other],
                ]) {
                    const r = n.host.run("ip", args);
                    if (r.code !== 0) throw new Error(`ip ${args.join(" ")} on ${n.name}: ${r.stderr}`);
                }
            }
        }
        const archives = { archiveDir: path.join(first.dir, "images") };
        run("mkdir", ["-p", archives.archiveDir]);
        const bin = path.join(engineSet(), "bin");
        const dnsImage = options.clusterDns ? coreDnsImage(archives, path.join(bin, "coredns")) : undefined;
        const refs = [pauseImage(archives), ...(dnsImage ? [dnsImage] : []), ...(options.images?.(archives) ?? [])];
        for (const [i, n] of nodes.entries()) {
            const started = n.host.run("env", [
                `KUBE_CLUSTER_DNS=${CLUSTER_DNS}`,
                `KUBE_SERVICE_CIDR=${SERVICE_CIDR}`,
                `KUBE_CLUSTER_CIDR=${count > 1 ? CLUSTER_CIDR : POD_CIDRS[0]}`,
                ...(options.certsDir ? [`KUBE_CERTS_DIR=${options.certsDir}`] : []),
                "sh",
                path.join(PROJECT_DIR, "tools/engine/kube/node-start.sh"),
                n.dir,
                bin,
                kube.dir,
                n.name,
                n.host.address,
                POD_CIDRS[i] as string,
                n.cgroupRoot,
                ...refs.map((ref) => ociArchivePath(archives, ref)),
            ]);
            if (started.code !== 0) throw new Error(`node ${n.name} did not start:\n${started.stdout}\n${started.stderr}\n${logs()}`);
        }
        if (dnsImage) await startClusterDns(kube, dnsImage);
    } catch (error) {
        await stop();
        throw error;
    }
    const [first] = nodes as [Started];
    const view = nodes.map(({ host, name, dir }) => ({ host, name, dir }));
    return { kube, node: first.host, nodeName: first.name, nodeDir: first.dir, nodes: view, logs, stop };
}
