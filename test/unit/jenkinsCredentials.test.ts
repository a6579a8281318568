/**
 * The JenkinsCredentials component under Pulumi's mocks: what it registers, that secrets are marked
 * secret, and that the provider code Pulumi serializes into state carries no secret and still works
 * when loaded the way the dynamic-provider host loads it (against the fake Jenkins of
 * test/support/fakeJenkins.ts, which stands in for Jenkins because Jenkins cannot run here).
 * The code here is the module as vitest transforms it; the text the engine stores (the program loaded
 * through ts-node, as the `pulumi` CLI loads it) is tested by test/integration/jenkinsProvider.engine.test.ts.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, SECRET, settle, startMockRuntime } from "../../tools/mockRuntime";
import { startFakeJenkins } from "../support/fakeJenkins";

const token = `tok-${randomBytes(12).toString("hex")}`;
const pushPassword = `push-${randomBytes(12).toString("hex")}`;
const mavenPassword = `mvn-${randomBytes(12).toString("hex")}`;

let rt: MockRuntime;
const deleteBeforeReplace = new Map<string, boolean>();

interface RegisterRequest {
    getName(): string;
    getDeletebeforereplace(): boolean;
}

beforeAll(async () => {
    rt = await startMockRuntime({ stack: "test" });
    const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        deleteBeforeReplace.set(req.getName(), req.getDeletebeforereplace());
        return register(req, cb);
    };
    const { JenkinsCredentials, planJenkinsCredentials } = await import("../../components/jenkins/jenkinsCredentials");
    new JenkinsCredentials("jenkins", {
        url: "https://jenkins.example.com/ci/",
        user: "pulumi",
        auth: "token",
        secret: pulumi.secret(token),
        timeoutSeconds: 20,
        usernameSecret: false,
        credentials: planJenkinsCredentials({
            container: {
                credentialId: "container-registry",
                authority: "registry.example.com",
                username: "ci-push",
                password: pulumi.secret(pushPassword),
            },
            maven: {
                credentialId: "maven-registry",
                location: "maven.example.com/releases",
                reuseContainerCredentials: false,
                username: "ci-deploy",
                password: pulumi.secret(mavenPassword),
            },
            registryHost: { credentialId: "registry-host", value: "registry.example.com" },
        }),
    });
    await settle();
});

const credentialType = "pulumi-nodejs:dynamic/jenkins:Credential";

describe("JenkinsCredentials under mocks", () => {
    it("registers one dynamic resource per credential, under the component", () => {
        const component = rt.byName("jenkins");
        expect(component.type).toBe("dso-registry:jenkins:JenkinsCredentials");
        const registered = rt.ofType(credentialType).map((r) => [r.name, r.parentUrn]);
        expect(registered.sort()).toEqual([
            ["jenkins-container-registry", component.urn],
            ["jenkins-maven-registry", component.urn],
            ["jenkins-registry-host", component.urn],
        ]);
    });

    it("deletes before it creates on replacement, since an ID exists only once in Jenkins", () => {
        expect(rt.ofType(credentialType).map((r) => deleteBeforeReplace.get(r.name))).toEqual([true, true, true]);
    });

    it("passes the non-secret fields in the clear, with the URL normalized", () => {
        expect(rt.byName("jenkins-maven-registry").inputs).toMatchObject({
            jenkinsUrl: "https://jenkins.example.com/ci",
            jenkinsUser: "pulumi",
            jenkinsAuth: "token",
            timeoutSeconds: 20,
            credentialId: "maven-registry",
            kind: "usernamePassword",
            username: "ci-deploy",
            usernameSecret: false,
        });
    });

    it("gives a secret-text credential no usernameSecret", () => {
        expect(rt.byName("jenkins-registry-host").inputs).not.toHaveProperty("usernameSecret");
    });

    it.each([
        ["jenkins-container-registry", "jenkinsSecret"],
        ["jenkins-container-registry", "password"],
        ["jenkins-maven-registry", "password"],
        ["jenkins-registry-host", "secret"],
    ])("marks %s.%s secret", (name, field) => {
        expect(rt.byName(name).inputs[field]).toBe(SECRET);
    });

    it("gives the provider the real values (they reach Jenkins)", () => {
        const raw = rt.byName("jenkins-maven-registry").rawInputs as Record<string, { value?: unknown }>;
        expect([raw.jenkinsSecret?.value, raw.password?.value]).toEqual([token, mavenPassword]);
    });

    it("serializes provider code that contains none of the secrets", () => {
        const code = String(rt.byName("jenkins-container-registry").rawInputs.__provider);
        expect(code).toContain("exports.handler");
        for (const secret of [token, pushPassword, mavenPassword]) expect(code).not.toContain(secret);
    });
});

describe("the serialized provider, loaded as the dynamic-provider host loads it", () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(path.join(tmpdir(), "jenkins-provider-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("creates, updates, reads and deletes a credential", async () => {
        const file = path.join(dir, "provider.js");
        writeFileSync(file, String(rt.byName("jenkins-container-registry").rawInputs.__provider));
        const provider = (require(file) as { handler(): pulumi.dynamic.ResourceProvider }).handler();
        const jenkins = await startFakeJenkins({ apiToken: token });
        try {
            const props = {
                jenkinsUrl: jenkins.url,
                jenkinsUser: "admin",
                jenkinsAuth: "token",
                jenkinsSecret: token,
                timeoutSeconds: 10,
                credentialId: "container-registry",
                kind: "usernamePassword",
                description: "d",
                username: "ci-push",
                password: pushPassword,
            };
            await provider.create(props);
            await provider.update!("container-registry", props, { ...props, password: "rotated" });
            const afterUpdate = jenkins.credentials.get("container-registry")?.fields.password;
            const read = await provider.read!("container-registry", props);
            await provider.delete!("container-registry", props);
            expect([afterUpdate, read.props?.usernameSecret, jenkins.credentials.size]).toEqual(["rotated", false, 0]);
        } finally {
            await jenkins.close();
        }
    });
});
