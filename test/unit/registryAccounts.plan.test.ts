/**
 * What the registry's accounts register (`planRegistryAccounts`, components/accounts/registryAccounts.ts),
 * tested without a Pulumi runtime: the refusals of a user name twice, which accounts get a generated
 * password and under which resource name, the keepers that rotate it, the overlap that keeps its previous
 * value, and the hash of a supplied password. The constructor only registers this description.
 */
import * as pulumi from "@pulumi/pulumi";
import * as bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import {
    type PlannedAccount,
    type PlannedGeneratedPassword,
    planRegistryAccounts,
    type RegistryAccountsArgs,
    type RegistryAccountsPlan,
    resolveRegistryAccounts,
} from "../../components/accounts/registryAccounts";
import { isSecret, promiseOf } from "../../tools/mockRuntime";

/** The plan, or a failure when the args are refused. */
function plan(args: RegistryAccountsArgs): RegistryAccountsPlan {
    const p = planRegistryAccounts("accounts", resolveRegistryAccounts(args));
    if ("problem" in p) return expect.fail(`refused: ${p.problem}`);
    return p;
}

/** An account's generated password, or a failure when it is supplied. */
function generatedOf(account: PlannedAccount | undefined): PlannedGeneratedPassword {
    if (!account || !("generated" in account)) return expect.fail("not a generated account");
    return account.generated;
}

const everyKind: RegistryAccountsArgs = {
    push: { username: "ci-push" },
    pull: { username: "ci-pull" },
    scopedPush: [{ username: "team-a", prefixes: ["team-a/"] }],
    read: [
        { username: "auditor", rotation: "2" },
        { username: "scanner", password: "given-password" },
    ],
};

describe("planRegistryAccounts", () => {
    it.each([
        [
            "the pull account named as the push one",
            { push: { username: "x" }, pull: { username: "x" } },
            'the pull-only account needs its own user name, not "x"',
        ],
        [
            "a read account named as a scoped push one",
            { scopedPush: [{ username: "team", prefixes: ["t/"] }], read: [{ username: "team" }] },
            'two accounts are named "team"; each needs its own user name',
        ],
    ] as const)("refuses %s", (_case, args, problem) => {
        expect(planRegistryAccounts("accounts", resolveRegistryAccounts(args))).toEqual({ problem });
    });

    it("generates the push account's password by default, and names every generated one by role and user", () => {
        const p = plan(everyKind);
        expect(generatedOf(p.push).name).toBe("accounts-push");
        expect(generatedOf(p.pull).name).toBe("accounts-pull");
        expect(generatedOf(p.scopedPush[0]).name).toBe("accounts-push-team-a");
        expect(generatedOf(p.read[0]).name).toBe("accounts-read-auditor");
        expect(p.read[1]).not.toHaveProperty("generated");
        expect(p.scopedPush[0]?.prefixes).toEqual(["team-a/"]);
        expect(plan({}).push.username).toBe("ci-push");
    });

    it("rotates a generated password with the program's rotation, the age period once set and the account's own once set", () => {
        const keepers = (args: RegistryAccountsArgs, pick: (p: RegistryAccountsPlan) => PlannedAccount | undefined) =>
            generatedOf(pick(plan(args))).args.keepers;
        expect(keepers(everyKind, (p) => p.push)).toEqual({ username: "ci-push", rotation: "1" });
        expect(keepers({ ...everyKind, rotation: "7", agePeriod: "2026-11" }, (p) => p.pull)).toEqual({
            username: "ci-pull",
            rotation: "7",
            agePeriod: "2026-11",
        });
        expect(keepers(everyKind, (p) => p.read[0])).toEqual({ username: "auditor", rotation: "1", accountRotation: "2" });
        expect(generatedOf(plan(everyKind).push).args).toMatchObject({ length: 40, special: false });
    });

    it("keeps a generated password's previous value only with an overlap, under the password's name", () => {
        expect(generatedOf(plan(everyKind).push).overlap).toBeUndefined();
        const overlap = generatedOf(plan({ ...everyKind, overlapHours: 24 }).pull).overlap;
        expect(overlap?.name).toBe("accounts-pull-overlap");
        const account = { password: pulumi.output("pw"), bcryptHash: pulumi.output("hash") };
        expect(overlap?.args(account)).toEqual({ ...account, overlapHours: 24 });
        expect(generatedOf(plan({ ...everyKind, overlapHours: 0 }).push).overlap).toBeUndefined();
    });

    it("hashes a supplied password with bcrypt, both secret, and generates nothing for it", async () => {
        const scanner = plan(everyKind).read[1];
        if (!scanner || !("supplied" in scanner)) return expect.fail("scanner's password is supplied");
        expect(await isSecret(scanner.supplied.password)).toBe(true);
        expect(await isSecret(scanner.supplied.bcryptHash)).toBe(true);
        expect(bcrypt.compareSync("given-password", await promiseOf(scanner.supplied.bcryptHash))).toBe(true);
    });
});
