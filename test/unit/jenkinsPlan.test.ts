/**
 * Pure parts of the Jenkins support: XML rendering and parsing, URLs, scrubbing, the plan, the diff rules.
 * Covers: components/jenkins/credentialXml.ts, components/jenkins/jenkinsApi.ts, components/jenkins/jenkinsHttp.ts, components/jenkins/jenkinsCredentials.ts (the plan and the diff).
 */
import { describe, expect, it } from "vitest";
import { parseCredentialXml, renderCredentialXml, STRING_CLASS, USERNAME_PASSWORD_CLASS } from "../../components/jenkins/credentialXml";
import { credentialUrl } from "../../components/jenkins/jenkinsApi";
import {
    type CredentialPlanInput,
    diffStates,
    type JenkinsCredentialState,
    planJenkinsCredentials,
} from "../../components/jenkins/jenkinsCredentials";
import { decodeBody, normalizeBaseUrl, scrubSecrets } from "../../components/jenkins/jenkinsHttp";

describe("renderCredentialXml", () => {
    it("renders a username/password credential with escaped values", () => {
        const spec = {
            kind: "usernamePassword",
            id: "c",
            description: "a & b",
            username: "u",
            password: "<p>",
            usernameSecret: false,
        } as const;
        expect(renderCredentialXml(spec)).toBe(
            `<${USERNAME_PASSWORD_CLASS}>\n  <scope>GLOBAL</scope>\n  <id>c</id>\n  <description>a &amp; b</description>\n` +
                `  <username>u</username>\n  <password>&lt;p&gt;</password>\n  <usernameSecret>false</usernameSecret>\n</${USERNAME_PASSWORD_CLASS}>\n`,
        );
    });

    it("writes usernameSecret true when asked (Jenkins reads a missing one as true too, so it is always written)", () => {
        const spec = { kind: "usernamePassword", id: "c", description: "", username: "u", password: "p", usernameSecret: true } as const;
        expect(renderCredentialXml(spec)).toContain("  <usernameSecret>true</usernameSecret>\n");
    });

    it("renders a secret-text credential", () => {
        expect(renderCredentialXml({ kind: "secretText", id: "h", description: "d", secret: "r.example.com" })).toBe(
            `<${STRING_CLASS}>\n  <scope>GLOBAL</scope>\n  <id>h</id>\n  <description>d</description>\n  <secret>r.example.com</secret>\n</${STRING_CLASS}>\n`,
        );
    });
});

describe("parseCredentialXml", () => {
    it("reads class, user name and description from Jenkins's redacted config.xml", () => {
        const xml = `<?xml version="1.1" encoding="UTF-8"?>\n<${USERNAME_PASSWORD_CLASS} plugin="credentials@1">\n  <id>c</id>\n  <description>x &amp; y</description>\n  <username>ci&#45;push</username>\n  <password>\n    <secret-redacted/>\n  </password>\n</${USERNAME_PASSWORD_CLASS}>`;
        expect(parseCredentialXml(xml)).toEqual({ className: USERNAME_PASSWORD_CLASS, username: "ci-push", description: "x & y" });
    });

    it.each([
        ["true", true],
        ["false", false],
    ])("reads usernameSecret %s", (text, expected) => {
        const xml = `<${USERNAME_PASSWORD_CLASS}>\n  <id>c</id>\n  <usernameSecret>${text}</usernameSecret>\n</${USERNAME_PASSWORD_CLASS}>`;
        expect(parseCredentialXml(xml).usernameSecret).toBe(expected);
    });
});

describe("decodeBody", () => {
    const utf8 = Buffer.from("<username>Zoë 🚀</username>", "utf8");
    const latin1 = Buffer.from("<username>Zoë</username>", "latin1");
    it.each<[string, Buffer, string | undefined, string]>([
        ["UTF-8 named", utf8, "application/xml;charset=UTF-8", "<username>Zoë 🚀</username>"],
        ["ISO-8859-1 named", latin1, "application/xml; charset=ISO-8859-1", "<username>Zoë</username>"],
        ["no charset, valid UTF-8", utf8, "application/xml", "<username>Zoë 🚀</username>"],
        ["no charset, not UTF-8: ISO-8859-1", latin1, "application/xml", "<username>Zoë</username>"],
        ["no Content-Type", utf8, undefined, "<username>Zoë 🚀</username>"],
    ])("%s", (_, bytes, contentType, expected) => {
        expect(decodeBody(bytes, contentType)).toBe(expected);
    });
});

describe("normalizeBaseUrl", () => {
    it.each([
        ["https://jenkins.example.com", "https://jenkins.example.com"],
        ["https://jenkins.example.com/", "https://jenkins.example.com"],
        ["https://example.com/jenkins//", "https://example.com/jenkins"],
        ["http://127.0.0.1:8080/ci", "http://127.0.0.1:8080/ci"],
    ])("%s -> %s", (input, expected) => {
        expect(normalizeBaseUrl(input)).toBe(expected);
    });

    it.each([
        ["https://admin:hunter2@jenkins.example.com", "must not contain a user name or password"],
        ["ftp://jenkins.example.com", "must start with https://"],
    ])("rejects %s", (input, message) => {
        expect(() => normalizeBaseUrl(input)).toThrow(message);
    });

    it("never repeats the password of a URL with user info", () => {
        expect(() => normalizeBaseUrl("https://admin:hunter2@jenkins.example.com")).toThrow(
            expect.objectContaining({ message: expect.not.stringContaining("hunter2") }),
        );
    });
});

it("builds credential URLs with the ID escaped", () => {
    expect(credentialUrl("https://j.example.com/ci/", "a b")).toBe(
        "https://j.example.com/ci/credentials/store/system/domain/_/credential/a%20b/config.xml",
    );
});

it("scrubs every secret from a text", () => {
    expect(scrubSecrets("token abcd1234 and pw s3cr3t-pw, abcd1234 again", ["abcd1234", "s3cr3t-pw", undefined])).toBe(
        "token [secret] and pw [secret], [secret] again",
    );
});

describe("planJenkinsCredentials", () => {
    const container = { credentialId: "container-registry", authority: "r.example.com", username: "ci-push", password: "P" };
    const maven = { credentialId: "maven-registry", location: "m.example.com/releases", username: "ci-deploy", password: "M" };
    const summary = (input: CredentialPlanInput) =>
        planJenkinsCredentials(input).map((c) =>
            c.kind === "usernamePassword" ? `${c.id}=${c.username}:${String(c.password)}` : `${c.id}=${String(c.secret)}`,
        );

    it.each<[string, CredentialPlanInput, string[]]>([
        ["container only", { container }, ["container-registry=ci-push:P"]],
        [
            "own Maven account",
            { container, maven: { ...maven, reuseContainerCredentials: false } },
            ["container-registry=ci-push:P", "maven-registry=ci-deploy:M"],
        ],
        [
            "Maven reuses the push account under its own ID",
            { container, maven: { ...maven, password: undefined, reuseContainerCredentials: true } },
            ["container-registry=ci-push:P", "maven-registry=ci-push:P"],
        ],
        [
            "Maven reuses the push account under the same ID: one credential",
            { container, maven: { ...maven, credentialId: "container-registry", password: undefined, reuseContainerCredentials: true } },
            ["container-registry=ci-push:P"],
        ],
        [
            "registry host as secret text",
            { container, registryHost: { credentialId: "registry-host", value: "r.example.com" } },
            ["container-registry=ci-push:P", "registry-host=r.example.com"],
        ],
    ])("%s", (_, input, expected) => {
        expect(summary(input)).toEqual(expected);
    });

    it("describes a shared credential as serving both", () => {
        const [shared] = planJenkinsCredentials({
            container,
            maven: { ...maven, credentialId: "container-registry", reuseContainerCredentials: true },
        });
        expect(shared!.description).toBe("Push to r.example.com and deploy to m.example.com/releases (managed by Pulumi, dso-registry)");
    });

    it.each<[string, CredentialPlanInput, string]>([
        [
            "Maven without a password",
            { container, maven: { ...maven, password: undefined, reuseContainerCredentials: false } },
            "dso-registry:mavenRegistryPassword",
        ],
        [
            "duplicate IDs",
            { container, registryHost: { credentialId: "container-registry", value: "x" } },
            `two Jenkins credentials would have the ID "container-registry"`,
        ],
    ])("rejects %s", (_, input, message) => {
        expect(() => planJenkinsCredentials(input)).toThrow(message);
    });
});

describe("diffStates", () => {
    const base: JenkinsCredentialState = {
        jenkinsUrl: "https://j",
        jenkinsUser: "u",
        jenkinsAuth: "token",
        jenkinsSecret: "t",
        timeoutSeconds: 30,
        credentialId: "c",
        kind: "usernamePassword",
        description: "d",
        username: "ci",
        usernameSecret: false,
        password: "p",
    };
    it.each<[string, Partial<JenkinsCredentialState>, { replaces: string[]; updates: string[] }]>([
        ["nothing", {}, { replaces: [], updates: [] }],
        ["password", { password: "p2" }, { replaces: [], updates: ["password"] }],
        ["usernameSecret", { usernameSecret: true }, { replaces: [], updates: ["usernameSecret"] }],
        ["CA added", { caCertificate: "pem" }, { replaces: [], updates: ["caCertificate"] }],
        ["ID and user", { credentialId: "c2", username: "ci2" }, { replaces: ["credentialId"], updates: ["username"] }],
        ["Jenkins URL", { jenkinsUrl: "https://k" }, { replaces: ["jenkinsUrl"], updates: [] }],
    ])("%s", (_, change, expected) => {
        expect(diffStates(base, { ...base, ...change })).toEqual(expected);
    });
});
