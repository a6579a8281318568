/**
 * components/accessPolicy/policy.ts, `accessPolicyProblem`: a policy that cannot work is refused with a
 * message that says what to change, by the check and by `renderCaddyfile`, which runs it first.
 */
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { type AccessPolicy, accessPolicyProblem } from "../../components/accessPolicy/policy";
import { BASE_POLICY as base } from "../support/accessPolicy";

describe("accessPolicyProblem", () => {
    test.each([
        ["a scheme in the site address", { siteAddress: "https://registry.example.com" }, /bare host name/],
        ["a port out of range", { port: 70000 }, /1 to 65535/],
        ["an upstream with a scheme", { upstream: "http://127.0.0.1:5000" }, /host:port/],
        ["a network without prefix length", { allowedNetworks: ["10.0.0.0"] }, /CIDR/],
        [
            "an IPv6 network of three groups",
            { allowedNetworks: ["1:2:3/64"] },
            /allowedNetworks entry "1:2:3\/64" is not a network in CIDR form/,
        ],
        [
            "a proxy network of colons alone",
            { trustedProxies: ["::::::/64"] },
            /trustedProxies entry "::::::\/64" is not a network in CIDR form/,
        ],
        [
            "an IPv4-mapped network, which the front would never match an IPv4 client against",
            { allowedNetworks: ["::ffff:10.0.0.0/104"] },
            /allowedNetworks entry "::ffff:10\.0\.0\.0\/104" is IPv4-mapped: write it as "10\.0\.0\.0\/8"/,
        ],
        ["a relative users file", { pushUsersFile: "users" }, /absolute path/],
        ["an idle timeout of no seconds", { idleSeconds: 0 }, /idleSeconds 0 must be a whole number of seconds/],
        ["an idle timeout in parts of a second", { idleSeconds: 2.5 }, /idleSeconds 2\.5 must be a whole number of seconds/],
        ["ACME without an e-mail address", { tls: { kind: "acme", email: "ops" } as const }, /e-mail/],
        ["ACME for an IP address", { siteAddress: "10.1.2.3", tls: { kind: "acme", email: "ops@example.com" } as const }, /DNS name/],
        ["an admin address that is not one", { admin: "yes" }, /localhost:2019/],
        ["a realm authority with a scheme", { realmAuthorities: { "localhost:8080": "http://localhost:8080" } }, /realmAuthorities/],
        ["a realm key with a path", { realmAuthorities: { "localhost:8080/v2": "localhost:8080" } }, /realmAuthorities/],
        ["a relative blobFiles", { blobFiles: "srv/registry" }, /absolute path/],
        ["a blobFiles with a placeholder", { blobFiles: "/srv/{env.X}" }, /absolute path/],
        [
            "a textfile served at /metrics",
            { metrics: { port: 5092, textfiles: [{ path: "/metrics", file: "/run/counts/x.prom" }] } },
            /other than \/metrics/,
        ],
        [
            "a textfile path with a placeholder",
            { metrics: { port: 5092, textfiles: [{ path: "/{env.X}", file: "/run/counts/x.prom" }] } },
            /metrics\.textfiles path/,
        ],
        [
            "a relative textfile",
            { metrics: { port: 5092, textfiles: [{ path: "/retention/metrics", file: "x.prom" }] } },
            /metrics\.textfiles file/,
        ],
        ["a relative read-only marker", { readOnlySignals: [{ kind: "file", path: "run/ro" } as const] }, /absolute path/],
        ["a read-only marker with a space", { readOnlySignals: [{ kind: "file", path: "/run/read only" } as const] }, /absolute path/],
        ["a read-only variable with a brace", { readOnlySignals: [{ kind: "env", name: "X}" } as const] }, /environment variable/],
        [
            "the same read-only marker twice",
            { readOnlySignals: [{ kind: "file", path: "/run/a" } as const, { kind: "file", path: "/run/a" } as const] },
            /same file twice/,
        ],
        [
            "two read-only variables",
            { readOnlySignals: [{ kind: "env", name: "A" } as const, { kind: "env", name: "B" } as const] },
            /more than one "env" signal/,
        ],
    ] as [string, Partial<AccessPolicy>, RegExp][])("%s is refused", (_name, overrides, message) => {
        expect(accessPolicyProblem({ ...base, ...overrides })).toMatch(message);
        expect(() => renderCaddyfile({ ...base, ...overrides })).toThrow(message);
    });

    test("the base policy is accepted", () => {
        expect(accessPolicyProblem(base)).toBeUndefined();
    });
});
