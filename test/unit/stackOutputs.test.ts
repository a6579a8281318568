/**
 * The generated credentials reach the operator the Pulumi way: secret stack outputs
 * (`pulumi stack output --show-secrets pushCredentials`), masked everywhere else.
 * Covers: components/stack/index.ts (the stack's outputs).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadStackConfig } from "../../components/config";
import { defineStack } from "../../components/stack";
import { isSecret, type MockRuntime, mockPassword, promiseOf, SECRET, settle, startMockRuntime } from "../../tools/mockRuntime";
import { committedSynthDir } from "../support/committedSynth";

let rt: MockRuntime;
/** The password the mock generated for a random resource of the last run (it depends on its inputs). */
const generated = (name: string) => mockPassword(name, rt.byName(name).rawInputs);

async function outputsOf(containerRegistry: Record<string, unknown>, extra: Record<string, string> = {}) {
    rt = await startMockRuntime({
        stack: "t",
        config: {
            "dso-registry:containerRegistry": JSON.stringify({ host: "registry.example.com", pathPrefix: "team", ...containerRegistry }),
            "dso-registry:registry": JSON.stringify({ mode: "in-cluster" }),
            ...extra,
        },
        secretKeys: Object.keys(extra).filter((key) => key.endsWith("Password")),
    });
    const outputs = defineStack(loadStackConfig());
    await settle();
    return outputs;
}

describe("stack outputs for logging in by hand", () => {
    it("pushCredentials holds the generated push account, as a secret output", async () => {
        const outputs = await outputsOf({});
        expect(outputs.pushCredentials).toBeDefined();
        expect(await isSecret(outputs.pushCredentials!)).toBe(true);
        expect(await promiseOf(outputs.pushCredentials!)).toEqual({
            username: "ci-push",
            password: generated("registry-accounts-push"),
        });
        expect(outputs.pullCredentials).toBeUndefined();
    });

    it("pushCredentials holds the operator's push password when it is theirs, still secret", async () => {
        const outputs = await outputsOf(
            { pushCredentials: "operator", pushUsername: "jenkins-push" },
            { "dso-registry:containerRegistryPassword": "operator-pw" },
        );
        expect(await isSecret(outputs.pushCredentials!)).toBe(true);
        expect(await promiseOf(outputs.pushCredentials!)).toEqual({ username: "jenkins-push", password: "operator-pw" });
    });

    it("pullCredentials holds the generated pull-only account where one exists, as a secret output", async () => {
        const outputs = await outputsOf({}, { "dso-registry:pullSecrets": JSON.stringify({ flux: true }) });
        expect(await isSecret(outputs.pullCredentials!)).toBe(true);
        expect(await promiseOf(outputs.pullCredentials!)).toEqual({
            username: "cluster-pull",
            password: generated("registry-accounts-pull"),
        });
    });

    it.each([
        ["local", { username: "ci-push", password: SECRET }],
        ["prod", { username: "jenkins-push", password: SECRET }],
        ["existing", undefined],
    ])("the synth of the %s stack shows pushCredentials as %j, never the password", (stack, shown) => {
        const outputs = JSON.parse(readFileSync(path.join(committedSynthDir(stack as "local"), "outputs.json"), "utf8"));
        expect(outputs.pushCredentials).toEqual(shown);
        expect(JSON.stringify(outputs)).not.toContain("mock-password");
    });
});

describe("outputs that fit the stack", () => {
    it.each([
        ["local", true],
        ["prod", true],
        ["existing", true],
        ["kind", false],
    ] as const)(
        "the %s stack's synth: Jenkins credential IDs and a Jenkins push example only where it writes Jenkins credentials (%s)",
        (stack, jenkins) => {
            const outputs = JSON.parse(readFileSync(path.join(committedSynthDir(stack), "outputs.json"), "utf8"));
            const firstLine = String(outputs.pushExample).split("\n")[0];
            if (jenkins) {
                expect(outputs.jenkinsCredentialIds.containerRegistry).toBe("container-registry");
                expect(firstLine).toContain("credentialsId: 'container-registry'");
            } else {
                expect(outputs.jenkinsCredentialIds).toBeUndefined();
                expect(firstLine).toBe(
                    "# REG_USER and REG_PASS: the push account, from `npx pulumi stack output --show-secrets pushCredentials`",
                );
            }
        },
    );

    it("an existing registry without Jenkins: the push example names the organisation's account", async () => {
        rt = await startMockRuntime({
            stack: "t",
            config: {
                "dso-registry:containerRegistry": JSON.stringify({
                    host: "registry.example.com",
                    pathPrefix: "team",
                    pushUsername: "org-push",
                }),
                "dso-registry:registry": JSON.stringify({ mode: "existing", tls: { mode: "public" } }),
            },
            secretKeys: [],
        });
        const outputs = defineStack(loadStackConfig());
        await settle();
        expect(outputs.jenkinsCredentialIds).toBeUndefined();
        expect(outputs.pushExample.split("\n")[0]).toBe("# REG_USER and REG_PASS: the organisation's push account");
    });
});
