/**
 * The registry's container on the external host (components/externalHost/registryContainer.ts), on the
 * hosts of test/support/externalHostMocks.ts under Pulumi's mock runtime, its scripts run under sh with a
 * docker stand-in: pinned by digest, no port published, listening on its socket; with s3 storage, the
 * bucket in config.yml and the credentials in a 0600 environment file on stdin, never in the clear.
 */
import { describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { hostsUnderMocks, PLACED_0600 } from "../support/externalHostMocks";

const { command, script, runStubbed } = hostsUnderMocks();

describe("ExternalRegistryHost", () => {
    test("the container is pinned by digest, publishes no port and listens on its socket", () => {
        const { status, calls } = runStubbed(script("registry-host-container-run"), ["docker"]);
        expect(status).toBe(0);
        const run = calls.find((c) => c.startsWith("docker run "));
        expect(run).toContain(` registry@sha256:${"a".repeat(64)} `);
        expect(run).not.toContain(" -p ");
        expect(run).toMatch(/ -v \S*\/run\/dso-registry:\/run\/dso-registry /);
        const caddyfile = String(command("registry-host-caddy-caddyfile-write").inputs.stdin);
        expect(caddyfile).toContain("reverse_proxy unix//run/dso-registry/registry.sock {");
        expect(caddyfile).toContain("admin unix//run/caddy/admin.sock");
        expect(caddyfile).toContain('realm="https://registry.example.com/v2/token"');
    });
});

describe("ExternalRegistryHost with s3 storage", () => {
    test("config.yml names the bucket and proxies blob downloads (redirect off)", () => {
        const doc = YAML.parse(String(command("s3-host-container-config-write").inputs.stdin));
        expect(doc.storage.s3).toEqual({
            bucket: "dso-images",
            region: "eu-central-1",
            regionendpoint: "https://minio.example.com:9000",
            forcepathstyle: true,
            rootdirectory: "/registry",
        });
        expect(doc.storage.redirect).toEqual({ disable: true });
        expect(doc.storage.filesystem).toBeUndefined();
    });

    test("the credentials go to a 0600 environment file, as a secret on stdin", () => {
        const write = command("s3-host-container-storage-env-write");
        expect(write.inputs.stdin).toBe("[secret]");
        expect(write.inputs.logging).toBe("none");
        expect(String(write.inputs.create)).toMatch(PLACED_0600);
        expect(String(write.inputs.create)).toContain("'/etc/dso-registry/storage.env'");
    });

    test("the container reads the environment file and mounts no data directory", () => {
        const { calls, root } = runStubbed(script("s3-host-container-run"), ["docker"]);
        const run = calls.find((c) => c.startsWith("docker run "));
        expect(run).toContain(` --env-file ${root}/etc/dso-registry/storage.env `);
        expect(run).not.toContain("/var/lib/registry");
    });

    test("new credentials re-run the container step: they are its stdin, secret", () => {
        expect(command("s3-host-container-run").inputs.stdin).toBe("[secret]");
    });
});
