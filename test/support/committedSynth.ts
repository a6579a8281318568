/**
 * The synth output of the committed stacks, made the first time a test asks for one and kept for the
 * rest of the run, in the directory the global setup provides (test/setup/committedSynth.ts). Every
 * worker sees the same directory: the first to ask takes the lock (an atomic mkdir) and synthesizes
 * every committed stack, the one asked for first, in one process (test/support/committedSynthMain.ts:
 * the synth command as `npm run synth` runs it, once per stack); the others wait for their stack's
 * result file, so each stack is synthesized once per run and start-up is paid once.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { inject } from "vitest";
import { COMMITTED_STACKS, type CommittedStack, type CommittedSynth, PROJECT_DIR } from "./synthCli";

const WAIT_MS = 10 * 60_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const runs = new Map<CommittedStack, CommittedSynth>();

const resultFile = (work: string, stack: CommittedStack) => path.join(work, `${stack}.json`);

/** Synthesizes every committed stack, `first` first; a stack the process left without a result gets its failure. */
function synthesizeAll(work: string, first: CommittedStack): void {
    const stacks = [first, ...COMMITTED_STACKS.filter((s) => s !== first)];
    const r = spawnSync(
        process.execPath,
        ["--import", "tsx", path.join(PROJECT_DIR, "test/support/committedSynthMain.ts"), work, ...stacks],
        { cwd: PROJECT_DIR, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    for (const stack of stacks) {
        const result = resultFile(work, stack);
        if (existsSync(result)) continue;
        const failed: CommittedSynth = {
            dir: path.join(work, stack),
            status: r.status === 0 ? 1 : r.status,
            stdout: r.stdout,
            stderr: `the synth of the committed stacks stopped before the ${stack} stack (exit ${r.status}):\n${r.stderr}${r.error ? `\n${r.error.message}` : ""}`,
        };
        writeFileSync(`${result}.partial`, JSON.stringify(failed));
        renameSync(`${result}.partial`, result);
    }
}

/** The committed stack's synth run (whether or not it succeeded). */
export function committedSynthRun(stack: CommittedStack): CommittedSynth {
    const known = runs.get(stack);
    if (known) return known;
    const work = inject("committedSynthDir");
    const result = resultFile(work, stack);
    let lock = true;
    try {
        mkdirSync(path.join(work, "synth.lock"));
    } catch {
        lock = false;
    }
    if (lock) {
        synthesizeAll(work, stack);
    } else {
        const deadline = Date.now() + WAIT_MS;
        while (!existsSync(result)) {
            if (Date.now() > deadline)
                throw new Error(
                    `the synth of the ${stack} stack, started by another worker, did not finish in ${WAIT_MS / 60_000} minutes`,
                );
            Atomics.wait(sleeper, 0, 0, 100);
        }
    }
    const run = JSON.parse(readFileSync(result, "utf8")) as CommittedSynth;
    runs.set(stack, run);
    return run;
}

/** The output directory of the committed stack's synth; throws with the synth's errors when it failed. */
export function committedSynthDir(stack: CommittedStack): string {
    const run = committedSynthRun(stack);
    if (run.status !== 0) throw new Error(`synth of the ${stack} stack failed (exit ${run.status}):\n${run.stderr}`);
    return run.dir;
}
