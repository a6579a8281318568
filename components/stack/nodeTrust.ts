/**
 * Node trust for the stack's `nodes` config: one NodeTrust per listed node (delivery "ssh"), one
 * DaemonSet in a namespace of its own (delivery "daemonset"), or nothing.
 */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { Decisions } from "../decisions";
import type { NodeTrustCommonArgs } from "../nodeTrust/common";
import { NodeTrustDaemonSet } from "../nodeTrust/nodeTrustDaemonSet";
import { NodeTrust } from "../nodeTrust/nodeTrustSsh";
import { planRollingRestarts } from "../nodeTrust/restarts";
import { needsSudo, PART_OF_LABELS, type RuntimeFlavour } from "../shared/facts";
import type { HostConnection } from "../shared/hostAccess";
import type { PullAccount } from "./accounts";
import { mirrorSpecs } from "./mirrors";
import { secret } from "./secret";

/**
 * The nodes' trust in the registry. Over SSH, nodes work in parallel except where k3s / RKE2 restart:
 * those commands take turns (`planRollingRestarts`).
 */
export function defineNodeTrust(
    cfg: StackConfig,
    d: Decisions,
    inputs: { readonly caCertPem?: pulumi.Input<string>; readonly pullAccount?: PullAccount },
): void {
    const nodes = cfg.nodes;
    if (nodes.delivery === "none") return;
    const cr = cfg.containerRegistry;
    const common = (flavour: RuntimeFlavour): NodeTrustCommonArgs => ({
        host: cr.host,
        port: cr.port,
        flavour,
        caCertPem: nodes.insecurePlainHttp ? undefined : inputs.caCertPem,
        registryAddress: nodes.registryAddress,
        pullAccount: d.pullCredentials?.onNodes(flavour) ? inputs.pullAccount : undefined,
        plainHttp: nodes.insecurePlainHttp,
        allowContainerdRestart: nodes.allowContainerdRestart,
        allowServiceRestart: nodes.allowServiceRestart,
        restartTimeoutSeconds: nodes.restartTimeoutSeconds,
        mirrors: mirrorSpecs(cfg).map(({ upstream, pathName }) => ({ upstream, pathName })),
    });
    if (nodes.delivery === "daemonset") {
        // Its pods are privileged: they get a namespace of their own, so the registry's namespace can
        // enforce the restricted standard.
        const namespace = new k8s.core.v1.Namespace("node-trust-namespace", {
            metadata: {
                name: nodes.namespace,
                labels: {
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/audit": "privileged",
                    "pod-security.kubernetes.io/warn": "privileged",
                    ...PART_OF_LABELS,
                },
            },
        });
        new NodeTrustDaemonSet("node-trust", { ...common(nodes.runtime), namespace: nodes.namespace }, { dependsOn: [namespace] });
        return;
    }
    const restarting = d.sshNodes.filter((n) => n.restartsOnChange);
    const turns = new Map(
        planRollingRestarts(
            restarting.map((n) => n.node),
            nodes.restartBatchSize,
        ).map((t) => [t.name, t]),
    );
    const restartSteps = new Map<string, pulumi.Resource>();
    // In turn order (each node after the nodes it waits for, whose steps must exist first), then the rest.
    const turnIndex = (name: string) => [...turns.keys()].indexOf(name);
    const ordered = [...restarting].sort((a, b) => turnIndex(a.node.name) - turnIndex(b.node.name));
    for (const { node, runtime } of [...ordered, ...d.sshNodes.filter((n) => !turns.has(n.node.name))]) {
        const sudo = needsSudo(node.user, node.sudo);
        const connection: HostConnection = node.local
            ? { kind: "local", name: node.name, sudo }
            : {
                  kind: "ssh",
                  name: node.name,
                  host: node.host,
                  port: node.port,
                  user: node.user,
                  privateKey: secret(cfg, "sshPrivateKey"),
                  hostKey: node.hostKey,
                  sudo,
              };
        const turn = turns.get(node.name);
        const trust = new NodeTrust(`node-trust-${node.name}`, {
            ...common(runtime),
            connection,
            kubernetesNodeName: node.kubernetesNodeName,
            restartTurn: turn && {
                turn: turn.turn,
                after: turn.after.flatMap((name) => {
                    const step = restartSteps.get(name);
                    return step ? [step] : [];
                }),
            },
        });
        if (trust.restartStep) restartSteps.set(node.name, trust.restartStep);
    }
}
