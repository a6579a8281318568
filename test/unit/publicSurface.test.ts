/**
 * The package's public surface (components/index.ts) under Pulumi's mocks: importing it creates nothing,
 * it exports each component, a Kubernetes provider given in `opts.providers` reaches every object of the
 * components that create them, and the children the in-cluster registry and node trust expose are the
 * objects they registered.
 * Covers: components/index.ts, components/inCluster/inClusterRegistry.ts, components/nodeTrust/nodeTrustDaemonSet.ts,
 * components/accounts/pullSecrets.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import { beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, promiseOf, settle, startMockRuntime } from "../../tools/mockRuntime";

const rtPromise = startMockRuntime({ stack: "test" });

import * as library from "../../components";

let rt: MockRuntime;
let registeredOnImport: number;

beforeAll(async () => {
    rt = await rtPromise;
    await settle();
    registeredOnImport = rt.resources.length;
});

/** Objects of the in-cluster registry, node trust and pull secrets, each given the provider of cluster "b". */
async function composed() {
    const cluster = new k8s.Provider("cluster-b", { context: "b" });
    const opts = { providers: { kubernetes: cluster } };
    const accounts = new library.RegistryAccounts("lib-accounts", {
        push: { username: "ci-push" },
        pull: { username: "cluster-pull" },
        rotation: "1",
    });
    const tls = new library.RegistryTls("lib-tls", {
        source: "generated",
        dnsNames: ["registry.lab.example"],
        caValidityDays: 3650,
        serverCertValidityDays: 825,
    });
    const registry = new library.InClusterRegistry(
        "lib",
        {
            host: "registry.lab.example",
            requiresAuthForPull: false,
            namespace: "registry",
            ingressClass: "nginx",
            images: { registry: "registry:2.8.3", caddy: "caddy:2.8.4", ui: "joxit/docker-registry-ui:2.5.7" },
            storage: { kind: "filesystem", size: "5Gi" },
            allowedNetworks: [],
            ui: { enabled: false },
            deletes: { api: false, ui: false },
            garbageCollection: { enabled: false, schedule: "0 3 * * 0", deleteUntagged: false },
            replicas: 1,
            publishLocalRegistryHosting: false,
            accounts,
            tls: { kind: "secret", certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
        },
        opts,
    );
    const trust = new library.NodeTrustDaemonSet(
        "lib-trust",
        {
            namespace: "kube-system",
            host: "registry.lab.example",
            port: 443,
            flavour: "containerd",
            caCertPem: tls.caCertPem,
            registryAddress: registry.tlsServiceClusterIp,
        },
        opts,
    );
    new library.PullSecrets(
        "lib-pull",
        {
            authority: "registry.lab.example",
            username: accounts.pull!.username,
            password: accounts.pull!.password,
            namespaces: ["apps"],
            secretName: "registry-pull",
            flux: false,
        },
        opts,
    );
    await settle();
    return { registry, trust, providerUrn: await promiseOf(cluster.urn) };
}

describe("components/index.ts", () => {
    it("registers nothing when imported: importing the package runs no program", () => {
        expect(registeredOnImport).toBe(0);
    });

    it.each([
        "ExternalRegistryHost",
        "InClusterRegistry",
        "KindRegistry",
        "NodeTrust",
        "NodeTrustDaemonSet",
        "JenkinsCredentials",
        "PullSecrets",
        "RegistryAccounts",
        "RegistryTls",
    ])("exports the component %s", (name) => {
        expect(typeof (library as unknown as Record<string, unknown>)[name]).toBe("function");
    });

    it.each(["defineStack", "loadDeployableConfig", "gateOnClusterPrerequisites", "ConfigError"])(
        "does not export %s: this project's program imports it from its own module",
        (name) => {
            expect(name in library).toBe(false);
        },
    );

    describe("composed in a program of its own", () => {
        let result: Awaited<ReturnType<typeof composed>>;
        beforeAll(async () => {
            result = await composed();
        });

        it("every Kubernetes object goes to the provider given in opts.providers", () => {
            const objects = rt.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && r.name.startsWith("lib"));
            expect(objects.length).toBeGreaterThan(10);
            expect(objects.filter((r) => !r.provider?.startsWith(`${result.providerUrn}::`)).map((r) => r.name)).toEqual([]);
        });

        it.each([
            ["namespace", "Namespace", "registry"],
            ["deployment", "Deployment", "registry"],
            ["service", "Service", "registry"],
            ["tlsService", "Service", "registry-tls"],
            ["ingress", "Ingress", "registry"],
        ] as const)("InClusterRegistry.%s is its %s %s", async (field, kind, name) => {
            const child = result.registry[field];
            if (!child) throw new Error(`InClusterRegistry.${field} is not set`);
            expect(await promiseOf(child.urn)).toBe(rt.byName(`lib-${kind.toLowerCase()}-${name}`).urn);
            expect(await promiseOf(child.metadata.name)).toBe(name);
        });

        it("NodeTrustDaemonSet exposes its DaemonSet and ConfigMap, in the namespace it was given", async () => {
            expect(await promiseOf(result.trust.daemonSet.metadata.namespace)).toBe("kube-system");
            expect(await promiseOf(result.trust.configMap.urn)).toBe(rt.byName("lib-trust-config").urn);
            expect(result.trust.secret).toBeUndefined();
        });
    });
});
