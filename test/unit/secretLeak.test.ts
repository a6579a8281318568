/**
 * Planted secrets must not show anywhere a person or a file can see them: not in the inputs Pulumi
 * records (what resources.json is made from), not in the stack's outputs other than the secret ones
 * (pushCredentials, which the engine encrypts and `pulumi stack output` masks), not in anything printed
 * while the program runs, not in the Jenkins provider's errors; and the outputs that hold them are
 * registered as secret so the engine encrypts them in state.
 *
 * The program runs under mocks with the planted values as real secret config. Jenkins is the fake of
 * test/support/fakeJenkins.ts (Jenkins cannot run here).
 * Covers: components/accounts/decoy.ts (the decoy's seed), components/stack/jenkins.ts (the Jenkins
 * credentials).
 */
import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSecret, type MockRuntime, mockBcryptHash, mockPassword, promiseOf, settle, startMockRuntime } from "../../tools/mockRuntime";
import { startFakeJenkins } from "../support/fakeJenkins";

const planted = {
    containerRegistryPassword: `planted-push-${randomBytes(10).toString("hex")}`,
    mavenRegistryPassword: `planted-maven-${randomBytes(10).toString("hex")}`,
    jenkinsPassword: `planted-jenkins-${randomBytes(10).toString("hex")}`,
};
/** A pull-through cache's upstream password, inside the secret mirrorCredentials. */
const plantedMirrorPassword = `planted-mirror-${randomBytes(10).toString("hex")}`;
const plantedValues = [...Object.values(planted), plantedMirrorPassword];
const secretConfig: Record<string, string> = {
    ...Object.fromEntries(Object.entries(planted).map(([k, v]) => [`dso-registry:${k}`, v])),
    "dso-registry:mirrorCredentials": JSON.stringify({ "docker.io": { username: "cache", password: plantedMirrorPassword } }),
};

const config: Record<string, string> = {
    "dso-registry:containerRegistry": JSON.stringify({
        host: "registry.example.com",
        pathPrefix: "team/app",
        pushCredentials: "operator",
        requiresAuthForPull: true,
    }),
    "dso-registry:mavenRegistry": JSON.stringify({ host: "registry.example.com", pathPrefix: "maven-releases" }),
    "dso-registry:registry": JSON.stringify({ mode: "in-cluster", mirrors: [{ upstream: "docker.io", credentials: true }] }),
    "dso-registry:jenkins": JSON.stringify({
        enabled: true,
        url: "https://jenkins.example.com",
        user: "pulumi",
        auth: "password",
        registryHostCredentialId: "registry-host",
    }),
    "dso-registry:pullSecrets": JSON.stringify({ namespaces: ["apps"], flux: true }),
    ...secretConfig,
};

let rt: MockRuntime;
let outputsJson: string;
/** The stack outputs marked secret, left out of outputsJson. */
const secretOutputs: string[] = [];
let printed = "";

function leaks(text: string): string[] {
    return plantedValues.filter((value) => text.includes(value));
}

beforeAll(async () => {
    const writes = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    const capture = (chunk: unknown) => {
        printed += String(chunk);
        return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    try {
        rt = await startMockRuntime({ stack: "test", config, secretKeys: Object.keys(secretConfig) });
        const { loadStackConfig } = await import("../../components/config");
        const { defineStack } = await import("../../components/stack");
        const cfg = loadStackConfig();
        let returned: Record<string, unknown> = {};
        await pulumi.runtime.runInPulumiStack(async () => {
            returned = { ...defineStack(cfg) };
            return returned;
        });
        await settle();
        const shown: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(returned)) {
            if (pulumi.Output.isInstance(value) && (await isSecret(value))) secretOutputs.push(name);
            else shown[name] = value;
        }
        outputsJson = JSON.stringify(await promiseOf(pulumi.output(shown)));
    } finally {
        process.stdout.write = writes.out;
        process.stderr.write = writes.err;
    }
});

describe("planted secrets", () => {
    it("reached the resources that need them (the test is not vacuous)", () => {
        const raw = JSON.stringify(rt.resources.map((r) => r.rawInputs));
        expect(plantedValues.filter((v) => raw.includes(v))).toEqual(plantedValues);
    });

    it("are absent from every recorded input (what resources.json shows)", () => {
        expect(leaks(JSON.stringify(rt.resources.map((r) => r.inputs)))).toEqual([]);
    });

    it("as are the generated passwords and the accounts' hashes, which the program used (the check is not vacuous)", () => {
        // Every generated password is used; the pull account's hash goes into the users files (the
        // push password is the operator's here).
        // The decoy's password is the exception: only its hash is used (in the Caddyfile, kept plain), and
        // the password itself goes nowhere.
        const all = rt.ofType("random:index/randomPassword:RandomPassword");
        const decoys = all.filter((r) => r.name.endsWith("-decoy"));
        expect(decoys.map((r) => r.name)).toEqual(["registry-decoy"]);
        const decoyPasswords = decoys.map((r) => mockPassword(r.name, r.rawInputs));
        const everything = JSON.stringify(rt.resources.map((r) => [r.rawInputs, r.inputs]));
        expect(decoyPasswords.filter((v) => everything.includes(v))).toEqual([]);
        const passwords = all.filter((r) => !decoys.includes(r));
        const accounts = passwords.filter((r) => r.name.startsWith("registry-accounts-"));
        expect(accounts.map((r) => r.name)).toEqual(["registry-accounts-pull"]);
        const generated = [
            ...passwords.map((r) => mockPassword(r.name, r.rawInputs)),
            ...accounts.map((r) => mockBcryptHash(r.name, r.rawInputs)),
        ];
        const raw = JSON.stringify(rt.resources.map((r) => r.rawInputs));
        expect(generated.filter((v) => !raw.includes(v))).toEqual([]);
        const shown = JSON.stringify(rt.resources.map((r) => r.inputs));
        expect(generated.filter((v) => shown.includes(v))).toEqual([]);
    });

    it("are absent from the stack outputs but the secret ones", () => {
        expect(leaks(outputsJson)).toEqual([]);
        // The push account is an output so an operator can log in by hand; the engine encrypts it.
        expect(secretOutputs).toEqual(["pushCredentials", "pullCredentials"]);
    });

    it("are absent from everything printed while the program ran", () => {
        expect(leaks(printed)).toEqual([]);
    });

    it("are absent from the dynamic provider's serialized code", () => {
        const code = rt.ofType("pulumi-nodejs:dynamic/jenkins:Credential").map((r) => String(r.rawInputs.__provider));
        expect(leaks(code.join("\n"))).toEqual([]);
    });

    it("live in outputs registered as secret, so state holds them encrypted", () => {
        const credentials = rt.ofType("pulumi-nodejs:dynamic/jenkins:Credential");
        expect(credentials.length).toBe(3);
        for (const c of credentials) {
            expect(c.additionalSecretOutputs).toEqual(expect.arrayContaining(["jenkinsSecret", "password", "secret"]));
        }
        for (const s of rt.ofType("kubernetes:core/v1:Secret")) {
            expect(s.additionalSecretOutputs).toEqual(expect.arrayContaining(["data", "stringData"]));
        }
    });
});

describe("planted secrets in Jenkins errors", () => {
    const running: Awaited<ReturnType<typeof startFakeJenkins>>[] = [];
    afterAll(async () => Promise.all(running.map((j) => j.close())));

    it.each([
        ["a wrong password", 401 as const],
        ["a server error that echoes the request", 500 as const],
        ["a conflict", 409 as const],
    ])("are absent from the message and the console on %s", async (_, status) => {
        const { jenkinsCredentialProvider } = await import("../../components/jenkins/jenkinsCredentials");
        const j = await startFakeJenkins({ password: planted.jenkinsPassword, csrf: false });
        running.push(j);
        j.plant({ match: /createCredentials/, answer: status, body: `echo: ${plantedValues.join(" ")}` });
        let message = "";
        const consoleText: string[] = [];
        const originalError = console.error;
        console.error = (...args: unknown[]) => consoleText.push(args.map(String).join(" "));
        try {
            await jenkinsCredentialProvider.create({
                jenkinsUrl: j.url,
                jenkinsUser: "admin",
                jenkinsAuth: "password",
                jenkinsSecret: planted.jenkinsPassword,
                timeoutSeconds: 10,
                credentialId: "container-registry",
                kind: "usernamePassword",
                description: "d",
                username: "ci-push",
                password: planted.containerRegistryPassword,
            });
        } catch (error) {
            message = `${String(error)}\n${(error as Error).stack ?? ""}`;
        } finally {
            console.error = originalError;
        }
        expect(message).toContain(`HTTP ${status}`);
        expect(leaks(`${message}\n${consoleText.join("\n")}`)).toEqual([]);
    });
});
