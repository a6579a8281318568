import { describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { decide } from "../../components/decisions";

/** Decisions for the smallest valid in-cluster config with `changes` merged in (one level deep). */
function decisionsFor(changes: Record<string, Record<string, unknown>> = {}) {
    const raw: Record<string, Record<string, unknown>> = {
        containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c" },
        registry: { mode: "in-cluster" },
    };
    for (const [key, value] of Object.entries(changes)) raw[key] = { ...(raw[key] ?? {}), ...value };
    return decide(parseConfig(raw).config);
}

describe("decide", () => {
    it("enables the pull-only account when pulls need credentials or a pull secret is wanted", () => {
        expect(decisionsFor().pullAccount).toBe(false);
        expect(decisionsFor({ containerRegistry: { requiresAuthForPull: true } }).pullAccount).toBe(true);
        expect(decisionsFor({ pullSecrets: { flux: true } }).pullAccount).toBe(true);
        expect(decisionsFor({ pullSecrets: { namespaces: ["apps"] } }).pullAccount).toBe(true);
    });

    it.each([
        ["nothing asks for deletes", {}, { apiDeletes: false, uiDeletes: false }],
        ["the UI runs without its delete button", { ui: { enabled: true } }, { apiDeletes: false, uiDeletes: false }],
        ["the UI's delete button", { ui: { enabled: true, deleteEnabled: true } }, { apiDeletes: true, uiDeletes: true }],
        ["deletes asked for while the UI is off", { ui: { deleteEnabled: true } }, { apiDeletes: true, uiDeletes: false }],
        ["garbage collection alone", { maintenance: { garbageCollection: { enabled: true } } }, { apiDeletes: true, uiDeletes: false }],
        [
            "garbage collection with the UI, no delete button",
            { ui: { enabled: true }, maintenance: { garbageCollection: { enabled: true } } },
            { apiDeletes: true, uiDeletes: false },
        ],
    ])("deletes: %s", (_name, registry, expected) => {
        const d = decisionsFor({ registry });
        expect({ apiDeletes: d.apiDeletes, uiDeletes: d.uiDeletes }).toEqual(expected);
    });

    it("names the registry as image references do: the port only when it is not 443", () => {
        expect(decisionsFor().imagePrefix).toBe("registry-dso.jmann.local/docker-internal/p2c");
        const d = decisionsFor({ containerRegistry: { port: 5443, pathPrefix: "" } });
        expect(d.authority).toBe("registry-dso.jmann.local:5443");
        expect(d.imagePrefix).toBe("registry-dso.jmann.local:5443");
    });

    it("lets only k3s and RKE2 nodes hold the pull account, and only when pulls need it", () => {
        const open = decisionsFor();
        const closed = decisionsFor({ containerRegistry: { requiresAuthForPull: true } });
        expect(["k3s", "rke2", "containerd", "microk8s"].map((f) => open.nodesHoldPullAccount(f as "k3s"))).toEqual([
            false,
            false,
            false,
            false,
        ]);
        expect(["k3s", "rke2", "containerd", "microk8s"].map((f) => closed.nodesHoldPullAccount(f as "k3s"))).toEqual([
            true,
            true,
            false,
            false,
        ]);
    });
});
