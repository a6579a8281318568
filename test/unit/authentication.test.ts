/**
 * Authentication's answers in the Caddyfile (components/accessPolicy/caddyfile/authentication.ts): the token
 * endpoint, the matchers of credentials, the scoped push accounts' refusals, and the 401 answers with the
 * challenge each client answers.
 */
import { describe, expect, it } from "vitest";
import {
    credentialMatchers,
    publicAuthority,
    scopedAccountMatchers,
    scopedRefusal,
    tokenEndpoint,
    unauthorizedAnswer,
} from "../../components/accessPolicy/caddyfile/authentication";
import { PasswordChecks } from "../../components/accessPolicy/caddyfile/passwordChecks";
import { type AccessPolicy, ANONYMOUS_TOKEN } from "../../components/accessPolicy/policy";
import { BASE_POLICY } from "../support/accessPolicy";

const everyone = [BASE_POLICY.pushUsersFile, BASE_POLICY.pullUsersFile];
const token = (policy: AccessPolicy) => tokenEndpoint(policy, new PasswordChecks(policy), everyone).map((l) => l.trim());
const scoped = { username: "team-a-ci", prefixes: ["team-a/", "shared/"] };
const maven = { pathPrefix: "maven-releases", requiresAuthForPull: false, upstream: "unix//run/m.sock", deployUsersFile: "/etc/m" };

describe("tokenEndpoint", () => {
    it("gives anonymous clients the anonymous token for pulls, and a 401 when they ask for more", () => {
        const lines = token(BASE_POLICY);
        expect(lines.slice(-3)).toEqual(["error @beyondPull 401", expect.stringContaining(ANONYMOUS_TOKEN), "}"]);
        expect(lines.at(-2)).toMatch(/ 200$/);
    });

    it("gives anonymous clients no token at all when pulls need an account", () => {
        const lines = token({ ...BASE_POLICY, requiresAuthForPull: true });
        expect(lines.slice(-2)).toEqual(["error 401", "}"]);
        expect(lines.join("\n")).not.toContain(ANONYMOUS_TOKEN);
    });

    it("hands valid Basic credentials back as the token, never cached, and refuses writes to the endpoint", () => {
        const lines = token(BASE_POLICY);
        // The refusal closes the connection after its answer: a body it never reads does not hold it back.
        expect(lines.slice(0, 3)).toEqual(['respond @tokenWrite "Tokens are issued on GET" 405 {', "close", "}"]);
        expect(lines).toContain("Cache-Control no-store");
        expect(lines.find((l) => l.startsWith("respond @basicCredentials"))).toContain('"token":"{re.basic.1}"');
    });

    it("refuses a scoped account's token for more than its prefixes, before handing out its token", () => {
        const lines = token({ ...BASE_POLICY, scopedPushAccounts: [scoped] });
        expect(lines.indexOf("route @scopedToken0 {")).toBeGreaterThan(-1);
        expect(lines.indexOf("route @scopedToken0 {")).toBeLessThan(lines.findIndex((l) => l.startsWith("respond @basicCredentials")));
    });
});

describe("credentialMatchers", () => {
    it("defines the token request beyond pulls only while anonymous pulls exist", () => {
        const named = (policy: AccessPolicy) => credentialMatchers(policy).map((l) => l.trim().split(" ")[0]);
        expect(named(BASE_POLICY)).toContain("@beyondPull");
        expect(named({ ...BASE_POLICY, requiresAuthForPull: true })).not.toContain("@beyondPull");
    });
});

describe("the scoped push accounts", () => {
    it("refuse with 403 and a registry error naming the account's prefixes: its password was right", () => {
        const lines = scopedRefusal("@scopedWrite0", scoped, "");
        expect(lines[0]).toBe("route @scopedWrite0 {");
        expect(lines.at(-2)).toMatch(/ 403$/);
        expect(lines.at(-2)).toContain("the account team-a-ci may write only to repositories under team-a/, shared/");
    });

    it("are matched by their exact name, a write outside their prefixes and a token request beyond them, one pair each", () => {
        const lines = scopedAccountMatchers([scoped, { username: "b.ci", prefixes: ["b/"] }]);
        expect(lines.filter((l) => /^\t@scoped(Write|Token)\d \{$/.test(l))).toEqual([
            "\t@scopedWrite0 {",
            "\t@scopedToken0 {",
            "\t@scopedWrite1 {",
            "\t@scopedToken1 {",
        ]);
        expect(lines).toContain("\t\tvars_regexp {http.auth.user.id} ^b\\.ci$");
    });
});

describe("publicAuthority", () => {
    it.each([
        ["on 443, the host alone", BASE_POLICY, "registry.example.com"],
        ["on another port, with it", { ...BASE_POLICY, port: 5443 }, "registry.example.com:5443"],
        ["as configured, when it is", { ...BASE_POLICY, publicAuthority: "registry.example.org" }, "registry.example.org"],
    ])("%s", (_, policy, authority) => {
        expect(publicAuthority(policy)).toBe(authority);
    });
});

describe("unauthorizedAnswer", () => {
    const text = (policy: AccessPolicy) => unauthorizedAnswer(policy).join("\n");

    it("names the configured realm, never the request's Host", () => {
        expect(text(BASE_POLICY)).toContain('Bearer realm="https://registry.example.com/v2/token",service="dso-registry"');
        expect(text(BASE_POLICY)).not.toContain("{http.request.host");
    });

    it("behind a proxy that ends TLS, takes the scheme it names, and a configured authority chosen by Host", () => {
        const plain = text({ ...BASE_POLICY, tls: { kind: "plain-http" }, realmAuthorities: { "registry:80": "registry.example.com" } });
        expect(plain).toContain('realm="{dso_client_scheme}://{dso_realm_authority}/v2/token"');
    });

    it("keeps Maven's Basic challenge, ahead of the registry's, only where Maven is served", () => {
        expect(text(BASE_POLICY)).not.toContain("@mavenUnauthorized");
        const withMaven = text({ ...BASE_POLICY, maven });
        expect(withMaven.indexOf("handle @mavenUnauthorized")).toBeGreaterThan(-1);
        expect(withMaven.indexOf("handle @mavenUnauthorized")).toBeLessThan(withMaven.indexOf("handle @unauthorized"));
    });
});
