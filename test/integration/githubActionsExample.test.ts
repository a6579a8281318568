/**
 * docs/examples/github-actions-image.yml, run as a GitHub runner runs its job: each `run` step in bash
 * (`bash -e`, as GitHub's default shell) with the job's and the step's `env`, whose `${{ vars.* }}` and
 * `${{ secrets.* }}` expressions are filled in from the repository's settings; `GITHUB_SHA` set; a step
 * skipped by its `if:`, and after a failed step only `if: always()` steps run. The `uses` step (checkout)
 * is the test's own checkout directory. The runner's Docker engine is a real dockerd in a network namespace
 * the test owns; the registry is the in-cluster front (Caddy with the sidecar's TLS site, Distribution),
 * which the engine trusts only through what the CA step writes.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { type InClusterTlsSite, startInClusterTlsSite } from "../support/inClusterTlsFront";
import type { RunResult } from "../support/serverProcess";

const WORKFLOW = path.resolve(__dirname, "../../docs/examples/github-actions-image.yml");
const HOST = "registry-dso.jmann.local";
const IMAGE_PREFIX = `${HOST}/team`;

interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly if?: string;
    readonly env?: Record<string, string>;
    readonly run?: string;
}
interface Job {
    readonly env?: Record<string, string>;
    readonly steps: Step[];
}

/** The repository's settings the workflow reads. */
interface Settings {
    readonly vars: Record<string, string>;
    readonly secrets: Record<string, string>;
}

/** A `${{ … }}` value filled in as GitHub does; an expression this runner does not know is an error. */
function expand(value: string, settings: Settings): string {
    return value.replace(/\$\{\{\s*(vars|secrets)\.([A-Z_][A-Z0-9_]*)\s*\}\}/g, (_, scope: "vars" | "secrets", name: string) => {
        return settings[scope][name] ?? "";
    });
}

/** Whether a step runs: its `if:` (`always()` or `vars.NAME != ''`), and whether an earlier step failed. */
function runs(step: Step, settings: Settings, failed: boolean): boolean {
    const condition = step.if?.trim();
    if (condition === undefined) return !failed;
    if (condition === "always()") return true;
    const unset = /^vars\.([A-Z_][A-Z0-9_]*) != ''$/.exec(condition);
    if (!unset) throw new Error(`the test's runner does not know the condition "${condition}"`);
    return !failed && (settings.vars[unset[1]!] ?? "") !== "";
}

interface StepResult extends RunResult {
    readonly name: string;
}

let site: InClusterTlsSite;
let engine: DockerEngine;
let checkout: string;
const job: Job = Object.values((parse(readFileSync(WORKFLOW, "utf8")) as { jobs: Record<string, Job> }).jobs)[0]!;

/** The job's steps on the runner, with `settings`; returns each step that ran. */
function runJob(settings: Settings, sha: string): { steps: StepResult[]; configDir: string } {
    const client = engine.client();
    const results: StepResult[] = [];
    let failed = false;
    for (const step of job.steps) {
        if (step.run === undefined || !runs(step, settings, failed)) continue;
        const env: NodeJS.ProcessEnv = { ...process.env, ...client.env, GITHUB_SHA: sha };
        for (const [key, value] of Object.entries({ ...job.env, ...step.env })) env[key] = expand(value, settings);
        const result = site.ns.run("bash", ["-e", "-c", step.run], { env, cwd: checkout });
        results.push({ name: step.name ?? step.run, ...result });
        if (result.code !== 0) failed = true;
    }
    return { steps: results, configDir: client.configDir };
}

/** The runner's trust for the registry, as the CA step leaves it: removed before each run. */
const runnerCaDir = () => path.join(site.ns.etcDir, "docker", "certs.d", HOST);
const said = (steps: readonly StepResult[]) => steps.map((s) => `${s.name}: ${s.code}\n${s.stdout}\n${s.stderr}`).join("\n");

beforeAll(async () => {
    site = await startInClusterTlsSite({ dirName: "github-actions", prefix: "gh", subnet: "198.19.128.0/20", host: HOST });
    try {
        engine = await startDockerEngine(site.ns);
    } catch (error) {
        await site.stop();
        throw error;
    }
    // The application's repository as actions/checkout leaves it: a Dockerfile and what it copies.
    checkout = path.join(site.dir, "checkout");
    mkdirSync(checkout);
    writeFileSync(path.join(checkout, "Dockerfile"), "FROM scratch\nCOPY payload /payload\n");
    writeFileSync(path.join(checkout, "payload"), randomBytes(4096));
}, 180_000);

afterAll(async () => {
    await engine?.stop();
    await site?.stop();
});

describe("the GitHub Actions example (docs/examples/github-actions-image.yml)", () => {
    test("secrets reach the steps only through env, never in a step's script", () => {
        const scripts = job.steps.flatMap((s) => (s.run ? [s.run] : []));
        expect(scripts.length).toBeGreaterThan(3);
        for (const script of scripts) expect(script).not.toMatch(/\$\{\{/);
        const login = job.steps.filter((s) => Object.values(s.env ?? {}).some((v) => v.includes("secrets.")));
        expect(login.map((s) => s.name)).toEqual(["Log in with the push account"]);
        // From the environment to docker's stdin: not an argument, which any user of the runner sees in `ps`.
        expect(login[0]!.run).toContain("--password-stdin");
        expect(login[0]!.run).not.toMatch(/\s(-p|--password)[\s=]/);
    });

    test("with the repository's settings the job trusts the CA, logs in, builds and pushes; the pull account pulls the image back", () => {
        rmSync(runnerCaDir(), { recursive: true, force: true });
        const sha = randomBytes(20).toString("hex");
        const settings: Settings = {
            vars: { IMAGE_PREFIX, REGISTRY_CA_PEM: site.ca.caCertPem },
            secrets: { REGISTRY_USERNAME: site.push.username, REGISTRY_PASSWORD: site.push.password },
        };
        const { steps, configDir } = runJob(settings, sha);
        expect(
            steps.map((s) => [s.name, s.code]),
            said(steps),
        ).toEqual([
            ["Trust the registry's CA", 0],
            ["Log in with the push account", 0],
            ["Build", 0],
            ["Push", 0],
            ["Log out", 0],
        ]);
        expect(said(steps)).not.toContain(site.push.password);
        // The runner keeps no credential after the job.
        const config = path.join(configDir, "config.json");
        expect(existsSync(config) ? readFileSync(config, "utf8") : "").not.toContain(HOST);

        const reader = engine.client();
        expect(reader.login(HOST, site.pull).code).toBe(0);
        engine.docker(["rmi", `${IMAGE_PREFIX}/app:${sha}`]);
        const pulled = reader.docker(["pull", `${IMAGE_PREFIX}/app:${sha}`]);
        expect(pulled.code, pulled.stderr).toBe(0);
        expect(pulled.stdout).toContain(`Downloaded newer image for ${IMAGE_PREFIX}/app:${sha}`);
    });

    test("with a wrong password the login step fails, nothing is built or pushed, and the log-out still runs", () => {
        const wrong = randomBytes(18).toString("base64url");
        const { steps } = runJob(
            {
                vars: { IMAGE_PREFIX, REGISTRY_CA_PEM: site.ca.caCertPem },
                secrets: { REGISTRY_USERNAME: site.push.username, REGISTRY_PASSWORD: wrong },
            },
            randomBytes(20).toString("hex"),
        );
        expect(
            steps.map((s) => [s.name, s.code === 0]),
            said(steps),
        ).toEqual([
            ["Trust the registry's CA", true],
            ["Log in with the push account", false],
            ["Log out", true],
        ]);
        expect(said(steps)).toMatch(/unauthorized/i);
        expect(said(steps)).not.toContain(wrong);
    });

    test("without REGISTRY_CA_PEM the CA step is skipped, and a registry with a generated CA refuses the login on its certificate", () => {
        rmSync(runnerCaDir(), { recursive: true, force: true });
        const { steps } = runJob(
            { vars: { IMAGE_PREFIX }, secrets: { REGISTRY_USERNAME: site.push.username, REGISTRY_PASSWORD: site.push.password } },
            randomBytes(20).toString("hex"),
        );
        expect(steps.map((s) => [s.name, s.code === 0])).toEqual([
            ["Log in with the push account", false],
            ["Log out", true],
        ]);
        expect(said(steps)).toContain("x509: certificate signed by unknown authority");
    });
});
