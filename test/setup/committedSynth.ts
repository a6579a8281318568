/**
 * Global setup: synthesizes each committed stack once per test run, side by side, into a temporary
 * directory, and provides the result to the tests (test/support/committedSynth.ts). A failed synth is
 * handed on, not thrown: the synth tests report it with its errors.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { COMMITTED_STACKS, type CommittedSynth, synthCli } from "../support/synthCli";

export default async function setup(project: TestProject): Promise<() => void> {
    const work = mkdtempSync(path.join(tmpdir(), "dso-committed-synth-"));
    const runs = await Promise.all(
        COMMITTED_STACKS.map(async (stack): Promise<[string, CommittedSynth]> => {
            const dir = path.join(work, stack);
            return [stack, { dir, ...(await synthCli(["--stack", stack, "--out", dir])) }];
        }),
    );
    project.provide("committedSynth", Object.fromEntries(runs) as Record<(typeof COMMITTED_STACKS)[number], CommittedSynth>);
    return () => rmSync(work, { recursive: true, force: true });
}
