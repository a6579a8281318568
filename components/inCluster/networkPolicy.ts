/**
 * The NetworkPolicy of the registry's pods (`inCluster.networkPolicy`): which pods and networks reach the front's
 * ports, and, where every address the pods need is known, where the pods connect to. Without it any pod of the
 * cluster reaches the front through Service `registry` or `registry-tls`, whatever the ingress's allowlist says.
 */
import type * as k8s from "@pulumi/kubernetes";
import { type IngressController, ingressNamespacesOf } from "../shared/facts";
import type { K8sObject } from "../shared/k8sObject";
import { meta, selector } from "./k8sHelpers";
import { METRICS_PORT_NAMES } from "./monitoring";
import { IN_CLUSTER, type InClusterNetworkPolicy, type InClusterSpec } from "./spec";

/** The label the API server gives every namespace, its name: what a namespace selector of names matches. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/** `inCluster.networkPolicy` as the stack file gives it. */
export interface NetworkPolicySettings {
    readonly enabled: boolean;
    readonly ingressNamespaces?: readonly string[];
    readonly clientNamespaces: readonly string[];
    readonly nodeNetworks: readonly string[];
    readonly monitoringNamespaces: readonly string[];
    readonly egressNetworks?: readonly string[];
}

/**
 * The policy the stack creates, or none with `enabled` false. Connections out are restricted only where every
 * address the pods need is known: an object store (s3 storage or backups to s3) is a host name whose addresses a
 * NetworkPolicy cannot name, so with one the pods' connections out stay open unless `egressNetworks` lists its
 * networks. The caches' upstreams are the caches' pods' connections, which this policy does not select.
 */
export function resolveNetworkPolicy(
    settings: NetworkPolicySettings,
    placement: {
        readonly controller: IngressController | undefined;
        readonly proxyNetworks: readonly string[];
        readonly objectStore: boolean;
    },
): InClusterNetworkPolicy | undefined {
    if (!settings.enabled) return undefined;
    const egressNetworks = settings.egressNetworks ?? (placement.objectStore ? undefined : []);
    return {
        ingressNamespaces: ingressNamespacesOf(settings, placement.controller),
        proxyNetworks: placement.proxyNetworks,
        clientNamespaces: settings.clientNamespaces,
        nodeNetworks: settings.nodeNetworks,
        monitoringNamespaces: settings.monitoringNamespaces,
        ...(egressNetworks ? { egressNetworks } : {}),
    };
}

/** Pods of the namespaces named. */
function namespacesNamed(names: readonly string[]): k8s.types.input.networking.v1.NetworkPolicyPeer {
    return { namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: [...names].sort() }] } };
}

const networks = (cidrs: readonly string[]) => cidrs.map((cidr) => ({ ipBlock: { cidr } }));
const tcpPorts = (...names: string[]) => names.map((port) => ({ protocol: "TCP", port }));

/**
 * NetworkPolicy `registry` for the registry's pods. Admitted on the front's HTTP and TLS ports: the controller's
 * pods (and a Gateway's proxy networks), every pod of the registry's own namespace (all of them the stack's: the
 * UI, the certificate probe, the upkeep jobs), the operator's client namespaces and node networks; on the metrics
 * ports, the scraper's namespaces. Out, when restricted: DNS, the registry's own namespace and `egressNetworks`.
 */
export function renderNetworkPolicy(spec: Pick<InClusterSpec, "namespace" | "networkPolicy" | "monitoring">): K8sObject | undefined {
    const policy = spec.networkPolicy;
    if (!policy) return undefined;
    const front = tcpPorts("http", "https");
    const ownNamespace = namespacesNamed([spec.namespace]);
    const frontPeers = [
        ...(policy.ingressNamespaces.length > 0 ? [namespacesNamed(policy.ingressNamespaces)] : []),
        ...networks(policy.proxyNetworks),
        ownNamespace,
        ...(policy.clientNamespaces.length > 0 ? [namespacesNamed(policy.clientNamespaces)] : []),
        ...networks(policy.nodeNetworks),
    ];
    const ingress: k8s.types.input.networking.v1.NetworkPolicyIngressRule[] = [{ from: frontPeers, ports: front }];
    if (spec.monitoring && policy.monitoringNamespaces.length > 0) {
        ingress.push({
            from: [namespacesNamed(policy.monitoringNamespaces)],
            ports: tcpPorts(METRICS_PORT_NAMES.caddy, METRICS_PORT_NAMES.registry),
        });
    }
    const egress: k8s.types.input.networking.v1.NetworkPolicyEgressRule[] | undefined = policy.egressNetworks && [
        // DNS wherever the cluster serves it (CoreDNS's pods, a node-local cache on the node's address).
        {
            ports: [
                { protocol: "UDP", port: 53 },
                { protocol: "TCP", port: 53 },
            ],
        },
        { to: [ownNamespace] },
        ...(policy.egressNetworks.length > 0 ? [{ to: networks(policy.egressNetworks) }] : []),
    ];
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
        spec: {
            podSelector: { matchLabels: selector("registry") },
            policyTypes: egress ? ["Ingress", "Egress"] : ["Ingress"],
            ingress,
            ...(egress ? { egress } : {}),
        },
    } satisfies k8s.types.input.networking.v1.NetworkPolicy;
}
