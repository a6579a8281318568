/**
 * The ClusterDns component under Pulumi's mocks: for k3s one key of `coredns-custom`, owned through a
 * ConfigMapPatch (checked against the ConfigMap API schema), for microk8s one local command whose
 * scripts change the Corefile; and the config rule that keeps the name pointing at a port that serves.
 * Covers: components/inCluster/clusterDns.ts, components/inCluster/corefile.ts.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";

const rtPromise = startMockRuntime({ stack: "test" });

import { ConfigError, parseConfig } from "../../components/config";
import { ClusterDns, K3S_SERVER_KEY } from "../../components/inCluster/clusterDns";
import { corefileScriptBody, renderRegistryServerBlock } from "../../components/inCluster/corefile";
import { schemaProblems } from "../support/k8sValidate";

const HOST = "registry-dso.example.test";
let rt: MockRuntime;

beforeAll(async () => {
    rt = await rtPromise;
    new ClusterDns("k3s-dns", { flavour: "k3s", host: HOST, clusterIp: "10.43.12.34" });
    new ClusterDns("mk-dns", { flavour: "microk8s", host: HOST, clusterIp: "10.152.183.56", kubectlContext: "lab's cluster" });
    await settle();
});

const childrenOf = (name: string): RecordedResource[] => {
    const parent = rt.byName(name);
    return rt.resources.filter((r) => r.parentUrn === parent.urn);
};

describe("k3s", () => {
    test("owns exactly one key of kube-system/coredns-custom, through a patch", () => {
        const children = childrenOf("k3s-dns");
        expect(children.map((c) => c.type)).toEqual(["kubernetes:core/v1:ConfigMapPatch"]);
        const { metadata, data } = children[0]!.inputs as { metadata: Record<string, unknown>; data: Record<string, string> };
        expect(metadata).toMatchObject({ name: "coredns-custom", namespace: "kube-system" });
        expect(data).toEqual({ [K3S_SERVER_KEY]: renderRegistryServerBlock(HOST, "10.43.12.34") });
    });

    test("renders a ConfigMap the API schema accepts", async () => {
        const { inputs } = childrenOf("k3s-dns")[0]!;
        expect(await schemaProblems({ ...inputs, apiVersion: "v1", kind: "ConfigMap" })).toEqual([]);
    });
});

describe("microk8s", () => {
    test("is one local command: the block on stdin, the scripts from the transform, kubectl with the context", () => {
        const children = childrenOf("mk-dns");
        expect(children.map((c) => c.type)).toEqual(["command:local:Command"]);
        const { inputs } = children[0]!;
        const script = { host: HOST, kubectlContext: "lab's cluster" };
        expect(inputs.stdin).toBe(renderRegistryServerBlock(HOST, "10.152.183.56"));
        expect(inputs.create).toBe(corefileScriptBody(script, "apply"));
        expect(inputs.delete).toBe(corefileScriptBody(script, "remove"));
        expect(String(inputs.create)).toContain(`\nKUBECTL_CONTEXT='lab'\\''s cluster'\n`);
    });

    test("keeps the address out of the scripts, so they do not change with it", () => {
        const { inputs } = childrenOf("mk-dns")[0]!;
        expect(String(inputs.create)).not.toContain("10.152.183.56");
        expect(String(inputs.delete)).not.toContain("10.152.183.56");
    });
});

describe("config", () => {
    const parse = (containerRegistry: Record<string, unknown>, flavour: string) =>
        parseConfig(
            {
                containerRegistry: { host: HOST, pathPrefix: "p", ...containerRegistry },
                registry: { mode: "in-cluster" },
                inCluster: { clusterDns: { flavour } },
            },
            {},
            { allowMissingSecrets: true },
        );

    test.each(["microk8s", "k3s"])("refuses %s cluster DNS with a registry port other than 443, naming the key and the fix", (flavour) => {
        let problem = "";
        try {
            parse({ port: 8443 }, flavour);
        } catch (error) {
            problem = error instanceof ConfigError ? error.message : String(error);
        }
        expect(problem).toContain("inCluster.clusterDns.flavour");
        expect(problem).toContain("443");
    });

    test("accepts it on 443", () => {
        const { registry } = parse({}, "microk8s").config;
        expect(registry.mode === "in-cluster" && registry.inCluster.clusterDns.flavour).toBe("microk8s");
    });
});
