/**
 * The second `up` plans no change (test/support/noChange.ts) for every config the every-setting tests
 * build: each base, and each base with one setting changed to each value those tests try. No real
 * software runs here; the file is in the integration project because its 1,200 program runs take
 * minutes, which the unit run (`npm run check`) must not.
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
