/**
 * The second `up` plans no change (test/support/noChange.ts) for each committed stack and each base
 * config of the every-setting tests. Every config those tests build (over 600, five minutes of runs)
 * is checked by test/unit/everySetting.noChange.test.ts.
 */
import { describe, it } from "vitest";
import { readStackConfig } from "../../tools/synth";
import { everySettingConfigs } from "../support/everySetting";
import { expectNoChange, stackConfigOf } from "../support/noChange";
import { COMMITTED_STACKS } from "../support/synthCli";

const PROJECT_DIR = `${__dirname}/../..`;

describe("the second up of a committed stack plans no change", () => {
    it.each([...COMMITTED_STACKS])("%s", async (stack) => {
        await expectNoChange(stack, readStackConfig(PROJECT_DIR, stack));
    });
});

describe("the second up of each base config of the every-setting tests plans no change", () => {
    it.each(everySettingConfigs({ basesOnly: true }).map((c) => [c.name, c.raw] as const))("%s", async (_, raw) => {
        await expectNoChange("every-setting", stackConfigOf(raw));
    });
});
