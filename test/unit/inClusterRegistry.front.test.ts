/**
 * The in-cluster registry built from the front contract alone, under Pulumi's mocks
 * (components/inCluster/inClusterRegistry.ts): given only a host, the accounts and the certificate, it
 * resolves its args (`resolveInClusterRegistry`) and derives the htpasswd of Secret
 * `registry-htpasswd` from the accounts, the same text as `RegistryAccounts.htpasswd`.
 * Covers: components/inCluster/inClusterRegistry.ts, components/accounts/registryAccounts.ts (htpasswdOutput).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, promiseOf, redactWireValue, settle, startMockRuntime } from "../../tools/mockRuntime";

const rtPromise = startMockRuntime({ stack: "test" });

import { RegistryAccounts } from "../../components/accounts/registryAccounts";
import { InClusterRegistry } from "../../components/inCluster/inClusterRegistry";

/** Inputs with secret wrappers removed: what the API server would receive. */
const unwrap = (value: unknown): any => redactWireValue(value, (secret) => secret);

let rt: MockRuntime;
let accounts: RegistryAccounts;

beforeAll(async () => {
    rt = await rtPromise;
    accounts = new RegistryAccounts("front-accounts", {
        scopedPush: [{ username: "team-a-ci", prefixes: ["team-a/"] }],
        pull: { username: "cluster-pull" },
        read: [{ username: "dev-alice" }],
    });
    new InClusterRegistry("front", {
        host: "registry.lab.example",
        accounts,
        tls: { kind: "secret", certPem: "CERT-PEM", keyPem: "KEY-PEM-FOR-TEST" },
    });
    await settle();
});

const raw = (kind: string, name: string) => unwrap(rt.byName(`front-${kind.toLowerCase()}-${name}`).rawInputs);

describe("InClusterRegistry from the front contract alone", () => {
    it("derives the htpasswd from the accounts: RegistryAccounts.htpasswd, byte for byte", async () => {
        const htpasswd: string = raw("Secret", "registry-htpasswd").stringData.htpasswd;
        expect(htpasswd).toBe(await promiseOf(accounts.htpasswd));
        expect(htpasswd.split("\n").map((line) => line.split(":")[0])).toEqual(["ci-push", "cluster-pull", "dev-alice", "team-a-ci", ""]);
    });

    it("applies its defaults: namespace dso, the pinned images, a 20Gi claim, one replica, the KEP-1755 ConfigMap, no UI", () => {
        expect(raw("Namespace", "dso").metadata.name).toBe("dso");
        const deployment = raw("Deployment", "registry");
        expect(deployment.spec.replicas).toBe(1);
        const images = deployment.spec.template.spec.containers.map((c: { image: string }) => c.image);
        expect(images).toEqual(expect.arrayContaining(["registry:3.1.2", "caddy:2.11.9"]));
        expect(raw("PersistentVolumeClaim", "registry-data").spec.resources.requests.storage).toBe("20Gi");
        // No class named: the API server gives the Ingress the cluster's default IngressClass.
        expect(raw("Ingress", "registry").spec.ingressClassName).toBeUndefined();
        expect(raw("ConfigMap", "local-registry-hosting").metadata.namespace).toBe("kube-public");
        expect(rt.resources.filter((r) => r.name.startsWith("front-") && r.name.includes("registry-ui"))).toEqual([]);
    });
});
