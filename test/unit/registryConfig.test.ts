/**
 * Distribution's config.yml, for the registry and for a pull-through cache: the settings given, the
 * sections each kind has, and a text that stays the same for the same options (the external host
 * recreates a container when it changes). Distribution itself reads these files in
 * test/integration (realRegistry, mirrors, clientMatrix; the operator's settings in distributionConfig.test.ts).
 */
import { describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { REGISTRY_DRAIN_SECONDS, renderRegistryConfig } from "../../components/distribution/registryConfig";
import type { DistributionSettings } from "../../components/shared/distributionSettings";

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

describe("renderRegistryConfig with the operator's settings (registry.distributionConfig)", () => {
    const base = { addr: ":5000", storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" }, deletesEnabled: false } as const;
    const render = (settings?: DistributionSettings, extra: { logLevel?: "warn"; metricsAddr?: string } = {}) =>
        YAML.parse(renderRegistryConfig({ ...base, ...extra, ...(settings ? { settings } : {}) }));

    test("without settings the text is the program's, byte for byte", () => {
        expect(renderRegistryConfig({ ...base, settings: {} })).toBe(renderRegistryConfig(base));
    });

    test.each<[string, DistributionSettings, (doc: any) => unknown, unknown]>([
        ["log.level replaces the program's info", { log: { level: "debug" } }, (d) => d.log, { level: "debug", formatter: "text" }],
        ["log.formatter replaces text", { log: { formatter: "json" } }, (d) => d.log, { level: "info", formatter: "json" }],
        [
            "log.fields and log.accesslog join the log section",
            { log: { fields: { team: "platform", env: "lab" }, accesslog: { disabled: true } } },
            (d) => d.log,
            { level: "info", formatter: "text", accesslog: { disabled: true }, fields: { env: "lab", team: "platform" } },
        ],
        [
            "http.headers join the program's X-Content-Type-Options",
            { http: { headers: { "X-Frame-Options": ["DENY"], "Cache-Control": ["no-store"] } } },
            (d) => d.http.headers,
            { "X-Content-Type-Options": ["nosniff"], "Cache-Control": ["no-store"], "X-Frame-Options": ["DENY"] },
        ],
        [
            "notifications come after the program's sections",
            { notifications: { endpoints: [{ name: "ci", url: "https://hooks.example.test/r", timeout: "2s" }] } },
            (d) => d.notifications,
            { endpoints: [{ name: "ci", timeout: "2s", url: "https://hooks.example.test/r" }] },
        ],
        [
            "validation comes after the program's sections",
            { validation: { manifests: { urls: { deny: [".*"] } } } },
            (d) => d.validation,
            { manifests: { urls: { deny: [".*"] } } },
        ],
        [
            "the program's other sections stay as they are",
            { log: { level: "debug" }, http: { headers: { "X-Frame-Options": ["DENY"] } } },
            (d) => [d.http.addr, d.http.relativeurls, d.storage.delete, d.health.storagedriver.enabled],
            [":5000", true, { enabled: false }, true],
        ],
    ])("%s", (_, settings, pick, expected) => {
        expect(pick(render(settings))).toEqual(expected);
    });

    test("the operator's level wins over the renderer's logLevel option", () => {
        expect(render({ log: { level: "error" } }, { logLevel: "warn" }).log.level).toBe("error");
    });

    test("the operator's keys are written sorted and the program's first, whatever order they came in", () => {
        const text = renderRegistryConfig({
            ...base,
            settings: {
                validation: { disabled: false },
                notifications: {
                    endpoints: [{ url: "https://h.example.test/", name: "b", backoff: "1s" }],
                    events: { includereferences: true },
                },
                http: { headers: { "X-B": ["2"], "X-A": ["1"] } },
            },
        });
        const keys = (line: RegExp) =>
            text
                .split("\n")
                .filter((l) => line.test(l))
                .map((l) => l.trim().split(":")[0]);
        expect(keys(/^[a-z]/)).toEqual(["version", "log", "storage", "http", "health", "notifications", "validation"]);
        expect(keys(/^ {4}X-/)).toEqual(["X-Content-Type-Options", "X-A", "X-B"]);
        expect(text).toMatch(
            /notifications:\n {2}endpoints:\n {4}- backoff: 1s\n {6}name: b\n {6}url: https:\/\/h\.example\.test\/\n {2}events:/,
        );
    });

    test.each<[string, Record<string, unknown>, string]>([
        [
            "storage",
            { storage: { delete: { enabled: true } } },
            "distributionConfig.storage: storage is the program's: set registry.storage",
        ],
        [
            "the debug listener",
            { http: { debug: { addr: ":5001" } } },
            "distributionConfig.http.debug: http.debug is the program's: set registry.monitoring.enabled",
        ],
        [
            "a typo",
            { notification: {} },
            "distributionConfig.notification: notification is not offered: Distribution ignores a key it does not know",
        ],
        [
            "a protocol header",
            { http: { headers: { "Docker-Distribution-Api-Version": ["x"] } } },
            "is the registry protocol's or the program's to set",
        ],
    ])("refuses %s, as the stack config does, for programs that call it directly", (_, settings, message) => {
        expect(() => renderRegistryConfig({ ...base, settings: settings as DistributionSettings })).toThrow(message);
    });
});
