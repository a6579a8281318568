/**
 * Restarting k3s / RKE2 after registries.yaml changed, safely: one node's restart waits until its
 * service is active again and its Kubernetes node is Ready (bounded, with a clear failure), and the
 * nodes of a cluster take turns: servers one at a time (etcd keeps its quorum), then agents in
 * bounded batches. The turns are Pulumi dependencies between the nodes' commands (planned here,
 * wired in the stack); the waiting is in each node's script (`sh/registries-yaml.sh`).
 */
import type { ShellParams } from "../shared/shellScript";

/** What a node's restart step may do and how long it waits. */
export interface RestartSpec {
    /** Restart the running units after a change (else print the command to run). */
    readonly allow: boolean;
    /** Seconds to wait for the service to be active and the node Ready after a restart. */
    readonly timeoutSeconds: number;
    /** The node's Kubernetes name; empty: `$DSO_NODE_NAME`, else the machine's host name in lower case. */
    readonly nodeName?: string;
    /** The node's turn in the rolling restart, said in the script and its output ("server 2 of 3, after …"). */
    readonly turn?: string;
}

/** Default seconds a restarted node has to come back Ready. */
export const DEFAULT_RESTART_TIMEOUT_SECONDS = 300;

/** How each flavour's own kubectl reads its node with the kubelet's credentials (present on servers and agents). */
const NODE_KUBECTL: Record<"k3s" | "rke2", { readonly probe: string; readonly get: string }> = {
    k3s: {
        probe: "command -v k3s",
        get: `k3s kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node "$1" -o "jsonpath={.status.conditions[?(@.type==\\"Ready\\")].status}"`,
    },
    rke2: {
        probe: `PATH="$PATH:/var/lib/rancher/rke2/bin"; command -v kubectl`,
        get: `PATH="$PATH:/var/lib/rancher/rke2/bin"; kubectl --kubeconfig /var/lib/rancher/rke2/agent/kubelet.kubeconfig get node "$1" -o "jsonpath={.status.conditions[?(@.type==\\"Ready\\")].status}"`,
    },
};

/**
 * A node-trust DaemonSet pod outside a rolling update restarts k3s / RKE2 for a pending change only when
 * the service started less than this long ago: the node has just booted or joined, so the restart is
 * its own and not one of every node's at once (a new DaemonSet on an established cluster).
 */
export const RECENT_START_SECONDS = 900;

/** Marker next to registries.yaml: a change is written but its restart has not completed yet. */
export const RESTART_PENDING_FILE = ".dso-registry-restart-pending";

/** What restarts on one node after its registries.yaml changed. */
export interface NodeRestart {
    readonly flavour: "k3s" | "rke2";
    /** systemd units restarted where they are running. */
    readonly units: readonly string[];
    readonly settings: RestartSpec;
}

/**
 * The restart's parameters of the registries.yaml script (`sh/registries-yaml.sh`, which restarts the
 * running units after a change and waits for them and the node, or says what to run).
 */
export function restartParameters(restart: NodeRestart): ShellParams {
    const kubectl = NODE_KUBECTL[restart.flavour];
    return {
        FLAVOUR: restart.flavour,
        UNITS: restart.units,
        ALLOW_RESTART: restart.settings.allow,
        RESTART_TIMEOUT_SECONDS: restart.settings.timeoutSeconds,
        NODE_NAME: restart.settings.nodeName ?? "",
        TURN: restart.settings.turn ?? "",
        KUBECTL_PROBE: kubectl.probe,
        KUBECTL_GET: kubectl.get,
        PENDING_FILE: RESTART_PENDING_FILE,
        RECENT_START_SECONDS,
    };
}

/** A node whose runtime restarts after registries.yaml changes. */
export interface RestartingNode {
    readonly name: string;
    /** Servers run the control plane (and etcd); agents only run workloads. */
    readonly role: "server" | "agent";
}

/** One node's turn: the nodes whose restart must be complete first, and how the turn reads. */
export interface RestartTurn {
    readonly name: string;
    /** Names of the nodes this node's restart waits for. */
    readonly after: readonly string[];
    /** e.g. "server 2 of 3, after k3s-server-1" or "agent batch 2 of 4, after k3s-agent-1, k3s-agent-2". */
    readonly turn: string;
}

/**
 * The rolling order: servers one at a time in the order listed, each after the one before; then
 * agents in batches of `batchSize` (in the order listed), each batch after every node of the batch
 * before (the first batch after the last server).
 */
export function planRollingRestarts(nodes: readonly RestartingNode[], batchSize: number): RestartTurn[] {
    if (!Number.isInteger(batchSize) || batchSize < 1)
        throw new Error(`restart batch size must be a whole number of at least 1, got ${batchSize}`);
    const servers = nodes.filter((n) => n.role === "server");
    const agents = nodes.filter((n) => n.role === "agent");
    const turns: RestartTurn[] = [];
    const reads = (after: readonly string[]) => (after.length > 0 ? `, after ${after.join(", ")}` : "");
    let previous: string[] = [];
    servers.forEach((s, i) => {
        turns.push({ name: s.name, after: previous, turn: `server ${i + 1} of ${servers.length}${reads(previous)}` });
        previous = [s.name];
    });
    const batches = Math.ceil(agents.length / batchSize);
    for (let b = 0; b < batches; b++) {
        const batch = agents.slice(b * batchSize, (b + 1) * batchSize);
        for (const a of batch) {
            turns.push({ name: a.name, after: previous, turn: `agent batch ${b + 1} of ${batches}${reads(previous)}` });
        }
        previous = batch.map((a) => a.name);
    }
    return turns;
}
