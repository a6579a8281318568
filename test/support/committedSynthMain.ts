/**
 * The synth of every committed stack in one process (test/support/committedSynth.ts starts it): each
 * stack is synthesized by the synth command (`synthCommand`, what `npm run synth -- --stack <stack>
 * --out <dir>` runs), with what it prints and its exit status recorded in `<work>/<stack>.json`,
 * written as each stack finishes. One process pays Node's, tsx's and Pulumi's start-up once, not once
 * per stack (about 2 s of CPU each).
 *
 *   node --import tsx test/support/committedSynthMain.ts <work dir> <stack>…
 */
import { renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { synthCommand } from "../../tools/synth";
import type { CommittedSynth } from "./synthCli";

/** Runs `run` with everything the process writes to stdout and stderr captured instead of printed. */
async function captured(run: () => Promise<number>): Promise<{ status: number; stdout: string; stderr: string }> {
    const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
    const text = (chunk: string | Uint8Array) => (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    let stdout = "";
    let stderr = "";
    process.stdout.write = ((chunk: string | Uint8Array) => {
        stdout += text(chunk);
        return true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
        stderr += text(chunk);
        return true;
    }) as typeof process.stderr.write;
    try {
        const status = await run();
        return { status, stdout, stderr };
    } finally {
        process.stdout.write = writes.stdout;
        process.stderr.write = writes.stderr;
    }
}

async function main(): Promise<void> {
    const [work, ...stacks] = process.argv.slice(2);
    if (!work || stacks.length === 0) throw new Error("usage: committedSynthMain.ts <work dir> <stack>…");
    for (const stack of stacks) {
        const dir = path.join(work, stack);
        const run: CommittedSynth = { dir, ...(await captured(() => synthCommand(["--stack", stack, "--out", dir]))) };
        const result = path.join(work, `${stack}.json`);
        writeFileSync(`${result}.partial`, JSON.stringify(run));
        renameSync(`${result}.partial`, result);
    }
}

main().then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        process.exit(1);
    },
);
