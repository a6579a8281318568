/**
 * The synth output of the committed stacks, made once per test run by test/setup/committedSynth.ts and
 * handed to the test files with vitest's provide/inject.
 */
import { inject } from "vitest";
import type { CommittedStack, CommittedSynth } from "./synthCli";

/** The committed stack's synth run (whether or not it succeeded). */
export function committedSynthRun(stack: CommittedStack): CommittedSynth {
    return inject("committedSynth")[stack];
}

/** The output directory of the committed stack's synth; throws with the synth's errors when it failed. */
export function committedSynthDir(stack: CommittedStack): string {
    const run = committedSynthRun(stack);
    if (run.status !== 0) throw new Error(`synth of the ${stack} stack failed (exit ${run.status}):\n${run.stderr}`);
    return run.dir;
}
