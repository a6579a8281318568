/**
 * Node trust for the stack's `nodes` config: one NodeTrust per listed node (delivery "ssh"), one
 * DaemonSet in a namespace of its own (delivery "daemonset"), or nothing.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { Decisions } from "../config/decisions";
import type { NodeTrustCommonArgs } from "../nodeTrust/common";
import { NodeTrustDaemonSet } from "../nodeTrust/nodeTrustDaemonSet";
import { NodeTrustFleet } from "../nodeTrust/nodeTrustFleet";
import { needsSudo, type RuntimeFlavour } from "../shared/facts";
import type { HostConnection } from "../shared/hostAccess";
import type { PullAccount } from "./accounts";
import { mirrorSpecs } from "./mirrors";
import { sshConnection } from "./secret";

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
    const commonArgs: Omit<NodeTrustCommonArgs, "flavour" | "pullAccount"> = {
        host: cr.host,
        port: cr.port,
        caCertPem: nodes.insecurePlainHttp ? undefined : inputs.caCertPem,
        registryAddress: nodes.registryAddress,
        plainHttp: nodes.insecurePlainHttp,
        allowContainerdRestart: nodes.allowContainerdRestart,
        allowServiceRestart: nodes.allowServiceRestart,
        restartTimeoutSeconds: nodes.restartTimeoutSeconds,
        mirrors: mirrorSpecs(cfg).map(({ upstream, pathName }) => ({ upstream, pathName })),
        // CRI-O and podman nodes pull the pipelines' images only signed by one of these keys; other runtimes ignore it.
        ...(cr.signingKeys.length > 0 ? { requiredSignatures: { publicKeys: cr.signingKeys, pathPrefix: cr.pathPrefix } } : {}),
    };
    const pullAccountOn = (flavour: RuntimeFlavour) => (d.pullCredentials?.onNodes(flavour) ? inputs.pullAccount : undefined);
    const common = (flavour: RuntimeFlavour): NodeTrustCommonArgs => ({ ...commonArgs, flavour, pullAccount: pullAccountOn(flavour) });
    if (nodes.delivery === "daemonset") {
        // Its pods are privileged: they get a namespace of their own, so the registry's namespace can
        // enforce the restricted standard.
        new NodeTrustDaemonSet("node-trust", {
            ...common(nodes.runtime),
            namespace: nodes.namespace,
            createNamespace: true,
            image: nodes.daemonsetImage,
        });
        return;
    }
    new NodeTrustFleet("node-trust-fleet", {
        common: commonArgs,
        restartBatchSize: nodes.restartBatchSize,
        nodes: d.sshNodes.map(({ node, runtime, restartsOnChange }) => {
            const connection: HostConnection = node.local
                ? { kind: "local", name: node.name, sudo: needsSudo(node.user, node.sudo) }
                : sshConnection(cfg, node, node.name);
            return {
                name: node.name,
                connection,
                runtime,
                restartsOnChange,
                role: node.role,
                kubernetesNodeName: node.kubernetesNodeName,
                pullAccount: pullAccountOn(runtime),
            };
        }),
    });
}
