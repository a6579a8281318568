/**
 * components/shared/fingerprint.ts: a short hash that changes whenever any of the texts a container or
 * a step is made from changes, and only then.
 */
import { describe, expect, it } from "vitest";
import { fingerprint } from "../../components/shared/fingerprint";

describe("fingerprint", () => {
    it("is 16 hex digits, the same for the same parts", () => {
        expect(fingerprint("a", "b")).toMatch(/^[0-9a-f]{16}$/);
        expect(fingerprint("a", "b")).toBe(fingerprint("a", "b"));
    });

    it("changes when any part changes", () => {
        expect(fingerprint("a", "b")).not.toBe(fingerprint("a", "c"));
        expect(fingerprint("a", "b")).not.toBe(fingerprint("x", "b"));
        expect(fingerprint("a", "b")).not.toBe(fingerprint("a", "b", ""));
    });

    it("keeps the parts apart: moving text from one part to the next is a change", () => {
        expect(fingerprint("ab", "c")).not.toBe(fingerprint("a", "bc"));
        expect(fingerprint("abc")).not.toBe(fingerprint("a", "bc"));
    });
});
