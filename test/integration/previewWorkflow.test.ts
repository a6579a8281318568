/**
 * The pull-request workflow (.github/workflows/preview.yml) run as far as this machine can: the stack
 * list, the synth-diff job end to end on a pull request that changes a stack and one that does not, and
 * the preview job's own commands up to the Pulumi engine (which cannot be installed here), and its step that
 * comments what the change disrupts, on a preview the CLI stand-in prints and with `gh` recording (it answers
 * the comment search with the comments a test gives, which the step filters with jq). Each `run` step runs as
 * GitHub runs it (bash -eo pipefail) with the variables GitHub gives it; `npm ci` is skipped (the project's
 * node_modules is linked instead), everything else is the workflow's own text. The install step itself runs
 * with the real npm, on a checkout whose package.json has an install script, in the environment GitHub would
 * give it (the job's and the step's variables, with made-up secrets).
 */ import { spawnSync } from "node:child_process";
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

/** The secrets a step's or job's expressions name (`secrets.NAME`, `secrets[format('KUBECONFIG_{0}', …)]`). */
function secretsNamed(values: Record<string, unknown> | undefined): string[] {
    const text = JSON.stringify(values ?? {});
    return [...text.matchAll(/secrets(?:\.([A-Z_]+)|\[format\('([A-Z_]+)\{0\}')/g)].map((m) => m[1] ?? `${m[2]}<stack>`).sort();
}

/**
 * The environment GitHub gives `step` of `job` for the stack prod in `workspace`: the job's variables, then the
 * step's, each expression resolved (a secret to a made-up value that names it, in `secrets`).
 */
function stepEnvironment(job: Job, step: Step, workspace: string, secrets: Map<string, string>): Record<string, string> {
    const resolve = (value: string) =>
        value.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_all, expression: string) => {
            const secret = /^secrets(?:\.([A-Z_]+)|\[format\('([A-Z_]+)\{0\}', matrix\.stack\)\])$/.exec(expression);
            if (secret) {
                const name = secret[1] ?? `${secret[2]}prod`;
                if (!secrets.has(name)) secrets.set(name, `made-up-${name}-${Math.random().toString(36).slice(2)}`);
                return secrets.get(name)!;
            }
            if (expression === "github.workspace") return workspace;
            if (expression === "matrix.stack") return "prod";
            if (expression.startsWith("vars.")) return `the-variable-${expression.slice(5)}`;
            throw new Error(`no value for \${{ ${expression} }} in a test`);
        });
    return Object.fromEntries(Object.entries({ ...job.env, ...step.env }).map(([name, value]) => [name, resolve(value)]));
}

describe("the ci workflow, which runs install scripts on pull requests too", () => {
    const ci = YAML.parse(readFileSync(path.join(PROJECT_DIR, ".github/workflows/ci.yml"), "utf8")) as {
        permissions: Record<string, string>;
        jobs: Record<string, Job>;
    };

    it("gives them no secret and a token that may only read, which the checkout does not keep", () => {
        expect(ci.permissions).toEqual({ contents: "read" });
        for (const job of Object.values(ci.jobs)) {
            expect(secretsNamed({ ...job.env, steps: job.steps })).toEqual([]);
            expect(job.steps.find((s) => s.uses?.startsWith("actions/checkout@"))!.with?.["persist-credentials"]).toBe(false);
        }
    });
});

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
            // The action's own comment edits the first comment that starts with its heading, whoever wrote it: off, and
            // its diff goes into the workflow's own comment (below).
            expect(preview.with?.["comment-on-pr"]).toBe(false);
            expect(preview.id).toBe("preview");
            expect(preview.if).toBe("steps.access.outputs.ready == 'true'");
        });

        it("checks out without leaving the token in the checkout's git config, for what runs later to read", () => {
            const checkoutStep = job.steps.find((s) => s.uses?.startsWith("actions/checkout@"))!;
            expect(checkoutStep.with?.["persist-credentials"]).toBe(false);
        });

        it("installs without running install scripts, in an environment with no secret", () => {
            const install = runSteps(job)[0]!;
            expect(job.steps.indexOf(install)).toBeLessThan(job.steps.indexOf(access));
            // A branch of this repository whose package.json runs a script on install that keeps the environment.
            const branch = path.join(work, "install-scripts");
            mkdirSync(branch, { recursive: true });
            const pkg = { name: "branch", version: "1.0.0", private: true, scripts: { postinstall: "env > installed-env" } };
            writeFileSync(path.join(branch, "package.json"), JSON.stringify(pkg));
            writeFileSync(
                path.join(branch, "package-lock.json"),
                JSON.stringify({
                    name: "branch",
                    version: "1.0.0",
                    lockfileVersion: 3,
                    requires: true,
                    packages: { "": { name: "branch", version: "1.0.0", hasInstallScript: true } },
                }),
            );
            const secrets = new Map<string, string>();
            const env = stepEnvironment(job, install, branch, secrets);
            for (const value of secrets.values()) expect(Object.values(env)).not.toContain(value);
            const result = runStep(install, branch, {
                ...env,
                PATH: process.env.PATH!,
                npm_config_audit: "false",
                npm_config_fund: "false",
            });
            expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
            expect(existsSync(path.join(branch, "installed-env")), "the package's install script ran").toBe(false);
        });

        it("hands the secrets only to the steps that use them, never through the job's environment", () => {
            expect(secretsNamed(job.env)).toEqual([]);
            const named = Object.fromEntries(
                job.steps.map((step) => [step.name ?? step.uses ?? step.run!, secretsNamed({ ...step.env, ...step.with })]),
            );
            const backend = [
                "PULUMI_ACCESS_TOKEN",
                "PULUMI_BACKEND_ACCESS_KEY_ID",
                "PULUMI_BACKEND_SECRET_ACCESS_KEY",
                "PULUMI_CONFIG_PASSPHRASE",
            ];
            expect(named).toEqual({
                "actions/checkout@v7": [],
                "actions/setup-node@v7": [],
                "npm ci --ignore-scripts": [],
                "The stack's namespaces": [],
                "Backend and cluster access for the preview": ["KUBECONFIG_<stack>"],
                "The kubeconfig cannot delete": [],
                "pulumi/actions@v7": backend,
                "The preview as JSON": backend,
                "What the change disrupts": ["GITHUB_TOKEN"],
            });
        });

        it("writes the stack's kubeconfig for the engine, readable by the runner only", () => {
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

    describe("the stack's namespaces and the kubeconfig's check, before the preview", () => {
        const job = workflow.jobs.preview!;
        const access = job.steps.find((s) => s.id === "access")!;
        const namespaces = job.steps.find((s) => s.id === "namespaces")!;
        const check = job.steps.find((s) => s.name === "The kubeconfig cannot delete")!;
        const workspace = path.join(work, "access-check");
        const bin = path.join(work, "access-check-bin");
        const calls = path.join(work, "access-check-calls");
        beforeAll(() => {
            checkout(workspace);
            mkdirSync(bin, { recursive: true });
            // kubectl as the runner has it, standing in for the cluster: it lists the contexts in CONTEXTS and answers
            // yes to the `auth can-i` questions in YES (one a line, without the context), no to the others, or as a
            // cluster that cannot be reached with UNREACHABLE set. Every call is recorded.
            writeFileSync(
                path.join(bin, "kubectl"),
                [
                    "#!/bin/sh",
                    'echo "$*" >> "$CALLS"',
                    'if [ "$1 $2" = "config get-contexts" ]; then printf "%s\\n" $CONTEXTS; exit 0; fi',
                    'if [ "$1 $2" != "auth can-i" ]; then echo "unexpected: kubectl $*" >&2; exit 9; fi',
                    "shift 2",
                    'if [ "$1" = --context ]; then shift 2; fi',
                    'if [ -n "$UNREACHABLE" ]; then echo "The connection to the server 127.0.0.1:1 was refused" >&2; exit 1; fi',
                    'if printf "%s\\n" "$YES" | grep -Fxq -- "$*"; then echo yes; exit 0; fi',
                    "echo no",
                    "exit 1",
                    "",
                ].join("\n"),
            );
            chmodSync(path.join(bin, "kubectl"), 0o755);
        });

        it("lists the namespaces of the stack's objects from its synth, before any secret is in the job", () => {
            expect(secretsNamed(namespaces.env)).toEqual([]);
            expect(job.steps.indexOf(namespaces)).toBeLessThan(job.steps.indexOf(access));
            for (const [stack, expected] of [
                ["local", ["dso", "dso-node-trust", "jenkins", "kube-public"]],
                ["prod", ["flux-system", "jenkins"]],
            ] as const) {
                const result = runStep(namespaces, workspace, { STACK: stack });
                expect(result.status, result.stderr).toBe(0);
                expect(result.outputs.list!.trim().split(" "), stack).toEqual(expected);
            }
        });

        it("runs after the kubeconfig is written and before anything runs the pull request's program with it", () => {
            expect(check.if).toBe("steps.access.outputs.ready == 'true'");
            expect(check.env).toMatchObject({
                NAMESPACES: "${{ steps.namespaces.outputs.list }}",
                MAY_DELETE: "${{ vars.PREVIEW_KUBECONFIG_MAY_DELETE }}",
            });
            expect(job.steps.indexOf(check)).toBe(job.steps.indexOf(access) + 1);
            expect(job.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"))).toBe(job.steps.indexOf(check) + 1);
        });

        /** Runs the check with the stand-in kubectl; `extra` in the step's environment. */
        const runCheck = (extra: Record<string, string>) => {
            rmSync(calls, { force: true });
            const result = runStep(check, workspace, {
                PATH: `${bin}:${PATH}`,
                STACK: "prod",
                NAMESPACES: "dso jenkins ",
                MAY_DELETE: "",
                CONTEXTS: "ctx-a",
                YES: "",
                CALLS: calls,
                KUBECONFIG: path.join(workspace, ".kubeconfig"),
                ...extra,
            });
            return { ...result, calls: existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [] };
        };

        it("passes a kubeconfig that may delete nothing, having asked in every context, everywhere and in each namespace", () => {
            const { status, stdout, calls: asked } = runCheck({ CONTEXTS: "ctx-a ctx-b" });
            expect(status, stdout).toBe(0);
            expect(stdout).toContain("The kubeconfig may delete nothing asked about (namespaces: kube-system default dso jenkins).");
            for (const context of ["ctx-a", "ctx-b"]) {
                for (const question of [
                    "* * --all-namespaces",
                    "delete * --all-namespaces",
                    "delete namespaces",
                    "delete persistentvolumes",
                    "impersonate serviceaccounts --all-namespaces",
                    "delete deployments.apps --namespace dso",
                    "delete secrets --namespace jenkins",
                    "deletecollection persistentvolumeclaims --namespace kube-system",
                    "* * --namespace default",
                ]) {
                    expect(asked).toContain(`auth can-i --context ${context} ${question}`);
                }
            }
        });

        it.each([
            ["a Role's delete of Deployments in a namespace of the stack", "delete deployments.apps --namespace dso"],
            ["cluster-admin's everything everywhere", "* * --all-namespaces"],
            ["a ClusterRole's delete of claims everywhere", "delete persistentvolumeclaims --all-namespaces"],
            ["deleting namespaces", "delete namespaces"],
            ["impersonating a user", "impersonate users"],
        ])("refuses a kubeconfig that may delete: %s", (_, question) => {
            const { status, stdout } = runCheck({ YES: question });
            expect(status).toBe(3);
            expect(stdout).toContain(`  yes: kubectl auth can-i --context ctx-a ${question}`);
            expect(stdout).toContain(
                "::error::The kubeconfig of stack prod (secret KUBECONFIG_prod) may delete (listed above), and the preview runs the pull request's own program with it",
            );
        });

        it("previews with it anyway where the repository variable PREVIEW_KUBECONFIG_MAY_DELETE names the stack, with a warning", () => {
            const yes = "delete deployments.apps --namespace dso";
            for (const names of ["prod", "local, prod", "local,prod", "prod local"]) {
                const { status, stdout } = runCheck({ YES: yes, MAY_DELETE: names });
                expect(status, names).toBe(0);
                expect(stdout).toContain("::warning::The kubeconfig of stack prod may delete (listed above); previewed anyway");
            }
            for (const names of ["production", "local", "pro"]) expect(runCheck({ YES: yes, MAY_DELETE: names }).status, names).toBe(3);
        });

        it("refuses a kubeconfig it could not ask about", () => {
            const unreachable = runCheck({ UNREACHABLE: "1" });
            expect(unreachable.status).toBe(1);
            expect(unreachable.stdout).toContain(
                "no answer: kubectl auth can-i --context ctx-a * * --all-namespaces: The connection to the server",
            );
            expect(unreachable.stdout).toContain("::error::Could not ask the cluster of stack prod what its kubeconfig may delete");
            const noKubectl = runCheck({ KUBECTL: path.join(bin, "missing-kubectl") });
            expect(noKubectl.status).toBe(1);
            expect(noKubectl.stderr).toContain("was not found");
        });
    });

    describe("what the change disrupts, after the preview", () => {
        const job = workflow.jobs.preview!;
        const step = job.steps.find((s) => s.name === "What the change disrupts")!;
        const previewJson = job.steps.find((s) => s.name === "The preview as JSON")!;
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
        /** The base branch's checkout (`base/`) with the stack files as they are: a pull request that changes none. */
        const baseLikeHead = () => {
            mkdirSync(path.join(workspace, "base"), { recursive: true });
            for (const stack of COMMITTED_STACKS) {
                cpSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), path.join(workspace, "base", `Pulumi.${stack}.yaml`));
            }
        };
        beforeAll(() => {
            checkout(workspace);
            baseLikeHead();
            mkdirSync(bin, { recursive: true });
            writeFileSync(path.join(work, "preview-prod.json"), JSON.stringify(preview));
            // The CLI prints the preview above; gh answers the comment search with the comments in COMMENTS (as two
            // pages, as `--paginate` prints them) and keeps each body it is given.
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
                    'if [ "$1" = api ] && [ "$2" != --method ]; then jq -c ".[:1]" "$COMMENTS"; jq -c ".[1:]" "$COMMENTS"; fi',
                    "",
                ].join("\n"),
            );
            chmodSync(path.join(bin, "pulumi"), 0o755);
            chmodSync(path.join(bin, "gh"), 0o755);
        });
        /** A comment on the pull request as the API lists it. */
        const comment = (id: number, login: string, type: "Bot" | "User", body: string) => ({ id, user: { login, type }, body });
        const BOT = "github-actions[bot]";
        const MARKER = "<!-- dso-registry consequences: prod -->";

        /**
         * Runs the JSON preview and the comment step, with `comments` on the pull request and `extra` in the step's
         * environment; the comment step must end with `status` (2: over the stack's disruption budget).
         */
        const run = (comments: readonly ReturnType<typeof comment>[], extra: Record<string, string> = {}, status = 0) => {
            rmSync(calls, { force: true });
            rmSync(`${calls}.body`, { force: true });
            const summary = path.join(work, "consequences-summary.md");
            writeFileSync(summary, "");
            writeFileSync(`${calls}.comments`, JSON.stringify(comments));
            const env = {
                PATH: `${bin}:${PATH}`,
                STACK: "prod",
                GH_TOKEN: "token",
                PR_NUMBER: "42",
                REPOSITORY: "platform/dso-registry",
                GITHUB_STEP_SUMMARY: summary,
                CALLS: calls,
                COMMENTS: `${calls}.comments`,
                PREVIEW_DIFF: "Previewing update (prod):\n~ random:index/randomPassword:RandomPassword registry-accounts-push replace",
                ...extra,
            };
            let stdout = "";
            for (const s of [previewJson, step]) {
                const result = runStep(s, workspace, env);
                expect(result.status, `${s.name}:\n${result.stdout}\n${result.stderr}`).toBe(s === step ? status : 0);
                stdout = result.stdout;
            }
            return {
                stdout,
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
                APPROVED_BY_LABEL: "${{ contains(github.event.pull_request.labels.*.name, 'disruption-approved') }}",
            });
            expect(previewJson.if).toBe("steps.access.outputs.ready == 'true'");
            expect(job.steps.indexOf(previewJson)).toBeGreaterThan(job.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@")));
            expect(job.steps.indexOf(step)).toBe(job.steps.indexOf(previewJson) + 1);
        });

        it("comments the summary of the stack's preview on the pull request, and puts it in the job's summary", () => {
            const { calls, body, summary } = run([]);
            expect(calls[0]).toBe("pulumi preview --json --non-interactive --stack prod");
            expect(calls[1]).toBe("gh api repos/platform/dso-registry/issues/42/comments --paginate");
            expect(calls[2]).toBe("gh pr comment 42 --repo platform/dso-registry --body-file comment.md");
            expect(body.split("\n")[0]).toBe("<!-- dso-registry consequences: prod -->");
            // The preview action's diff, in the same comment: the action comments nothing itself.
            expect(step.env?.PREVIEW_DIFF).toBe("${{ steps.preview.outputs.output }}");
            expect(body).toContain("<details><summary>pulumi preview --diff (prod)</summary>");
            expect(body).toMatch(/~ random:index\/randomPassword:RandomPassword registry-accounts-push replace\n+```\n<\/details>/);
            for (const text of [body, summary]) {
                expect(text).toContain("### What this change disrupts: stack `prod`");
                expect(text).toContain("- account ci-push: its password rotates; the old one stops working when this runs");
            }
        });

        it("updates the comment an earlier run left instead of adding another", () => {
            const { calls, body } = run([comment(1200, "alice", "User", "Looks good"), comment(1234, BOT, "Bot", `${MARKER}\nearlier`)]);
            expect(calls[2]).toBe("gh api --method PATCH repos/platform/dso-registry/issues/comments/1234 -F body=@comment.md");
            expect(calls).toHaveLength(3);
            expect(body).toContain("- account ci-push: its password rotates");
        });

        it("leaves a comment someone else started with the marker alone, and adds its own", () => {
            const { calls } = run([
                comment(1300, "mallory", "User", `${MARKER}\nNothing to see here.`),
                comment(1301, "dependabot[bot]", "Bot", `${MARKER}\nnor here`),
                comment(1302, BOT, "Bot", "<!-- dso-registry consequences: local -->\nanother stack's"),
            ]);
            expect(calls[2]).toBe("gh pr comment 42 --repo platform/dso-registry --body-file comment.md");
            expect(calls.filter((c) => c.includes("--method PATCH"))).toEqual([]);
        });

        it("updates its own comment when someone else's with the marker came after it", () => {
            const { calls } = run([comment(1234, BOT, "Bot", `${MARKER}\nearlier`), comment(1300, "mallory", "User", `${MARKER}\nlater`)]);
            expect(calls[2]).toBe("gh api --method PATCH repos/platform/dso-registry/issues/comments/1234 -F body=@comment.md");
            expect(calls).toHaveLength(3);
        });

        describe("with a disruption budget in the stack file, on pull requests made in a scratch repository", () => {
            const stackFile = path.join(workspace, "Pulumi.prod.yaml");
            const baseDir = path.join(workspace, "base");
            const repo = path.join(work, "pull-requests");
            const baseCheckout = job.steps.find((s) => s.uses?.startsWith("actions/checkout@") && s.with?.path === "base")!;
            let original = "";
            const git = (cwd: string, ...args: string[]) => {
                const r = spawnSync("git", args, {
                    cwd,
                    encoding: "utf8",
                    env: {
                        ...process.env,
                        GIT_CONFIG_NOSYSTEM: "1",
                        GIT_CONFIG_GLOBAL: "/dev/null",
                        GIT_AUTHOR_NAME: "a",
                        GIT_AUTHOR_EMAIL: "a@example.com",
                        GIT_COMMITTER_NAME: "a",
                        GIT_COMMITTER_EMAIL: "a@example.com",
                    },
                });
                expect(r.status, `git ${args.join(" ")}: ${r.stderr}`).toBe(0);
                return r.stdout;
            };
            /** The prod stack file with `budget` (lines under the key) as its disruptionBudget, or none. */
            const stackFileWith = (budget: string | undefined) =>
                budget === undefined ? original : `${original.trimEnd()}\n    dso-registry:disruptionBudget:\n${budget}`;
            /**
             * A pull request on a scratch repository: the base branch's commit has Pulumi.prod.yaml with `base` as its
             * budget (undefined: no budget; null: no Pulumi.prod.yaml, the stack is new), the pull request's commit has it
             * with `head`. The workspace gets the pull request's stack file, and `base/` what the workflow's second
             * checkout gives: the base commit, checked out sparsely with the workflow's own pattern.
             */
            const pullRequest = (base: string | null | undefined, head: string | undefined) => {
                rmSync(repo, { recursive: true, force: true });
                mkdirSync(repo);
                git(repo, "init", "--quiet", "--initial-branch=main");
                writeFileSync(path.join(repo, "README.md"), "a repository\n");
                writeFileSync(path.join(repo, "Pulumi.local.yaml"), "config: {}\n");
                if (base !== null) writeFileSync(path.join(repo, "Pulumi.prod.yaml"), stackFileWith(base));
                git(repo, "add", ".");
                git(repo, "commit", "--quiet", "-m", "the base branch");
                git(repo, "checkout", "--quiet", "-b", "pull-request");
                writeFileSync(path.join(repo, "Pulumi.prod.yaml"), stackFileWith(head));
                git(repo, "add", "Pulumi.prod.yaml");
                git(repo, "commit", "--quiet", "--allow-empty", "-m", "the change");
                const baseSha = git(repo, "rev-parse", "main").trim();
                writeFileSync(stackFile, git(repo, "show", "pull-request:Pulumi.prod.yaml"));
                // actions/checkout with `ref`, `path`, `sparse-checkout` and `sparse-checkout-cone-mode: false`.
                rmSync(baseDir, { recursive: true, force: true });
                git(work, "clone", "--quiet", "--no-checkout", repo, baseDir);
                git(baseDir, "sparse-checkout", "set", "--no-cone", String(baseCheckout.with?.["sparse-checkout"]));
                git(baseDir, "checkout", "--quiet", baseSha);
                expect(existsSync(path.join(baseDir, "README.md")), "the sparse checkout holds the stack files only").toBe(false);
                expect(existsSync(path.join(baseDir, "Pulumi.local.yaml"))).toBe(true);
            };
            beforeAll(() => {
                original = readFileSync(stackFile, "utf8");
            });
            afterAll(() => {
                writeFileSync(stackFile, original);
                rmSync(baseDir, { recursive: true, force: true });
                rmSync(repo, { recursive: true, force: true });
                baseLikeHead();
            });

            it("checks out the base branch's stack files, keeping no token", () => {
                expect(baseCheckout.with).toMatchObject({
                    ref: "${{ github.event.pull_request.base.sha }}",
                    "persist-credentials": false,
                    "sparse-checkout": "/Pulumi.*.yaml",
                    "sparse-checkout-cone-mode": false,
                });
                expect(step.run).toContain('--base-stack-file "base/Pulumi.$STACK.yaml"');
            });

            it("over the budget: comments first, then fails the check naming what is over which budget", () => {
                pullRequest("        pullOutageSeconds: 30\n", "        pullOutageSeconds: 30\n");
                const { calls, body, stdout } = run([], {}, 2);
                expect(calls[2]).toBe("gh pr comment 42 --repo platform/dso-registry --body-file comment.md");
                expect(body).toContain("**over it, not approved**");
                expect(body).toContain(
                    '- account ci-push: its password rotates; the old one stops working when this runs: over disruptionBudget.credentialCuts "none"',
                );
                expect(body).not.toContain("changes the disruption budget");
                expect(stdout).toContain("::error::The change is over the disruption budget of stack prod");
            });

            it("within the budget, the same on both branches: passes and says so, naming no change to the budget", () => {
                pullRequest("        credentialCuts: any\n", "        credentialCuts: any\n");
                const { body } = run([]);
                expect(body).toContain("**Disruption budget** (the base branch's: pulls 0 s");
                expect(body).toContain("within it.");
                expect(body).not.toContain("changes the disruption budget");
            });

            it("over the budget with the approval label on the pull request: passes", () => {
                pullRequest("        pullOutageSeconds: 30\n", "        pullOutageSeconds: 30\n");
                const { body } = run([], { APPROVED_BY_LABEL: "true" });
                expect(body).toContain("over it, approved by the label `disruption-approved`");
            });

            it("over the budget with an approval the pull request adds to the stack file: passes", () => {
                pullRequest("        pullOutageSeconds: 0\n", '        approved: "platform lead: the rotation is announced"\n');
                const { body } = run([]);
                expect(body).toContain('over it, approved in the stack file: "platform lead: the rotation is announced"');
            });

            it("an approval the base branch's stack file already has approves nothing: fails", () => {
                const approved = '        approved: "platform lead: an earlier rotation"\n';
                pullRequest(approved, approved);
                const { body } = run([], {}, 2);
                expect(body).toContain("is on the base branch already");
            });

            it("a pull request that loosens its budget is judged by the base branch's, and the loosening is named, to approve", () => {
                pullRequest("        credentialCuts: after-overlap\n", "        credentialCuts: any\n");
                const { body, summary, stdout } = run([], {}, 2);
                for (const text of [body, summary]) {
                    expect(text).toContain(
                        '**Disruption budget** (the base branch\'s: pulls 0 s, pushes 0 s, runtime restarts not allowed, credential cuts "after-overlap", data changes not allowed): **over it, and the pull request loosens the budget, not approved**.',
                    );
                    expect(text).toContain(
                        'over disruptionBudget.credentialCuts "after-overlap": a credential stops working when this runs',
                    );
                    expect(text).toContain("**This pull request changes the disruption budget** of stack `prod`");
                    expect(text).toContain('- `credentialCuts`: "after-overlap" → "any" (looser: to approve)');
                }
                expect(stdout).toContain("::error::The change is over the disruption budget of stack prod, or loosens it");
                // The approvals stay where they were: the label, or an approval the pull request's diff shows.
                expect(run([], { APPROVED_BY_LABEL: "true" }).body).toContain(
                    "over it, and the pull request loosens the budget, approved by the label `disruption-approved`.",
                );
                pullRequest(
                    "        credentialCuts: after-overlap\n",
                    '        credentialCuts: any\n        approved: "platform lead: cuts announced"\n',
                );
                expect(run([]).body).toContain('approved in the stack file: "platform lead: cuts announced"');
            });

            it("a pull request that raises a figure of its budget: within the base's budget still, the raise alone is to approve", () => {
                pullRequest(
                    "        pullOutageSeconds: 15\n        credentialCuts: any\n",
                    "        pullOutageSeconds: 60\n        credentialCuts: any\n",
                );
                const { body } = run([], {}, 2);
                expect(body).toContain("**within it, but the pull request loosens the budget, not approved**.");
                expect(body).toContain("- `pullOutageSeconds`: 15 → 60 (looser: to approve)");
                expect(body).toContain("To go ahead, a maintainer adds the label `disruption-approved`");
            });

            it("a pull request that deletes its budget is judged by the base branch's, and the removal is named, key by key", () => {
                pullRequest("        credentialCuts: after-overlap\n", undefined);
                const { body } = run([], {}, 2);
                expect(body).not.toContain("none set for stack");
                expect(body).toContain("**over it, and the pull request loosens the budget, not approved**.");
                expect(body).toContain("**This pull request removes the disruption budget** of stack `prod`");
                expect(body).toContain('- `credentialCuts`: "after-overlap" → no budget (looser: to approve)');
                expect(body).toContain("- `pullOutageSeconds`: 0 → no budget (looser: to approve)");
            });

            it("a pull request that tightens its budget is judged by the base branch's looser one, and says the new one is stricter", () => {
                pullRequest("        credentialCuts: any\n", "        credentialCuts: after-overlap\n");
                const { body } = run([]);
                expect(body).toContain("within it.");
                expect(body).toContain('- `credentialCuts`: "any" → "after-overlap" (stricter)');
                expect(body).not.toContain("To go ahead");
            });

            it("a stack new in the pull request is judged by the default budget, not by the one it brings", () => {
                pullRequest(null, "        credentialCuts: any\n");
                expect(existsSync(path.join(baseDir, "Pulumi.prod.yaml"))).toBe(false);
                const { body } = run([], {}, 2);
                expect(body).toContain("**Disruption budget** (the default, stack `prod` being new in this pull request: pulls 0 s");
                expect(body).toContain("**The stack is new in this pull request**");
                expect(body).toContain('- `credentialCuts`: "none" → "any" (looser: to approve)');
            });

            it("a budget the base branch does not have yet judges nothing until it is merged, and is named", () => {
                pullRequest(undefined, "        credentialCuts: after-overlap\n");
                const { body } = run([]);
                expect(body).toContain("none set for stack `prod` on the base branch, nothing is checked.");
                expect(body).toContain('- `credentialCuts`: no budget → "after-overlap" (a new budget)');
            });

            it("a budget the config refuses fails the step before any comment", () => {
                pullRequest(undefined, "        credentialCuts: some\n");
                rmSync(calls, { force: true });
                const result = runStep(step, workspace, {
                    PATH: `${bin}:${PATH}`,
                    STACK: "prod",
                    CALLS: calls,
                    GITHUB_STEP_SUMMARY: path.join(work, "consequences-summary.md"),
                });
                expect(result.status).toBe(1);
                expect(result.stderr).toContain("dso-registry:disruptionBudget.credentialCuts");
                expect(existsSync(calls), "gh was not called").toBe(false);
            });
        });
    });
});
