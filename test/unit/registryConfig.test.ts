/**
 * Distribution's config.yml, for the registry and for a pull-through cache: the settings given, the
 * sections each kind has, and a text that stays the same for the same options (the external host
 * recreates a container when it changes). Distribution itself reads these files in
 * test/integration (realRegistry, mirrors, clientMatrix).
 */
import { describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { REGISTRY_DRAIN_SECONDS, renderRegistryConfig } from "../../components/distribution/registryConfig";

describe("renderRegistryConfig", () => {
    test("is valid YAML with the settings given", () => {
        const doc = YAML.parse(
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                deletesEnabled: true,
                readOnly: true,
            }),
        );
        expect(doc.storage.filesystem.rootdirectory).toBe("/var/lib/registry");
        expect(doc.storage.delete.enabled).toBe(true);
        expect(doc.storage.maintenance.readonly.enabled).toBe(true);
        expect(doc.http.addr).toBe(":5000");
        expect(doc.http.relativeurls).toBe(true);
        expect(doc.auth).toBeUndefined();
    });

    test("s3 storage carries no credentials", () => {
        const text = renderRegistryConfig({
            addr: ":5000",
            storage: {
                kind: "s3",
                bucket: "images",
                region: "eu-west-1",
                endpoint: "https://minio.example.com",
                forcePathStyle: true,
                rootDirectory: "/registry",
                redirect: false,
            },
            deletesEnabled: false,
        });
        const doc = YAML.parse(text);
        expect(doc.storage.s3).toEqual({
            bucket: "images",
            region: "eu-west-1",
            regionendpoint: "https://minio.example.com",
            forcepathstyle: true,
            rootdirectory: "/registry",
        });
        expect(text).not.toMatch(/accesskey|secretkey/i);
    });

    test.each([
        [false, true],
        [true, false],
    ])("s3 redirect %s renders storage.redirect.disable %s", (redirect, disable) => {
        const doc = YAML.parse(
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "s3", bucket: "images", region: "us-east-1", forcePathStyle: true, rootDirectory: "/", redirect },
                deletesEnabled: false,
            }),
        );
        expect(doc.storage.redirect).toEqual({ disable });
    });

    test("filesystem storage has no redirect setting (the driver cannot redirect)", () => {
        const doc = YAML.parse(
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                deletesEnabled: false,
            }),
        );
        expect(doc.storage.redirect).toBeUndefined();
    });

    test.each([
        [undefined, { blobdescriptor: "inmemory" }],
        [true, { blobdescriptor: "inmemory" }],
        [false, undefined],
    ])("blobDescriptorCache %s: storage.cache is %o (no section: Distribution 2.8 runs without a cache)", (blobDescriptorCache, cache) => {
        const doc = YAML.parse(
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                deletesEnabled: true,
                ...(blobDescriptorCache === undefined ? {} : { blobDescriptorCache }),
            }),
        );
        expect(doc.storage.cache).toEqual(cache);
    });

    test("the registry's text, key by key (a new text would recreate every container once)", () => {
        expect(
            renderRegistryConfig({
                addr: "127.0.0.1:5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                deletesEnabled: true,
                tls: { certificate: "/certs/tls.crt", key: "/certs/tls.key" },
            }),
        ).toBe(
            [
                "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
                "version: 0.1",
                "log:",
                "  level: info",
                "  formatter: text",
                "storage:",
                "  filesystem:",
                '    rootdirectory: "/var/lib/registry"',
                "  delete:",
                "    enabled: true",
                "  cache:",
                "    blobdescriptor: inmemory",
                "  maintenance:",
                "    uploadpurging:",
                "      enabled: true",
                "      age: 168h",
                "      interval: 24h",
                "      dryrun: false",
                "    readonly:",
                "      enabled: false",
                "http:",
                '  addr: "127.0.0.1:5000"',
                "  relativeurls: true",
                `  draintimeout: ${REGISTRY_DRAIN_SECONDS}s`,
                "  tls:",
                '    certificate: "/certs/tls.crt"',
                '    key: "/certs/tls.key"',
                "  headers:",
                "    X-Content-Type-Options: [nosniff]",
                "health:",
                "  storagedriver:",
                "    enabled: true",
                "    interval: 10s",
                "    threshold: 3",
                "",
            ].join("\n"),
        );
    });

    test.each([
        ["a long path", { kind: "filesystem" as const, rootDirectory: `/srv/${"very-long-directory-name/".repeat(6)}registry` }],
        ["quotes, a backslash and a colon", { kind: "filesystem" as const, rootDirectory: '/srv/"odd" \\ name: #1' }],
        [
            "names YAML would read as other types",
            { kind: "s3" as const, bucket: "true", region: "123", forcePathStyle: false, rootDirectory: "/", redirect: true },
        ],
    ])("%s: read back exactly, on one line", (_name, storage) => {
        const text = renderRegistryConfig({ addr: ":5000", storage, deletesEnabled: false });
        const doc = YAML.parse(text);
        const section = storage.kind === "filesystem" ? doc.storage.filesystem : doc.storage.s3;
        expect(section.rootdirectory).toBe(storage.rootDirectory);
        if (storage.kind === "s3") expect([section.bucket, section.region]).toEqual([storage.bucket, storage.region]);
        expect(text.split("\n").find((l) => l.includes("rootdirectory"))).toBe(
            `    rootdirectory: ${JSON.stringify(storage.rootDirectory)}`,
        );
    });
});

describe("renderRegistryConfig for a pull-through cache", () => {
    const cache = (ttl?: string) =>
        YAML.parse(
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                proxy: { remoteUrl: "https://registry-1.docker.io", ...(ttl ? { ttl } : {}) },
            }),
        );

    test("has the upstream, and the ttl only when given", () => {
        expect(cache("24h").proxy).toEqual({ remoteurl: "https://registry-1.docker.io", ttl: "24h" });
        expect(cache().proxy).toEqual({ remoteurl: "https://registry-1.docker.io" });
    });

    test("takes no pushes: no delete, no maintenance, no drain timeout", () => {
        const doc = cache();
        expect(Object.keys(doc.storage)).toEqual(["filesystem", "cache"]);
        expect(doc.http.draintimeout).toBeUndefined();
    });

    test("the registry has no proxy section", () => {
        const doc = YAML.parse(
            renderRegistryConfig({ addr: ":5000", storage: { kind: "filesystem", rootDirectory: "/r" }, deletesEnabled: false }),
        );
        expect(doc.proxy).toBeUndefined();
        expect(doc.http.draintimeout).toBe(`${REGISTRY_DRAIN_SECONDS}s`);
    });
});
