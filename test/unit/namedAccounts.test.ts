/**
 * The named accounts beside the push and pull accounts: `containerRegistry.pushAccounts` (each with its
 * own Jenkins credential) and `containerRegistry.readAccounts` (each in the pull users file, with pull
 * Secrets where asked), generated or the operator's (secret `accountPasswords`), and revoked one by one.
 * The config check (components/config/rules.ts), the Jenkins plan (components/jenkins/jenkinsCredentials.ts),
 * the operator's passwords (components/stack/accounts.ts) and what the committed stacks write with them.
 * What the front does with the accounts: accessPolicy.scopes.test.ts; the engine's plans: docs/lifecycle.md.
 */
import { describe, expect, it } from "vitest";
import { base64PrefixPattern } from "../../components/accessPolicy/caddyfile";
import { ConfigError, PROJECT, parseConfig } from "../../components/config";
import { planJenkinsCredentials } from "../../components/jenkins/jenkinsCredentials";
import { readStackConfig, synthesizeConfig } from "../../tools/synth";
import { PROJECT_DIR } from "../support/synthCli";

const base = {
    containerRegistry: { host: "registry.example.test", pathPrefix: "docker-internal/p2c", requiresAuthForPull: true },
    registry: { mode: "in-cluster" },
    // Something pulls with the pull account: pulls need credentials here.
    pullSecrets: { namespaces: ["team-a"] },
};
const jenkins = { jenkins: { enabled: true, url: "https://jenkins.example.test", user: "pulumi" } };

/** The parse of `containerRegistry` with `changes` merged in: its problems, warnings and required secrets. */
function check(changes: Record<string, unknown>, more: Record<string, unknown> = {}) {
    try {
        const parsed = parseConfig(
            { ...base, ...more, containerRegistry: { ...base.containerRegistry, ...changes } },
            {},
            { allowMissingSecrets: true },
        );
        return { problems: [], warnings: parsed.warnings.map((w) => `${w.key}: ${w.message}`), secrets: parsed.requiredSecrets };
    } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return { problems: error.problems.map((p) => `${p.key}: ${p.message}`), warnings: [], secrets: [] };
    }
}

const teamA = { name: "team-a-ci", prefixes: ["docker-internal/p2c/team-a/"] };
const alice = { name: "dev-alice" };

describe("containerRegistry.readAccounts and the named accounts' settings in the config check", () => {
    it("accepts read accounts, with and without pull secrets, beside push accounts", () => {
        const found = check({
            pushAccounts: [teamA],
            readAccounts: [alice, { name: "flux-reader", pullSecret: { namespaces: ["flux-system"] } }],
        });
        expect(found.problems).toEqual([]);
        expect(found.secrets).not.toContain("accountPasswords");
    });

    it.each([
        [
            "a read account named as a push account",
            { pushAccounts: [teamA], readAccounts: [{ name: "team-a-ci" }] },
            /readAccounts\[0\]\.name.*"team-a-ci" is already containerRegistry\.pushAccounts\[0\]\.name/,
        ],
        [
            "a read account named as the pull account",
            { readAccounts: [{ name: "cluster-pull" }] },
            /readAccounts\[0\]\.name.*already containerRegistry\.pullUsername/,
        ],
        [
            "one read account twice",
            { readAccounts: [alice, alice] },
            /readAccounts\[1\]\.name.*already containerRegistry\.readAccounts\[0\]\.name/,
        ],
        [
            "a pull secret without namespaces",
            { readAccounts: [{ ...alice, pullSecret: { namespaces: [] } }] },
            /pullSecret\.namespaces.*at least one namespace/,
        ],
        [
            "a rotation of an operator's password",
            { readAccounts: [{ ...alice, password: "operator", rotation: "2" }] },
            /readAccounts\[0\]\.rotation.*the operator's \(password: operator\).*accountPasswords/,
        ],
        [
            "a default Secret name that is no Kubernetes name",
            { readAccounts: [{ name: `dev-${"x".repeat(60)}`, pullSecret: { namespaces: ["apps"] } }] },
            /readAccounts\[0\]\.pullSecret.*not a Kubernetes name; set pullSecret\.secretName/,
        ],
    ])("refuses %s", (_name, changes, message) => {
        expect(check(changes).problems.join("\n")).toMatch(message);
    });

    it("refuses a read account's pull Secret where pullSecrets writes its own", () => {
        const found = check(
            { readAccounts: [{ ...alice, pullSecret: { namespaces: ["apps"], secretName: "registry-pull" } }] },
            { pullSecrets: { namespaces: ["apps"] } },
        );
        expect(found.problems.join("\n")).toMatch(
            /readAccounts\[0\]\.pullSecret\.namespaces\[0\].*Secret apps\/registry-pull is already written by pullSecrets/,
        );
    });

    it("refuses two Jenkins credentials with one ID, naming the account's default ID", () => {
        const found = check(
            { pushAccounts: [teamA], credentialId: "ci" },
            { ...jenkins, mavenRegistry: { host: "m.example.test", pathPrefix: "r", credentialId: "ci-team-a-ci" } },
        );
        expect(found.problems.join("\n")).toMatch(
            /pushAccounts\[0\]\.name.*Jenkins credential ID "ci-team-a-ci" is already mavenRegistry\.credentialId/,
        );
        const own = check(
            { pushAccounts: [teamA, { ...teamA, name: "team-b-ci", credentialId: "container-registry-team-a-ci" }] },
            jenkins,
        );
        expect(own.problems.join("\n")).toMatch(
            /pushAccounts\[1\]\.credentialId.*"container-registry-team-a-ci" is already the credential of containerRegistry\.pushAccounts\[0\]/,
        );
    });

    it("refuses read accounts for an existing registry, whose accounts are the organisation's", () => {
        const found = check({ readAccounts: [alice] }, { registry: { mode: "existing", tls: { mode: "public" } } });
        expect(found.problems.join("\n")).toMatch(/readAccounts: is set, but registry\.mode "existing" is not ours/);
    });

    it("needs the secret accountPasswords when an account's password is the operator's", () => {
        expect(check({ pushAccounts: [{ ...teamA, password: "operator" }] }).secrets).toContain("accountPasswords");
        expect(check({ readAccounts: [{ ...alice, password: "operator" }] }).secrets).toContain("accountPasswords");
    });

    it("tells that a push account's credential ID does nothing without Jenkins", () => {
        expect(check({ pushAccounts: [{ ...teamA, credentialId: "team-a" }] }).warnings.join("\n")).toMatch(
            /pushAccounts\[0\]\.credentialId.*no effect.*jenkins\.enabled false/,
        );
        expect(check({ pushAccounts: [{ ...teamA, credentialId: "team-a" }] }, jenkins).warnings.join("\n")).not.toMatch(/credentialId/);
    });

    it("tells that read accounts take nothing away while pulls are anonymous", () => {
        expect(check({ readAccounts: [alice], requiresAuthForPull: false }).warnings.join("\n")).toMatch(
            /containerRegistry\.readAccounts.*pulls are anonymous.*requiresAuthForPull: true/,
        );
        expect(check({ readAccounts: [alice] }).warnings.join("\n")).not.toMatch(/readAccounts/);
    });
});

describe("the Jenkins credentials of the push accounts", () => {
    const container = { credentialId: "container-registry", authority: "registry.example.test", username: "ci-push", password: "p" };

    it("gives each push account a credential of its own, which names its prefixes", () => {
        const planned = planJenkinsCredentials({
            container,
            scopedPush: [
                { credentialId: "container-registry-team-a-ci", username: "team-a-ci", password: "a", prefixes: ["p2c/team-a/"] },
                { credentialId: "team-b", username: "team-b-ci", password: "b", prefixes: ["p2c/team-b/", "p2c/shared/"] },
            ],
        });
        expect(planned.map((p) => [p.id, p.kind === "usernamePassword" ? p.username : ""])).toEqual([
            ["container-registry", "ci-push"],
            ["container-registry-team-a-ci", "team-a-ci"],
            ["team-b", "team-b-ci"],
        ]);
        expect(planned[2]!.description).toBe(
            "Push to registry.example.test/p2c/team-b/, registry.example.test/p2c/shared/ only (managed by Pulumi, dso-registry)",
        );
    });

    it("refuses two credentials with one ID", () => {
        expect(() =>
            planJenkinsCredentials({
                container,
                scopedPush: [{ credentialId: "container-registry", username: "team-a-ci", password: "a", prefixes: ["p2c/team-a/"] }],
            }),
        ).toThrow(/two Jenkins credentials would have the ID "container-registry".*pushAccounts entry's credentialId/);
    });
});

/** A committed stack's synth with `containerRegistry` edited. */
async function synthEdited(stack: string, edit: (cr: Record<string, unknown>) => void, secrets: Record<string, string> = {}) {
    const sc = readStackConfig(PROJECT_DIR, stack);
    const key = `${PROJECT}:containerRegistry`;
    const cr = JSON.parse(sc.config[key]!) as Record<string, unknown>;
    edit(cr);
    const { files, warnings } = await synthesizeConfig(`named-accounts-${stack}`, {
        ...sc,
        config: { ...sc.config, [key]: JSON.stringify(cr), ...secrets },
        secretKeys: [...sc.secretKeys, ...Object.keys(secrets)],
    });
    return { files, warnings, prefix: cr.pathPrefix as string };
}

const fileEnding = (files: Map<string, string>, suffix: string) =>
    [...files.entries()].find(([name]) => name.endsWith(suffix))?.[1] ?? expect.fail(`no ${suffix} in the synth`);

describe("the local stack (in cluster, Jenkins on) with named accounts", () => {
    const withAccounts = (cr: Record<string, unknown>) => {
        cr.requiresAuthForPull = true;
        cr.pushAccounts = [
            { name: "team-a-ci", prefixes: [`${cr.pathPrefix}/team-a/`] },
            { name: "team-b-ci", prefixes: [`${cr.pathPrefix}/team-b/`], password: "operator" },
        ];
        cr.readAccounts = [{ name: "dev-alice" }, { name: "flux-reader", pullSecret: { namespaces: ["flux-system", "apps"] } }];
    };
    const secrets = { [`${PROJECT}:accountPasswords`]: "[secret]" };

    it("puts the read accounts in the pull users file and the push accounts in the push users file", async () => {
        const { files } = await synthEdited("local", withAccounts, secrets);
        const htpasswd = fileEnding(files, "k8s/dso/Secret-registry-htpasswd.yaml");
        for (const name of ["team-a-ci", "team-b-ci", "dev-alice", "flux-reader"]) expect(htpasswd).toContain(name);
        const caddyfile = fileEnding(files, "k8s/dso/ConfigMap-registry-config.yaml");
        expect(caddyfile).toContain("^team-b-ci$");
    });

    it("gives each push account its Jenkins credential and each asking read account its Secrets, with no ServiceAccount patched", async () => {
        const { files } = await synthEdited("local", withAccounts, secrets);
        const resources = files.get("resources.json")!;
        expect(resources).toContain("jenkins-credentials-container-registry-team-a-ci");
        expect(resources).toContain("jenkins-credentials-container-registry-team-b-ci");
        expect(fileEnding(files, "k8s/flux-system/Secret-registry-read-flux-reader.yaml")).toContain("kubernetes.io/dockerconfigjson");
        expect(fileEnding(files, "k8s/apps/Secret-registry-read-flux-reader.yaml")).toContain("kubernetes.io/dockerconfigjson");
        expect(resources).not.toMatch(/read-pull-secrets-flux-reader-[a-z-]+-default-sa/);
        expect(resources).not.toContain("read-pull-secrets-dev-alice");
        const outputs = JSON.parse(files.get("outputs.json")!);
        expect(outputs.readAccountCredentials).toEqual({
            "dev-alice": { username: "dev-alice", password: "[secret]" },
            "flux-reader": { username: "flux-reader", password: "[secret]" },
        });
        expect(outputs.jenkinsCredentialIds.pushAccounts).toEqual({
            "team-a-ci": "container-registry-team-a-ci",
            "team-b-ci": "container-registry-team-b-ci",
        });
    });

    it("generates the passwords it owns and takes the operator's from accountPasswords", async () => {
        const { files } = await synthEdited("local", withAccounts, secrets);
        const resources = files.get("resources.json")!;
        expect(resources).toContain("registry-accounts-push-team-a-ci");
        expect(resources).toContain("registry-accounts-read-dev-alice");
        expect(resources).not.toContain("registry-accounts-push-team-b-ci");
    });

    it("revokes an account alone: removing it removes its password, credential and Secrets, and no other file changes but the users file", async () => {
        const before = (await synthEdited("local", withAccounts, secrets)).files;
        const after = (
            await synthEdited(
                "local",
                (cr) => {
                    withAccounts(cr);
                    cr.pushAccounts = (cr.pushAccounts as { name: string }[]).filter((a) => a.name !== "team-a-ci");
                    cr.readAccounts = (cr.readAccounts as { name: string }[]).filter((a) => a.name !== "flux-reader");
                },
                secrets,
            )
        ).files;
        const changed = [...new Set([...before.keys(), ...after.keys()])].filter((name) => before.get(name) !== after.get(name)).sort();
        // The users files (Secret registry-htpasswd, and the pod template's checksum of it), the removed
        // Secrets, and the lists of resources and outputs.
        expect(changed.filter((n) => !/^(resources|outputs)\.json$/.test(n))).toEqual([
            expect.stringMatching(/k8s\/apps\/Secret-registry-read-flux-reader\.yaml$/),
            expect.stringMatching(/k8s\/dso\/ConfigMap-registry-config\.yaml$/),
            expect.stringMatching(/k8s\/dso\/Deployment-registry\.yaml$/),
            expect.stringMatching(/k8s\/dso\/Secret-registry-htpasswd\.yaml$/),
            expect.stringMatching(/k8s\/flux-system\/Secret-registry-read-flux-reader\.yaml$/),
        ]);
        const removed = (text: string) => text.split("\n").filter((line) => !after.get("resources.json")!.includes(line));
        expect(removed(before.get("resources.json")!).join("\n")).toMatch(/registry-accounts-push-team-a-ci/);
        expect(after.get("resources.json")).toContain("jenkins-credentials-container-registry-team-b-ci");
        expect(after.get("resources.json")).not.toContain("jenkins-credentials-container-registry-team-a-ci");
        expect(after.get("resources.json")).toContain("registry-accounts-read-dev-alice");
    });
});

describe.each([
    [
        "prod",
        "hosts/registry-01.dso.example.com/etc/caddy/dso-registry/users-pull",
        "hosts/registry-01.dso.example.com/etc/caddy/Caddyfile",
        true,
    ],
    ["kind", "/front/users-pull", "/front/Caddyfile", false],
])("the %s stack with a read account", (stack, usersPath, caddyfilePath, authForPull) => {
    it("puts it in the pull users file; where reads are checked, the decoy check knows it as an account", async () => {
        const { files } = await synthEdited(stack, (cr) => {
            if (authForPull) cr.requiresAuthForPull = true;
            cr.readAccounts = [{ name: "dev-alice" }];
        });
        expect(fileEnding(files, usersPath)).toMatch(/dev-alice[ :]\[secret\]/);
        if (authForPull) expect(fileEnding(files, caddyfilePath)).toContain(base64PrefixPattern("dev-alice:"));
        const outputs = JSON.parse(files.get("outputs.json")!);
        expect(outputs.readAccountCredentials).toEqual({ "dev-alice": { username: "dev-alice", password: "[secret]" } });
    });
});
