/**
 * The kind placement's resolve step (`resolveKindRegistry`, components/kind/kindRegistry.ts): the args a
 * library user leaves out get the values each one's `@default` documents, which are the stack config's
 * defaults too; what the user gives is kept as given. kind's front has no allowlist and no cache accounts:
 * they stay out. The users files' accounts are derived there too.
 */
import { describe, expect, it } from "vitest";
import { type KindRegistryArgs, resolveKindRegistry } from "../../components/kind/kindRegistry";

const minimal: KindRegistryArgs = {
    connection: { kind: "local", name: "docker", sudo: false },
    layout: { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/var/lib/dso-registry-kind" },
    accounts: { push: { username: "ci-push", bcryptHash: "$2b$10$hash" } },
};

describe("resolveKindRegistry", () => {
    it("gives every optional setting its documented default, and no allowlist or cache accounts", () => {
        const args = resolveKindRegistry(minimal);
        expect(args).toEqual({
            ...minimal,
            requiresAuthForPull: false,
            deletes: { api: false, ui: false },
            images: { distribution: "registry:3.1.2", front: "caddy:2.11.9", watcher: "docker:29.9.3-cli" },
            publishLocalRegistryHosting: true,
            mirrors: [],
            users: { push: [minimal.accounts.push], pull: [], scoped: [] },
        });
        expect(Object.keys(args)).not.toContain("allowedNetworks");
        expect(Object.keys(args)).not.toContain("mirrorsRequireAuth");
    });

    it("keeps every setting given, and defaults each image on its own", () => {
        const given = {
            ...minimal,
            requiresAuthForPull: true,
            deletes: { api: true, ui: true },
            images: { distribution: "registry:3", front: "caddy:2", watcher: "docker:cli" },
            publishLocalRegistryHosting: false,
        } as const satisfies KindRegistryArgs;
        expect(resolveKindRegistry(given)).toEqual({ ...given, mirrors: [], users: resolveKindRegistry(minimal).users });
        expect(resolveKindRegistry({ ...minimal, images: { front: "caddy:2" } }).images).toEqual({
            distribution: "registry:3.1.2",
            front: "caddy:2",
            watcher: "docker:29.9.3-cli",
        });
    });
});
