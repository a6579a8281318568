/**
 * The operator's passwords of the named accounts (secret `accountPasswords`, a JSON object by account
 * name): an account's entry is taken from it, and what is not a usable password is refused with the key
 * named and never a value. The named accounts themselves: namedAccounts.test.ts.
 */
import { describe, expect, it } from "vitest";
import { operatorPassword } from "../../components/stack/accounts";

describe("the operator's passwords (secret accountPasswords)", () => {
    it("takes an account's entry from the JSON object", () => {
        expect(operatorPassword(JSON.stringify({ "team-a-ci": "s3cret-value", other: "x" }), "team-a-ci")).toBe("s3cret-value");
    });

    it.each([
        ["text that is not JSON", "hunter2", /accountPasswords is not JSON/],
        ["a JSON list", "[]", /accountPasswords is not a JSON object/],
        ["no entry for the account", JSON.stringify({ other: "x" }), /no password for account "team-a-ci"/],
        ["an empty password", JSON.stringify({ "team-a-ci": "" }), /no password for account "team-a-ci"/],
        ["a password with a line break", JSON.stringify({ "team-a-ci": "a\nb" }), /no password for account "team-a-ci"/],
    ])("refuses %s, naming the key and never a value", (_name, json, message) => {
        let thrown: unknown;
        try {
            operatorPassword(json, "team-a-ci");
        } catch (error) {
            thrown = error;
        }
        expect(String(thrown)).toMatch(message);
        expect(String(thrown)).toMatch(/pulumi config set --secret dso-registry:accountPasswords/);
        expect(String(thrown)).not.toContain("hunter2");
    });
});
