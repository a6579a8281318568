/**
 * Node trust on a fleet of nodes over SSH (or local commands): one NodeTrust per node, in parallel
 * except where the runtime restarts on a change (k3s, RKE2). Those nodes take turns
 * (`planRollingRestarts`): each node's restarting command waits for the restarts of the nodes before it.
 */
import * as pulumi from "@pulumi/pulumi";
import type { RuntimeFlavour } from "../shared/facts";
import type { HostConnection } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import type { NodeTrustCommonArgs } from "./common";
import { NodeTrust } from "./nodeTrustPerNode";
import { planRollingRestarts } from "./restarts";

/** One node of the fleet. */
export interface FleetNode {
    /** Its name in the stack; its NodeTrust is `node-trust-<name>` (nodeTrustName). */
    readonly name: string;
    readonly connection: HostConnection;
    readonly runtime: RuntimeFlavour;
    /** Its runtime reads its registry settings only when it starts (k3s, RKE2): a change restarts it, in turns. */
    readonly restartsOnChange: boolean;
    /** Its role in the rolling order: servers one at a time, then agents in batches. */
    readonly role: "server" | "agent";
    /** Its Kubernetes name, for the Ready check after a restart. */
    readonly kubernetesNodeName?: string;
    /** The pull account its runtime holds (where its flavour keeps credentials), if any. */
    readonly pullAccount?: NodeTrustCommonArgs["pullAccount"];
}

export interface NodeTrustFleetArgs {
    /** What every node trusts and how (all but the runtime flavour and the pull account, which are each node's own). */
    readonly common: Omit<NodeTrustCommonArgs, "flavour" | "pullAccount">;
    readonly nodes: readonly FleetNode[];
    /** How many agents restart at once. */
    readonly restartBatchSize: number;
}

/**
 * The fleet. Each node's NodeTrust was once a resource of the stack itself: the alias keeps its
 * identity, so a stack deployed before this component takes it over without a change.
 */
/** The name of a node's NodeTrust, from the node's name in the stack (the preview's consequences summary reads the node's name from it). */
export const nodeTrustName = (node: string) => `node-trust-${node}`;

const NODE_TRUST_FLEET_TYPE = typeToken("nodeTrust", "NodeTrustFleet");

export class NodeTrustFleet extends pulumi.ComponentResource {
    /** Each node's NodeTrust, by its name in the stack. */
    readonly nodes: Readonly<Record<string, NodeTrust>>;

    constructor(name: string, args: NodeTrustFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        super(NODE_TRUST_FLEET_TYPE, name, {}, opts);
        const restarting = args.nodes.filter((n) => n.restartsOnChange);
        const turns = new Map(planRollingRestarts(restarting, args.restartBatchSize).map((t) => [t.name, t]));
        const restartSteps = new Map<string, pulumi.Resource>();
        // In turn order (each node after the nodes it waits for, whose steps must exist first), then the rest.
        const turnIndex = (n: string) => [...turns.keys()].indexOf(n);
        const ordered = [...restarting].sort((a, b) => turnIndex(a.name) - turnIndex(b.name));
        const nodes: Record<string, NodeTrust> = {};
        for (const node of [...ordered, ...args.nodes.filter((n) => !turns.has(n.name))]) {
            const turn = turns.get(node.name);
            const trust = new NodeTrust(
                nodeTrustName(node.name),
                {
                    ...args.common,
                    flavour: node.runtime,
                    pullAccount: node.pullAccount,
                    connection: node.connection,
                    kubernetesNodeName: node.kubernetesNodeName,
                    restartTurn: turn && {
                        turn: turn.turn,
                        after: turn.after.flatMap((n) => {
                            const step = restartSteps.get(n);
                            return step ? [step] : [];
                        }),
                    },
                },
                {
                    parent: this,
                    aliases: [{ parent: pulumi.rootStackResource }, { parent: pulumi.rootStackResource, type: "dso:nodes:NodeTrust" }],
                },
            );
            if (trust.restartStep) restartSteps.set(node.name, trust.restartStep);
            nodes[node.name] = trust;
        }
        this.nodes = nodes;
        this.registerOutputs({});
    }
}
