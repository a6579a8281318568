/**
 * A component that refuses its args throws a ResourceError naming itself, so the engine reports the
 * problem against that resource (its URN, no stack trace) rather than as a crash of the program.
 * Covers: components/accounts/registryAccounts.ts, components/tls/registryTls.ts, components/externalHost/externalRegistryHost.ts, components/mirrors/mirrorCachesOnHost.ts, components/shared/hostAccess.ts (the errors each throws).
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { promiseOf, startMockRuntime } from "../../tools/mockRuntime";

type Components = {
    accounts: typeof import("../../components/accounts/registryAccounts");
    tls: typeof import("../../components/tls/registryTls");
    host: typeof import("../../components/externalHost/externalRegistryHost");
    mirrors: typeof import("../../components/mirrors/mirrorCachesOnHost");
    hostAccess: typeof import("../../components/shared/hostAccess");
};
let c: Components;

beforeAll(async () => {
    await startMockRuntime({ stack: "test" });
    c = {
        accounts: await import("../../components/accounts/registryAccounts"),
        tls: await import("../../components/tls/registryTls"),
        host: await import("../../components/externalHost/externalRegistryHost"),
        mirrors: await import("../../components/mirrors/mirrorCachesOnHost"),
        hostAccess: await import("../../components/shared/hostAccess"),
    };
});

const connection = { kind: "local", name: "here", sudo: false } as const;
const validity = { caValidityDays: 3650, serverCertValidityDays: 365 };

/** The error a constructor throws, or a failure when it throws none. */
function thrownBy(construct: () => unknown): unknown {
    try {
        construct();
    } catch (error) {
        return error;
    }
    return expect.fail("the constructor threw nothing");
}

describe("components refusing their args", () => {
    const cases: [string, string, RegExp, () => unknown][] = [
        [
            "HostFile",
            "secret-readable",
            /must not be readable by group or others/,
            () => new c.hostAccess.HostFile("secret-readable", { connection, path: "/etc/x", mode: "0644", content: "x", secret: true }),
        ],
        [
            "RegistryTls",
            "no-names",
            /at least one DNS name/,
            () => new c.tls.RegistryTls("no-names", { ...validity, source: "generated", dnsNames: [] }),
        ],
        [
            "RegistryTls",
            "provided-without-files",
            /needs the certificate and key/,
            () => new c.tls.RegistryTls("provided-without-files", { ...validity, source: "provided", dnsNames: ["registry.example.com"] }),
        ],
        [
            "RegistryAccounts",
            "same-names",
            /its own user name/,
            () => new c.accounts.RegistryAccounts("same-names", { push: { username: "x" }, pull: { username: "x" }, rotation: "1" }),
        ],
        [
            "ExternalRegistryHost",
            "relative-data-dir",
            /dataDir "srv\/data" must be an absolute path below \//,
            // The constructor checks its args before it uses any other.
            () =>
                new c.host.ExternalRegistryHost("relative-data-dir", {
                    connection,
                    dataDir: "srv/data",
                } as unknown as import("../../components/externalHost/externalRegistryHost").ExternalRegistryHostArgs),
        ],
        [
            "MirrorCachesOnHost",
            "no-env-file",
            /needs its upstream account's env file/,
            () =>
                new c.mirrors.MirrorCachesOnHost("no-env-file", {
                    connection,
                    image: "registry:3.0.0",
                    mirrors: [
                        {
                            spec: {
                                upstream: "docker.io",
                                pathName: "docker.io",
                                remoteUrl: "https://registry-1.docker.io",
                                ttl: "168h",
                                maxSize: "20Gi",
                                hasCredentials: true,
                            },
                        },
                    ],
                    mirrorsDir: "/srv/data/registry-mirrors",
                    configRoot: "/etc/dso-registry",
                    socketsDir: "/run/dso-registry-mirrors",
                    pruneScriptPath: "/usr/local/sbin/dso-registry-mirror-prune",
                    cronFilePath: "/etc/cron.d/dso-registry-mirrors",
                }),
        ],
    ];

    it.each(cases)("%s %s throws a ResourceError naming itself", async (type, name, message, construct) => {
        const error = thrownBy(construct);
        expect(pulumi.ResourceError.isInstance(error)).toBe(true);
        expect((error as Error).message).toMatch(message);
        const resource = (error as pulumi.ResourceError).resource;
        expect(resource).toBeDefined();
        expect(await promiseOf(resource!.urn)).toMatch(new RegExp(`:${type}::${name}$`));
    });
});
