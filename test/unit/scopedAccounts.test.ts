/**
 * Push accounts scoped to repository prefixes: the patterns of components/accessPolicy/scopedAccounts.ts
 * (RE2 that means the same in JavaScript), the policy's checks and where renderCaddyfile puts the
 * refusals. Against real Caddy, Distribution and skopeo: test/integration/accessPolicy.scopes.test.ts.
 */
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { type AccessPolicy, accessPolicyProblem } from "../../components/accessPolicy/policy";
import { scopedTokenQuery, scopedWritePath } from "../../components/accessPolicy/scopedAccounts";
import { BASE_POLICY as base } from "../support/accessPolicy";
import { makeDecoyHash } from "../support/realRegistry";

const PREFIXES = ["docker-internal/p2c/team-a/", "shared/tools/"];
const DIGEST = `sha256:${"a".repeat(64)}`;

describe("scopedWritePath: the paths a scoped account may write to", () => {
    const allowed = new RegExp(scopedWritePath(PREFIXES));
    test.each([
        "/v2/docker-internal/p2c/team-a/app/manifests/1.0",
        `/v2/docker-internal/p2c/team-a/app/manifests/${DIGEST}`,
        "/v2/docker-internal/p2c/team-a/deep/er/app/manifests/latest",
        "/v2/docker-internal/p2c/team-a/app/blobs/uploads/",
        "/v2/docker-internal/p2c/team-a/app/blobs/uploads/0b5d6c4e-6f4a-4c1e-9d0e-3c2b1a0f9e8d",
        `/v2/docker-internal/p2c/team-a/app/blobs/${DIGEST}`,
        "/v2/docker-internal/p2c/team-a/manifests/manifests/latest",
        "/v2/shared/tools/lint/manifests/1",
    ])("allowed: %s", (path) => {
        expect(allowed.test(path)).toBe(true);
    });

    test.each([
        ["another team", "/v2/docker-internal/p2c/team-b/app/manifests/1"],
        ["a prefix that only starts alike", "/v2/docker-internal/p2c/team-ab/app/manifests/1"],
        ["the prefix itself as a repository", "/v2/docker-internal/p2c/team-a/manifests/1"],
        ["another case", "/v2/docker-internal/p2c/Team-A/app/manifests/1"],
        ["a '..' segment", "/v2/docker-internal/p2c/team-a/../team-b/app/manifests/1"],
        ["a '.' segment", "/v2/docker-internal/p2c/team-a/./app/manifests/1"],
        ["a doubled slash", "/v2/docker-internal/p2c/team-a//app/manifests/1"],
        ["a doubled slash before the name", "/v2//docker-internal/p2c/team-a/app/manifests/1"],
        ["a reference that climbs out", "/v2/docker-internal/p2c/team-a/app/manifests/../../../team-b/app/manifests/1"],
        ["an upload ID '..'", "/v2/docker-internal/p2c/team-a/app/blobs/uploads/.."],
        ["the prefix not at the start", "/v2/x/docker-internal/p2c/team-a/app/manifests/1"],
        ["the catalog", "/v2/_catalog"],
        ["the ping", "/v2/"],
        ["tags", "/v2/docker-internal/p2c/team-a/app/tags/list"],
        ["an upload without its slash", "/v2/docker-internal/p2c/team-a/app/blobs/uploads"],
        ["a mirror", "/v2/mirrors/docker.io/library/app/manifests/1"],
    ])("refused, %s: %s", (_name, path) => {
        expect(allowed.test(path)).toBe(false);
    });
});

describe("scopedTokenQuery: the token requests a scoped account gets a token for", () => {
    const allowed = new RegExp(scopedTokenQuery(PREFIXES));
    const q = (...scopes: string[]) =>
        ["service=dso-registry", ...scopes.map((s) => `scope=${new URLSearchParams({ s }).toString().slice(2)}`)].join("&");
    test.each([
        ["no scope", "service=dso-registry"],
        ["docker login", "account=team-a-ci&client_id=docker&offline_token=true&service=dso-registry"],
        ["nothing at all", ""],
        ["push in its prefix, encoded as Go does", q("repository:docker-internal/p2c/team-a/app:pull,push")],
        ["push in its prefix, unencoded", "scope=repository:docker-internal/p2c/team-a/app:push,pull&service=dso-registry"],
        ["pull anywhere", q("repository:docker-internal/p2c/team-b/app:pull")],
        [
            "a mount's two scopes",
            q("repository:docker-internal/p2c/team-a/app:pull,push", "repository:docker-internal/p2c/team-b/app:pull"),
        ],
        ["space-separated scopes", q("repository:shared/tools/lint:push repository:docker-internal/p2c/team-b/app:pull")],
        ["delete and * in its prefix", q("repository:docker-internal/p2c/team-a/app:delete", "repository:shared/tools/x:*")],
        ["the catalog", q("registry:catalog:*")],
    ])("allowed, %s", (_name, query) => {
        expect(allowed.test(query)).toBe(true);
    });

    test.each([
        ["push on another team's", q("repository:docker-internal/p2c/team-b/app:pull,push")],
        ["push on another team's, unencoded", "scope=repository:docker-internal/p2c/team-b/app:push"],
        ["delete on another team's", q("repository:docker-internal/p2c/team-b/app:delete")],
        ["* on another team's", q("repository:docker-internal/p2c/team-b/app:*")],
        ["push on a prefix that only starts alike", q("repository:docker-internal/p2c/team-ab/app:push")],
        ["push on the prefix itself", q("repository:docker-internal/p2c/team-a:push")],
        ["push in another case", q("repository:docker-internal/p2c/Team-A/app:push")],
        ["push with a '..' component", q("repository:docker-internal/p2c/team-a/../team-b/app:push")],
        ["one scope in, one out", q("repository:docker-internal/p2c/team-a/app:push", "repository:docker-internal/p2c/team-b/app:push")],
        ["one in, one out, space-separated", q("repository:docker-internal/p2c/team-a/app:push repository:x/y:push")],
        ["a parameter clients do not send", `service=dso-registry&x=1&${q("repository:x/y:pull")}`],
        ["a scope of another kind", q("repository(plugin):docker-internal/p2c/team-a/app:push")],
        ["a double-encoded scope", "scope=repository%253Ax%252Fy%253Apush"],
    ])("refused, %s", (_name, query) => {
        expect(allowed.test(query)).toBe(false);
    });
});

describe("scoped push accounts in the policy", () => {
    const decoy = (push: string[]) => ({ accounts: { push, pull: ["pull"] }, bcryptHash: makeDecoyHash() });
    const scoped = (accounts: AccessPolicy["scopedPushAccounts"], push = ["ci", "team-a-ci", "team-b-ci"]): AccessPolicy => ({
        ...base,
        decoy: decoy(push),
        scopedPushAccounts: accounts,
    });

    test.each([
        ["no prefix", scoped([{ username: "team-a-ci", prefixes: [] }]), /has no prefix/],
        ["a prefix without its final slash", scoped([{ username: "team-a-ci", prefixes: ["p2c/team-a"] }]), /each followed by "\/"/],
        ["a prefix in upper case", scoped([{ username: "team-a-ci", prefixes: ["p2c/Team-A/"] }]), /lower-case/],
        ["a '..' component", scoped([{ username: "team-a-ci", prefixes: ["p2c/../"] }]), /prefix "p2c\/..\/"/],
        ["a doubled slash", scoped([{ username: "team-a-ci", prefixes: ["p2c//team-a/"] }]), /prefix/],
        ["a leading slash", scoped([{ username: "team-a-ci", prefixes: ["/p2c/team-a/"] }]), /prefix/],
        [
            "the same account twice",
            scoped([
                { username: "team-a-ci", prefixes: ["a/"] },
                { username: "team-a-ci", prefixes: ["b/"] },
            ]),
            /twice/,
        ],
        ["a name that is not an account name", scoped([{ username: "team a", prefixes: ["a/"] }]), /not an account name/],
        ["an account not in the push users file", scoped([{ username: "team-c-ci", prefixes: ["a/"] }]), /not in the push users file/],
    ])("refused: %s", (_name, policy, message) => {
        expect(accessPolicyProblem(policy)).toMatch(message);
        expect(() => renderCaddyfile(policy)).toThrow(message);
    });

    test("two scoped accounts with several prefixes are accepted", () => {
        const policy = scoped([
            { username: "team-a-ci", prefixes: ["docker-internal/p2c/team-a/", "shared/team-a/"] },
            { username: "team-b-ci", prefixes: ["docker-internal/p2c/team-b/"] },
        ]);
        expect(accessPolicyProblem(policy)).toBeUndefined();
    });
});

describe("renderCaddyfile with scoped push accounts", () => {
    const policy: AccessPolicy = {
        ...base,
        decoy: { accounts: { push: ["ci", "team-a-ci"], pull: ["pull"] }, bcryptHash: makeDecoyHash() },
        scopedPushAccounts: [{ username: "team-a-ci", prefixes: ["p2c/team-a/"] }],
    };
    const text = renderCaddyfile(policy);

    test("without scoped accounts nothing of them is rendered", () => {
        const plain = renderCaddyfile({ ...policy, scopedPushAccounts: undefined });
        expect(plain).not.toContain("scoped");
        expect(renderCaddyfile({ ...policy, scopedPushAccounts: [] })).toBe(plain);
    });

    test("a write outside the prefixes is refused right after the push accounts' password check, before the registry", () => {
        const check = text.indexOf("route @write {");
        const refusal = text.indexOf("route @scopedWrite0 {");
        expect(check).toBeGreaterThan(0);
        expect(refusal).toBeGreaterThan(check);
        expect(refusal).toBeLessThan(text.indexOf("reverse_proxy 127.0.0.1:5000"));
        expect(refusal).toBeLessThan(text.indexOf("route @ping"));
    });

    test("the token endpoint refuses after its password check and before it answers with the token", () => {
        const token = text.indexOf("route @token {");
        const refusal = text.indexOf("route @scopedToken0 {");
        expect(refusal).toBeGreaterThan(text.indexOf("route @withCredentials", token));
        expect(refusal).toBeLessThan(text.indexOf("respond @basicCredentials"));
    });

    test("the refusals are 403 with a registry error, never 401 (the login limit counts 401s with credentials)", () => {
        const block = (name: string) =>
            text.slice(text.indexOf(`route ${name} {`), text.indexOf("\n\t\t}", text.indexOf(`route ${name} {`)));
        for (const name of ["@scopedWrite0", "@scopedToken0"]) {
            expect(block(name)).toMatch(/"code":"DENIED".*p2c\/team-a\/.*` 403$/m);
        }
    });

    test("the matchers name the account exactly, and writes only", () => {
        const matcher = text.slice(text.indexOf("@scopedWrite0 {"), text.indexOf("\n\t}", text.indexOf("@scopedWrite0 {")));
        expect(matcher).toContain("not method GET HEAD");
        expect(matcher).toContain("vars_regexp {http.auth.user.id} ^team-a-ci$");
        expect(matcher).toContain(`not vars_regexp {http.request.uri.path} ${"^/v2/(?:p2c/team-a/)"}`);
    });
});
