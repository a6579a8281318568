import * as bcrypt from "bcryptjs";
import { beforeAll, describe, expect, it } from "vitest";
import { isSecret, type MockRuntime, mockBcryptHash, promiseOf, settle, startMockRuntime } from "../../tools/mockRuntime";

let rt: MockRuntime;
let accountsModule: typeof import("../../components/accounts/registryAccounts");

beforeAll(async () => {
    rt = await startMockRuntime({ stack: "test" });
    accountsModule = await import("../../components/accounts/registryAccounts");
});

describe("deterministicBcrypt", () => {
    it("gives the same hash for the same user and password (no diff on a second run)", () => {
        const { deterministicBcrypt } = accountsModule;
        expect(deterministicBcrypt("jenkins", "s3cret-pass")).toBe(deterministicBcrypt("jenkins", "s3cret-pass"));
    });

    it("gives a new hash for a new password or user", () => {
        const { deterministicBcrypt } = accountsModule;
        const first = deterministicBcrypt("jenkins", "s3cret-pass");
        expect(deterministicBcrypt("jenkins", "other-pass")).not.toBe(first);
        expect(deterministicBcrypt("jenkins2", "s3cret-pass")).not.toBe(first);
    });

    it("verifies with bcrypt", () => {
        const { deterministicBcrypt } = accountsModule;
        const password = `pw-${Date.now()}`;
        const hash = deterministicBcrypt("jenkins", password);
        expect(bcrypt.compareSync(password, hash)).toBe(true);
        expect(bcrypt.compareSync("wrong", hash)).toBe(false);
    });
});

describe("renderHtpasswd", () => {
    it("sorts entries so the file is stable", () => {
        const { renderHtpasswd } = accountsModule;
        expect(
            renderHtpasswd([
                { username: "b", bcryptHash: "$2b$x" },
                { username: "a", bcryptHash: "$2b$y" },
            ]),
        ).toBe("a:$2b$y\nb:$2b$x\n");
    });
});

describe("RegistryAccounts under mocks", () => {
    it("generates the push and pull passwords with keepers that rotate them", async () => {
        const { RegistryAccounts } = accountsModule;
        const accounts = new RegistryAccounts("accts", { push: { username: "ci-push" }, pull: { username: "nodes" }, rotation: "7" });
        await settle();
        const push = rt.byName("accts-push");
        expect(push.type).toBe("random:index/randomPassword:RandomPassword");
        expect(push.inputs.keepers).toEqual({ username: "ci-push", rotation: "7" });
        expect(rt.byName("accts-pull").inputs.keepers).toEqual({ username: "nodes", rotation: "7" });
        expect(await isSecret(accounts.push.password)).toBe(true);
        expect(await isSecret(accounts.htpasswd)).toBe(true);
        expect(await promiseOf(accounts.htpasswd)).toBe(
            `ci-push:${mockBcryptHash("accts-push", rt.byName("accts-push").rawInputs)}\nnodes:${mockBcryptHash("accts-pull", rt.byName("accts-pull").rawInputs)}\n`,
        );
    });

    it("hashes a supplied password without generating one", async () => {
        const { RegistryAccounts } = accountsModule;
        const accounts = new RegistryAccounts("supplied", { push: { username: "jenkins", password: "given-password" }, rotation: "1" });
        await settle();
        expect(rt.resources.some((r) => r.name === "supplied-push")).toBe(false);
        const htpasswd = await promiseOf(accounts.htpasswd);
        const hash = htpasswd.trim().split(":")[1]!;
        expect(bcrypt.compareSync("given-password", hash)).toBe(true);
        expect(await isSecret(accounts.push.bcryptHash)).toBe(true);
    });

    it("refuses a pull account with the push account's name", () => {
        const { RegistryAccounts } = accountsModule;
        expect(() => new RegistryAccounts("same", { push: { username: "x" }, pull: { username: "x" }, rotation: "1" })).toThrow(
            /its own user name/,
        );
    });

    it("generates a password for each scoped push account, which rotates with the others", async () => {
        const { RegistryAccounts } = accountsModule;
        const accounts = new RegistryAccounts("scoped", {
            push: { username: "ci-push", password: "given-password" },
            scopedPush: [{ username: "team-a-ci", prefixes: ["p2c/team-a/"] }],
            rotation: "3",
        });
        await settle();
        expect(rt.byName("scoped-push-team-a-ci").inputs.keepers).toEqual({ username: "team-a-ci", rotation: "3" });
        expect(accounts.scopedPush.map((a) => [a.username, a.prefixes])).toEqual([["team-a-ci", ["p2c/team-a/"]]]);
        expect(await isSecret(accounts.scopedPush[0]!.password)).toBe(true);
        expect(await promiseOf(accounts.htpasswd)).toMatch(/^ci-push:.*\nteam-a-ci:.*\n$/);
    });

    it.each([
        ["the push account's", "ci-push", undefined],
        ["the pull account's", "nodes", { username: "nodes" }],
    ])("refuses a scoped push account with %s name", (_name, username, pull) => {
        const { RegistryAccounts } = accountsModule;
        const args = {
            push: { username: "ci-push" },
            scopedPush: [{ username, prefixes: ["a/"] }],
            rotation: "1",
            ...(pull ? { pull } : {}),
        };
        expect(() => new RegistryAccounts(`clash-${username}`, args)).toThrow(/two accounts are named/);
    });
});
