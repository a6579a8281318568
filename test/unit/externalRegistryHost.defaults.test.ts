/**
 * The external host's defaults (`externalRegistryHostDefaults`, components/externalHost/externalRegistryHost.ts):
 * the args a library user leaves out get the values each one's `@default` documents, which are the
 * stack config's defaults too; what the user gives is kept as given.
 */
import { describe, expect, it } from "vitest";
import { type ExternalRegistryHostArgs, externalRegistryHostDefaults } from "../../components/externalHost/externalRegistryHost";

const minimal: ExternalRegistryHostArgs = {
    connection: { kind: "local", name: "registry-01", sudo: false },
    registryHost: "registry.example.com",
    accounts: { push: { username: "ci-push", bcryptHash: "$2b$10$hash" } },
    tls: { kind: "acme", email: "ops@example.com" },
};

describe("externalRegistryHostDefaults", () => {
    it("gives every optional setting its documented default", () => {
        expect(externalRegistryHostDefaults(minimal)).toEqual({
            ...minimal,
            requiresAuthForPull: false,
            mirrorsRequireAuth: false,
            deletes: { api: false, ui: false },
            allowedNetworks: [],
            port: 443,
            pathPrefix: "",
            image: "registry:3.1.2",
            caddyImage: "caddy:2.11.9",
            dataDir: "/srv/data/registry",
            mavenDataDir: "/srv/data/maven",
            storage: { kind: "filesystem" },
            purgeDataOnDestroy: false,
            installPackages: true,
            garbageCollection: { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false },
        });
    });

    it("keeps every setting given", () => {
        const given = {
            ...minimal,
            requiresAuthForPull: true,
            mirrorsRequireAuth: true,
            deletes: { api: true, ui: false },
            allowedNetworks: ["192.0.2.0/24"],
            port: 8443,
            pathPrefix: "team/app",
            image: "registry:3",
            caddyImage: "caddy:2",
            dataDir: "/data/registry",
            mavenDataDir: "/data/maven",
            storage: { kind: "filesystem" },
            purgeDataOnDestroy: true,
            installPackages: false,
            garbageCollection: { enabled: true, schedule: "0 4 * * *", deleteUntagged: true },
        } as const satisfies ExternalRegistryHostArgs;
        expect(externalRegistryHostDefaults(given)).toEqual(given);
    });

    it("defaults each part of the collection on its own", () => {
        expect(externalRegistryHostDefaults({ ...minimal, garbageCollection: { enabled: true } }).garbageCollection).toEqual({
            enabled: true,
            schedule: "30 3 * * 0",
            deleteUntagged: false,
        });
    });
});
