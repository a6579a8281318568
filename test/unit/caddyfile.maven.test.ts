/**
 * The front's Maven route, as text: the policies it refuses, where the route sits in the Caddyfile and
 * how often it checks accounts. What it does with real nginx, Caddy and Maven:
 * test/integration/maven.realClients.test.ts; the Maven backend's nginx.conf: nginxConfig.test.ts.
 * Covers: components/accessPolicy/policy.ts (the Maven route's checks).
 */
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { accessPolicyProblem } from "../../components/accessPolicy/policy";
import { BASE_POLICY } from "../support/accessPolicy";

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
