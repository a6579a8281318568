/**
 * Rotation in one step: bumping `containerRegistry.rotation` (generated passwords) or changing the
 * supplied push password changes the value in every place it lives in one `pulumi up`: the htpasswd
 * the registry checks, the Jenkins credentials, the pull secrets and the nodes' registries.yaml. The
 * old value is then nowhere, so it stops working once the registry reloads its htpasswd.
 *
 * Custom mocks derive RandomPassword.result from its keepers, as the real provider does in effect
 * (new keepers, new password), so two runs with different config can be compared.
 * Covers: components/accounts/registryAccounts.ts, components/stack/index.ts (one value in every place).
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import * as bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { deterministicBcrypt } from "../../components/accounts/registryAccounts";
import { loadStackConfig } from "../../components/config";
import { defineStack } from "../../components/stack";
import { mockState, settle } from "../../tools/mockRuntime";

interface Run {
    /** Resource name → inputs as the engine would receive them, as JSON text. */
    readonly inputs: Map<string, string>;
    /** RandomPassword name → generated password and its bcrypt hash. */
    readonly generated: Map<string, { result: string; bcryptHash: string }>;
}

const SECRET_KEYS = ["dso-registry:jenkinsApiToken", "dso-registry:sshPrivateKey", "dso-registry:containerRegistryPassword"];

function stackConfig(overrides: { rotation?: string | number; pushPassword?: string }): Record<string, string> {
    const supplied = overrides.pushPassword !== undefined;
    return {
        "dso-registry:containerRegistry": JSON.stringify({
            host: "registry.example.com",
            pathPrefix: "team/app",
            requiresAuthForPull: true,
            rotation: overrides.rotation ?? "1",
            pushCredentials: supplied ? "operator" : "generated",
        }),
        "dso-registry:mavenRegistry": JSON.stringify({
            host: "registry.example.com",
            pathPrefix: "maven-releases",
            reuseContainerCredentials: true,
        }),
        "dso-registry:registry": JSON.stringify({ mode: "in-cluster" }),
        "dso-registry:nodes": JSON.stringify({
            delivery: "ssh",
            runtime: "k3s",
            list: [{ name: "node-1", host: "10.0.0.11", allowUnpinnedHostKey: true }],
        }),
        "dso-registry:jenkins": JSON.stringify({ enabled: true, url: "https://jenkins.example.com" }),
        "dso-registry:pullSecrets": JSON.stringify({ namespaces: ["apps"], flux: true }),
        "dso-registry:jenkinsApiToken": "jenkins-token-fixed",
        "dso-registry:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nfixed\n-----END OPENSSH PRIVATE KEY-----\n",
        ...(supplied ? { "dso-registry:containerRegistryPassword": overrides.pushPassword! } : {}),
    };
}

async function runStack(overrides: { rotation?: string | number; pushPassword?: string }): Promise<Run> {
    const inputs = new Map<string, string>();
    const generated = new Map<string, { result: string; bcryptHash: string }>();
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                let state = mockState(args.type, args.name, args.inputs);
                if (args.type === "random:index/randomPassword:RandomPassword") {
                    const result = createHash("sha256")
                        .update(`${args.name}\0${JSON.stringify(args.inputs.keepers)}`)
                        .digest("hex")
                        .slice(0, 40);
                    const bcryptHash = bcrypt.hashSync(result, 4);
                    generated.set(args.name, { result, bcryptHash });
                    state = { ...args.inputs, result, bcryptHash };
                }
                inputs.set(args.name, JSON.stringify(args.inputs));
                return { id: `${args.name}-id`, state };
            },
            call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
        },
        "dso-registry",
        "rotation",
        false,
    );
    const config = stackConfig(overrides);
    runtimeConfig.setAllConfig(
        config,
        SECRET_KEYS.filter((k) => k in config),
    );
    const cfg = loadStackConfig();
    await pulumi.runtime.runInPulumiStack(async () => defineStack(cfg));
    await settle();
    return { inputs, generated };
}

/** Names of the resources whose inputs contain any of the values. */
function holders(run: Run, values: readonly string[]): string[] {
    return [...run.inputs]
        .filter(([, text]) => values.some((v) => text.includes(v)))
        .map(([name]) => name)
        .sort();
}

/** Every form a password takes in resources: itself, its bcrypt hash, and base64 "user:password". */
function forms(username: string, password: string, bcryptHash: string): string[] {
    return [password, bcryptHash, Buffer.from(`${username}:${password}`).toString("base64")];
}

describe("rotation in one step", () => {
    it("bumping containerRegistry.rotation replaces both generated passwords everywhere they live", async () => {
        const before = await runStack({ rotation: "1" });
        const after = await runStack({ rotation: "2" });
        const accounts = [
            { role: "push", username: "ci-push" },
            { role: "pull", username: "cluster-pull" },
        ];
        for (const { role, username } of accounts) {
            const old = before.generated.get(`registry-accounts-${role}`)!;
            const fresh = after.generated.get(`registry-accounts-${role}`)!;
            expect(fresh.result).not.toBe(old.result);
            // Every consumer of the old password holds the new one, and the old one is gone.
            const oldHolders = holders(before, forms(username, old.result, old.bcryptHash));
            expect(holders(after, forms(username, fresh.result, fresh.bcryptHash))).toEqual(oldHolders);
            expect(holders(after, forms(username, old.result, old.bcryptHash))).toEqual([]);
            // The registry's htpasswd carries the new hash.
            expect(holders(after, [fresh.bcryptHash])).not.toEqual([]);
        }
    });

    it('the counter as `pulumi config set --path …rotation 2` stores it (a number) is the same counter as the text "2"', async () => {
        const asText = await runStack({ rotation: "2" });
        const asNumber = await runStack({ rotation: 2 });
        const one = await runStack({ rotation: "1" });
        for (const role of ["push", "pull"]) {
            const password = (run: Run) => run.generated.get(`registry-accounts-${role}`)?.result;
            expect(password(asNumber)).toBeDefined();
            expect(password(asNumber)).toBe(password(asText));
            expect(password(asNumber)).not.toBe(password(one));
        }
    });

    it("the rotated push password reaches both Jenkins credentials", async () => {
        const run = await runStack({ rotation: "7" });
        const push = run.generated.get("registry-accounts-push")!.result;
        expect(holders(run, [push]).filter((n) => n.startsWith("jenkins-credentials-"))).toEqual([
            "jenkins-credentials-container-registry",
            "jenkins-credentials-maven-registry",
        ]);
    });

    it("the rotated pull password reaches the pull secrets and the node's registries.yaml", async () => {
        const run = await runStack({ rotation: "8" });
        const pull = run.generated.get("registry-accounts-pull")!.result;
        const names = holders(run, [pull]);
        expect(names).toEqual(expect.arrayContaining(["pull-secrets-apps", "pull-secrets-flux-system"]));
        expect(names.some((n) => n.includes("node-1") && run.inputs.get(n)!.includes("registries.yaml"))).toBe(true);
    });

    it("changing the supplied push password replaces it in Jenkins and in the htpasswd hash", async () => {
        const before = await runStack({ pushPassword: "supplied-password-one" });
        const after = await runStack({ pushPassword: "supplied-password-two" });
        const oldForms = forms("ci-push", "supplied-password-one", deterministicBcrypt("ci-push", "supplied-password-one"));
        const newForms = forms("ci-push", "supplied-password-two", deterministicBcrypt("ci-push", "supplied-password-two"));
        const oldHolders = holders(before, oldForms);
        expect(oldHolders).toEqual(
            expect.arrayContaining(["jenkins-credentials-container-registry", "jenkins-credentials-maven-registry"]),
        );
        expect(holders(after, newForms)).toEqual(oldHolders);
        expect(holders(after, oldForms)).toEqual([]);
    });
});
