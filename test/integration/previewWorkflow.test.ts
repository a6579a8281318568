/**
 * The pull-request workflow (.github/workflows/preview.yml) run as far as this machine can: the stack
 * list, the synth-diff job end to end on a pull request that changes a stack and one that does not, and
 * the preview job's own commands up to the Pulumi engine (which cannot be installed here). Each `run`
 * step runs as GitHub runs it (bash -eo pipefail) with the variables GitHub gives it; `npm ci` is
 * skipped (the project's node_modules is linked instead), everything else is the workflow's own text.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { COMMITTED_STACKS, PROJECT_DIR } from "../support/synthCli";

interface Step {
    readonly name?: string;
    readonly id?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly if?: string;
    readonly with?: Record<string, unknown>;
    readonly env?: Record<string, string>;
    readonly "working-directory"?: string;
}
interface Job {
    readonly env?: Record<string, string>;
    readonly steps: Step[];
    readonly strategy?: { matrix: { stack: unknown } };
}

const workflow = YAML.parse(readFileSync(path.join(PROJECT_DIR, ".github/workflows/preview.yml"), "utf8")) as { jobs: Record<string, Job> };
const work = mkdtempSync(path.join(tmpdir(), "dso-preview-workflow-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `npm` with `npm ci` skipped: the checkouts share the project's node_modules. */
function fakeNpm(): string {
    const bin = path.join(work, "bin");
    const realNpm = spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim();
    mkdirSync(bin, { recursive: true });
    writeFileSync(
        path.join(bin, "npm"),
        `#!/bin/sh\nif [ "$1" = ci ]; then echo "npm ci (skipped: node_modules linked)"; exit 0; fi\nexec ${realNpm} "$@"\n`,
    );
    chmodSync(path.join(bin, "npm"), 0o755);
    return bin;
}
const PATH = `${fakeNpm()}:${process.env.PATH}`;

/** A checkout of the project as it is now (tracked and new files), with its node_modules linked. */
function checkout(dir: string, change?: (dir: string) => void): void {
    const files = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: PROJECT_DIR, encoding: "utf8" })
        .stdout.split("\0")
        .filter((f) => f && existsSync(path.join(PROJECT_DIR, f)) && !f.startsWith("node_modules"));
    for (const file of files) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        cpSync(path.join(PROJECT_DIR, file), path.join(dir, file));
    }
    symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"));
    change?.(dir);
}

/** Runs a step's script as GitHub does, in the workspace; returns the outcome and what it wrote to GITHUB_OUTPUT. */
function runStep(step: Step, workspace: string, env: Record<string, string>) {
    const output = path.join(workspace, `output-${Math.random().toString(36).slice(2)}`);
    writeFileSync(output, "");
    expect(step.run, `step "${step.name}" takes its values from the environment`).not.toContain("${{");
    const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run!], {
        cwd: path.join(workspace, step["working-directory"] ?? "."),
        env: { PATH, HOME: process.env.HOME ?? workspace, GITHUB_OUTPUT: output, ...env },
        encoding: "utf8",
    });
    const outputs = Object.fromEntries(
        readFileSync(output, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, outputs };
}

const runSteps = (job: Job) => job.steps.filter((s) => s.run);

describe("the preview workflow", () => {
    it("lists every stack file as the matrix of both jobs", () => {
        const workspace = path.join(work, "stacks");
        checkout(workspace);
        const [list] = runSteps(workflow.jobs.stacks!);
        const result = runStep(list!, workspace, {});
        expect(result.stderr).toBe("");
        expect(JSON.parse(result.outputs.list!).sort()).toEqual([...COMMITTED_STACKS].sort());
        for (const job of ["synth-diff", "preview"]) {
            expect(workflow.jobs[job]!.strategy!.matrix.stack).toBe("${{ fromJSON(needs.stacks.outputs.list) }}");
        }
    });

    describe("synth-diff, end to end", () => {
        /** Runs the job for a stack, the base checkout changed by `change`; returns the job summary. */
        function synthDiff(stack: string, change?: (dir: string) => void): { summary: string; workspace: string } {
            const workspace = path.join(work, `synth-diff-${stack}`);
            checkout(path.join(workspace, "head"));
            checkout(path.join(workspace, "base"), change);
            const summary = path.join(workspace, "summary.md");
            for (const step of runSteps(workflow.jobs["synth-diff"]!)) {
                const result = runStep(step, workspace, { STACK: stack, GITHUB_STEP_SUMMARY: summary });
                expect(result.status, `${step.name}:\n${result.stdout}\n${result.stderr}`).toBe(0);
            }
            return { summary: readFileSync(summary, "utf8"), workspace };
        }

        it("shows what a change to a stack file does to the generated files", () => {
            const { summary, workspace } = synthDiff("local", (base) => {
                const file = path.join(base, "Pulumi.local.yaml");
                const before = readFileSync(file, "utf8");
                expect(before).toContain("size: 20Gi");
                writeFileSync(file, before.replace("size: 20Gi", "size: 30Gi"));
            });
            expect(summary).toContain("## synth diff: stack `local`");
            expect(summary).toMatch(/k8s\/dso\/PersistentVolumeClaim-registry-data\.yaml/);
            expect(summary).toMatch(/^-\s+storage: 30Gi$/m);
            expect(summary).toMatch(/^\+\s+storage: 20Gi$/m);
            // The artifact's tree: both synths side by side.
            expect(statSync(path.join(workspace, "synth/head/resources.json")).isFile()).toBe(true);
            expect(statSync(path.join(workspace, "synth/base/resources.json")).isFile()).toBe(true);
        });

        it("says so when the generated files do not change", () => {
            const { summary } = synthDiff("existing");
            expect(summary).toContain("## synth diff: stack `existing`");
            expect(summary).toContain("No generated file changes.");
        });
    });

    describe("preview, up to the engine", () => {
        const job = workflow.jobs.preview!;
        const access = job.steps.find((s) => s.id === "access")!;
        const workspace = path.join(work, "preview");
        mkdirSync(workspace, { recursive: true });
        const kubeconfig = path.join(workspace, ".kubeconfig");
        const env = (extra: Record<string, string>) => ({ STACK: "prod", KUBECONFIG: kubeconfig, ...extra });

        it("gives the CLI its backend in PULUMI_BACKEND_URL, which no backend pinned in Pulumi.yaml overrides", () => {
            expect(job.env?.PULUMI_BACKEND_URL).toBe("${{ vars.PULUMI_BACKEND_URL }}");
            expect(YAML.parse(readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")).backend).toBeUndefined();
            const preview = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
            expect(preview.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", diff: true });
            expect(preview.if).toBe("steps.access.outputs.ready == 'true'");
        });

        it("runs npm ci, then writes the stack's kubeconfig for the engine, readable by the runner only", () => {
            const steps = runSteps(job);
            expect(steps[0]!.run).toBe("npm ci");
            expect(runStep(steps[0]!, workspace, {}).status).toBe(0);
            const result = runStep(
                access,
                workspace,
                env({ PULUMI_BACKEND_URL: "s3://state/dso-registry", KUBECONFIG_CONTENT: "apiVersion: v1\nkind: Config\n" }),
            );
            expect(result.status, result.stderr).toBe(0);
            expect(result.outputs.ready).toBe("true");
            expect(readFileSync(kubeconfig, "utf8")).toBe("apiVersion: v1\nkind: Config\n");
            expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
        });

        it("skips a stack without its KUBECONFIG_<stack> secret, with a notice", () => {
            const result = runStep(access, workspace, env({ PULUMI_BACKEND_URL: "s3://state/dso-registry", KUBECONFIG_CONTENT: "" }));
            expect(result.status).toBe(0);
            expect(result.outputs.ready).toBe("false");
            expect(result.stdout).toContain("::notice::No secret KUBECONFIG_prod");
        });

        it("stops with what to set when the backend variable is missing", () => {
            const result = runStep(access, workspace, env({ PULUMI_BACKEND_URL: "", KUBECONFIG_CONTENT: "x" }));
            expect(result.status).toBe(1);
            expect(result.stdout).toContain("::error::Set the repository variable PULUMI_BACKEND_URL");
        });
    });
});
