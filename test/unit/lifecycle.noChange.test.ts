/**
 * The second `up` plans no change (test/support/noChange.ts) for each committed stack and each base
 * config of the every-setting tests. Every config those tests build is checked by the every-setting
 * walk itself (test/support/everySetting.ts runs each config's program twice), in the `slow` project.
 */
import { describe, expect, it } from "vitest";
import type { RecordedResource } from "../../tools/mockRuntime";
import { readStackConfig, runProgram } from "../../tools/synth";
import { everySettingConfigs } from "../support/everySetting";
import { expectNoChange, secondRunChanges, stackConfigOf } from "../support/noChange";
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

describe("what a second run would change is told, not missed", () => {
    it("an input that differs, a resource more, an output that differs", async () => {
        const first = await runProgram("local", readStackConfig(PROJECT_DIR, "local"));
        expect(secondRunChanges(first, first)).toBeUndefined();
        const one = first.resources.find((r) => r.custom);
        expect(one).toBeDefined();
        const clock = { changedByTheClock: Date.now() };
        const edited: RecordedResource = {
            ...(one as RecordedResource),
            inputs: { ...one?.inputs, ...clock },
            wireInputs: { ...one?.wireInputs, ...clock },
            rawInputs: { ...one?.rawInputs, ...clock },
        };
        const others = first.resources.filter((r) => r !== one);
        expect(secondRunChanges(first, { ...first, resources: [...others, edited] })).toMatch(/the second run plans changes/);
        expect(secondRunChanges(first, { ...first, resources: others })).toMatch(/the second run plans changes/);
        expect(secondRunChanges(first, { ...first, outputs: { ...first.outputs, extra: 1 } })).toBe("the second run's outputs differ");
    });
});
