/**
 * The Caddyfile's global options and request limits (components/accessPolicy/caddyfile/limits.ts): TLS
 * automation per TLS kind, the server's deadlines and protocols, and the requests refused for their shape.
 */
import { describe, expect, it } from "vitest";
import {
    globalOptions,
    HOST_SPELLING_MESSAGE,
    MAX_AUTHORIZATION_LENGTH,
    requestShapeAnswers,
    requestShapeMatchers,
} from "../../components/accessPolicy/caddyfile/limits";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { BASE_POLICY } from "../support/accessPolicy";

describe("globalOptions", () => {
    it.each([
        ["files", BASE_POLICY.tls, ["\tauto_https disable_redirects"]],
        ["plain HTTP", { kind: "plain-http" }, ["\tauto_https off"]],
        [
            "ACME",
            { kind: "acme", email: "ops@example.com", directory: "https://acme.example/dir" },
            ["\temail ops@example.com", "\tacme_ca https://acme.example/dir"],
        ],
    ] as const)("%s TLS: only its own automation settings", (_, tls, lines) => {
        const options = globalOptions({ ...BASE_POLICY, tls } as AccessPolicy);
        expect(options.filter((l) => /^\t(auto_https|email|acme_ca)/.test(l))).toEqual(lines);
    });

    it("offers HTTP/1.1 only unless the policy asks for HTTP/2, and never HTTP/3", () => {
        expect(globalOptions(BASE_POLICY)).toContain("\t\tprotocols h1");
        expect(globalOptions({ ...BASE_POLICY, http2: false })).toContain("\t\tprotocols h1");
        expect(globalOptions({ ...BASE_POLICY, http2: true })).toContain("\t\tprotocols h1 h2");
    });

    it("keeps a connection with no request in flight 5 minutes behind a proxy, and the policy's seconds where clients connect themselves", () => {
        expect(globalOptions(BASE_POLICY)).toContain("\t\t\tidle 5m");
        expect(globalOptions({ ...BASE_POLICY, idleSeconds: 10 })).toContain("\t\t\tidle 10s");
        expect(globalOptions({ ...BASE_POLICY, idleSeconds: 10 }).join("\n")).not.toContain("idle 5m");
    });

    it("reads the client's address past trusted proxies only when the policy names them", () => {
        expect(globalOptions(BASE_POLICY).join("\n")).not.toContain("trusted_proxies");
        expect(globalOptions({ ...BASE_POLICY, trustedProxies: ["10.1.0.0/16"] })).toEqual(
            expect.arrayContaining(["\t\ttrusted_proxies static 10.1.0.0/16", "\t\ttrusted_proxies_strict"]),
        );
    });

    it("moves the admin endpoint where the policy says, and serves metrics only with monitoring", () => {
        expect(globalOptions({ ...BASE_POLICY, admin: "unix//run/caddy-admin.sock" })).toContain("\tadmin unix//run/caddy-admin.sock");
        expect(globalOptions(BASE_POLICY)).not.toContain("\t\tmetrics");
        expect(globalOptions({ ...BASE_POLICY, metrics: { port: 9180 } })).toContain("\t\tmetrics");
    });
});

describe("requestShapeMatchers", () => {
    it("finds an Authorization value longer than MAX_AUTHORIZATION_LENGTH, and none at it", () => {
        const line = requestShapeMatchers(BASE_POLICY).find((l) => l.includes("@authorizationTooLong"))!;
        const tooLong = new RegExp(line.split(" ").at(-1)!);
        expect(tooLong.test("x".repeat(MAX_AUTHORIZATION_LENGTH + 1))).toBe(true);
        expect(tooLong.test("x".repeat(MAX_AUTHORIZATION_LENGTH))).toBe(false);
    });

    it("has one case-variant matcher, and one refusal, per route prefix: the UI's and Maven's only when served", () => {
        const count = (policy: AccessPolicy) => requestShapeMatchers(policy).filter((l) => /^\t@caseVariant\d+ \{$/.test(l)).length;
        const served: AccessPolicy = {
            ...BASE_POLICY,
            uiUpstream: "127.0.0.1:8081",
            maven: { pathPrefix: "maven-releases", requiresAuthForPull: false, upstream: "unix//run/m.sock", deployUsersFile: "/etc/m" },
        };
        expect(count(BASE_POLICY)).toBe(2);
        expect(count(served)).toBe(4);
        expect(requestShapeAnswers(served).filter((l) => l.includes("@caseVariant"))).toHaveLength(4);
    });

    it.each([
        ["registry.example.com:0443", true],
        ["registry.example.com:00443", true],
        ["10.1.2.3:0443", true],
        ["[fd00::5]:0443", true],
        ["Registry.example.com", true],
        ["REGISTRY.EXAMPLE.COM:443", true],
        ["registry.example.com", false],
        ["registry.example.com:443", false],
        ["registry.example.com:5443", false],
        ["registry.example.com:4430", false],
        ["10.1.2.3:443", false],
        ["[fd00::5]:443", false],
        ["[fd00::5]", false],
        ["kind-registry:5001", false],
    ])("refuses the Host %s: %s (another case, or a port's leading zero)", (host, refused) => {
        const line = requestShapeMatchers(BASE_POLICY).find((l) => l.startsWith("\t@hostSpelling "))!;
        expect(line).toMatch(/^\t@hostSpelling vars_regexp \{http\.request\.hostport\} \S+$/);
        expect(new RegExp(line.split(" ").at(-1)!).test(host)).toBe(refused);
        expect(requestShapeAnswers(BASE_POLICY)).toContain(`\t\trespond @hostSpelling "${HOST_SPELLING_MESSAGE}" 400`);
    });

    it("matches a route prefix in another case, and not the prefix as written", () => {
        const lines = requestShapeMatchers(BASE_POLICY);
        const at = lines.indexOf("\t@caseVariant1 {");
        const [variant, exact] = [lines[at + 1]!, lines[at + 2]!].map((l) => l.split(" ").at(-1)!);
        const anyCase = new RegExp(variant!.replace("(?i)", ""), "i");
        expect([anyCase.test("/V2/app"), new RegExp(exact!).test("/V2/app")]).toEqual([true, false]);
        expect(new RegExp(exact!).test("/v2/app")).toBe(true);
    });
});
