/**
 * The OCI distribution-spec conformance suite (tools/conformance), run against one registry, and its
 * per-step results read from the JUnit report it writes. The suite walks the spec's workflows (blobs
 * by every upload method, manifests and indexes of many shapes, tags, referrers, deletes) and names
 * each step by its path, e.g. "OCI Conformance Test/image/push/manifest-by-tag".
 *
 *     const run = await runConformance({ registry: reg.authority, tls: "enabled", caCertFile: reg.ca.caCertFile, account: reg.push });
 *     run.steps.get("OCI Conformance Test/ping");   // "passed"
 *     stepDifferences(reference.steps, run.steps, refusals);
 *
 * Credentials reach the suite in its environment (OCI_USERNAME, OCI_PASSWORD), never on a command
 * line; its reports, which hold the configuration with the password redacted, stay in a scratch
 * directory removed after the run. Needs Go and the module proxy the first time (a warm cache builds
 * nothing).
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { privateDir, removeDir } from "./serverProcess";

/** A step's result: the suite's JUnit statuses, several runs of one step name folded into one. */
export type StepStatus = "passed" | "failure" | "skipped";

/** The registry the suite talks to. */
export interface ConformanceTarget {
    /** "host:port". */
    readonly registry: string;
    /** `enabled`: HTTPS verified against `caCertFile`; `disabled`: plain HTTP. */
    readonly tls: "enabled" | "disabled";
    readonly caCertFile?: string;
    /** The account the suite logs in with; anonymous when unset. */
    readonly account?: { readonly username: string; readonly password: string };
}

/** One run of the suite. */
export interface ConformanceRun {
    /** Every step by name. */
    readonly steps: ReadonlyMap<string, StepStatus>;
    /** The suite's summary as it printed it (for a failure's message). */
    readonly summary: string;
}

let suite: string | undefined;

/** The suite's binary, built by tools/conformance/build.sh on the first call. */
export function conformanceSuite(): string {
    if (!suite) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/conformance/build.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/conformance/build.sh failed (exit ${build.status ?? build.signal})`);
        suite = path.join(build.stdout.trim().split("\n").at(-1) as string, "conformance");
    }
    return suite;
}

/**
 * Runs every workflow the suite has by default (OCI 1.1: pull, push, tag listing, referrers, deletes,
 * sha256 and sha512 content) against `target`, in two repositories of its own. Resolves when the
 * suite is done; the suite exits 1 when any step fails, which is a result here, not an error.
 */
export async function runConformance(target: ConformanceTarget): Promise<ConformanceRun> {
    const dir = privateDir("conformance");
    try {
        const results = path.join(dir, "results");
        // Only the suite's own variables, so nothing of the caller's environment configures it by
        // accident; it runs in the scratch directory, where it finds no oci-conformance.yaml.
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH,
            HOME: dir,
            OCI_RESULTS_DIR: results,
            OCI_VERSION: "1.1",
            OCI_REGISTRY: target.registry,
            OCI_TLS: target.tls,
            OCI_REPO1: "conformance/repo1",
            OCI_REPO2: "conformance/repo2",
            ...(target.caCertFile ? { SSL_CERT_FILE: target.caCertFile } : {}),
            ...(target.account ? { OCI_USERNAME: target.account.username, OCI_PASSWORD: target.account.password } : {}),
        };
        const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
            const child = spawn(conformanceSuite(), [], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
            let text = "";
            child.stdout.on("data", (chunk: Buffer) => {
                text += chunk.toString();
            });
            child.stderr.on("data", (chunk: Buffer) => {
                text += chunk.toString();
            });
            const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
            child.once("error", reject);
            child.once("close", (exit) => {
                clearTimeout(timer);
                resolve({ code: exit, output: text });
            });
        });
        let junit: string;
        try {
            junit = readFileSync(path.join(results, "junit.xml"), "utf8");
        } catch {
            throw new Error(`the conformance suite wrote no report (exit ${code})\n${output.slice(-5000)}`);
        }
        const summaryStart = output.indexOf("API conformance:");
        return {
            steps: parseJunitSteps(junit),
            summary: summaryStart >= 0 ? output.slice(summaryStart, summaryStart + 4000) : output.slice(-4000),
        };
    } finally {
        removeDir(dir);
    }
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** An XML attribute value as written (entities and character references) back to text. */
function xmlText(value: string): string {
    return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
        if (ref.startsWith("#x") || ref.startsWith("#X")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
        if (ref.startsWith("#")) return String.fromCodePoint(Number(ref.slice(1)));
        return XML_ENTITIES[ref] ?? whole;
    });
}

/**
 * The steps of the suite's junit.xml: each `testcase` by its name and `status` attribute (passed,
 * skipped, failure, error). A name the suite runs more than once (a delete after each of two pushes)
 * is one step: failed if any run failed or erred, else passed if any passed, else skipped.
 */
export function parseJunitSteps(xml: string): Map<string, StepStatus> {
    const steps = new Map<string, StepStatus>();
    for (const match of xml.matchAll(/<testcase\b([^>]*)>/g)) {
        const attributes = new Map([...match[1]!.matchAll(/([a-zA-Z]+)="([^"]*)"/g)].map((a) => [a[1]!, xmlText(a[2]!)]));
        const name = attributes.get("name");
        const status = attributes.get("status");
        if (name === undefined || status === undefined) throw new Error(`junit.xml: a testcase without a name or status: ${match[0]}`);
        const result: StepStatus = status === "passed" ? "passed" : status === "skipped" ? "skipped" : "failure";
        const before = steps.get(name);
        if (before === "failure" || (before === "passed" && result === "skipped")) continue;
        steps.set(name, result);
    }
    if (steps.size === 0) throw new Error("junit.xml holds no testcase");
    return steps;
}

/** A deliberate refusal of a front: the steps it makes fail, and why the front refuses them. */
export interface Refusal {
    /** Matches the names of the steps the refusal makes fail. */
    readonly steps: RegExp;
    /** Why the front refuses, for a newcomer reading the comparison. */
    readonly reason: string;
}

/**
 * The steps `reference` passes and `candidate` does not (failed, skipped or never run), but those a
 * refusal names; each as "<step>: <status>". Empty when the candidate passes everything the reference does.
 */
export function stepDifferences(
    reference: ReadonlyMap<string, StepStatus>,
    candidate: ReadonlyMap<string, StepStatus>,
    refusals: readonly Refusal[] = [],
): string[] {
    return [...reference]
        .filter(([name, status]) => status === "passed" && candidate.get(name) !== "passed")
        .filter(([name]) => !refusals.some((r) => r.steps.test(name)))
        .map(([name]) => `${name}: ${candidate.get(name) ?? "not run"}`);
}

/** The steps `passes` passes and `fails` does not: what one registry has that the other lacks. */
export function passedOnlyBy(passes: ReadonlyMap<string, StepStatus>, fails: ReadonlyMap<string, StepStatus>): string[] {
    return stepDifferences(passes, fails).map((line) => line.replace(/: [a-z ]+$/, ""));
}

/** A step's workflow: the second part of its name ("image" in "OCI Conformance Test/image/push/…"). */
export function workflowOf(step: string): string {
    return step.split("/")[1] ?? step;
}

/**
 * A compact table: one row per workflow, one column per run, each cell "<passed>/<steps>" of that
 * workflow's steps in that run (a step not run counts as not passed).
 */
export function conformanceTable(runs: readonly { readonly name: string; readonly steps: ReadonlyMap<string, StepStatus> }[]): string {
    const workflows = new Map<string, Set<string>>();
    for (const run of runs)
        for (const step of run.steps.keys()) {
            const workflow = workflowOf(step);
            workflows.set(workflow, (workflows.get(workflow) ?? new Set()).add(step));
        }
    const header = ["workflow", ...runs.map((r) => r.name)];
    const rows = [...workflows].map(([workflow, steps]) => [
        workflow,
        ...runs.map((run) => `${[...steps].filter((s) => run.steps.get(s) === "passed").length}/${steps.size}`),
    ]);
    const total = [
        "all steps",
        ...runs.map((run) => {
            const all = [...workflows.values()].flatMap((s) => [...s]);
            return `${all.filter((s) => run.steps.get(s) === "passed").length}/${all.length}`;
        }),
    ];
    const table = [header, ...rows, total];
    const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")).join("\n");
}
