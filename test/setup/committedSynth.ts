/**
 * Global setup: a directory for the committed stacks' synths, shared by every worker of the run and
 * removed at its end. Nothing is synthesized here: a stack is synthesized the first time a test asks
 * for it (test/support/committedSynth.ts), once per run, so a test file that needs none starts at once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

export default function setup(project: TestProject): () => void {
    const work = mkdtempSync(path.join(tmpdir(), "dso-committed-synth-"));
    project.provide("committedSynthDir", work);
    return () => rmSync(work, { recursive: true, force: true });
}
