/**
 * The Caddyfile's routes to what the front serves (components/accessPolicy/caddyfile/routes.ts): the proxy to
 * Distribution, the blob shortcut and the paths it takes, the web UI, the pull-through caches and the Maven
 * repository.
 */
import { describe, expect, it } from "vitest";
import { PasswordChecks } from "../../components/accessPolicy/caddyfile/passwordChecks";
import { BLOB_PATH, blobShortcut, mavenRoute, mirrorRoutes, registryProxy, uiRoute } from "../../components/accessPolicy/caddyfile/routes";
import type { AccessPolicy, MavenRoute } from "../../components/accessPolicy/policy";
import { BASE_POLICY } from "../support/accessPolicy";

const DIGEST = "ab".repeat(32);
const maven: MavenRoute = {
    pathPrefix: "maven-releases",
    requiresAuthForPull: false,
    upstream: "unix//run/maven.sock",
    deployUsersFile: "/etc/m",
};
const trimmed = (lines: string[]) => lines.map((l) => l.trim());

describe("registryProxy", () => {
    it("never passes the client's credentials on, streams, and retries only reads once a connection was made", () => {
        const lines = trimmed(registryProxy("unix//run/registry.sock"));
        // The body passed on gets a minute without progress, not the refusals' UNREAD_BODY_SECONDS.
        expect(lines.slice(0, 4)).toEqual(["timeouts {", "read_timeout 60s", "}", "reverse_proxy unix//run/registry.sock {"]);
        expect(lines).toEqual(expect.arrayContaining(["header_up -Authorization", "flush_interval -1", "method GET HEAD"]));
        // What a download whose client stopped reading holds (docs/decisions/access-policy.md#slow-clients).
        expect(lines).toEqual(expect.arrayContaining(["read_buffer 64KiB", "write_buffer 64KiB"]));
    });
});

describe("BLOB_PATH", () => {
    const blob = new RegExp(BLOB_PATH);
    it("captures the repository, the digest's hex and its first two digits", () => {
        expect(blob.exec(`/v2/team/app/blobs/sha256:${DIGEST}`)?.slice(1)).toEqual(["team/app", DIGEST, "ab"]);
    });
    it.each([
        `//v2//app/blobs/sha256:${DIGEST}`,
        `/v2/./app/blobs/sha256:${DIGEST}`,
        `/v2/x/../app/blobs/sha256:${DIGEST}`,
        `/v2/app/blobs/sha256:${DIGEST.toUpperCase()}`,
        `/v2/app/blobs/sha512:${DIGEST}${DIGEST}`,
        `/v2/App/blobs/sha256:${DIGEST}`,
    ])("leaves %s to Distribution", (path) => {
        expect(blob.test(path)).toBe(false);
    });
});

describe("blobShortcut", () => {
    it("serves a blob only from under blobs/, after finding the repository's link under repositories/", () => {
        const lines = trimmed(blobShortcut("/srv/data/"));
        expect(lines).toContain("root /srv/data/docker/registry/v2/repositories");
        expect(lines).toContain("try_files /{re.blob.1}/_layers/sha256/{re.blob.2}/link");
        expect(lines.filter((l) => l.startsWith("root "))).toEqual([
            "root /srv/data/docker/registry/v2/repositories",
            "root /srv/data/docker/registry/v2/blobs",
            "root /srv/data/docker/registry/v2/blobs",
        ]);
    });
});

describe("uiRoute", () => {
    it("serves the UI under its path without the client's credentials, and sends the bare path to it", () => {
        expect(trimmed(uiRoute("127.0.0.1:8081"))).toEqual([
            "redir /registry /registry/ 308",
            "handle_path /registry/* {",
            "request_header -Authorization",
            "reverse_proxy 127.0.0.1:8081",
            "}",
        ]);
    });
});

describe("mirrorRoutes", () => {
    const routes = [
        { pathName: "docker.io", upstream: "unix//run/docker-io.sock" },
        { pathName: "ghcr.io", upstream: "unix//run/ghcr-io.sock" },
    ];
    const lines = (policy: AccessPolicy) => trimmed(mirrorRoutes(policy, new PasswordChecks(policy), routes));

    it("is nothing without caches", () => {
        expect(mirrorRoutes(BASE_POLICY, new PasswordChecks(BASE_POLICY), [])).toEqual([]);
    });

    it("refuses every write, cuts each cache's prefix back to /v2/, and answers an unknown cache with a registry 404", () => {
        const l = lines(BASE_POLICY);
        expect(l.slice(0, 5)).toEqual([
            "route /v2/mirrors/* {",
            "@mirrorWrite not method GET HEAD",
            'respond @mirrorWrite "Mirrors are read-only: push to the registry itself, not under /mirrors/" 405 {',
            "close",
            "}",
        ]);
        expect(l).toEqual(expect.arrayContaining(["uri replace /v2/mirrors/docker.io/ /v2/ 1", "reverse_proxy unix//run/ghcr-io.sock {"]));
        expect(l.at(-2)).toMatch(/NAME_UNKNOWN.* 404$/);
    });

    it("checks an account only when the caches need one and reads do not already", () => {
        const checked = (policy: AccessPolicy) => lines(policy).some((l) => l.startsWith("basicauth"));
        expect(checked(BASE_POLICY)).toBe(false);
        expect(checked({ ...BASE_POLICY, mirrorsRequireAuth: true })).toBe(true);
        expect(checked({ ...BASE_POLICY, mirrorsRequireAuth: true, requiresAuthForPull: true })).toBe(false);
    });
});

describe("mavenRoute", () => {
    const lines = (policy: AccessPolicy, route: MavenRoute) => trimmed(mavenRoute(policy, new PasswordChecks(policy), route));

    it("lets only the deploy account write, and strips credentials before the backend", () => {
        const l = lines(BASE_POLICY, maven);
        expect(l.slice(4, 7)).toEqual(["basicauth @write bcrypt dso-registry {", "import /etc/m", "}"]);
        expect(l).toContain("request_header -Authorization");
        expect(l.filter((x) => x.startsWith("basicauth"))).toHaveLength(1);
    });

    it("checks reads against every account only when Maven's downloads need one", () => {
        const l = lines(BASE_POLICY, { ...maven, requiresAuthForPull: true });
        expect(l.filter((x) => x.startsWith("basicauth"))).toEqual([
            "basicauth @write bcrypt dso-registry {",
            "basicauth @mavenRead bcrypt dso-registry {",
        ]);
    });

    it("holds deploys during the read-only window, one route per kind of signal", () => {
        const policy: AccessPolicy = {
            ...BASE_POLICY,
            readOnlySignals: [
                { kind: "file", path: "/run/ro" },
                { kind: "env", name: "RO" },
            ],
        };
        const l = lines(policy, maven);
        expect(l.filter((x) => x.startsWith("route @maintenance"))).toEqual(["route @maintenance-file {", "route @maintenance-env {"]);
        expect(l.filter((x) => x.endsWith(" 503"))).toHaveLength(2);
    });
});
