/**
 * The registry's NetworkPolicy (components/inCluster/networkPolicy.ts): what it admits to the front's ports and
 * the metrics ports, when connections out are restricted and to what, and the `inCluster.networkPolicy` settings
 * as the config reads them (the controller's namespaces by default, the refusal with a controller it does not
 * know, the moot keys with the policy off). That a cluster enforces it: test/engine/networkPolicy.test.ts.
 * Covers: components/inCluster/networkPolicy.ts, its row in components/shared/k8sResources.ts, `ingressNamespacesOf`
 * in components/shared/facts.ts, the policy's rule in components/config/rules.ts, row in
 * components/config/mootSettings.ts and the allowlist's advice in components/config/advice.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import {
    NAMESPACE_NAME_LABEL,
    type NetworkPolicySettings,
    renderNetworkPolicy,
    resolveNetworkPolicy,
} from "../../components/inCluster/networkPolicy";
import { IN_CLUSTER, type InClusterNetworkPolicy } from "../../components/inCluster/spec";
import { resourceClassOf } from "../../components/shared/k8sResources";
import { configProblems } from "../support/configProblems";
import { baseSpec } from "../support/inClusterSpec";
import { schemaProblems } from "../support/k8sValidate";

type Raw = Record<string, unknown>;
type Peer = { namespaceSelector?: { matchExpressions: { key: string; operator: string; values: string[] }[] }; ipBlock?: { cidr: string } };
type Rule = { from?: Peer[]; to?: Peer[]; ports?: { protocol: string; port: string | number }[] };
type PolicySpec = { podSelector: unknown; policyTypes: string[]; ingress: Rule[]; egress?: Rule[] };

const SETTINGS: NetworkPolicySettings = { enabled: true, clientNamespaces: [], nodeNetworks: [], monitoringNamespaces: ["monitoring"] };
const PLACEMENT = { controller: "traefik" as const, proxyNetworks: [], objectStore: false };

const POLICY: InClusterNetworkPolicy = {
    ingressNamespaces: ["kube-system"],
    proxyNetworks: [],
    clientNamespaces: [],
    nodeNetworks: [],
    monitoringNamespaces: ["monitoring"],
    egressNetworks: [],
};

function policySpec(networkPolicy: InClusterNetworkPolicy, monitoring = false): PolicySpec {
    const spec = baseSpec({
        networkPolicy,
        ...(monitoring
            ? { monitoring: { prometheusOperator: false, runbookBaseUrl: "https://docs", probeImage: "p", cacheClaims: [] } }
            : {}),
    });
    const rendered = renderNetworkPolicy(spec);
    if (!rendered) throw new Error("no NetworkPolicy rendered");
    return rendered.spec as PolicySpec;
}

/** The namespaces a peer selects by name, or its network. */
const peerOf = (p: Peer) => (p.ipBlock ? p.ipBlock.cidr : (p.namespaceSelector?.matchExpressions[0]?.values ?? []));

describe("the rendered NetworkPolicy", () => {
    it("is none without the setting, and the manifests hold none", () => {
        expect(renderNetworkPolicy(baseSpec())).toBeUndefined();
        expect(renderInClusterObjects(baseSpec()).filter((o) => o.kind === "NetworkPolicy")).toEqual([]);
    });

    it("selects the registry's pods and is valid against the NetworkPolicy schema", async () => {
        const object = renderNetworkPolicy(baseSpec({ networkPolicy: POLICY }));
        if (!object) throw new Error("no NetworkPolicy rendered");
        expect(object.metadata).toMatchObject({ name: IN_CLUSTER.name, namespace: "dso" });
        expect((object.spec as PolicySpec).podSelector).toEqual({
            matchLabels: { "app.kubernetes.io/component": "registry", "app.kubernetes.io/name": IN_CLUSTER.name },
        });
        expect(await schemaProblems(object as Raw)).toEqual([]);
        // The component registers it as pulumi-kubernetes's NetworkPolicy.
        expect(resourceClassOf(object, "test")).toBe(k8s.networking.v1.NetworkPolicy);
        expect(renderInClusterObjects(baseSpec({ networkPolicy: POLICY })).filter((o) => o.kind === "NetworkPolicy")).toHaveLength(1);
    });

    it("admits to the front's HTTP and TLS ports the controller's namespaces, the registry's own, the client namespaces and the node networks, each by the namespace's name label", () => {
        const spec = policySpec({
            ...POLICY,
            clientNamespaces: ["jenkins"],
            nodeNetworks: ["10.0.0.0/24"],
            proxyNetworks: ["10.42.0.0/16"],
        });
        expect(spec.ingress).toHaveLength(1);
        const [rule] = spec.ingress;
        expect(rule?.ports).toEqual([
            { protocol: "TCP", port: "http" },
            { protocol: "TCP", port: "https" },
        ]);
        expect(rule?.from?.map(peerOf)).toEqual([["kube-system"], "10.42.0.0/16", ["dso"], ["jenkins"], "10.0.0.0/24"]);
        for (const peer of rule?.from ?? []) {
            if (peer.namespaceSelector)
                expect(peer.namespaceSelector.matchExpressions[0]).toMatchObject({ key: NAMESPACE_NAME_LABEL, operator: "In" });
        }
    });

    it("admits the scraper's namespaces to the metrics ports only with monitoring on", () => {
        expect(policySpec(POLICY).ingress).toHaveLength(1);
        const rules = policySpec(POLICY, true).ingress;
        expect(rules).toHaveLength(2);
        expect(rules[1]).toEqual({
            from: [{ namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: ["monitoring"] }] } }],
            ports: [
                { protocol: "TCP", port: "metrics" },
                { protocol: "TCP", port: "dist-metrics" },
            ],
        });
    });

    it("restricts connections out to DNS, the registry's own namespace and the networks given", () => {
        const spec = policySpec({ ...POLICY, egressNetworks: ["10.20.0.0/16"] });
        expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
        expect(spec.egress).toEqual([
            {
                ports: [
                    { protocol: "UDP", port: 53 },
                    { protocol: "TCP", port: 53 },
                ],
            },
            { to: [{ namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: ["dso"] }] } }] },
            { to: [{ ipBlock: { cidr: "10.20.0.0/16" } }] },
        ]);
    });

    it("leaves connections out open when no egress networks are resolved (an object store not listed)", () => {
        const { egressNetworks: _, ...open } = POLICY;
        const spec = policySpec(open);
        expect(spec.policyTypes).toEqual(["Ingress"]);
        expect(spec.egress).toBeUndefined();
    });
});

describe("resolving inCluster.networkPolicy", () => {
    it("off: no policy", () => {
        expect(resolveNetworkPolicy({ ...SETTINGS, enabled: false }, PLACEMENT)).toBeUndefined();
    });

    it.each([
        ["traefik", ["ingress", "kube-system", "traefik"]],
        ["nginx", ["ingress", "ingress-nginx"]],
    ] as const)("the %s controller's usual namespaces when ingressNamespaces is unset", (controller, namespaces) => {
        expect(resolveNetworkPolicy(SETTINGS, { ...PLACEMENT, controller })?.ingressNamespaces).toEqual(namespaces);
    });

    it("the operator's ingressNamespaces over the controller's", () => {
        expect(resolveNetworkPolicy({ ...SETTINGS, ingressNamespaces: ["edge"] }, PLACEMENT)?.ingressNamespaces).toEqual(["edge"]);
    });

    it.each([
        ["no object store: restricted to DNS and the namespace", { objectStore: false }, {}, []],
        ["an object store: open", { objectStore: true }, {}, undefined],
        [
            "an object store whose networks are listed: restricted to them",
            { objectStore: true },
            { egressNetworks: ["10.20.0.0/16"] },
            ["10.20.0.0/16"],
        ],
    ])("connections out, %s", (_name, placement, settings, expected) => {
        expect(resolveNetworkPolicy({ ...SETTINGS, ...settings }, { ...PLACEMENT, ...placement })?.egressNetworks).toEqual(expected);
    });

    it("a Gateway's proxy networks are admitted with the controller's namespaces", () => {
        expect(resolveNetworkPolicy(SETTINGS, { ...PLACEMENT, proxyNetworks: ["10.42.0.0/16"] })?.proxyNetworks).toEqual(["10.42.0.0/16"]);
    });
});

describe("inCluster.networkPolicy in the stack file", () => {
    const stack = (inCluster: Raw, registry: Raw = {}): Raw => ({
        containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c" },
        registry: { mode: "in-cluster", ...registry },
        inCluster,
    });
    const policyProblems = (raw: Raw) =>
        configProblems(raw, {}, { allowMissingSecrets: true }).filter((p) => p.startsWith("dso-registry:inCluster.networkPolicy"));
    const policyWarnings = (raw: Raw) =>
        parseConfig(raw, {}, { allowMissingSecrets: true })
            .warnings.map((w) => w.key)
            .filter((k) => k.startsWith("dso-registry:inCluster.networkPolicy"));

    it("is off by default", () => {
        const { registry } = parseConfig(stack({}), {}, { allowMissingSecrets: true }).config;
        expect(registry).toMatchObject({ inCluster: { networkPolicy: { enabled: false } } });
    });

    it("on behind a controller this program does not know, without ingressNamespaces: refused, naming the key", () => {
        const problems = policyProblems(stack({ ingressClass: "haproxy", networkPolicy: { enabled: true } }));
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(
            /^dso-registry:inCluster\.networkPolicy\.ingressNamespaces: is needed with inCluster\.networkPolicy\.enabled/,
        );
    });

    it.each([
        ["a known controller", { ingressClass: "traefik", networkPolicy: { enabled: true } }],
        [
            "another controller with its namespaces",
            { ingressClass: "haproxy", networkPolicy: { enabled: true, ingressNamespaces: ["haproxy-controller"] } },
        ],
    ])("on behind %s: accepted", (_name, inCluster) => {
        expect(policyProblems(stack(inCluster))).toEqual([]);
    });

    it("the admissions set with the policy off: each told it has no effect", () => {
        expect(
            policyWarnings(
                stack({ ingressClass: "traefik", networkPolicy: { clientNamespaces: ["jenkins"], nodeNetworks: ["10.0.0.0/24"] } }),
            ),
        ).toEqual(["dso-registry:inCluster.networkPolicy.clientNamespaces", "dso-registry:inCluster.networkPolicy.nodeNetworks"]);
    });

    it("the scraper's namespaces with monitoring off: told they have no effect; with it on, not", () => {
        const policy = { enabled: true, monitoringNamespaces: ["observability"] };
        expect(policyWarnings(stack({ ingressClass: "traefik", networkPolicy: policy }, { monitoring: { enabled: false } }))).toEqual([
            "dso-registry:inCluster.networkPolicy.monitoringNamespaces",
        ]);
        expect(policyWarnings(stack({ ingressClass: "traefik", networkPolicy: policy }, { monitoring: { enabled: true } }))).toEqual([]);
    });

    it.each([
        ["off: the advice is to turn it on", false, /To limit those paths too, set inCluster\.networkPolicy\.enabled true/],
        [
            "on: the advice says what it admits",
            true,
            /The stack's NetworkPolicy in dso \(inCluster\.networkPolicy\) admits on those paths only/,
        ],
    ])("the allowlist's advice about the paths around it, the policy %s", (_name, enabled, expected) => {
        const raw = stack(
            { ingressClass: "nginx", networkPolicy: { enabled } },
            { allowedNetworks: ["10.0.0.0/8"], loginLimit: { allowUnlimitedCredentialRequests: true } },
        );
        const advice = parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.filter((w) =>
            w.key.endsWith("registry.allowedNetworks"),
        );
        expect(advice).toHaveLength(1);
        expect(advice[0]?.message).toMatch(expected);
    });
});
