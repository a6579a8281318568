/**
 * The registry's NetworkPolicy (components/inCluster/networkPolicy.ts) enforced on a node whose pods really run
 * (test/support/kubeNode.ts) by a real implementation: kube-network-policies built from its module, as the node's
 * agent (test/support/kubeNetworkPolicies.ts). The policy is the one the stack renders for ingress-nginx
 * (`inCluster.networkPolicy.enabled`, the controller's usual namespaces), applied with kubectl; the registry's pod
 * is Distribution under the registry pod's labels and its named port `http`, behind the stack's Service
 * `registry`. What is checked, through the Service's address (pod-to-Service traffic, which the ingress's
 * allowlist never sees):
 *
 * - without the policy, a pod of another namespace reaches the registry: the network works;
 * - with it, that pod is refused, while a pod of the controller's namespace (ingress-nginx) and one of the
 *   registry's own namespace (where the upkeep jobs run) reach it;
 * - the kubelet's containerd pulls an image from the registry through the Service under the policy, with no
 *   `nodeNetworks` (a pod of it runs): the node's own connections are not judged by the policy (kube-network-policies
 *   accepts those of the node's root processes, as Kubernetes says traffic from a pod's own node is allowed);
 * - connections out, as the stack restricts them: under the policy of a stack without an object store the
 *   registry's pod resolves names through the cluster's DNS (CoreDNS behind its Service, as a distribution's add-on
 *   runs it) and reaches the pods of its own namespace, and no other pod; with an object store whose network
 *   `egressNetworks` lists, that network too; with one it does not list, every address (only connections in are
 *   restricted);
 * - the policy deleted, the same pod reaches the registry again, and the registry's pod every pod: the refusals
 *   were the policy's.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labels } from "../../components/inCluster/k8sHelpers";
import { renderService } from "../../components/inCluster/network";
import { renderNetworkPolicy, resolveNetworkPolicy } from "../../components/inCluster/networkPolicy";
import { busyboxImage, ociArchivePath, payloadImage, registryImage } from "../support/dockerImages";
import { baseSpec } from "../support/inClusterSpec";
import { type NetworkPolicyAgent, startNetworkPolicyAgent } from "../support/kubeNetworkPolicies";
import { CLUSTER_DNS, type RealCluster, startRealCluster } from "../support/kubeNode";
import { nodeImageArchives, runPodOfImage } from "../support/localNode";
import { engineSet } from "../support/pulumiEngine";
import { privateDir, removeDir, run } from "../support/serverProcess";

const NAMESPACE = "dso";
/** ingress-nginx's namespace, among those the policy admits for it by default. */
const CONTROLLER_NAMESPACE = "ingress-nginx";
/** A namespace the policy does not name. */
const OTHER_NAMESPACE = "apps";
/** How long the agent may take to apply a change of the policy. */
const ENFORCED_WITHIN_MS = 60_000;

let cluster: RealCluster;
let agent: NetworkPolicyAgent | undefined;
let scratch: string;
let busybox: string;
let distribution: string;
let serviceAddress: string;

const kubectl = (args: readonly string[], input = "") =>
    run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input });
const ok = (what: string, r: ReturnType<typeof kubectl>) => {
    if (r.code !== 0) throw new Error(`${what}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
};

/** The registry's Service as the stack renders it. */
const spec = baseSpec({ namespace: NAMESPACE });

/** A pod `name` in `namespace` that waits, for `reaches` to run a client in. */
function clientPod(namespace: string, name: string) {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace },
        spec: { containers: [{ name: "client", image: busybox, command: ["sleep", "3600"] }], terminationGracePeriodSeconds: 0 },
    };
}

/** The pod's request to the registry's Service (the ping, 3 s at most: busybox's `wget -T` crashes, its `timeout` ends it). */
const ping = (namespace: string, pod: string) =>
    kubectl(["exec", "-n", namespace, pod, "--", "timeout", "3", "wget", "-q", "-O", "/dev/null", `http://${serviceAddress}:5000/v2/`]);

/** Whether the pod's request to the registry's Service is answered. */
function reaches(namespace: string, pod: string): boolean {
    return ping(namespace, pod).code === 0;
}

/** Waits until `reaches` answers `expected`, for the agent to apply a change; returns what it answered last. */
async function untilReaches(namespace: string, pod: string, expected: boolean): Promise<boolean> {
    const deadline = Date.now() + ENFORCED_WITHIN_MS;
    for (;;) {
        const answer = reaches(namespace, pod);
        if (answer === expected || Date.now() > deadline) return answer;
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/** A pod's address. */
const podAddress = (namespace: string, pod: string) =>
    ok(`pod ${pod}'s address`, kubectl(["get", "pod", "-n", namespace, pod, "-o", "jsonpath={.status.podIP}"])).trim();

/** Port of the web server each client pod runs for the registry's pod to reach (busybox httpd). */
const LISTENER_PORT = 8080;

/** Whether the registry's pod (Distribution's image: busybox) gets an answer from `namespace`/`pod`'s web server. */
function registryReaches(namespace: string, pod: string): boolean {
    const address = podAddress(namespace, pod);
    const fetched = kubectl([
        "exec",
        "-n",
        NAMESPACE,
        "registry",
        "--",
        "timeout",
        "3",
        "wget",
        "-q",
        "-O",
        "-",
        `http://${address}:${LISTENER_PORT}/`,
    ]);
    return fetched.code === 0 && fetched.stdout.includes(`${namespace}/${pod}`);
}

/** Waits until `registryReaches` answers `expected`, for the agent to apply a change; returns what it answered last. */
async function untilRegistryReaches(namespace: string, pod: string, expected: boolean): Promise<boolean> {
    const deadline = Date.now() + ENFORCED_WITHIN_MS;
    for (;;) {
        const answer = registryReaches(namespace, pod);
        if (answer === expected || Date.now() > deadline) return answer;
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/**
 * The stack's NetworkPolicy for ingress-nginx, with the defaults (no client namespaces, no node networks); with
 * `objectStore`, for a stack whose registry keeps its data in a bucket, whose networks `egressNetworks` lists.
 */
function stackPolicy(store: { readonly objectStore: boolean; readonly egressNetworks?: readonly string[] } = { objectStore: false }) {
    const networkPolicy = resolveNetworkPolicy(
        {
            enabled: true,
            clientNamespaces: [],
            nodeNetworks: [],
            monitoringNamespaces: ["monitoring"],
            ...(store.egressNetworks ? { egressNetworks: store.egressNetworks } : {}),
        },
        { controller: "nginx", proxyNetworks: [], objectStore: store.objectStore },
    );
    const policy = renderNetworkPolicy({ namespace: NAMESPACE, networkPolicy });
    if (!policy) throw new Error("the stack rendered no NetworkPolicy");
    return policy;
}

beforeAll(async () => {
    scratch = privateDir("network-policy");
    cluster = await startRealCluster({
        images: (t) => {
            busybox = busyboxImage(t);
            distribution = registryImage(t);
            return [distribution, busybox];
        },
        clusterDns: true,
    });
    // The cluster's DNS: the Corefile of a distribution's add-on, reduced to the cluster's own names (and `ready`, which
    // its readiness probe asks).
    const corefile = [".:53 {", "    errors", "    ready", "    kubernetes cluster.local in-addr.arpa ip6.arpa", "}", ""].join("\n");
    ok(
        "the Corefile",
        kubectl(
            ["create", "-f", "-"],
            JSON.stringify({
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "coredns", namespace: "kube-system" },
                data: { Corefile: corefile },
            }),
        ),
    );
    agent = await startNetworkPolicyAgent(cluster);
    for (const namespace of [NAMESPACE, CONTROLLER_NAMESPACE, OTHER_NAMESPACE]) ok(namespace, kubectl(["create", "namespace", namespace]));
    const registryPod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "registry", namespace: NAMESPACE, labels: labels("registry") },
        spec: {
            containers: [
                {
                    name: "registry",
                    image: distribution,
                    env: [{ name: "REGISTRY_HTTP_ADDR", value: "0.0.0.0:5000" }],
                    ports: [{ name: "http", containerPort: 5000, protocol: "TCP" }],
                },
            ],
        },
    };
    const pods = [
        registryPod,
        clientPod(CONTROLLER_NAMESPACE, "controller"),
        clientPod(NAMESPACE, "upkeep"),
        clientPod(OTHER_NAMESPACE, "other"),
    ];
    ok(
        "the pods and the Service",
        kubectl(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [...pods, renderService(spec)] })),
    );
    for (const pod of pods) {
        ok(
            `pod ${pod.metadata.name}`,
            kubectl(["wait", "-n", pod.metadata.namespace, "--for=condition=Ready", `pod/${pod.metadata.name}`, "--timeout=180s"]),
        );
    }
    // Each client pod serves a page naming it, for the registry's pod to reach.
    for (const pod of pods.slice(1)) {
        const { name, namespace } = pod.metadata;
        const page = `mkdir -p /tmp/www && echo "$1" > /tmp/www/index.html && httpd -p ${LISTENER_PORT} -h /tmp/www </dev/null >/dev/null 2>&1`;
        ok(`${name}'s web server`, kubectl(["exec", "-n", namespace, name, "--", "sh", "-c", page, "serve", `${namespace}/${name}`]));
    }
    ok(
        "the cluster's DNS",
        kubectl(["wait", "-n", "kube-system", "--for=condition=Ready", "pod", "-l", "k8s-app=kube-dns", "--timeout=100s"]),
    );
    serviceAddress = ok(
        "the Service's address",
        kubectl(["get", "service", "-n", NAMESPACE, "registry", "-o", "jsonpath={.spec.clusterIP}"]),
    ).trim();
    // The node's containerd pulls from the Service's address over plain HTTP.
    const authority = `${serviceAddress}:5000`;
    const hosts = `server = "http://${authority}"\n\n[host."http://${authority}"]\n  capabilities = ["pull", "resolve"]\n`;
    const written = cluster.node.run(
        "sh",
        ["-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "write", `/etc/containerd/certs.d/${authority}/hosts.toml`],
        {
            input: hosts,
        },
    );
    if (written.code !== 0) throw new Error(`hosts.toml: ${written.stderr}`);
}, 10 * 60_000);

afterAll(async () => {
    await agent?.stop();
    await cluster?.stop();
    if (scratch) removeDir(scratch);
});

describe("the registry's NetworkPolicy under kube-network-policies, on a node whose pods run", () => {
    it("without the policy, a pod of another namespace reaches the registry's Service, and the registry's pod every pod", () => {
        const answer = ping(OTHER_NAMESPACE, "other");
        expect(answer.code, `${answer.stdout}${answer.stderr}`).toBe(0);
        for (const [namespace, pod] of [
            [CONTROLLER_NAMESPACE, "controller"],
            [OTHER_NAMESPACE, "other"],
            [NAMESPACE, "upkeep"],
        ] as const) {
            expect([namespace, pod, registryReaches(namespace, pod)]).toEqual([namespace, pod, true]);
        }
    });

    it(
        "with the stack's policy, that pod is refused; the controller's namespace and the registry's own reach it",
        async () => {
            ok("the policy", kubectl(["apply", "-f", "-"], JSON.stringify(stackPolicy())));
            expect(await untilReaches(OTHER_NAMESPACE, "other", false), agent?.output().slice(-3000)).toBe(false);
            expect(reaches(CONTROLLER_NAMESPACE, "controller")).toBe(true);
            expect(reaches(NAMESPACE, "upkeep")).toBe(true);
            // Refused every time, not once.
            expect(reaches(OTHER_NAMESPACE, "other")).toBe(false);
            // The agent's verdicts come from the node's nftables: its queue of the registry pod's connections (the
            // xtables NFQUEUE target, which nft lists as a queue).
            const table = cluster.node.run("nft", ["list", "table", "inet", "kube-network-policies"]).stdout;
            expect(table).toMatch(/ip daddr @podips-v4 queue num \d+/);
        },
        3 * 60_000,
    );

    it(
        "under the policy, the kubelet pulls an image from the registry through its Service: a pod of it runs",
        async () => {
            const ref = `${serviceAddress}:5000/np/payload:1`;
            const archives = nodeImageArchives(scratch);
            payloadImage(archives, ref);
            // Pushed from the node, whose own connections the policy does not judge.
            ok(
                "the push",
                cluster.node.run("skopeo", [
                    "copy",
                    "--dest-tls-verify=false",
                    `oci-archive:${ociArchivePath(archives, ref)}`,
                    `docker://${ref}`,
                ]),
            );
            const pod = await runPodOfImage(cluster, "pulled", ref);
            expect(pod.log).toContain("payload");
            expect(pod.nodeImages).toContain(ref);
        },
        5 * 60_000,
    );

    it(
        "connections out, as the stack restricts them: without an object store, DNS and the registry's namespace only; with one, also the networks egressNetworks lists, or anything when it lists none",
        async () => {
            const policyTypes = (policy: ReturnType<typeof stackPolicy>) => (policy.spec as { policyTypes?: string[] }).policyTypes;
            const resolves = () => {
                const lookup = kubectl([
                    "exec",
                    "-n",
                    NAMESPACE,
                    "registry",
                    "--",
                    "nslookup",
                    `registry.${NAMESPACE}.svc.cluster.local`,
                    CLUSTER_DNS,
                ]);
                return lookup.code === 0 && lookup.stdout.includes(serviceAddress) ? "resolved" : `${lookup.stdout}${lookup.stderr}`;
            };
            // The policy in place (no object store): the cluster's DNS and the registry's own namespace, nothing else.
            expect(policyTypes(stackPolicy())).toEqual(["Ingress", "Egress"]);
            expect(await untilRegistryReaches(CONTROLLER_NAMESPACE, "controller", false), agent?.output().slice(-3000)).toBe(false);
            expect(registryReaches(OTHER_NAMESPACE, "other")).toBe(false);
            expect(registryReaches(NAMESPACE, "upkeep"), "a pod of the registry's namespace").toBe(true);
            expect(resolves()).toBe("resolved");

            // An object store at the address of the pod of namespace "apps", its network listed: that network too.
            const listed = stackPolicy({ objectStore: true, egressNetworks: [`${podAddress(OTHER_NAMESPACE, "other")}/32`] });
            expect(policyTypes(listed)).toEqual(["Ingress", "Egress"]);
            ok("the policy with the object store's network", kubectl(["apply", "-f", "-"], JSON.stringify(listed)));
            expect(await untilRegistryReaches(OTHER_NAMESPACE, "other", true), agent?.output().slice(-3000)).toBe(true);
            expect(registryReaches(CONTROLLER_NAMESPACE, "controller"), "a pod elsewhere").toBe(false);
            expect(registryReaches(NAMESPACE, "upkeep")).toBe(true);
            expect(resolves()).toBe("resolved");

            // An object store whose networks are not listed: a host name the policy cannot name, so connections out stay open.
            const open = stackPolicy({ objectStore: true });
            expect(policyTypes(open)).toEqual(["Ingress"]);
            ok("the policy without egress", kubectl(["apply", "-f", "-"], JSON.stringify(open)));
            expect(await untilRegistryReaches(CONTROLLER_NAMESPACE, "controller", true), agent?.output().slice(-3000)).toBe(true);
            // Connections in are judged as before throughout.
            expect(reaches(OTHER_NAMESPACE, "other")).toBe(false);
            expect(reaches(CONTROLLER_NAMESPACE, "controller")).toBe(true);
        },
        4 * 60_000,
    );

    it(
        "the policy deleted, the same pod reaches the registry again, and the registry's pod every pod",
        async () => {
            ok("the policy's deletion", kubectl(["delete", "networkpolicy", "-n", NAMESPACE, "registry"]));
            expect(await untilReaches(OTHER_NAMESPACE, "other", true)).toBe(true);
            expect(await untilRegistryReaches(CONTROLLER_NAMESPACE, "controller", true)).toBe(true);
        },
        3 * 60_000,
    );
});
