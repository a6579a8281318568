/**
 * The synth CLI as the README runs it (`npm run synth -- …`), each run in its own process, and a reader
 * for what it writes. Used by the tests that need a variant config of their own; the committed stacks'
 * synths (test/support/committedSynth.ts) run the same command once per run each.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

export const PROJECT_DIR = path.resolve(__dirname, "../..");

/**
 * The stacks committed to the repository (`Pulumi.<stack>.yaml`); each is synthesized once per test run
 * when first asked for (test/support/committedSynth.ts), and every test that walks the committed stacks takes them from here.
 * A new stack file is one more name here (test/unit/synth.test.ts checks the list against the files).
 */
export const COMMITTED_STACKS = ["local", "prod", "existing", "kind"] as const;
export type CommittedStack = (typeof COMMITTED_STACKS)[number];

/** One finished synth run. */
export interface SynthRun {
    /** Exit status (null when killed by a signal). */
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** A synth of a committed stack (test/support/committedSynth.ts): its output directory and how the run went. */
export interface CommittedSynth extends SynthRun {
    /** The --out directory (it exists only when status is 0). */
    readonly dir: string;
}

declare module "vitest" {
    export interface ProvidedContext {
        /** Where the committed stacks' synths go, each made once per run when first asked for (test/support/committedSynth.ts). */
        committedSynthDir: string;
    }
}

/**
 * Runs `tools/synth.ts` with `args` (plus `--project`) in a child process. Asynchronous, so that
 * several synths run side by side. Node loads it with tsx's loader as `npm run synth` does, without
 * the tsx command's own supervising process (a second Node, which costs a run half a second of CPU).
 */
export function synthCli(args: readonly string[], project = PROJECT_DIR): Promise<SynthRun> {
    const cli = ["--import", "tsx", path.join(PROJECT_DIR, "tools/synth.ts")];
    const child = spawn(process.execPath, [...cli, ...args, "--project", project], { cwd: PROJECT_DIR, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    return new Promise((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (status) => resolve({ status, stdout, stderr }));
    });
}

/** Every file under a directory, relative path → content. */
export function readTree(dir: string): Map<string, string> {
    const files = new Map<string, string>();
    const walk = (d: string) => {
        for (const entry of readdirSync(d)) {
            const full = path.join(d, entry);
            if (statSync(full).isDirectory()) walk(full);
            else files.set(path.relative(dir, full), readFileSync(full, "utf8"));
        }
    };
    walk(dir);
    return files;
}
