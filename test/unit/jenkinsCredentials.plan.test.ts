/**
 * The pure parts of the Jenkins credentials (components/jenkins/jenkinsCredentials.ts): the plan of the
 * credentials a stack makes, and the diff rules (what replaces a credential, what updates it). The XML,
 * the URLs and the HTTP helpers: credentialXml.test.ts, jenkinsApi.test.ts, jenkinsHttp.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
    type CredentialPlanInput,
    diffStates,
    type JenkinsCredentialState,
    planJenkinsCredentials,
} from "../../components/jenkins/jenkinsCredentials";

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
