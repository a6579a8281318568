/**
 * Running a plan's steps (test/support/plan.ts) as the engine runs them, for the lifecycle replays
 * (test/integration/lifecycle.replay*.test.ts).
 */
import type { Step } from "./plan";

/** One script of a step, with the stdin the command gives it. */
export interface StepScript {
    what: string;
    script: string;
    stdin?: string;
}

/**
 * The scripts of one step with their stdin, in the order the engine runs them: a create runs create, an
 * update runs update (or create) with the new inputs, a replacement runs the old delete first only when
 * it is delete-before-replace, a delete runs the *old* delete script (none when retained).
 */
export function stepScripts(step: Step): StepScript[] {
    const out: StepScript[] = [];
    const add = (phase: string, script: unknown, stdin?: unknown) => {
        if (typeof script === "string" && script)
            out.push({ what: `${phase} ${step.name}`, script, stdin: typeof stdin === "string" ? stdin : undefined });
    };
    if (step.op === "create") add("create", step.news?.create, step.news?.stdin);
    if (step.op === "update") add("update", step.news?.update ?? step.news?.create, step.news?.stdin);
    if (step.op === "replace") {
        if (step.deleteBeforeReplace) add("delete", step.olds?.delete);
        add("create", step.news?.create, step.news?.stdin);
    }
    if (step.op === "delete" && !step.retained) add("delete", step.olds?.delete);
    return out;
}

/** A script as a root session runs it: the prod stack's `sudo -n ` prefix dropped (sudo would drop DSO_ROOT). */
export const asRoot = (script: string) => script.replace(/^sudo -n /, "");

/** Where a replay runs scripts: an SSH session into a root (test/support/sshServer.ts). */
interface ScriptRunner {
    runScript(script: string, stdin: string): { code: number | null; stdout: string; stderr: string };
}

/**
 * Runs, over `ssh` as root, the scripts of the plan's steps whose resource name `selected` accepts, in
 * the plan's order; a failing script throws with its output and `context`. Returns how many ran.
 */
export function replaySteps(ssh: ScriptRunner, steps: readonly Step[], selected: (name: string) => boolean, context: string): number {
    let ran = 0;
    for (const step of steps.filter((s) => selected(s.name))) {
        for (const s of stepScripts(step)) {
            const r = ssh.runScript(asRoot(s.script), s.stdin ?? "");
            if (r.code !== 0) throw new Error(`${s.what} failed (${r.code}):\n${r.stdout}\n${r.stderr}\n${context}`);
            ran++;
        }
    }
    return ran;
}
