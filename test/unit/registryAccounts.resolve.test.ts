/**
 * RegistryAccounts's resolve step (`resolveRegistryAccounts`, components/accounts/registryAccounts.ts): the
 * push account "ci-push" with a generated password, rotation "1", as the stack config has them.
 */
import { describe, expect, it } from "vitest";
import { resolveRegistryAccounts } from "../../components/accounts/registryAccounts";

describe("resolveRegistryAccounts", () => {
    it("gives the push account ci-push (generated) and rotation 1", () => {
        expect(resolveRegistryAccounts({})).toEqual({ push: { username: "ci-push" }, rotation: "1" });
    });

    it("keeps every setting given", () => {
        const given = { push: { username: "jenkins", password: "supplied" }, pull: { username: "nodes" }, rotation: "7", overlapHours: 24 };
        expect(resolveRegistryAccounts(given)).toEqual(given);
    });
});
