/**
 * `containerRegistry.pushAccounts`: the config check refuses what cannot be created, and every placement
 * (the in-cluster sidecar, the external host, kind's front) puts each account in its push users file and
 * its prefixes in the front's policy, with the password generated and given as a secret stack output.
 * What the front then does with them: scopedAccounts.test.ts and accessPolicy.scopes.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, PROJECT, parseConfig } from "../../components/config";
import { readStackConfig, synthesizeConfig } from "../../tools/synth";
import { PROJECT_DIR } from "../support/synthCli";

const base = {
    containerRegistry: { host: "registry.example.test", pathPrefix: "docker-internal/p2c" },
    registry: { mode: "in-cluster" },
};

/** The problems the config check names for `containerRegistry` with `changes` merged in (and `registry` replaced when given). */
function problems(changes: Record<string, unknown>, registry?: Record<string, unknown>, more: Record<string, unknown> = {}): string[] {
    try {
        parseConfig(
            { ...base, ...more, containerRegistry: { ...base.containerRegistry, ...changes }, ...(registry ? { registry } : {}) },
            {},
            { allowMissingSecrets: true },
        );
        return [];
    } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.problems.map((p) => `${p.key}: ${p.message}`);
    }
}

const teamA = { name: "team-a-ci", prefixes: ["docker-internal/p2c/team-a/"] };

describe("containerRegistry.pushAccounts in the config check", () => {
    it("accepts accounts with prefixes under pathPrefix", () => {
        expect(
            problems({
                pushAccounts: [teamA, { name: "team-b-ci", prefixes: ["docker-internal/p2c/team-b/", "docker-internal/p2c/shared/"] }],
            }),
        ).toEqual([]);
    });

    it.each([
        [
            "a prefix outside pathPrefix",
            { pushAccounts: [{ name: "team-a-ci", prefixes: ["other/team-a/"] }] },
            /pushAccounts\[0\]\.prefixes\[0\].*not under containerRegistry\.pathPrefix "docker-internal\/p2c": write it as "docker-internal\/p2c\/other\/team-a\/"/,
        ],
        [
            "a prefix that only starts like pathPrefix",
            { pushAccounts: [{ name: "team-a-ci", prefixes: ["docker-internal/p2cx/team-a/"] }] },
            /not under containerRegistry\.pathPrefix/,
        ],
        [
            "a prefix without its final slash",
            { pushAccounts: [{ name: "team-a-ci", prefixes: ["docker-internal/p2c/team-a"] }] },
            /each followed by "\/"/,
        ],
        [
            "a prefix in upper case",
            { pushAccounts: [{ name: "team-a-ci", prefixes: ["docker-internal/p2c/Team-A/"] }] },
            /each followed by "\/"/,
        ],
        ["a '..' component", { pushAccounts: [{ name: "team-a-ci", prefixes: ["docker-internal/p2c/../"] }] }, /each followed by "\/"/],
        ["no prefix", { pushAccounts: [{ name: "team-a-ci", prefixes: [] }] }, /at least one prefix/],
        [
            "the push account's name",
            { pushAccounts: [{ ...teamA, name: "ci-push" }] },
            /\[0\]\.name.*"ci-push" is already containerRegistry\.pushUsername/,
        ],
        [
            "the pull account's name",
            { pushAccounts: [{ ...teamA, name: "cluster-pull" }] },
            /"cluster-pull" is already containerRegistry\.pullUsername/,
        ],
        [
            "one name twice",
            { pushAccounts: [teamA, teamA] },
            /\[1\]\.name.*"team-a-ci" is already containerRegistry\.pushAccounts\[0\]\.name/,
        ],
        [
            "a name that is not an account name",
            { pushAccounts: [{ ...teamA, name: "team a" }] },
            /pushAccounts\[0\]\.name: must be 1-64 letters/,
        ],
    ])("refuses %s", (_name, changes, message) => {
        expect(problems(changes).join("\n")).toMatch(message);
    });

    it("refuses the Maven deploy account's name", () => {
        const maven = { mavenRegistry: { host: "maven.example.test", pathPrefix: "releases", username: "team-a-ci" } };
        expect(problems({ pushAccounts: [teamA] }, undefined, maven).join("\n")).toMatch(/"team-a-ci" is already mavenRegistry\.username/);
    });

    it("refuses them for an existing registry, whose accounts are the organisation's", () => {
        const found = problems({ pushAccounts: [teamA] }, { mode: "existing", tls: { mode: "public" } });
        expect(found.join("\n")).toMatch(/pushAccounts: is set, but registry\.mode "existing" is not ours/);
    });
});

describe.each([
    ["local", "in-cluster sidecar", "k8s/dso/ConfigMap-registry-config.yaml", "k8s/dso/Secret-registry-htpasswd.yaml"],
    [
        "prod",
        "external host",
        "hosts/registry-01.dso.example.com/etc/caddy/Caddyfile",
        "hosts/registry-01.dso.example.com/etc/caddy/dso-registry/users-push",
    ],
    ["kind", "kind front", "/front/Caddyfile", "/front/users-push"],
])("the %s stack (%s) with a scoped push account", (stack, _placement, caddyfilePath, usersPath) => {
    const synth = async () => {
        const sc = readStackConfig(PROJECT_DIR, stack);
        const key = `${PROJECT}:containerRegistry`;
        const cr = JSON.parse(sc.config[key]!);
        cr.pushAccounts = [{ name: "team-a-ci", prefixes: [`${cr.pathPrefix}/team-a/`] }];
        const { files } = await synthesizeConfig(`push-accounts-${stack}`, { ...sc, config: { ...sc.config, [key]: JSON.stringify(cr) } });
        const file = (suffix: string) =>
            [...files.entries()].find(([name]) => name.endsWith(suffix))?.[1] ?? expect.fail(`no ${suffix} in the synth`);
        const pushUsername: string = cr.pushUsername ?? "ci-push";
        return { prefix: `${cr.pathPrefix}/team-a/`, pushUsername, caddyfile: file(caddyfilePath), users: file(usersPath), files };
    };

    it("the front's policy limits the account to its prefix, and the push users file holds it beside the push account", async () => {
        const { prefix, pushUsername, caddyfile, users } = await synth();
        expect(caddyfile).toContain("vars_regexp {http.auth.user.id} ^team-a-ci$");
        expect(caddyfile).toContain(`under ${prefix}`);
        expect(users).toMatch(/team-a-ci[ :]\[secret\]/);
        expect(users).toMatch(new RegExp(`${pushUsername}[ :]\\[secret\\]`));
    });

    it("the password is generated and given as a secret output", async () => {
        const { files } = await synth();
        expect(files.get("resources.json")).toContain("registry-accounts-push-team-a-ci");
        const outputs = JSON.parse(files.get("outputs.json")!);
        expect(outputs.pushAccountCredentials["team-a-ci"]).toEqual({ username: "team-a-ci", password: "[secret]" });
    });
});
