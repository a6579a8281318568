/**
 * The Jenkins dynamic provider's create/read/update/delete/diff, called directly against a fake
 * Jenkins started by this file on 127.0.0.1 (test/support/fakeJenkins.ts). Jenkins cannot run on this
 * machine; the fake behaves as the Credentials plugin's source does, so these tests prove the protocol
 * handling, not compatibility with a particular Jenkins release.
 * Covers: components/jenkins/jenkinsCredentials.ts (the dynamic provider), components/jenkins/jenkinsApi.ts.
 */
import { describe, expect, it } from "vitest";
import { USERNAME_PASSWORD_CLASS } from "../../components/jenkins/credentialXml";
import { type JenkinsCredentialState, jenkinsCredentialProvider as provider } from "../../components/jenkins/jenkinsCredentials";
import type { FakeJenkins, FakeJenkinsOptions } from "../support/fakeJenkins";
import { failure, jenkins, jenkinsPassword, pushPassword, state, token } from "../support/jenkinsProvider";

/** Values outside ASCII, which Jenkins stores garbled when an XML body names no charset. */
const nonAscii = [
    ["accented Latin", "Zoë Müller-Ångström", "pässwörd-é-ü-ß"],
    ["beyond Latin-1", "Łukasz Dvořák €", "пароль-€-ő"],
    ["emoji and CJK", "ci-push-🚀", "密码-🔑-パス"],
] as const;

/** Edits a stored credential as someone would in Jenkins's UI. */
function editByHand(j: FakeJenkins, id: string, fields: Record<string, string>, className?: string): void {
    const stored = j.credentials.get(id)!;
    j.credentials.set(id, { className: className ?? stored.className, fields: { ...stored.fields, ...fields } });
}

describe("create", () => {
    it("stores a username/password credential with the API token and no crumb", async () => {
        const j = await jenkins();
        const result = await provider.create(state(j));
        expect(result.id).toBe("container-registry");
        expect(j.credentials.get("container-registry")).toEqual({
            className: USERNAME_PASSWORD_CLASS,
            fields: {
                scope: "GLOBAL",
                id: "container-registry",
                description: "Push to registry.example.com",
                username: "ci-push",
                password: pushPassword,
                usernameSecret: "false",
            },
        });
        expect(j.requests.some((r) => r.path.includes("crumbIssuer"))).toBe(false);
    });

    it.each([false, true])("writes usernameSecret %s as the setting says", async (usernameSecret) => {
        const j = await jenkins();
        await provider.create(state(j, { usernameSecret }));
        expect(j.credentials.get("container-registry")?.fields.usernameSecret).toBe(String(usernameSecret));
    });

    it.each(nonAscii)("stores %s user names, passwords and descriptions exactly", async (_, username, password) => {
        const j = await jenkins();
        await provider.create(state(j, { username, password, description: `Push für ${username}` }));
        const fields = j.credentials.get("container-registry")?.fields;
        expect([fields?.username, fields?.password, fields?.description]).toEqual([username, password, `Push für ${username}`]);
    });

    it("sends its XML body as UTF-8 and says so", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        const post = j.requests.find((r) => r.path.endsWith("/createCredentials"))!;
        expect(post.headers["content-type"]).toBe("application/xml; charset=utf-8");
    });

    it("fetches a crumb and keeps the session cookie when a password is used", async () => {
        const j = await jenkins({ contextPath: "/jenkins" });
        await provider.create(state(j, { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword }));
        const post = j.requests.find((r) => r.method === "POST")!;
        expect(post.status).toBe(200);
        expect(post.headers["jenkins-crumb"]).toMatch(/^[0-9a-f]{32}$/);
        expect(post.headers.cookie).toMatch(/^JSESSIONID\.fake=/);
    });

    it("works with a password when CSRF protection is off", async () => {
        const j = await jenkins({ csrf: false });
        await provider.create(state(j, { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword }));
        expect(j.credentials.has("container-registry")).toBe(true);
    });

    it("stores a secret-text credential", async () => {
        const j = await jenkins();
        await provider.create(
            state(j, {
                credentialId: "registry-host",
                kind: "secretText",
                username: undefined,
                usernameSecret: undefined,
                password: undefined,
                secret: "registry.example.com",
            }),
        );
        expect(j.credentials.get("registry-host")?.fields).toEqual({
            scope: "GLOBAL",
            id: "registry-host",
            description: "Push to registry.example.com",
            secret: "registry.example.com",
        });
    });

    it("escapes XML special characters in values", async () => {
        const j = await jenkins();
        const tricky = `a<b>&"c'</password><x>`;
        await provider.create(state(j, { password: tricky }));
        expect(j.credentials.get("container-registry")?.fields.password).toBe(tricky);
    });

    it("refuses an ID that already exists (409) with instructions", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        const message = await failure(provider.create(state(j)));
        expect(message).toContain(`credential "container-registry"`);
        expect(message).toContain(`${j.url}/credentials/store/system/domain/_/createCredentials`);
        expect(message).toContain("HTTP 409");
        expect(message).toContain("already exists");
    });
});

describe("read (pulumi refresh)", () => {
    it.each<[string, Record<string, string>, string | undefined, Partial<JenkinsCredentialState>]>([
        ["user name", { username: "someone-else" }, undefined, { username: "someone-else" }],
        ["description", { description: "edited in the UI" }, undefined, { description: "edited in the UI" }],
        ["usernameSecret", { usernameSecret: "true" }, undefined, { usernameSecret: true }],
        ["class", { secret: "x" }, "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl", { kind: "secretText" }],
    ])("takes the %s Jenkins holds into the state", async (_, fields, className, expected) => {
        const j = await jenkins();
        await provider.create(state(j));
        editByHand(j, "container-registry", fields, className);
        const result = await provider.read!("container-registry", state(j));
        expect(result.id).toBe("container-registry");
        expect(result.props).toEqual({ ...state(j), ...expected });
    });

    it("reads a missing usernameSecret as true, as Jenkins does", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        const { usernameSecret: _, ...fields } = j.credentials.get("container-registry")!.fields;
        j.credentials.set("container-registry", { className: USERNAME_PASSWORD_CLASS, fields });
        expect((await provider.read!("container-registry", state(j))).props?.usernameSecret).toBe(true);
    });

    it.each(nonAscii)("reads %s values back unchanged, so they show no drift", async (_, username) => {
        const j = await jenkins();
        const s = state(j, { username, description: `für ${username}` });
        await provider.create(s);
        const { props } = await provider.read!("container-registry", s);
        expect((await provider.diff!("container-registry", props as JenkinsCredentialState, s)).changes).toBe(false);
    });

    it("returns no ID for a credential deleted by hand, so a refresh drops it and the next up recreates it", async () => {
        const j = await jenkins();
        const result = await provider.read!("container-registry", state(j));
        expect(result.id).toBeUndefined();
    });

    it("fails, rather than reading absent, when the user cannot view the store", async () => {
        const j = await jenkins({ usersWithoutView: ["admin"] });
        const message = await failure(provider.read!("container-registry", state(j)));
        expect(message).toContain(`The Jenkins user "admin" cannot see the system credential store: it lacks Credentials/View`);
        expect(message).toContain("dso-registry:jenkinsApiToken");
    });

    it("says jenkins.url is wrong, not that a permission is missing, when nothing answers at the URL", async () => {
        const j = await jenkins({ contextPath: "/jenkins" });
        const message = await failure(provider.read!("container-registry", state(j, { jenkinsUrl: `${j.url}/not-jenkins` })));
        expect(message).toContain("check jenkins.url");
        expect(message).not.toContain("Credentials/View");
    });
});

describe("diff (pulumi preview)", () => {
    it("asks Jenkins nothing", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        const before = j.requests.length;
        await provider.diff!("container-registry", state(j), state(j, { password: "rotated-password-0" }));
        await provider.diff!("container-registry", state(j), state(j));
        expect(j.requests.length).toBe(before);
    });

    it("works where Jenkins cannot be reached, so such a CI runner still previews", async () => {
        const j = await jenkins();
        const unreachable = { jenkinsUrl: "http://127.0.0.1:1", timeoutSeconds: 1 };
        const result = await provider.diff!(
            "container-registry",
            state(j, unreachable),
            state(j, { ...unreachable, password: "rotated-0" }),
        );
        expect(result).toMatchObject({ changes: true, replaces: [] });
    });

    it("reports nothing when the inputs equal the state", async () => {
        const j = await jenkins();
        expect((await provider.diff!("container-registry", state(j), state(j))).changes).toBe(false);
    });

    it.each([
        ["password", { password: "rotated-password-1" }],
        ["username", { username: "ci-push-2" }],
        ["description", { description: "new text" }],
        ["usernameSecret", { usernameSecret: true }],
        ["Jenkins login", { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword }],
    ] as const)("updates in place when the %s changes", async (_, change) => {
        const j = await jenkins();
        const result = await provider.diff!("container-registry", state(j), state(j, change));
        expect(result).toMatchObject({ changes: true, replaces: [] });
    });

    it("updates a credential written before usernameSecret was a setting (Jenkins then masked the user name)", async () => {
        const j = await jenkins();
        const { usernameSecret: _, ...before } = state(j);
        const result = await provider.diff!("container-registry", before as JenkinsCredentialState, state(j));
        expect(result).toMatchObject({ changes: true, replaces: [] });
    });

    it.each([
        ["credentialId", { credentialId: "other-id" }, false],
        ["kind", { kind: "secretText", secret: "x" }, true],
    ] as const)("replaces when %s changes", async (field, change, deleteFirst) => {
        const j = await jenkins();
        const result = await provider.diff!("container-registry", state(j), state(j, change as Partial<JenkinsCredentialState>));
        expect(result).toMatchObject({ changes: true, replaces: [field], deleteBeforeReplace: deleteFirst });
    });

    it.each<[string, Record<string, string>, string | undefined, string[]]>([
        ["user name", { username: "edited-by-hand" }, undefined, []],
        ["usernameSecret", { usernameSecret: "true" }, undefined, []],
        ["class", { secret: "x" }, "org.jenkinsci.plugins.plaincredentials.impl.StringCredentialsImpl", ["kind"]],
    ])("after a refresh, shows the %s changed by hand as a change", async (_, fields, className, replaces) => {
        const j = await jenkins();
        await provider.create(state(j));
        editByHand(j, "container-registry", fields, className);
        const { props } = await provider.read!("container-registry", state(j));
        const result = await provider.diff!("container-registry", props as JenkinsCredentialState, state(j));
        expect(result).toMatchObject({ changes: true, replaces });
    });
});

describe("update", () => {
    it("rotates the password in place, without deleting the credential", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        await provider.update!("container-registry", state(j), state(j, { password: "rotated-password-2" }));
        expect(j.credentials.get("container-registry")?.fields.password).toBe("rotated-password-2");
        expect(j.requests.filter((r) => r.method === "DELETE")).toEqual([]);
    });

    it.each(nonAscii)("rotates to a password with %s characters, sent as UTF-8", async (_, username, password) => {
        const j = await jenkins();
        await provider.create(state(j));
        await provider.update!("container-registry", state(j), state(j, { username, password }));
        const post = j.requests.find((r) => r.method === "POST" && r.path.endsWith("/config.xml"))!;
        expect(post.headers["content-type"]).toBe("application/xml; charset=utf-8");
        expect(j.credentials.get("container-registry")?.fields.password).toBe(password);
    });

    it("writes the setting's usernameSecret over the one Jenkins holds", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        editByHand(j, "container-registry", { usernameSecret: "true" });
        await provider.update!("container-registry", state(j, { usernameSecret: true }), state(j));
        expect(j.credentials.get("container-registry")?.fields.usernameSecret).toBe("false");
    });

    it("creates the credential again when it was deleted by hand", async () => {
        const j = await jenkins();
        await provider.update!("container-registry", state(j), state(j));
        expect(j.credentials.get("container-registry")?.fields.password).toBe(pushPassword);
    });

    it("does not try to create when the user cannot view the store, and says why", async () => {
        const j = await jenkins({ usersWithoutView: ["admin"] });
        const message = await failure(provider.update!("container-registry", state(j), state(j)));
        expect(message).toContain("lacks Credentials/View");
        expect(j.requests.filter((r) => r.path.endsWith("/createCredentials"))).toEqual([]);
    });

    it("updates with a password, crumb and session", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        const withPassword = state(j, { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword, password: "rotated-password-3" });
        await provider.update!("container-registry", state(j), withPassword);
        expect(j.credentials.get("container-registry")?.fields.password).toBe("rotated-password-3");
    });
});

describe("delete", () => {
    it("deletes the credential with DELETE on config.xml", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        await provider.delete!("container-registry", state(j));
        expect(j.credentials.has("container-registry")).toBe(false);
        expect(j.requests.at(-1)).toMatchObject({
            method: "DELETE",
            path: "/credentials/store/system/domain/_/credential/container-registry/config.xml",
            status: 200,
        });
    });

    it("accepts a credential that is already gone", async () => {
        const j = await jenkins();
        await expect(provider.delete!("container-registry", state(j))).resolves.toBeUndefined();
    });

    it("reports a removal Jenkins refused (409) as such, not as an existing ID", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        j.plant({ match: /config\.xml$/, method: "DELETE", answer: 409 });
        const message = await failure(provider.delete!("container-registry", state(j)));
        expect(message).toContain("HTTP 409");
        expect(message).toContain("did not remove it");
        expect(message).not.toContain("already exists");
    });

    it("does not count a credential as deleted when the user cannot view the store", async () => {
        const j = await jenkins({ usersWithoutView: ["admin"] });
        j.credentials.set("container-registry", { className: USERNAME_PASSWORD_CLASS, fields: { id: "container-registry" } });
        const message = await failure(provider.delete!("container-registry", state(j)));
        expect(message).toContain("lacks Credentials/View");
        expect(j.credentials.has("container-registry")).toBe(true);
    });
});

describe("errors name the credential and the URL, give a fix, and never contain a secret", () => {
    type Case = {
        readonly name: string;
        readonly options?: FakeJenkinsOptions;
        readonly overrides?: (j: FakeJenkins) => Partial<JenkinsCredentialState>;
        readonly plant?: (j: FakeJenkins) => void;
        readonly expected: readonly string[];
    };
    const cases: Case[] = [
        {
            name: "401 wrong token",
            overrides: () => ({ jenkinsSecret: `wrong-${token}` }),
            expected: ["HTTP 401", `user "admin"`, "dso-registry:jenkinsApiToken"],
        },
        {
            name: "401 wrong password",
            overrides: () => ({ jenkinsAuth: "password", jenkinsSecret: `wrong-${jenkinsPassword}` }),
            expected: ["HTTP 401", "crumb", "dso-registry:jenkinsPassword"],
        },
        { name: "403 missing permission", options: { readOnlyUsers: ["admin"] }, expected: ["HTTP 403", "Credentials/Create"] },
        {
            name: "404 user without Credentials/View",
            options: { usersWithoutView: ["admin"] },
            expected: ["HTTP 404", "lacks Credentials/View", "Manage Jenkins > Security"],
        },
        {
            name: "404 wrong context path",
            overrides: (j) => ({ jenkinsUrl: `${j.url}/not-jenkins` }),
            expected: ["HTTP 404", "jenkins.url"],
        },
        {
            name: "500 server error echoing the request",
            plant: (j) =>
                j.plant({ match: /createCredentials/, answer: 500, body: `failed on <password>${pushPassword}</password> for ${token}` }),
            expected: ["HTTP 500", "System Log"],
        },
        {
            name: "503 unavailable",
            plant: (j) => j.plant({ match: /createCredentials/, answer: 503 }),
            expected: ["HTTP 503", "server error"],
        },
        {
            name: "timeout",
            overrides: () => ({ timeoutSeconds: 1 }),
            plant: (j) => j.plant({ match: /createCredentials/, answer: "hang" }),
            expected: ["no answer within 1 s", "jenkins.timeoutSeconds"],
        },
        { name: "connection refused", overrides: () => ({ jenkinsUrl: "http://127.0.0.1:1" }), expected: ["ECONNREFUSED", "jenkins.url"] },
    ];

    it.each(cases)("$name", async (c) => {
        const j = await jenkins(c.options);
        c.plant?.(j);
        const s = state(j, c.overrides?.(j));
        const message = await failure(provider.create(s));
        expect(message).toContain(`credential "container-registry"`);
        expect(message).toContain(s.jenkinsUrl.replace(/\/$/, ""));
        for (const text of c.expected) expect(message).toContain(text);
        for (const secret of [token, jenkinsPassword, pushPassword, s.jenkinsSecret]) expect(message).not.toContain(secret);
    });

    it("says where the crumb was refused when the session cookie is lost", async () => {
        const j = await jenkins();
        // A crumb without its session is what a client that drops cookies sends.
        j.plant({ match: /crumbIssuer/, answer: 403 });
        const message = await failure(provider.create(state(j, { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword })));
        expect(message).toContain("fetching a CSRF crumb");
        expect(message).toContain("HTTP 403");
    });
});
