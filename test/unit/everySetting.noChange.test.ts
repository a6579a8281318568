/**
 * The second `up` plans no change (test/support/noChange.ts) for every config the every-setting tests
 * build: each base, and each base with one setting changed to each value those tests try. No real
 * software runs here: it is mock-runtime CPU (about 1,200 program runs), so it sits beside the
 * every-setting synth walk in the `slow` project, which runs on every core, not in the loop before a
 * commit (`npm run check`).
 */
import { describe, expect, it } from "vitest";
import { everySettingConfigs } from "../support/everySetting";
import { expectNoChange, stackConfigOf } from "../support/noChange";

describe("the second up of every config the every-setting tests build plans no change", () => {
    const configs = everySettingConfigs();

    it("covers the bases and each changed setting", () => {
        expect(configs.length).toBeGreaterThan(100);
    });

    it.each(configs.map((c) => [c.name, c.raw] as const))("%s", async (_, raw) => {
        await expectNoChange("every-setting", stackConfigOf(raw));
    });
});
