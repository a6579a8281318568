/**
 * Pulumi's own standard for a program (ProgramTest's ExpectNoChanges): the second `pulumi up` with an
 * unchanged config plans no change. The program runs twice under the mock with one config, and the
 * plan from the first run's state to the second run (test/support/plan.ts) must have no step, and the
 * stack's outputs must be the same: nothing in an input or an output may come from a clock or a random
 * source except through a random resource. Both runs are in one process, so a value computed once per
 * process would not be caught; the Jenkins provider's code, the one input serialized from the program,
 * is compared across processes by test/integration/jenkinsProvider.engine.test.ts.
 */
import { expect } from "vitest";
import { PROJECT } from "../../components/config";
import { type ProgramRun, runProgram, type StackFileConfig } from "../../tools/synth";
import { describePlan, planOf } from "./plan";

/** A decoded config (`registry` → object) as the CLI hands it to the program. */
export function stackConfigOf(raw: Readonly<Record<string, unknown>>): StackFileConfig {
    const config = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    );
    return { config, secretKeys: [] };
}

/**
 * What the second of two runs with one config would change, in words, or undefined when it plans no
 * change: no step from the first run's state, the same URNs, the same outputs.
 */
export function secondRunChanges(first: ProgramRun, second: ProgramRun): string | undefined {
    const plan = planOf(first.resources, second.resources);
    if (plan.steps.length > 0) return `the second run plans changes:\n${describePlan(plan)}`;
    // Registration order may differ between runs (outputs resolve in any order); the engine matches by URN.
    const urns = (run: ProgramRun) => JSON.stringify(run.resources.map((r) => r.urn).sort());
    if (urns(first) !== urns(second)) return "the second run registers other resources";
    if (JSON.stringify(second.outputs) !== JSON.stringify(first.outputs)) return "the second run's outputs differ";
    return undefined;
}

/** Runs the program twice with `config` and expects the second run to plan no change. */
export async function expectNoChange(stack: string, config: StackFileConfig): Promise<void> {
    const first = await runProgram(stack, config);
    // undefined, or what would change: the plan, the resources or the outputs, in words.
    expect(secondRunChanges(first, await runProgram(stack, config))).toBeUndefined();
}
