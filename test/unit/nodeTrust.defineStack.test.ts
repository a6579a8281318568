/**
 * Node trust from the stack's `nodes` config (components/stack/nodeTrust.ts, through defineStack) under
 * Pulumi's mocks: which components each delivery creates, the DaemonSet's namespace and its Pod Security
 * level, and the pull credentials reaching the nodes as secrets. The components themselves:
 * nodeTrustMocks.test.ts; the turns of the nodes over SSH: nodeTrustFleet.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, settle, startMockRuntime } from "../../tools/mockRuntime";
import { schemaProblems } from "../support/k8sValidate";
import { nodesConfig as cfg, nodeEntry as node } from "../support/nodesConfig";

let rt: MockRuntime;
let stack: typeof import("../../components/stack");

beforeAll(async () => {
    rt = await startMockRuntime({ stack: "test" });
    stack = await import("../../components/stack");
});

describe("node trust from stack config (defineStack)", () => {
    /** Node-trust components the stack created for nodes whose names start with `prefix`. */
    const made = (prefix: string) =>
        rt.resources
            .filter((r) => !r.custom && r.type.startsWith("dso-registry:nodeTrust:NodeTrust") && r.name.startsWith(prefix))
            .map((r) => `${r.type} ${r.name}`);

    it("delivery none creates nothing", async () => {
        const before = rt.resources.filter((r) => r.type.startsWith("dso-registry:nodeTrust:")).length;
        stack.defineStack(cfg({ delivery: "none" }));
        await settle();
        expect(rt.resources.filter((r) => r.type.startsWith("dso-registry:nodeTrust:")).length).toBe(before);
    });

    it("delivery ssh creates one NodeTrust per node, with the per-node runtime", async () => {
        stack.defineStack(cfg({ delivery: "ssh", runtime: "k3s", list: [node("sa"), node("sb", { runtime: "docker" })] }));
        await settle();
        expect(made("node-trust-s")).toEqual([
            "dso-registry:nodeTrust:NodeTrust node-trust-sa",
            "dso-registry:nodeTrust:NodeTrust node-trust-sb",
        ]);
        expect(rt.byName("node-trust-sa-registries-yaml-write").type).toMatch(/^command:/);
        expect(rt.resources.some((r) => r.name === "node-trust-sb-registries-yaml")).toBe(false);
    });

    it("delivery daemonset creates one DaemonSet", async () => {
        const before = made("node-trust").length;
        stack.defineStack(cfg({ delivery: "daemonset", runtime: "containerd" }));
        await settle();
        expect(made("node-trust").slice(before)).toEqual(["dso-registry:nodeTrust:NodeTrustDaemonSet node-trust"]);
    });

    it("delivery daemonset: the DaemonSet in nodes.namespace, created privileged; the registry's namespace enforces restricted", async () => {
        stack.defineStack(cfg({ delivery: "daemonset", runtime: "k3s", namespace: "trust-ns" }));
        await settle();
        const ns = rt.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace").map((r) => r.inputs as Record<string, any>);
        const trustNs = ns.find((n) => n.metadata.name === "trust-ns")!;
        expect(trustNs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
        expect(await schemaProblems(trustNs)).toEqual([]);
        const daemonSets = rt.resources
            .filter((r) => r.type === "kubernetes:apps/v1:DaemonSet")
            .map((r) => r.inputs as Record<string, any>);
        expect(daemonSets.at(-1)!.metadata.namespace).toBe("trust-ns");
        const dso = ns.filter((n) => n.metadata.name === "dso");
        expect(dso.length).toBeGreaterThan(0);
        for (const n of dso) expect(n.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    });

    it("delivery daemonset: the pods run nodes.daemonsetImage, busybox:1.37.0 unless the stack names another", async () => {
        const image = () => {
            const daemonSets = rt.resources
                .filter((r) => r.type === "kubernetes:apps/v1:DaemonSet")
                .map((r) => r.inputs as Record<string, any>);
            return daemonSets.at(-1)!.spec.template.spec.containers.map((c: { image: string }) => c.image);
        };
        stack.defineStack(cfg({ delivery: "daemonset", runtime: "containerd", namespace: "trust-default" }));
        await settle();
        expect(image()).toEqual(["busybox:1.37.0"]);
        const mirrored = `mirror.example.test/library/busybox:1.37.0@sha256:${"b".repeat(64)}`;
        stack.defineStack(cfg({ delivery: "daemonset", runtime: "containerd", namespace: "trust-mirrored", daemonsetImage: mirrored }));
        await settle();
        expect(image()).toEqual([mirrored]);
    });

    it("pull credentials reach every node but docker ones: registries.yaml on k3s, hosts.toml on containerd, both secret", async () => {
        stack.defineStack(cfg({ delivery: "ssh", runtime: "containerd", list: [node("c1"), node("k1", { runtime: "k3s" })] }));
        await settle();
        expect(rt.byName("node-trust-k1-registries-yaml-write").inputs.stdin).toBe("[secret]");
        expect(rt.byName("node-trust-c1-hosts-toml-write").inputs.stdin).toBe("[secret]");
        // The secret as the mock received it (JSON-quoted): the pull account as hosts.toml's Authorization header.
        expect(JSON.stringify(rt.byName("node-trust-c1-hosts-toml-write").rawInputs.stdin)).toContain('Authorization = \\"Basic ');
    });
});
