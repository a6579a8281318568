/**
 * The Jenkins dynamic provider's create/read/update/delete/diff, called directly against a fake
 * Jenkins started by this file on 127.0.0.1 (test/support/fakeJenkins.ts). Jenkins cannot run on this
 * machine; the fake behaves like the Credentials plugin's documented REST API, so these tests prove
 * the protocol handling, not compatibility with a particular Jenkins release.
 */
import { describe, expect, it } from "vitest";
import { USERNAME_PASSWORD_CLASS } from "../../components/jenkins/jenkinsApi";
import { type JenkinsCredentialState, jenkinsCredentialProvider as provider } from "../../components/jenkins/jenkinsCredentials";
import type { FakeJenkins, FakeJenkinsOptions } from "../support/fakeJenkins";
import { failure, jenkins, jenkinsPassword, pushPassword, state, token } from "../support/jenkinsProvider";

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
            },
        });
        expect(j.requests.some((r) => r.path.includes("crumbIssuer"))).toBe(false);
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
                password: undefined,
                secret: "registry.example.com",
            }),
        );
        expect(j.credentials.get("registry-host")?.fields.secret).toBe("registry.example.com");
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

describe("read", () => {
    it("returns the credential with the user name Jenkins holds", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        j.credentials.set("container-registry", {
            className: USERNAME_PASSWORD_CLASS,
            fields: { ...j.credentials.get("container-registry")!.fields, username: "someone-else" },
        });
        const result = await provider.read!("container-registry", state(j));
        expect(result.id).toBe("container-registry");
        expect(result.props.username).toBe("someone-else");
    });

    it("returns no ID for a credential deleted by hand, so a refresh drops it and the next up recreates it", async () => {
        const j = await jenkins();
        const result = await provider.read!("container-registry", state(j));
        expect(result.id).toBeUndefined();
    });
});

describe("diff", () => {
    it("reports nothing when Jenkins holds what the state says", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        expect((await provider.diff!("container-registry", state(j), state(j))).changes).toBe(false);
    });

    it.each([
        ["password", { password: "rotated-password-1" }],
        ["username", { username: "ci-push-2" }],
        ["description", { description: "new text" }],
        ["Jenkins login", { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword }],
    ] as const)("updates in place when the %s changes", async (_, change) => {
        const j = await jenkins();
        await provider.create(state(j));
        const result = await provider.diff!("container-registry", state(j), state(j, change));
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

    it("reports a change when the credential was deleted by hand", async () => {
        const j = await jenkins();
        expect((await provider.diff!("container-registry", state(j), state(j))).changes).toBe(true);
    });

    it("reports a change when the user name was changed by hand", async () => {
        const j = await jenkins();
        await provider.create(state(j, { username: "edited-by-hand" }));
        expect((await provider.diff!("container-registry", state(j), state(j))).changes).toBe(true);
    });
});

describe("update", () => {
    it("rotates the password in place, without deleting the credential", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        await provider.update!("container-registry", state(j), state(j, { password: "rotated-password-2" }));
        expect(j.credentials.get("container-registry")?.fields.password).toBe("rotated-password-2");
        expect(j.requests.filter((r) => r.method === "DELETE" || r.path.endsWith("doDelete"))).toEqual([]);
    });

    it("creates the credential again when it was deleted by hand", async () => {
        const j = await jenkins();
        await provider.update!("container-registry", state(j), state(j));
        expect(j.credentials.get("container-registry")?.fields.password).toBe(pushPassword);
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
    it("deletes the credential", async () => {
        const j = await jenkins();
        await provider.create(state(j));
        await provider.delete!("container-registry", state(j));
        expect(j.credentials.has("container-registry")).toBe(false);
    });

    it("accepts a credential that is already gone", async () => {
        const j = await jenkins();
        await expect(provider.delete!("container-registry", state(j))).resolves.toBeUndefined();
    });

    it("falls back to doDelete where DELETE is not supported", async () => {
        const j = await jenkins({ deleteVerb: false });
        await provider.create(state(j));
        await provider.delete!("container-registry", state(j, { jenkinsAuth: "password", jenkinsSecret: jenkinsPassword }));
        expect(j.credentials.has("container-registry")).toBe(false);
        expect(j.requests.at(-1)).toMatchObject({ method: "POST", status: 302 });
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
