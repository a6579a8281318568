/**
 * The Maven backend's nginx.conf and the front's Maven route, as text. What they do with real nginx,
 * Caddy and Maven: test/integration/maven.realClients.test.ts.
 * Covers: components/maven/nginxConfig.ts, components/accessPolicy/caddyfile.ts (the Maven route).
 */
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { accessPolicyProblem } from "../../components/accessPolicy/policy";
import { type MavenBackendConfig, mavenBackendProblem, renderMavenNginxConfig } from "../../components/maven/nginxConfig";
import { BASE_POLICY } from "../support/accessPolicy";

const backend: MavenBackendConfig = { listen: "127.0.0.1:5002", pathPrefix: "maven-releases", dataDir: "/var/lib/maven", runDir: "/run/m" };

describe("mavenBackendProblem", () => {
    test.each([
        ["listen without a port", { listen: "127.0.0.1" }, "listen"],
        ["a relative unix socket", { listen: "unix:run/maven.sock" }, "listen"],
        ["a unix socket path ending in a slash", { listen: "unix:/run/maven/" }, "listen"],
        ["a path prefix with a leading slash", { pathPrefix: "/maven" }, "pathPrefix"],
        ["a path prefix that climbs", { pathPrefix: "a/../b" }, "pathPrefix"],
        ["a relative data directory", { dataDir: "data" }, "dataDir"],
        ["a run directory with a space", { runDir: "/run/a b" }, "runDir"],
    ] as const)("refuses %s, naming the field", (_name, override, field) => {
        expect(mavenBackendProblem({ ...backend, ...override })).toContain(field);
    });

    test("accepts the placements' settings", () => {
        expect(mavenBackendProblem(backend)).toBeUndefined();
        expect(mavenBackendProblem({ ...backend, listen: "unix:/run/dso-maven-socket/maven.sock" })).toBeUndefined();
    });
});

describe("renderMavenNginxConfig", () => {
    const text = renderMavenNginxConfig(backend);

    test("stores PUTs under dataDir/<pathPrefix>/ and allows only GET, HEAD and PUT", () => {
        const location = text.slice(text.indexOf("location /maven-releases/ {"));
        expect(location).toContain("root /var/lib/maven;");
        expect(location).toContain("dav_methods PUT;");
        expect(location).toContain("create_full_put_path on;");
        expect(location).toMatch(/limit_except GET HEAD PUT \{\s+deny all;/);
    });

    test("keeps every file nginx writes besides uploads under runDir", () => {
        const paths = [...text.matchAll(/^\s*(?:pid|\w+_temp_path) (\S+);/gm)].map((m) => m[1]);
        expect(paths.length).toBeGreaterThanOrEqual(6);
        for (const p of paths) expect(p?.startsWith("/run/m/")).toBe(true);
    });

    test("answers 404 outside the repository", () => {
        expect(text).toMatch(/location \/ \{\s+return 404;/);
    });
});

describe("the front's Maven route", () => {
    const maven = {
        pathPrefix: "maven-releases",
        upstream: "127.0.0.1:5002",
        deployUsersFile: "/etc/m/deploy",
        requiresAuthForPull: false,
    };

    test.each([
        ["a prefix that hides the registry API", { pathPrefix: "v2" }, "/v2/"],
        ["an upstream without a port", { upstream: "nginx" }, "maven.upstream"],
        ["a relative users file", { deployUsersFile: "deploy" }, "maven.deployUsersFile"],
    ] as const)("refuses %s", (_name, override, words) => {
        expect(accessPolicyProblem({ ...BASE_POLICY, maven: { ...maven, ...override } })).toContain(words);
    });

    test("comes before every registry rule, so Maven never meets the registry's tokens", () => {
        const text = renderCaddyfile({ ...BASE_POLICY, maven });
        expect(text.indexOf("route @maven {")).toBeGreaterThan(0);
        expect(text.indexOf("route @maven {")).toBeLessThan(text.indexOf("route @token {"));
    });

    test.each([
        [false, 1],
        [true, 2],
    ])("with requiresAuthForPull %s the route checks accounts %i time(s)", (requiresAuthForPull, checks) => {
        const text = renderCaddyfile({ ...BASE_POLICY, maven: { ...maven, requiresAuthForPull } });
        const route = text.slice(text.indexOf("route @maven {"), text.indexOf("reverse_proxy 127.0.0.1:5002"));
        expect(route.match(/basicauth /g)?.length).toBe(checks);
        expect(route).toContain("import /etc/m/deploy");
    });

    test("a policy without Maven renders no Maven route", () => {
        expect(renderCaddyfile(BASE_POLICY)).not.toContain("@maven");
    });
});
