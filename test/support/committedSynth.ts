/**
 * The synth output of the committed stacks, made the first time a test asks for a stack and kept for
 * the rest of the run, in the directory the global setup provides (test/setup/committedSynth.ts). Every
 * worker sees the same directory: the first to ask for a stack takes its lock (an atomic mkdir) and
 * synthesizes; the others wait for its result file, so each stack is synthesized once per run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { inject } from "vitest";
import { type CommittedStack, type CommittedSynth, PROJECT_DIR } from "./synthCli";

const WAIT_MS = 10 * 60_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const runs = new Map<CommittedStack, CommittedSynth>();

/** The committed stack's synth run (whether or not it succeeded). */
export function committedSynthRun(stack: CommittedStack): CommittedSynth {
    const known = runs.get(stack);
    if (known) return known;
    const work = inject("committedSynthDir");
    const dir = path.join(work, stack);
    const result = path.join(work, `${stack}.json`);
    let lock = true;
    try {
        mkdirSync(path.join(work, `${stack}.lock`));
    } catch {
        lock = false;
    }
    if (lock) {
        // The synth CLI as `npm run synth` runs it (tsx's loader, no second supervising process).
        const r = spawnSync(
            process.execPath,
            ["--import", "tsx", path.join(PROJECT_DIR, "tools/synth.ts"), "--stack", stack, "--out", dir],
            {
                cwd: PROJECT_DIR,
                encoding: "utf8",
                maxBuffer: 64 * 1024 * 1024,
            },
        );
        const run: CommittedSynth = { dir, status: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? `\n${r.error.message}` : "") };
        writeFileSync(`${result}.partial`, JSON.stringify(run));
        renameSync(`${result}.partial`, result);
    } else {
        const deadline = Date.now() + WAIT_MS;
        while (!existsSync(result)) {
            if (Date.now() > deadline)
                throw new Error(
                    `the synth of the ${stack} stack, started by another worker, did not finish in ${WAIT_MS / 60_000} minutes`,
                );
            Atomics.wait(sleeper, 0, 0, 200);
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
