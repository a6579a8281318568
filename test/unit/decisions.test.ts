import { describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { decide } from "../../components/config/decisions";

const pem = (marker: string) => `-----BEGIN CERTIFICATE-----\n${marker}\n-----END CERTIFICATE-----\n`;

/** Decisions for the smallest valid in-cluster config with `changes` merged in (one level deep). */
function decisionsFor(changes: Record<string, Record<string, unknown>> = {}) {
    const raw: Record<string, Record<string, unknown>> = {
        containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c" },
        registry: { mode: "in-cluster" },
    };
    for (const [key, value] of Object.entries(changes)) raw[key] = { ...(raw[key] ?? {}), ...value };
    return decide(parseConfig(raw, {}, { allowMissingSecrets: true }).config);
}

describe("decide", () => {
    it.each([
        ["nothing pulls with credentials", {}, undefined],
        [
            "reads need credentials",
            { containerRegistry: { requiresAuthForPull: true }, pullSecrets: { namespaces: ["apps"] } },
            "generated",
        ],
        ["a Flux secret is wanted", { pullSecrets: { flux: true } }, "generated"],
        ["a namespace's pull secret is wanted", { pullSecrets: { namespaces: ["apps"] } }, "generated"],
    ])("pull credentials when %s", (_name, changes, account) => {
        expect(decisionsFor(changes).pullCredentials?.account).toBe(account);
    });

    it("gives an existing registry's pull credentials from the organisation's account", () => {
        const d = decisionsFor({
            containerRegistry: { requiresAuthForPull: true },
            registry: { mode: "existing", tls: { mode: "public" } },
            pullSecrets: { namespaces: ["apps", "web"], secretName: "org-pull" },
        });
        expect(d.pullCredentials).toMatchObject({
            account: "organisation",
            readsNeedCredentials: true,
            namespaces: ["apps", "web"],
            secretName: "org-pull",
            flux: false,
        });
    });

    it.each([
        ["nothing asks for deletes", {}, { api: false, ui: false }],
        ["the UI runs without its delete button", { ui: { enabled: true } }, { api: false, ui: false }],
        ["the UI's delete button", { ui: { enabled: true, deleteEnabled: true } }, { api: true, ui: true }],
        ["deletes asked for while the UI is off", { ui: { deleteEnabled: true } }, { api: true, ui: false }],
        ["garbage collection alone", { maintenance: { garbageCollection: { enabled: true } } }, { api: true, ui: false }],
        [
            "garbage collection with the UI, no delete button",
            { ui: { enabled: true }, maintenance: { garbageCollection: { enabled: true } } },
            { api: true, ui: false },
        ],
    ])("deletes: %s", (_name, registry, expected) => {
        const d = decisionsFor({ registry });
        expect(d.deletes).toEqual(expected);
    });

    it("lets an existing registry delete nothing and clean up nothing: it is not ours", () => {
        const d = decisionsFor({ registry: { mode: "existing", tls: { mode: "public" } } });
        expect(d.deletes).toEqual({ api: false, ui: false });
        expect(d.retention).toBeUndefined();
    });

    it("decides kind's deletes and retention from its UI and garbage collection, as for any registry the program runs", () => {
        const d = decisionsFor({
            containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
            registry: {
                mode: "kind",
                ui: { enabled: true, deleteEnabled: true },
                maintenance: { garbageCollection: { enabled: true }, retention: { rules: [{ prefix: "dev/team/", keepNewest: 3 }] } },
            },
        });
        expect(d.deletes).toEqual({ api: true, ui: true });
        expect(d.retention?.rules).toEqual([{ prefix: "dev/team/", keepNewest: 3 }]);
        expect(d.configuredCa).toBeUndefined();
    });

    it("names the registry as image references do: the port only when it is not 443", () => {
        expect(decisionsFor().imagePrefix).toBe("registry-dso.jmann.local/docker-internal/p2c");
        const d = decisionsFor({ containerRegistry: { port: 5443, pathPrefix: "" } });
        expect(d.authority).toBe("registry-dso.jmann.local:5443");
        expect(d.imagePrefix).toBe("registry-dso.jmann.local:5443");
    });

    it("lets every node runtime but the Docker engine hold the pull account, and only when reads need it", () => {
        const flavours = ["k3s", "rke2", "containerd", "microk8s", "kind", "docker"] as const;
        const wanted = decisionsFor({ pullSecrets: { namespaces: ["apps"] } }).pullCredentials;
        const needed = decisionsFor({
            containerRegistry: { requiresAuthForPull: true },
            pullSecrets: { namespaces: ["apps"] },
        }).pullCredentials;
        expect(flavours.map((f) => wanted?.onNodes(f))).toEqual([false, false, false, false, false, false]);
        expect(flavours.map((f) => needed?.onNodes(f))).toEqual([true, true, true, true, true, false]);
    });

    it.each([
        ["caches without an allowlist (mirrorPull unset)", {}, true],
        ["caches with an allowlist (mirrorPull unset)", { allowedNetworks: ["10.0.0.0/8"] }, false],
        ["caches with an allowlist and mirrorPull accounts", { allowedNetworks: ["10.0.0.0/8"], mirrorPull: "accounts" }, true],
        ["caches opened with mirrorPull anonymous", { mirrorPull: "anonymous" }, false],
    ])("gives the nodes the pull account for %s: %s", (_name, registry, onNodes) => {
        // An allowlist needs a class whose controller enforces it (Traefik here): the default class's controller is unknown.
        const pc = decisionsFor({
            registry: { mirrors: [{ upstream: "docker.io" }], ...registry },
            inCluster: { ingressClass: "traefik" },
        }).pullCredentials;
        expect(pc?.cachesNeedCredentials ?? false).toBe(onNodes);
        expect(["k3s", "containerd", "microk8s", "docker"].map((f) => pc?.onNodes(f as "k3s") ?? false)).toEqual([
            onNodes,
            onNodes,
            onNodes,
            false,
        ]);
        // Reads of the registry itself stay as requiresAuthForPull says.
        expect(pc?.readsNeedCredentials ?? false).toBe(false);
    });

    it("gives each node reached over SSH its own runtime, else the group's, and restarts only k3s and RKE2", () => {
        const node = (name: string, extra: object = {}) => ({ name, host: "10.0.0.9", hostKey: "ssh-ed25519 AAAA", ...extra });
        const d = decisionsFor({
            nodes: {
                delivery: "ssh",
                runtime: "k3s",
                list: [node("a"), node("b", { runtime: "containerd" }), node("c", { runtime: "rke2" })],
            },
        });
        expect(d.sshNodes.map((n) => [n.node.name, n.runtime, n.restartsOnChange])).toEqual([
            ["a", "k3s", true],
            ["b", "containerd", false],
            ["c", "rke2", true],
        ]);
    });

    it("lists no SSH node with another delivery", () => {
        expect(decisionsFor({ nodes: { delivery: "daemonset", runtime: "k3s" } }).sshNodes).toEqual([]);
    });

    it.each([
        ["the generated CA (the program makes it)", {}, undefined],
        [
            "an existing registry's CA",
            { registry: { mode: "existing", tls: { mode: "public" } }, existing: { caCertificate: pem("EXISTING") } },
            pem("EXISTING"),
        ],
        [
            "a cert-manager issuer's CA",
            {
                registry: {
                    mode: "in-cluster",
                    tls: {
                        mode: "cert-manager",
                        certManagerIssuer: { kind: "ClusterIssuer", name: "ca" },
                        certManagerCaCertificate: pem("ISSUER"),
                    },
                },
            },
            pem("ISSUER"),
        ],
    ])("names the configured CA: %s", (_name, changes, ca) => {
        expect(decisionsFor(changes).configuredCa).toBe(ca);
    });
});
