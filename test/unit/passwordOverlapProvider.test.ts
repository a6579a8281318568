/**
 * What the PasswordOverlap resource keeps across a rotation (components/accounts/passwordOverlapProvider.ts):
 * the prefix that tells the previous password from the current one, the previous password's hash kept
 * until the overlap's end, and when an update is planned. The resource and the files the fronts import:
 * passwordOverlap.test.ts.
 */
import { describe, expect, test } from "vitest";
import {
    diffPasswordOverlap,
    distinguishingPrefix,
    nextPrevious,
    type PasswordOverlapState,
} from "../../components/accounts/passwordOverlapProvider";

const HASH_A = `$2b$10$${"a".repeat(53)}`;
const HASH_B = `$2b$10$${"b".repeat(53)}`;
const DAY = 24 * 3600;

const state = (password: string, bcryptHash: string, overlapSeconds = DAY, previous: PasswordOverlapState["previous"] = null) => ({
    password,
    bcryptHash,
    overlapSeconds,
    previous,
});

describe("distinguishingPrefix", () => {
    test.each([
        ["Xabc", "Yabc", "X"],
        ["abcX", "abcY", "abcX"],
        ["same", "same", undefined],
        ["ab", "abc", undefined],
        ["abc", "ab", "abc"],
    ])("previous %s, current %s: %s", (previous, current, prefix) => {
        expect(distinguishingPrefix(previous, current)).toBe(prefix);
        // The prefix is never one the current password starts with.
        if (prefix !== undefined) expect(current.startsWith(prefix)).toBe(false);
    });
});

describe("what the resource keeps", () => {
    const now = 1_800_000_000;

    test("a new password: the old one's hash and prefix, until the overlap's end counted from the rotation", () => {
        expect(nextPrevious(state("old-pass", HASH_A), state("new-pass", HASH_B), now)).toEqual({
            bcryptHash: HASH_A,
            prefix: "o",
            rotatedAt: now,
            until: now + DAY,
        });
    });

    test("the same password: what was kept stays, its end moved when the overlap's length changed", () => {
        const kept = { bcryptHash: HASH_A, prefix: "o", rotatedAt: now, until: now + DAY };
        expect(nextPrevious(state("new", HASH_B, DAY, kept), state("new", HASH_B, DAY), now + 60)).toEqual(kept);
        expect(nextPrevious(state("new", HASH_B, DAY, kept), state("new", HASH_B, 2 * DAY), now + 60)).toEqual({
            ...kept,
            until: now + 2 * DAY,
        });
        expect(nextPrevious(state("new", HASH_B), state("new", HASH_B), now)).toBeNull();
    });

    test("an overlap that has ended is not revived by a longer one: rotated five days ago with 24 h, raised to 168 h", () => {
        const kept = { bcryptHash: HASH_A, prefix: "o", rotatedAt: now, until: now + DAY };
        const fiveDaysLater = now + 5 * DAY;
        expect(nextPrevious(state("new", HASH_B, DAY, kept), state("new", HASH_B, 7 * DAY), fiveDaysLater)).toBeNull();
        // At its very end it has ended too.
        expect(nextPrevious(state("new", HASH_B, DAY, kept), state("new", HASH_B, 7 * DAY), now + DAY)).toBeNull();
    });

    test("a second rotation inside the overlap keeps only the password it replaces", () => {
        const kept = { bcryptHash: HASH_A, prefix: "f", rotatedAt: now, until: now + DAY };
        expect(nextPrevious(state("second", HASH_B, DAY, kept), state("third", HASH_A), now + 60)).toEqual({
            bcryptHash: HASH_B,
            prefix: "s",
            rotatedAt: now + 60,
            until: now + 60 + DAY,
        });
    });

    test("an overlap of 0 keeps nothing", () => {
        expect(nextPrevious(state("old", HASH_A, 0), state("new", HASH_B, 0), now)).toBeNull();
        const kept = { bcryptHash: HASH_A, prefix: "o", rotatedAt: now, until: now + DAY };
        expect(nextPrevious(state("new", HASH_B, DAY, kept), state("new", HASH_B, 0), now)).toBeNull();
    });

    test("an update is planned for a new password or a new length, and for nothing else", () => {
        expect(diffPasswordOverlap(state("a", HASH_A), state("a", HASH_A)).changes).toBe(false);
        expect(diffPasswordOverlap(state("a", HASH_A), state("b", HASH_B)).changes).toBe(true);
        expect(diffPasswordOverlap(state("a", HASH_A), state("a", HASH_A, 2 * DAY)).changes).toBe(true);
    });
});
