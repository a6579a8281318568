/**
 * components/accessPolicy/usersFile.ts: the users files the Caddyfile imports, and the decoy account's
 * hash that no password matches.
 */
import * as bcrypt from "bcryptjs";
import { describe, expect, test } from "vitest";
import { DECOY_ACCOUNT, renderUsersFile, unmatchableBcryptHash } from "../../components/accessPolicy/usersFile";

describe("renderUsersFile", () => {
    const hash = `$2a$10$${"a".repeat(53)}`;

    test("sorts accounts and writes one 'user hash' line each", () => {
        const text = renderUsersFile("push", [
            { username: "zed", bcryptHash: hash },
            { username: "amy", bcryptHash: hash },
        ]);
        expect(text.split("\n").slice(1, 3)).toEqual([`amy ${hash}`, `zed ${hash}`]);
    });

    test.each([
        ["a non-bcrypt hash", { username: "amy", bcryptHash: "{SHA}abc" }, /not a bcrypt hash/],
        ["a user name with a space", { username: "a b", bcryptHash: hash }, /not allowed/],
    ])("refuses %s", (_name, account, message) => {
        expect(() => renderUsersFile("pull", [account])).toThrow(message);
    });
});

describe("unmatchableBcryptHash", () => {
    test("the decoy's hash matches no password: its seed is not one, nor is anything derived from it", () => {
        const seed = "seed-of-the-stack";
        const hash = unmatchableBcryptHash(seed);
        expect(hash).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
        expect(unmatchableBcryptHash(seed)).toBe(hash);
        for (const guess of [seed, "", hash, `${DECOY_ACCOUNT}:${seed}`]) expect(bcrypt.compareSync(guess, hash)).toBe(false);
    });
});
