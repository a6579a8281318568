/**
 * The Maven backend's nginx.conf, as text: the settings it refuses and what it serves. What it does with
 * real nginx, Caddy and Maven: test/integration/maven.realClients.test.ts; the front's Maven route:
 * caddyfile.maven.test.ts.
 */
import { describe, expect, test } from "vitest";
import { type MavenNginxSpec, mavenBackendProblem, renderMavenNginxConfig } from "../../components/maven/nginxConfig";

const backend: MavenNginxSpec = { listen: "127.0.0.1:5002", pathPrefix: "maven-releases", dataDir: "/var/lib/maven", runDir: "/run/m" };

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
