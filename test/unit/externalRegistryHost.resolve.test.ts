/**
 * The external host's resolve step (`resolveExternalRegistryHost`, components/externalHost/externalRegistryHost.ts):
 * the args a library user leaves out get the values each one's `@default` documents, which are the
 * stack config's defaults too; what the user gives is kept as given; and what the plan's steps read is
 * derived from the result.
 */
import { describe, expect, it } from "vitest";
import {
    type ExternalRegistryHostArgs,
    type ResolvedExternalRegistryHost,
    resolveExternalRegistryHost,
} from "../../components/externalHost/externalRegistryHost";

const minimal: ExternalRegistryHostArgs = {
    connection: { kind: "local", name: "registry-01", sudo: false },
    registryHost: "registry.example.com",
    accounts: { push: { username: "ci-push", bcryptHash: "$2b$10$hash" } },
    tls: { kind: "acme", email: "ops@example.com" },
};

/** The settings, without what the step derives from them for the plan's steps. */
const settings = ({
    layout: _layout,
    s3: _s3,
    registryContainer: _registryContainer,
    monitored: _monitored,
    jobsAfter: _jobsAfter,
    ...rest
}: ResolvedExternalRegistryHost) => rest;

describe("resolveExternalRegistryHost", () => {
    it("gives every optional setting its documented default", () => {
        expect(settings(resolveExternalRegistryHost(minimal))).toEqual({
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
            garbageCollection: { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false, mode: "window" },
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
            garbageCollection: { enabled: true, schedule: "0 4 * * *", deleteUntagged: true, mode: "online" },
        } as const satisfies ExternalRegistryHostArgs;
        expect(settings(resolveExternalRegistryHost(given))).toEqual(given);
    });

    it("defaults each part of the collection on its own", () => {
        expect(resolveExternalRegistryHost({ ...minimal, garbageCollection: { enabled: true } }).garbageCollection).toEqual({
            enabled: true,
            schedule: "30 3 * * 0",
            deleteUntagged: false,
            mode: "window",
        });
    });

    it("derives the host's layout, Distribution's container and the job reporter from the settings", () => {
        const resolved = resolveExternalRegistryHost({
            ...minimal,
            dataDir: "/data/registry",
            image: "registry:3",
            monitoring: { runbookBaseUrl: "docs/runbooks.md" },
        });
        expect(resolved.layout.dataDir).toBe("/data/registry");
        expect(resolved.s3).toBe(false);
        expect(resolved.registryContainer).toMatchObject({ image: "registry:3", layout: resolved.layout });
        expect(resolved.registryContainer.metrics?.relayImage).toBe("caddy:2.11.9");
        expect(resolved.monitored).toBe(true);
        expect(resolved.reporting).toBeDefined();
        expect(resolved.jobsAfter).toEqual(["monitoringScripts"]);
        const plain = resolveExternalRegistryHost(minimal);
        expect(plain).not.toHaveProperty("reporting");
        expect(plain).not.toHaveProperty("mavenSpec");
        expect(plain.jobsAfter).toEqual([]);
    });
});
