/**
 * Quoting a value for sh (components/shared/shQuote.ts): whatever it holds, sh reads back the same bytes.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { shQuote } from "../../components/shared/shQuote";

describe("shQuote", () => {
    it.each(["plain", "it's", "$(rm -rf /)", "a\nb", "`x`"])("round-trips %j through sh", (value) => {
        expect(execFileSync("/bin/sh", ["-c", `printf %s ${shQuote(value)}`]).toString()).toBe(value);
    });
});
