/**
 * Node trust: how the nodes' container runtimes are made to trust and resolve the registry, and the
 * nodes reached over SSH.
 */
import { z } from "zod";
import { DEFAULT_NODE_TRUST_IMAGE } from "../../shared/defaults";
import { IPV4, RUNTIME_FLAVOURS } from "../../shared/facts";
import { imageRef, k8sName, k8sNodeName, sshConnection } from "./values";

const node = z.strictObject({
    name: k8sName.describe("Name used in resource names and synth output."),
    ...sshConnection,
    runtime: z.enum(RUNTIME_FLAVOURS).optional().describe("Override the group's runtime for this node."),
    local: z.boolean().default(false).describe("Pulumi runs on this node itself: use local commands instead of SSH."),
    role: z
        .enum(["server", "agent"])
        .default("server")
        .describe(
            'k3s / RKE2: "server" nodes (control plane, etcd) restart one at a time after registries.yaml changes; "agent" nodes restart after them, `nodes.restartBatchSize` at a time.',
        ),
    kubernetesNodeName: k8sNodeName
        .optional()
        .describe("The node's name in Kubernetes, for the Ready check after a restart; the machine's host name (lower case) when unset."),
});

/** Key `nodes`: node trust. */
export const nodes = z.strictObject({
    delivery: z
        .enum(["ssh", "daemonset", "none"])
        .default("none")
        .describe('"ssh": one set of remote commands per node; "daemonset": a privileged DaemonSet; "none".'),
    runtime: z
        .enum(RUNTIME_FLAVOURS)
        .default("containerd")
        .describe('Container runtime flavour of the nodes ("crio": CRI-O nodes, and hosts whose images go through podman).'),
    registryAddress: z
        .string()
        .regex(IPV4, { error: "must be an IPv4 address" })
        .optional()
        .describe("Address that the registry host name resolves to on nodes (managed /etc/hosts block); DNS when unset."),
    allowContainerdRestart: z
        .boolean()
        .default(false)
        .describe("Allow restarting containerd to set the CRI plugin's config_path (containerd flavour)."),
    allowServiceRestart: z.boolean().default(true).describe("Allow restarting k3s / rke2 when registries.yaml changes."),
    restartBatchSize: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(1)
        .describe("k3s / RKE2 agents restarted at the same time after registries.yaml changes (servers always restart one at a time)."),
    restartTimeoutSeconds: z
        .number()
        .int()
        .min(10)
        .max(3600)
        .default(300)
        .describe("Seconds a restarted k3s / RKE2 node has to be active and Ready again; otherwise the run stops before the next node."),
    namespace: k8sName
        .default("dso-node-trust")
        .describe('Namespace of the node-trust DaemonSet (delivery "daemonset"), created with the privileged Pod Security level.'),
    daemonsetImage: imageRef
        .default(DEFAULT_NODE_TRUST_IMAGE)
        .describe(
            'Image of the node-trust DaemonSet (delivery "daemonset"): busybox, or any image with sh, awk, cmp, mktemp, sha256sum and nsenter. Pin it by digest in production.',
        ),
    insecurePlainHttp: z.boolean().default(false).describe("Plain-HTTP registry (no TLS). Dangerous: images can be swapped in transit."),
    list: z.array(node).default([]).describe('Nodes reached over SSH (delivery "ssh").'),
});
