/**
 * The config transitions a registry lives through (issue: "the second `pulumi up` and every one after
 * it"), each from a committed stack, and the checks every plan must pass whatever the transition:
 * no data deleted as a side effect, no step that collides with what an old resource still holds, no
 * old delete script lost to an update. The plan itself comes from test/support/plan.ts.
 */
import path from "node:path";
import { PROJECT } from "../../components/config";
import type { RecordedResource } from "../../tools/mockRuntime";
import { type ProgramRun, readStackConfig, runProgram, type StackFileConfig } from "../../tools/synth";
import { type Plan, type PlanOptions, plain, type Step } from "./plan";

const plainInputs = (r: RecordedResource) => plain(r.rawInputs) as Record<string, unknown>;

const PROJECT_DIR = path.resolve(__dirname, "../..");

export type Raw = Record<string, unknown>;

/** A stack's config as decoded values (`registry` → object), and its secret values when set. */
export interface StackState {
    readonly raw: Raw;
    readonly secrets: Readonly<Record<string, string>>;
}

/** The `dso-registry:*` keys of a committed stack, decoded. */
export function committedState(stack: string): StackState {
    const { config } = readStackConfig(PROJECT_DIR, stack);
    const raw: Raw = {};
    for (const [fullKey, value] of Object.entries(config)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        try {
            raw[fullKey.slice(PROJECT.length + 1)] = JSON.parse(value);
        } catch {
            raw[fullKey.slice(PROJECT.length + 1)] = value;
        }
    }
    return { raw, secrets: {} };
}

/** The config as the CLI hands it to the program: secrets set here are secret keys. */
export function stackFileConfig(state: StackState): StackFileConfig {
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(state.raw)) config[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries(state.secrets)) config[`${PROJECT}:${k}`] = v;
    return { config, secretKeys: Object.keys(state.secrets).map((k) => `${PROJECT}:${k}`) };
}

/** One run of the program for a config; runs are sequential (Pulumi's runtime is process-global). */
const runs = new Map<string, Promise<ProgramRun>>();
let queue: Promise<unknown> = Promise.resolve();
export function run(stack: string, state: StackState): Promise<ProgramRun> {
    const id = JSON.stringify([stack, state]);
    let result = runs.get(id);
    if (!result) {
        result = queue.then(() => runProgram(stack, stackFileConfig(state)));
        queue = result.catch(() => undefined);
        runs.set(id, result);
    }
    return result;
}

/** A copy of the state with `edit` applied to a deep copy of its values. */
export function edited(state: StackState, edit: (raw: Raw, secrets: Record<string, string>) => void): StackState {
    const raw = structuredClone(state.raw);
    const secrets = { ...state.secrets };
    edit(raw, secrets);
    return { raw, secrets };
}

export interface Transition {
    readonly name: string;
    readonly stack: "local" | "prod";
    readonly from: StackState;
    /** The config of the `up`; undefined: `pulumi destroy`. */
    readonly to?: StackState;
    /** A destroy meant to delete the registry's data (purge on). */
    readonly purges?: boolean;
    readonly options?: PlanOptions;
}

// ---------------------------------------------------------------------------------------------
// What a script does, read from the rendered text (parameters are assigned at its top)
// ---------------------------------------------------------------------------------------------

/** A rendered script's parameter value (`NAME='value'` or `NAME=value` at its top). */
export function scriptParam(script: unknown, name: string): string | undefined {
    if (typeof script !== "string") return undefined;
    // Plain, or quoted once more inside a wrapper (`sudo -n sh -c '…'` writes ' as '\'').
    const match = new RegExp(`^${name}=(?:'\\\\''([^']*)'\\\\''|'([^']*)'|(\\S*))$`, "m").exec(script);
    return match ? (match[1] ?? match[2] ?? match[3]) : undefined;
}

/** The scripts a step runs on a machine, in order, with the inputs each runs with (see plan.ts). */
export function scriptsOf(step: Step): { script: string; phase: "create" | "update" | "delete" }[] {
    if (!step.type.startsWith("command:")) return [];
    const out: { script: string; phase: "create" | "update" | "delete" }[] = [];
    const push = (value: unknown, phase: "create" | "update" | "delete") => {
        if (typeof value === "string" && value.length > 0) out.push({ script: value, phase });
    };
    if (step.op === "create") push(step.news?.create, "create");
    if (step.op === "update") push(step.news?.update ?? step.news?.create, "update");
    if (step.op === "replace") {
        if (step.deleteBeforeReplace) push(step.olds?.delete, "delete");
        push(step.news?.create, "create");
        // Without delete-before-replace the old delete runs with the deletes, at the end (plan.ts).
    }
    if (step.op === "delete" && !step.retained) push(step.olds?.delete, "delete");
    return out;
}

// ---------------------------------------------------------------------------------------------
// The checks every plan must pass
// ---------------------------------------------------------------------------------------------

const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const NAMESPACE = "kubernetes:core/v1:Namespace";

/**
 * Whether a PVC holds registry data: every claim but a pull-through cache's (annotated with its
 * upstream), whose content is fetched again from the upstream.
 */
const holdsData = (inputs: Record<string, unknown> | undefined) => {
    const metadata = (inputs?.metadata ?? {}) as { annotations?: Record<string, string> };
    return !metadata.annotations?.["dso-registry/upstream"];
};
const namespaceOf = (inputs: Record<string, unknown> | undefined) =>
    ((inputs?.metadata ?? {}) as { name?: string; namespace?: string }).namespace;
const nameOf = (inputs: Record<string, unknown> | undefined) => ((inputs?.metadata ?? {}) as { name?: string }).name;

/**
 * Steps that delete registry data: a PVC or its namespace deleted (not retained), a host data directory
 * removed. The host's purge is decided on the host at delete time: a marker file (MARKER) that each `up`
 * writes with the directories a destroy removes (DIRECTORIES, empty: none), read by the delete that
 * purges; so the marker's content is followed through the steps, starting from the old state's.
 */
export function dataLosses(before: readonly RecordedResource[], plan: Plan): string[] {
    const losses: string[] = [];
    const markers = new Map<string, string>();
    const writeMarker = (script: unknown) => {
        const marker = scriptParam(script, "MARKER");
        const directories = scriptParam(script, "DIRECTORIES");
        if (marker && directories !== undefined) markers.set(marker, directories);
    };
    for (const r of before) writeMarker((r.rawInputs as Record<string, unknown>).create);
    // Deleting a namespace deletes every claim in it: the namespaces of the old data claims hold data.
    const dataNamespaces = new Set(
        before
            .filter((r) => r.type === PVC && holdsData(plainInputs(r)))
            .map((r) => namespaceOf(plainInputs(r)))
            .filter((n): n is string => n !== undefined),
    );
    for (const step of plan.steps) {
        const removes = (step.op === "delete" || step.op === "replace") && !step.retained;
        const data =
            (step.type === PVC && holdsData(step.olds)) || (step.type === NAMESPACE && dataNamespaces.has(nameOf(step.olds) ?? ""));
        if (removes && data) losses.push(`${step.op} ${step.type} ${step.name}`);
        for (const { script, phase } of scriptsOf(step)) {
            if (scriptParam(script, "PURGE") === "true" && scriptParam(script, "DATA_DIR")) {
                losses.push(`${step.op} ${step.name} removes ${scriptParam(script, "DATA_DIR")}`);
            }
            const marker = scriptParam(script, "MARKER");
            if (!marker) continue;
            if (scriptParam(script, "DIRECTORIES") !== undefined) {
                if (phase !== "delete") writeMarker(script);
            } else if (phase === "delete" && markers.get(marker)?.trim()) {
                losses.push(`${step.op} ${step.name} removes ${markers.get(marker)!.trim().split("\n").join(", ")}`);
            }
        }
    }
    return losses;
}

/**
 * Where a host command's container listens: the loopback port it publishes (HOST_PORT of its script)
 * or the directory of its unix socket (SOCKET_DIR of a cache's, MAVEN_SOCKET_DIR of the Maven
 * backend's script).
 */
const portOf = (inputs: Record<string, unknown> | undefined) =>
    scriptParam(inputs?.create, "HOST_PORT") ??
    scriptParam(inputs?.create, "SOCKET_DIR") ??
    (scriptParam(inputs?.create, "MAVEN_SOCKET_DIR") || undefined);

/**
 * Steps that start a container on a host port or socket directory an old container still holds: the
 * engine runs the other's delete only after every create and update, so the step fails (`docker run
 * -p` refuses a port) or the old delete, run last, removes the new container's socket directory.
 */
export function portCollisions(before: readonly RecordedResource[], plan: Plan): string[] {
    const holders = new Map<string, string>();
    for (const r of before) {
        const port = portOf(r.rawInputs as Record<string, unknown>);
        if (port) holders.set(port, r.urn);
    }
    const collisions: string[] = [];
    for (const step of plan.steps) {
        const oldPort = portOf(step.olds);
        const newPort = portOf(step.news);
        if (step.op === "delete" || (step.op === "replace" && step.deleteBeforeReplace)) {
            if (oldPort && holders.get(oldPort) === step.urn) holders.delete(oldPort);
            if (step.op === "delete") continue;
        }
        if (step.op === "update" && oldPort && holders.get(oldPort) === step.urn) holders.delete(oldPort);
        if (!newPort) continue;
        const holder = holders.get(newPort);
        if (holder && holder !== step.urn)
            collisions.push(`${step.op} ${step.name} publishes ${newPort}, still held by ${holder.split("::").pop()}`);
        holders.set(newPort, step.urn);
    }
    return collisions;
}

/** Paths a script names (absolute, as the delete scripts remove them). */
const pathsIn = (script: unknown) => new Set(typeof script === "string" ? (script.match(/\/[A-Za-z0-9._/-]*[A-Za-z0-9_-]/g) ?? []) : []);

/**
 * Updates that change a command's delete script so that it no longer names a path the old one named:
 * the old delete never runs (an update runs create or update only, and state keeps the new delete),
 * so whatever it would have removed there stays on the machine.
 */
export function lostDeletes(plan: Plan): string[] {
    const lost: string[] = [];
    for (const s of plan.steps) {
        if (s.op !== "update" || !s.type.startsWith("command:")) continue;
        const kept = pathsIn(s.news?.delete);
        const gone = [...pathsIn(s.olds?.delete)].filter((p) => !kept.has(p));
        if (gone.length > 0) lost.push(`update ${s.name}: the old delete of ${gone.join(", ")} never runs`);
    }
    return lost;
}
