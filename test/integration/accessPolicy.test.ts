/**
 * Every Caddyfile variant the access policy renderer gives passes the real `caddy validate` of the
 * pinned Caddy every front runs (Debian's stands in under `npm test`). The rules themselves:
 * test/unit/caddyfile.test.ts.
 */
import { writeFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { HOST_FRONT_CONNECTIONS } from "../../components/externalHost/caddySite";
import { BASE_POLICY as base } from "../support/accessPolicy";
import { pinnedCaddy } from "../support/caddyBinaries";
import { caddyValidate, makeTestCa } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";

const variants: [string, Partial<AccessPolicy>][] = [
    ["files TLS, anonymous pull", {}],
    [
        "files TLS, auth for pull, deletes, allowlist",
        { requiresAuthForPull: true, deletesEnabled: true, allowedNetworks: ["10.0.0.0/8", "fd00::/8"] },
    ],
    [
        "ACME with the staging directory",
        { tls: { kind: "acme", email: "ops@example.com", directory: "https://acme-staging-v02.api.letsencrypt.org/directory" } },
    ],
    ["ACME, Let's Encrypt production", { tls: { kind: "acme", email: "ops@example.com" } }],
    ["plain HTTP sidecar behind an ingress", { tls: { kind: "plain-http" }, port: 8080, admin: "off" }],
    ["same-origin UI", { uiUpstream: "127.0.0.1:8081", deletesEnabled: true }],
    ["bound to loopback, admin off", { bindAddress: "127.0.0.1", admin: "off", port: 8443 }],
    ["blob shortcut, anonymous pull", { blobFiles: "/srv/data/registry" }],
    [
        "blob shortcut, auth for pull, allowlist",
        { blobFiles: "/srv/data/registry", requiresAuthForPull: true, allowedNetworks: ["10.0.0.0/8"] },
    ],
    [
        "blob shortcut in the plain HTTP sidecar with the UI",
        { blobFiles: "/var/lib/registry", tls: { kind: "plain-http" }, port: 5000, admin: "off", uiUpstream: "127.0.0.1:8081" },
    ],
    [
        "external host with monitoring: loopback metrics listener, rotated JSON access log, HTTP/1.1 only, idle connections closed after 10 s",
        {
            metrics: { port: 5092, bindAddress: "127.0.0.1" },
            accessLog: { kind: "file", path: "/tmp/dso-registry-access.log" },
            ...HOST_FRONT_CONNECTIONS,
        },
    ],
    [
        "push accounts scoped to prefixes, in the plain HTTP sidecar with deletes",
        {
            tls: { kind: "plain-http" },
            port: 5000,
            admin: "off",
            deletesEnabled: true,
            scopedPushAccounts: [
                { username: "team-a-ci", prefixes: ["docker-internal/p2c/team-a/", "shared/tools/"] },
                { username: "team.b_ci", prefixes: ["docker-internal/p2c/team-b/"] },
            ],
        },
    ],
    [
        "sidecar with monitoring: metrics and Distribution's relayed, access log on stdout",
        {
            tls: { kind: "plain-http" },
            port: 5000,
            admin: "off",
            metrics: { port: 5092, registry: { port: 5093, upstream: "127.0.0.1:5091" } },
            accessLog: { kind: "stdout" },
        },
    ],
    [
        "sidecar with monitoring and tag retention's counts on the metrics port",
        {
            tls: { kind: "plain-http" },
            port: 5000,
            admin: "off",
            metrics: {
                port: 5092,
                registry: { port: 5093, upstream: "127.0.0.1:5091" },
                textfiles: [{ path: "/retention/metrics", file: "/run/dso-registry-retention/dso_registry_retention.prom" }],
            },
        },
    ],
];

describe("renderCaddyfile passes caddy validate", () => {
    test.each(variants)("%s", (_name, overrides) => {
        const dir = privateDir("caddy-files");
        try {
            // validate loads the certificate files and imports the users files: make them real.
            const ca = makeTestCa(`${dir}/tls`);
            const pushUsersFile = `${dir}/users-push`;
            const pullUsersFile = `${dir}/users-pull`;
            writeFileSync(pushUsersFile, renderUsersFile("push", []));
            writeFileSync(pullUsersFile, renderUsersFile("pull", []));
            const policy: AccessPolicy = {
                ...base,
                ...overrides,
                pushUsersFile,
                pullUsersFile,
                tls:
                    (overrides.tls ?? base.tls).kind === "files"
                        ? { kind: "files", certFile: ca.serverCertFile, keyFile: ca.serverKeyFile }
                        : (overrides.tls ?? base.tls),
            };
            const result = caddyValidate(renderCaddyfile(policy), pinnedCaddy());
            expect(result.stdout + result.stderr).toContain("Valid configuration");
            expect(result.code).toBe(0);
        } finally {
            removeDir(dir);
        }
    });
});
