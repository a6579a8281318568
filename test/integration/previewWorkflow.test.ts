/**
 * The pull-request workflow (.github/workflows/preview.yml) run as far as this machine can: the stack
 * list, the synth-diff job end to end on a pull request that changes a stack and one that does not, and
 * the preview job's own commands up to the Pulumi engine (which cannot be installed here), and its step that
 * comments what the change disrupts, on a preview the CLI stand-in prints and with `gh` recording. Each `run`
 * step runs as GitHub runs it (bash -eo pipefail) with the variables GitHub gives it; `npm ci` is
 * skipped (the project's node_modules is linked instead), everything else is the workflow's own text.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

    describe("what the change disrupts, after the preview", () => {
        const job = workflow.jobs.preview!;
        const step = job.steps.find((s) => s.name === "What the change disrupts")!;
        const workspace = path.join(work, "consequences");
        const bin = path.join(work, "consequences-bin");
        const calls = path.join(work, "consequences-calls");
        // A preview of the prod stack in the shape `pulumi preview --json` prints: the push password rotates.
        const preview = {
            steps: [
                { op: "same", urn: "urn:pulumi:prod::dso-registry::pulumi:pulumi:Stack::dso-registry-prod" },
                {
                    op: "replace",
                    urn: "urn:pulumi:prod::dso-registry::dso-registry:accounts:RegistryAccounts$random:index/randomPassword:RandomPassword::registry-accounts-push",
                    oldState: {
                        type: "random:index/randomPassword:RandomPassword",
                        custom: true,
                        inputs: { keepers: { rotation: "1", username: "ci-push" } },
                    },
                    newState: {
                        type: "random:index/randomPassword:RandomPassword",
                        custom: true,
                        inputs: { keepers: { rotation: "2", username: "ci-push" } },
                    },
                },
            ],
        };
        beforeAll(() => {
            checkout(workspace);
            mkdirSync(bin, { recursive: true });
            writeFileSync(path.join(work, "preview-prod.json"), JSON.stringify(preview));
            // The CLI prints the preview above; gh answers the comment search with COMMENT_ID and keeps each body it is given.
            writeFileSync(
                path.join(bin, "pulumi"),
                `#!/bin/sh\necho "pulumi $*" >> "${calls}"\ncat "${path.join(work, "preview-prod.json")}"\n`,
            );
            writeFileSync(
                path.join(bin, "gh"),
                [
                    "#!/bin/sh",
                    `echo "gh $*" >> "${calls}"`,
                    'for a in "$@"; do case "$a" in body=@*) cp "${a#body=@}" "$CALLS.body" ;; esac; done',
                    'if [ "$1 $2" = "pr comment" ]; then shift 2; while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "$CALLS.body"; shift; done; fi',
                    'if [ "$1" = api ] && [ "$2" != --method ]; then echo "$COMMENT_ID"; fi',
                    "",
                ].join("\n"),
            );
            chmodSync(path.join(bin, "pulumi"), 0o755);
            chmodSync(path.join(bin, "gh"), 0o755);
        });
        const run = (commentId: string) => {
            rmSync(calls, { force: true });
            rmSync(`${calls}.body`, { force: true });
            const summary = path.join(work, "consequences-summary.md");
            writeFileSync(summary, "");
            const result = runStep(step, workspace, {
                PATH: `${bin}:${PATH}`,
                STACK: "prod",
                GH_TOKEN: "token",
                PR_NUMBER: "42",
                REPOSITORY: "platform/dso-registry",
                GITHUB_STEP_SUMMARY: summary,
                CALLS: calls,
                COMMENT_ID: commentId,
            });
            expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
            return {
                calls: readFileSync(calls, "utf8").trim().split("\n"),
                body: readFileSync(`${calls}.body`, "utf8"),
                summary: readFileSync(summary, "utf8"),
            };
        };

        it("runs only where the preview ran, with the stack, the token and the pull request from the environment", () => {
            expect(step.if).toBe("steps.access.outputs.ready == 'true'");
            expect(step.env).toMatchObject({
                STACK: "${{ matrix.stack }}",
                GH_TOKEN: "${{ secrets.GITHUB_TOKEN }}",
                PR_NUMBER: "${{ github.event.pull_request.number }}",
            });
            expect(job.steps.indexOf(step)).toBeGreaterThan(job.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@")));
        });

        it("comments the summary of the stack's preview on the pull request, and puts it in the job's summary", () => {
            const { calls, body, summary } = run("");
            expect(calls[0]).toBe("pulumi preview --json --non-interactive --stack prod");
            expect(calls[1]).toMatch(/^gh api repos\/platform\/dso-registry\/issues\/42\/comments --paginate --jq /);
            expect(calls[2]).toBe("gh pr comment 42 --repo platform/dso-registry --body-file comment.md");
            expect(body.split("\n")[0]).toBe("<!-- dso-registry consequences: prod -->");
            for (const text of [body, summary]) {
                expect(text).toContain("### What this change disrupts: stack `prod`");
                expect(text).toContain("- account ci-push: its password rotates; the old one stops working when this runs");
            }
        });

        it("updates the comment an earlier run left instead of adding another", () => {
            const { calls, body } = run("1234");
            expect(calls[2]).toBe("gh api --method PATCH repos/platform/dso-registry/issues/comments/1234 -F body=@comment.md");
            expect(calls).toHaveLength(3);
            expect(body).toContain("- account ci-push: its password rotates");
        });
    });
});
