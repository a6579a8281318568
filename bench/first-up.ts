/**
 * From `pulumi up` to a running pod, with the engine tier's real pieces (docs/engine.md): the real Pulumi CLI
 * and Kubernetes provider from the engine set, a real kind cluster on a private Docker engine
 * (test/support/kindCluster.ts) and a real node whose pods run (test/support/kubeNode.ts), set up as
 * test/engine/kindCluster.test.ts and test/engine/localPods.test.ts set them up.
 *
 *   kind:  the README's kind quick start (`npx pulumi stack init kind`, `npx pulumi up`, the push account
 *          from `stack output`, `docker login`, `docker tag`, `docker push`, `kubectl run hello …`,
 *          `kubectl wait` for the pod to have Succeeded), each step timed; then a no-change `up`.
 *   local: the local (microk8s-shaped) stack's first `up` on the real node, then its registry pods
 *          counted Ready; then a no-change `up`.
 *
 * Each `up` prints the engine's events (`--json`); the bench reads them as they come and stamps each one
 * when it appears, so that every resource's step has a start and an end: the time of each kind of
 * resource (provider awaits of Deployments and DaemonSets, the commands that run the containers and
 * configure the nodes, …), the chain of steps that the last one waited for (the critical path: what
 * made `up` as long as it was), the program's start (the CLI's start to the first resource registered)
 * and the CLI's end (the last step to the exit).
 *
 * The machine's load (/proc/loadavg) is printed with every run: "loaded" above 2.
 *
 *   sh tools/node/run.sh npx tsx bench/first-up.ts [--runs 3] [--only kind|local] [--steps 12]
 *
 * tools/node/run.sh puts the Node the tests run on first on the PATH, so that the program runs on a Node its
 * engines accept (with NODE_DISABLE_COMPILE_CACHE=1: without Node's compile cache, for a comparison).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { busyboxImage, pinnedCaddyImage, registryImage, registryUiStandInImage } from "../test/support/dockerImages";
import { startFakeJenkins } from "../test/support/fakeJenkins";
import { type KindCluster, startKindCluster } from "../test/support/kindCluster";
import { dockerCliImage } from "../test/support/kindNode";
import { startTraefikInKind } from "../test/support/kindTraefik";
import type { RealCluster } from "../test/support/kubeNode";
import { startLocalStackNode } from "../test/support/localNode";
import { engineSet, openWorkspace, PROJECT_DIR, type Workspace } from "../test/support/pulumiEngine";
import { privateDir, removeDir, run } from "../test/support/serverProcess";
import { arg, median, runBench } from "./support";

const RUNS = arg("runs", 3);
const LOCAL_STACK = "local";
const STEPS = arg("steps", 12);
const only = (() => {
    const i = process.argv.indexOf("--only");
    return i > 0 ? process.argv[i + 1] : undefined;
})();

const load = () => {
    const one = loadavg()[0] ?? 0;
    return `load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}${one > 2 ? " (loaded)" : ""}`;
};
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** One engine event as the event log has it, with the moment the bench saw it appear. */
interface StampedEvent {
    readonly at: number;
    readonly event: Record<string, unknown>;
}

/**
 * Runs `command` in the workspace and stamps each JSON document it prints (`up --json`: the engine's events,
 * one document each, as they happen) with the moment it was complete; the exit code and the output.
 */
function runStamped(
    ws: Workspace,
    command: string,
    args: readonly string[],
): Promise<{ code: number; output: string; events: StampedEvent[] }> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, [...args], { cwd: ws.projectDir, env: ws.env, stdio: ["ignore", "pipe", "pipe"] });
        const events: StampedEvent[] = [];
        let output = "";
        let doc: string[] = [];
        let partial = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            output += chunk;
            const lines = (partial + chunk).split("\n");
            partial = lines.pop() ?? "";
            const at = Date.now();
            for (const line of lines) {
                if (line.startsWith("{")) doc = [];
                doc.push(line);
                // A document ends with a closing brace at the start of a line (or is one line of its own).
                if (line === "}" || (line.startsWith("{") && line.endsWith("}"))) {
                    try {
                        events.push({ at, event: JSON.parse(doc.join("\n")) as Record<string, unknown> });
                    } catch {
                        // Not an event (a message of the CLI's own).
                    }
                    doc = [];
                }
            }
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
        child.once("error", reject);
        child.once("close", (code) => resolve({ code: code ?? -1, output, events }));
    });
}

interface Step {
    readonly urn: string;
    readonly type: string;
    readonly op: string;
    readonly start: number;
    readonly end: number;
}

/** The part of an `up` each kind of resource stands for, by its type. */
function category(type: string): string {
    if (/^kubernetes:apps\/v1:(Deployment|DaemonSet|StatefulSet)$/.test(type)) return "workloads (provider awaits)";
    if (type.startsWith("kubernetes:")) return "other Kubernetes objects";
    if (type.startsWith("command:")) return "commands (containers, nodes)";
    if (type.startsWith("random:") || type.startsWith("tls:")) return "credentials and keys";
    if (type.startsWith("pulumi:providers:")) return "providers";
    return type.split(":").slice(0, 2).join(":");
}

/** An `up`'s timing: the CLI's run, its steps and where the time went. */
interface UpTiming {
    readonly wallMs: number;
    /**
     * The CLI's start to the update's first event: the CLI and the language host starting, and the preview
     * `up` runs first (its program run, type-checked or not; none with --skip-preview).
     */
    readonly beforeUpdateMs: number;
    /** The update's start (its prelude) to its first resource registered: the program's start. */
    readonly programStartMs: number;
    /** The first step's start to the last one's end. */
    readonly stepsMs: number;
    /** The last event to the CLI's exit. */
    readonly endMs: number;
    readonly changed: number;
    readonly steps: readonly Step[];
}

function analyse(events: readonly StampedEvent[], spawnedAt: number, exitedAt: number): UpTiming {
    const preludes = events.map((e, i) => ("preludeEvent" in e.event ? i : -1)).filter((i) => i >= 0);
    const updateFrom = preludes.at(-1) ?? 0;
    const update = events.slice(updateFrom);
    const starts = new Map<string, { at: number; type: string; op: string }>();
    const steps: Step[] = [];
    for (const { at, event } of update) {
        const pre = event.resourcePreEvent as
            | { metadata?: { urn: string; type: string; op: string; new?: { custom?: boolean }; old?: { custom?: boolean } } }
            | undefined;
        // Custom resources only: a component's (the stack's among them) step lasts as long as its children.
        if (pre?.metadata && (pre.metadata.new ?? pre.metadata.old)?.custom === true)
            starts.set(pre.metadata.urn, { at, type: pre.metadata.type, op: pre.metadata.op });
        const done = (event.resOutputsEvent ?? event.resOpFailedEvent) as { metadata?: { urn: string } } | undefined;
        const started = done?.metadata ? starts.get(done.metadata.urn) : undefined;
        if (done?.metadata && started) steps.push({ urn: done.metadata.urn, ...started, start: started.at, end: at });
    }
    const first = Math.min(...steps.map((s) => s.start));
    const last = Math.max(...steps.map((s) => s.end));
    const preludeAt = update[0]?.at ?? spawnedAt;
    const lastEvent = update.at(-1)?.at ?? exitedAt;
    return {
        wallMs: exitedAt - spawnedAt,
        beforeUpdateMs: preludeAt - spawnedAt,
        programStartMs: steps.length ? first - preludeAt : 0,
        stepsMs: steps.length ? last - first : 0,
        endMs: exitedAt - lastEvent,
        changed: steps.filter((s) => s.op !== "same" && s.op !== "read").length,
        steps,
    };
}

/**
 * The chain of steps the last one waited for: from the step that ended last, back to the latest step that
 * ended before it started, and so on; each with its own time and the gap before it (the engine's and the
 * program's own time between steps).
 */
function criticalPath(steps: readonly Step[]): { step: Step; gapMs: number }[] {
    const chain: { step: Step; gapMs: number }[] = [];
    let current = [...steps].sort((a, b) => b.end - a.end)[0];
    while (current) {
        const cur: Step = current;
        const before = steps.filter((s) => s.end <= cur.start).sort((a, b) => b.end - a.end)[0];
        chain.unshift({ step: cur, gapMs: before ? cur.start - before.end : 0 });
        current = before;
    }
    return chain;
}

const name = (urn: string) => urn.split("::").pop() ?? urn;

function printUp(label: string, t: UpTiming): void {
    console.log(
        `  ${label}: ${seconds(t.wallMs)} s (CLI start and preview ${seconds(t.beforeUpdateMs)} s, program start ${seconds(t.programStartMs)} s, steps ${seconds(t.stepsMs)} s, CLI end ${seconds(t.endMs)} s; ${t.changed} of ${t.steps.length} resources changed)`,
    );
    if (t.changed === 0) return;
    const byCategory = new Map<string, { count: number; sum: number; longest: number }>();
    for (const s of t.steps.filter((x) => x.op !== "same")) {
        const c = byCategory.get(category(s.type)) ?? { count: 0, sum: 0, longest: 0 };
        byCategory.set(category(s.type), {
            count: c.count + 1,
            sum: c.sum + (s.end - s.start),
            longest: Math.max(c.longest, s.end - s.start),
        });
    }
    console.log("    by kind of resource (changed ones; they overlap): count, summed s, longest s");
    for (const [c, v] of [...byCategory].sort((a, b) => b[1].longest - a[1].longest))
        console.log(`      ${c.padEnd(32)} ${String(v.count).padStart(3)} ${seconds(v.sum).padStart(7)} ${seconds(v.longest).padStart(7)}`);
    const chain = criticalPath(t.steps);
    const inSteps = chain.reduce((a, c) => a + c.step.end - c.step.start, 0);
    console.log(`    critical path: ${chain.length} steps, ${seconds(inSteps)} s in steps, ${seconds(t.stepsMs - inSteps)} s between them`);
    for (const { step, gapMs } of chain.filter((c) => c.step.end - c.step.start >= 300 || c.gapMs >= 300))
        console.log(
            `      +${seconds(gapMs).padStart(5)} ${seconds(step.end - step.start).padStart(6)} s  ${step.op} ${name(step.urn)} (${step.type})`,
        );
    console.log(`    slowest steps:`);
    for (const s of [...t.steps].sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, STEPS))
        console.log(`      ${seconds(s.end - s.start).padStart(6)} s  ${s.op} ${name(s.urn)} (${s.type})`);
}

/** Runs `pulumi up` (with `args`, its events as JSON) in `ws`, or `viaShell` as a person types it; its timing. */
async function timedUp(ws: Workspace, args: readonly string[], viaShell?: string): Promise<UpTiming> {
    const spawnedAt = Date.now();
    const result = viaShell
        ? await runStamped(ws, "sh", ["-c", `${viaShell} --json`])
        : await runStamped(ws, path.join(engineSet(), "bin", "pulumi"), ["up", ...args, "--json", "--non-interactive"]);
    const exitedAt = Date.now();
    if (result.code !== 0) throw new Error(`up failed (exit ${result.code}):\n${result.output.slice(-8000)}`);
    return analyse(result.events, spawnedAt, exitedAt);
}

/** `min / median / max` of each figure over the runs. */
function summary(label: string, values: readonly number[]): string {
    if (values.length === 0) return `${label}: none`;
    return `${label.padEnd(44)} ${[Math.min(...values), median([...values]), Math.max(...values)].map((v) => seconds(v).padStart(6)).join(" /")} s`;
}

/** docs/examples/kind-cluster.yaml's control-plane node, as startKindCluster takes it (as kindCluster.test.ts reads it). */
function exampleControlPlane(): string[] {
    const example = YAML.parse(readFileSync(path.join(PROJECT_DIR, "docs/examples/kind-cluster.yaml"), "utf8")) as {
        nodes: { role: string }[];
    };
    const { role: _role, ...rest } = example.nodes[0] as { role: string };
    return YAML.stringify(rest).trimEnd().split("\n");
}

/**
 * The workspace's environment without the engine tier's choices: the program is loaded as Pulumi.yaml says,
 * as in a person's shell, type-checked or not as its tsconfig says, and Node's compile cache only as far as the
 * program turns it on (for the modules it loads itself, in the temporary directory: here the workspace's own).
 */
function asAPersonRunsIt(ws: Workspace): void {
    delete ws.env.PULUMI_NODEJS_TRANSPILE_ONLY;
    delete ws.env.NODE_COMPILE_CACHE;
    const tmp = path.join(ws.dir, "tmp");
    mkdirSync(tmp, { recursive: true });
    ws.env.TMPDIR = tmp;
}

async function sh(ws: Workspace, line: string, input?: string): Promise<string> {
    const r = await ws.shell(line, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`${line}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
}

async function timed<T>(into: number[], what: () => Promise<T>): Promise<T> {
    const start = Date.now();
    const result = await what();
    into.push(Date.now() - start);
    return result;
}

async function benchKind(): Promise<void> {
    const scratch = privateDir("bench-first-up-kind");
    let cluster: KindCluster | undefined;
    try {
        console.log(`kind: setting up the cluster, its engine and Traefik (${load()})`);
        cluster = await startKindCluster({ name: "kind", controlPlane: exampleControlPlane() });
        const c = cluster;
        registryImage(c.engine);
        pinnedCaddyImage(c.engine);
        dockerCliImage(c.engine);
        const ui = registryUiStandInImage(c.engine);
        const archive = path.join(scratch, "ui.tar");
        c.engine.dockerOk(["save", "-o", archive, ui]);
        const loaded = c.kind(["load", "image-archive", archive, "--name", c.name]);
        if (loaded.code !== 0) throw new Error(`kind load: ${loaded.stderr}`);
        await startTraefikInKind(c);
        busyboxImage(c.engine, "alpine:3.20");
        const figures = {
            total: [] as number[],
            up: [] as number[],
            preview: [] as number[],
            programStart: [] as number[],
            steps: [] as number[],
            push: [] as number[],
            pod: [] as number[],
            noChange: [] as number[],
            noChangeSkipPreview: [] as number[],
        };
        for (let i = 1; i <= RUNS; i++) {
            const ws = openWorkspace({
                stackFiles: ["kind"],
                env: { KUBECONFIG: c.kubeconfig, DOCKER_HOST: c.engine.host, DOCKER_CONFIG: c.engine.client().configDir },
            });
            asAPersonRunsIt(ws);
            try {
                console.log(`kind run ${i} (${load()})`);
                const dataDir = path.join(scratch, `data-${i}`);
                mkdirSync(dataDir);
                await sh(ws, "npx pulumi stack init kind");
                await ws.pulumiOk(["config", "set", "--path", "dso-registry:kind.dataDir", dataDir, "-s", "kind"]);
                const started = Date.now();
                // The README's `npx pulumi up`, as a person runs it: preview, then the update.
                const up = await timedUp(ws, [], "npx pulumi up --yes");
                const push = await timed(figures.push, async () => {
                    const account = JSON.parse(await sh(ws, "npx pulumi stack output --show-secrets pushCredentials")) as {
                        password: string;
                    };
                    await sh(ws, "docker login localhost:5002 -u ci-push --password-stdin", account.password);
                    await sh(ws, "docker tag alpine:3.20 localhost:5002/dev/alpine:3.20");
                    return sh(ws, "docker push localhost:5002/dev/alpine:3.20");
                });
                void push;
                await timed(figures.pod, async () => {
                    await sh(
                        ws,
                        "kubectl run hello --restart=Never --image=localhost:5002/dev/alpine:3.20 -- echo pulled from the registry",
                    );
                    await sh(ws, "kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/hello --timeout=120s");
                });
                figures.total.push(Date.now() - started);
                figures.up.push(up.wallMs);
                figures.preview.push(up.beforeUpdateMs);
                figures.programStart.push(up.programStartMs);
                figures.steps.push(up.stepsMs);
                printUp("npx pulumi up", up);
                console.log(
                    `  stack output, login, tag, push ${seconds(figures.push.at(-1) ?? 0)} s; kubectl run to Succeeded ${seconds(figures.pod.at(-1) ?? 0)} s; from up to the pod ${seconds(figures.total.at(-1) ?? 0)} s (${load()})`,
                );
                const again = await timedUp(ws, ["--yes", "--expect-no-changes", "-s", "kind"]);
                figures.noChange.push(again.wallMs);
                printUp("no-change up (with its preview)", again);
                const skip = await timedUp(ws, ["--yes", "--skip-preview", "--expect-no-changes", "-s", "kind"]);
                figures.noChangeSkipPreview.push(skip.wallMs);
                printUp("no-change up --skip-preview", skip);
                c.kubectl(["delete", "pod", "hello", "--ignore-not-found", "--wait"]);
                await ws.pulumiOk(["destroy", "--yes", "-s", "kind"]);
            } finally {
                ws.close();
            }
        }
        console.log(`kind, ${RUNS} runs: min / median / max (${load()})`);
        console.log(summary("  from `up` to the pod Succeeded", figures.total));
        console.log(summary("  npx pulumi up", figures.up));
        console.log(summary("    CLI start and preview", figures.preview));
        console.log(summary("    the program's start", figures.programStart));
        console.log(summary("    the update's steps", figures.steps));
        console.log(summary("  stack output, login, tag, push", figures.push));
        console.log(summary("  kubectl run to Succeeded", figures.pod));
        console.log(summary("  no-change up", figures.noChange));
        console.log(summary("  no-change up --skip-preview", figures.noChangeSkipPreview));
    } finally {
        await cluster?.stop();
        removeDir(scratch);
    }
}

async function benchLocal(): Promise<void> {
    const token = `token-${Date.now().toString(36)}`;
    let cluster: RealCluster | undefined;
    let closeJenkins: (() => Promise<void>) | undefined;
    let ws: Workspace | undefined;
    try {
        console.log(`local: setting up the node and the control plane (${load()})`);
        cluster = await startLocalStackNode(RUNS + 2);
        const c = cluster;
        // As test/support/localStackOnNode.ts sets the stack up (that module's push loop is vitest's).
        const jenkins = await startFakeJenkins({ user: "admin", apiToken: token });
        closeJenkins = () => jenkins.close();
        ws = openWorkspace({ stackFiles: [LOCAL_STACK], env: { KUBECONFIG: c.kube.kubeconfig } });
        asAPersonRunsIt(ws);
        await ws.pulumiOk(["stack", "init", LOCAL_STACK]);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.url", jenkins.url, "-s", LOCAL_STACK]);
        await ws.pulumiOk(["config", "set", "--secret", "dso-registry:jenkinsApiToken", "-s", LOCAL_STACK], { input: token });
        const kubectl = (...args: string[]) =>
            run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", c.kube.kubeconfig, ...args], { input: "" });
        const figures = { up: [] as number[], ready: [] as number[], noChange: [] as number[], noChangeSkipPreview: [] as number[] };
        for (let i = 1; i <= RUNS; i++) {
            console.log(`local run ${i} (${load()})`);
            const started = Date.now();
            const up = await timedUp(ws, ["--yes", "-s", LOCAL_STACK]);
            figures.up.push(up.wallMs);
            // What `up` returned on: the registry's pods (the registry, its cache) counted Ready by the kubelet.
            const ready = kubectl(
                "wait",
                "-n",
                "dso",
                "--for=condition=Ready",
                "pod",
                "-l",
                "app.kubernetes.io/part-of=dso-registry",
                "--timeout=300s",
            );
            if (ready.code !== 0) throw new Error(`the registry's pods: ${ready.stderr}`);
            figures.ready.push(Date.now() - started);
            printUp("first up", up);
            console.log(`  from up to the registry's pods Ready ${seconds(figures.ready.at(-1) ?? 0)} s (${load()})`);
            const again = await timedUp(ws, ["--yes", "--expect-no-changes", "-s", LOCAL_STACK]);
            figures.noChange.push(again.wallMs);
            printUp("no-change up (with its preview)", again);
            const skip = await timedUp(ws, ["--yes", "--skip-preview", "--expect-no-changes", "-s", LOCAL_STACK]);
            figures.noChangeSkipPreview.push(skip.wallMs);
            printUp("no-change up --skip-preview", skip);
            await ws.pulumiOk(["destroy", "--yes", "-s", LOCAL_STACK]);
        }
        console.log(`local, ${RUNS} runs: min / median / max (${load()})`);
        console.log(summary("  first up (with its preview)", figures.up));
        console.log(summary("  from up to the registry's pods Ready", figures.ready));
        console.log(summary("  no-change up", figures.noChange));
        console.log(summary("  no-change up --skip-preview", figures.noChangeSkipPreview));
    } finally {
        ws?.close();
        await closeJenkins?.();
        await cluster?.stop();
    }
}

runBench(async () => {
    // The Node the program runs on: the first `node` on the PATH, as in a person's shell (tools/node/run.sh puts
    // the supported release first).
    const node = spawnSync("node", ["--version"], { encoding: "utf8" }).stdout.trim();
    console.log(`the program runs on Node ${node}${process.env.NODE_DISABLE_COMPILE_CACHE ? ", Node's compile cache off" : ""}`);
    if (only !== "local") await benchKind();
    if (only !== "kind") await benchLocal();
});
