/**
 * Restarting k3s / RKE2 after registries.yaml changed, safely: one node's restart waits until its
 * service is active again and its Kubernetes node is Ready (bounded, with a clear failure), and the
 * nodes of a cluster take turns: servers one at a time (etcd keeps its quorum), then agents in
 * bounded batches. The turns are Pulumi dependencies between the nodes' commands (planned here,
 * wired in the stack); the waiting is in each node's script.
 */
import { shQuote } from "../shared/shQuote";

/** What a node's restart step may do and how long it waits. */
export interface RestartSettings {
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

/** Seconds between two checks while waiting. */
const POLL_SECONDS = 2;

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

/** Marker next to registries.yaml: a change is written but its restart has not completed yet. */
export const RESTART_PENDING_FILE = ".dso-registry-restart-pending";

/**
 * The part of a script that follows a change of `path` (the script has set `changed=1` or `0`):
 * restarts the running units among `units` and waits for them and the node, or says what to run.
 *
 * A change first leaves a pending marker that only a completed restart removes, so a run that failed
 * while waiting, or a DaemonSet run that was not allowed to restart ($DSO_DEFER_RESTART), restarts on
 * the next run that may. On removal ("remove"), a deferred restart is left to the operator instead.
 */
export function restartAfterChange(
    flavour: "k3s" | "rke2",
    path: string,
    units: readonly string[],
    settings: RestartSettings,
    action: "apply" | "remove",
): string {
    const what = action === "apply" ? `${path} changed` : `the registry's entries were removed from ${path}`;
    if (!settings.allow) {
        return [
            `if [ "$changed" = 1 ]; then`,
            `  echo "${what}: restart ${units.join(" or ")} to apply it (dso-registry:nodes.allowServiceRestart is false)"`,
            `fi`,
        ].join("\n");
    }
    const timeout = settings.timeoutSeconds;
    const kubectl = NODE_KUBECTL[flavour];
    const turn = settings.turn ? ` (${settings.turn})` : "";
    return [
        `pending="$(dirname "$file")/${RESTART_PENDING_FILE}"`,
        `if [ "$changed" = 1 ]; then : > "$pending"; fi`,
        `if [ -e "$pending" ] && [ -n "\${DSO_DEFER_RESTART:-}" ]; then`,
        ...(action === "apply"
            ? [
                  `  echo "${what}: restart pending; ${units.join(" or ")} reads it only after a restart, which a DaemonSet makes only in a rolling update (one node at a time): run kubectl rollout restart on the node-trust DaemonSet, or restart the service on each node in turn"`,
              ]
            : [`  rm -f "$pending"`, `  echo "${what}: restart ${units.join(" or ")} on this node when convenient"`]),
        `elif [ -e "$pending" ]; then`,
        ...(settings.turn ? [`  # Rolling restart${turn}.`, `  echo "rolling restart${turn}"`] : []),
        `  restarted=""`,
        ...units.flatMap((unit) => [
            `  if \${DSO_HOST_EXEC:-} systemctl is-active --quiet ${shQuote(unit)}; then`,
            `    \${DSO_HOST_EXEC:-} systemctl restart ${shQuote(unit)}`,
            `    restarted="$restarted ${unit}"`,
            `  fi`,
        ]),
        `  if [ -z "$restarted" ]; then`,
        `    echo "none of ${units.join(", ")} is running; it reads the change when it starts"`,
        `  else`,
        `    echo "restarted$restarted (${what}); waiting up to ${timeout}s for it to be active and the node Ready"`,
        `    deadline=$(( $(date +%s) + ${timeout} ))`,
        `    for unit in $restarted; do`,
        `      until \${DSO_HOST_EXEC:-} systemctl is-active --quiet "$unit"; do`,
        `        if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `          echo "$unit did not become active within ${timeout}s after its restart. Nodes after this one were not restarted. See: journalctl -u $unit -n 100; fix it, then run pulumi up again." >&2`,
        `          exit 1`,
        `        fi`,
        `        sleep ${POLL_SECONDS}`,
        `      done`,
        `    done`,
        `    node="\${DSO_NODE_NAME:-}"`,
        ...(settings.nodeName ? [`    node=${shQuote(settings.nodeName)}`] : []),
        `    if [ -z "$node" ]; then node=$(\${DSO_HOST_EXEC:-} hostname | tr '[:upper:]' '[:lower:]'); fi`,
        // The kubectl commands run in the node's namespaces ($DSO_HOST_EXEC): their $PATH and $1 are meant for that shell.
        `    # shellcheck disable=SC2016`,
        `    if \${DSO_HOST_EXEC:-} sh -c ${shQuote(kubectl.probe)} >/dev/null 2>&1; then`,
        `      status=""`,
        `      until [ "$status" = True ]; do`,
        `        status=$(\${DSO_HOST_EXEC:-} sh -c ${shQuote(kubectl.get)} sh "$node" 2>/dev/null || true)`,
        `        if [ "$status" = True ]; then break; fi`,
        `        if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `          echo "node $node was not Ready within ${timeout}s after the restart (Ready: \${status:-unknown}). Nodes after this one were not restarted. See: kubectl describe node $node; journalctl -u \${restarted# } -n 100. If the Kubernetes node has another name, set dso-registry:nodes.list[].kubernetesNodeName." >&2`,
        `          exit 1`,
        `        fi`,
        `        sleep ${POLL_SECONDS}`,
        `      done`,
        `      echo "node $node is Ready"`,
        `    else`,
        `      echo "no ${flavour} kubectl on this node: waited for the service only"`,
        `    fi`,
        `  fi`,
        `  rm -f "$pending"`,
        `fi`,
    ].join("\n");
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
