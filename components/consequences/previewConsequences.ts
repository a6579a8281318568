/**
 * What the preview-consequence rules share: a step of `pulumi preview --json` reduced to what a rule reads
 * (`Change`), what a rule says (`Consequence`, with what it disrupts in the terms of a stack's disruption
 * budget), how a resource is picked out (`Target`), the helpers that tell whether an input or a script
 * parameter changes, and the outages the project has measured.
 *
 * Each component keeps its own rule beside it (`components/<folder>/previewConsequences.ts`: what a change of
 * its children disrupts, naming them through the type tokens and child names the component exports);
 * tools/previewConsequences.ts only lists the rules, applies them to a preview and renders the summary.
 * This folder is under components/ and not tools/ because those rules import it and nothing in components/
 * may import tools/; it is a bottom layer (.dependency-cruiser.cjs): it imports no component, so every
 * folder may import it. The program itself never imports it: only the rules and the tool do.
 *
 * A value the engine knows only during the `up` (its unknown marker) counts as changed, said as "may"; a
 * secret shown as "[secret]" on both sides counts as unchanged unless `detailedDiff` names it. Nothing here
 * reads `diffReasons` or `diffs`: the real Kubernetes provider leaves them empty.
 */

/** The engine's marker for a value known only once the `up` runs (`plugin.UnknownStringValue`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** How `preview --json` shows a secret value. */
const SECRET = "[secret]";

/**
 * Outages the project has measured, each with where it is written down. Nothing else is given a figure.
 */
export const MEASURED_SECONDS = {
    /** The in-cluster registry pod, `Recreate` on a ReadWriteOnce claim, on the engine tier's real node. */
    inClusterRecreate: 10.5,
} as const;

/** The measured outages as the summary says them. */
export const MEASURED = {
    inClusterRecreate: `about ${MEASURED_SECONDS.inClusterRecreate} s without an answer (measured on a real node: docs/in-cluster.md, docs/engine.md)`,
    /** Pods that may overlap, rolled one at a time, each stopping one handing its clients over. */
    inClusterRolling: "no outage expected: no push or pull failed while three pods rolled on a real node (docs/in-cluster.md, Scale-out)",
} as const;

interface StepState {
    readonly type?: string;
    readonly custom?: boolean;
    readonly inputs?: Record<string, unknown>;
    readonly parent?: string;
    readonly retainOnDelete?: boolean;
}

/** One step of `preview --json` as this module reads it. */
export interface PreviewStep {
    readonly op: string;
    readonly urn: string;
    readonly oldState?: StepState;
    readonly newState?: StepState;
    readonly detailedDiff?: Record<string, { kind?: string }> | null;
}

/** What a reviewer is told about, in the order the summary lists it. */
export const KINDS = ["runtime", "registry", "front", "cache", "exposure", "data", "credential", "certificate", "other"] as const;
export type ConsequenceKind = (typeof KINDS)[number];

/**
 * What a consequence disrupts, in the terms of a stack's disruption budget (`dso-registry:disruptionBudget`,
 * components/config/schema/review.ts). A consequence that only may happen (a value known only during the
 * `up`) is counted as if it happens.
 */
export interface Disruption {
    /** Pulls, pushes or both go unanswered: for `seconds` where the project measured it, else for a time nobody measured. */
    readonly outage?: { readonly pulls: boolean; readonly pushes: boolean; readonly seconds?: number };
    /** A node's container runtime restarts. */
    readonly runtimeRestart?: true;
    /** A credential (a password, a Jenkins credential, a pull secret, the CA clients trust) stops working: at once, or when its rotation's overlap ends. */
    readonly credentialCut?: "now" | "after-overlap";
    /** A claim, a namespace, a data directory or what a destroy deletes is touched. */
    readonly data?: true;
}

/** Pulls and pushes unanswered for a time nobody measured. */
export const UNMEASURED_OUTAGE: Disruption = { outage: { pulls: true, pushes: true } };
export const RESTART: Disruption = { runtimeRestart: true };
export const CUT: Disruption = { credentialCut: "now" };
export const DATA: Disruption = { data: true };

/** One consequence of one resource's step. */
export interface Consequence {
    readonly kind: ConsequenceKind;
    /** The sentence a reviewer reads. */
    readonly text: string;
    /** What it disrupts, for the budget; nothing it counts when absent. */
    readonly disrupts?: Disruption;
    /** The resource it comes from (the last part of its URN). */
    readonly resource: string;
}

/** A rule's finding: a consequence before the tool adds the resource it comes from. */
export type Finding = Omit<Consequence, "resource">;

// ---------------------------------------------------------------------------------------------
// Reading steps

/** The operations of a replacement, which the engine may list as one step or as several. */
const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced"]);
/** Operations that change nothing. */
const QUIET_OPS = new Set(["same", "read", "refresh", "discard", "remove-pending-replace"]);

/** A step reduced to what the rules read. */
export interface Change {
    readonly op: "create" | "update" | "replace" | "delete";
    readonly type: string;
    /** The type of the component the resource belongs to (the URN's type chain, one up). */
    readonly parentType: string;
    readonly name: string;
    /** The last part of the parent's URN. */
    readonly parentName: string;
    readonly olds: Record<string, unknown>;
    readonly news: Record<string, unknown>;
    readonly detailed: readonly string[];
    readonly retainOnDelete: boolean;
}

/** The steps of a preview that change something, one change for each resource (a replacement listed as several steps counts once). */
export function changesOf(steps: readonly PreviewStep[]): Change[] {
    const byUrn = new Map<string, Change>();
    for (const step of steps) {
        if (QUIET_OPS.has(step.op) || step.urn.includes("::pulumi:providers:")) continue;
        const state = step.newState ?? step.oldState;
        if (state?.custom === false) continue;
        const op = REPLACE_OPS.has(step.op) ? "replace" : step.op;
        if (!["create", "update", "replace", "delete"].includes(op)) continue;
        const parts = step.urn.split("::");
        const chain = (parts[2] ?? "").split("$");
        const parentUrn = step.newState?.parent ?? step.oldState?.parent ?? "";
        const previous = byUrn.get(step.urn);
        byUrn.set(step.urn, {
            op: previous && previous.op !== op ? "replace" : (op as Change["op"]),
            type: state?.type ?? chain[chain.length - 1] ?? "",
            parentType: chain[chain.length - 2] ?? "",
            name: parts[parts.length - 1] ?? "",
            parentName: parentUrn.split("::").pop() ?? "",
            olds: { ...previous?.olds, ...step.oldState?.inputs },
            news: { ...previous?.news, ...step.newState?.inputs },
            detailed: [...(previous?.detailed ?? []), ...Object.keys(step.detailedDiff ?? {})],
            retainOnDelete: Boolean(step.oldState?.retainOnDelete ?? step.newState?.retainOnDelete),
        });
    }
    return [...byUrn.values()];
}

const holdsUnknown = (value: unknown): boolean => JSON.stringify(value ?? null).includes(UNKNOWN);

/** JSON with every object's keys sorted: the state and the program may list an object's keys in different orders. */
function canonical(value: unknown): string {
    return JSON.stringify(value ?? null, (_, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
            : v,
    );
}

/** The value at a dotted path (`spec.template`). */
export function at(value: unknown, path: string): unknown {
    let here = value;
    for (const key of path.split(".").filter(Boolean)) {
        if (here === null || typeof here !== "object") return undefined;
        here = (here as Record<string, unknown>)[key];
    }
    return here;
}

/**
 * Whether an input changes: "yes"; "maybe", its new value is known only during the `up`; "hidden", it is a
 * secret on both sides and only a secret can have changed (see visiblyChanged); "no".
 */
export type How = "yes" | "maybe" | "hidden" | "no";

/** Whether the input at `path` changes. */
export function changeAt(c: Change, path: string): How {
    if (c.detailed.some((d) => d === path || d.startsWith(`${path}.`) || d.startsWith(`${path}[`) || path.startsWith(`${d}.`)))
        return "yes";
    const before = at(c.olds, path);
    const after = at(c.news, path);
    if (holdsUnknown(after) && !holdsUnknown(before)) return "maybe";
    if (before === SECRET && after === SECRET) return c.detailed.length > 0 || visiblyChanged(c) ? "no" : "hidden";
    return canonical(before) === canonical(after) ? "no" : "yes";
}

/**
 * Whether any input shown in the clear changes. An update with none changes a secret one, which the
 * preview shows as "[secret]" on both sides.
 */
function visiblyChanged(c: Change): boolean {
    return [...new Set([...Object.keys(c.olds), ...Object.keys(c.news)])].some((key) => {
        const before = c.olds[key];
        const after = c.news[key];
        return !(before === SECRET && after === SECRET) && canonical(before) !== canonical(after);
    });
}

/** The verb as it stands when the step surely happens (`sure`: "restarts"), or "may" and its plain form (`plain`: "restart") when the preview cannot tell. */
export const may = (how: How, sure: string, plain: string) => (how === "maybe" || how === "hidden" ? `may ${plain}` : sure);

/**
 * The parameters a rendered script assigns at its top (`NAME='value'`, components/shared/shellScript.ts),
 * inside the `sh -c '…'` (or `sudo -n sh -c '…'`, `docker exec … sh -c '…'`) that runs it.
 */
export function scriptParameters(command: unknown): Record<string, string> {
    if (typeof command !== "string" || command === UNKNOWN) return {};
    let text = command;
    for (let depth = 0; depth < 3; depth++) {
        const start = text.indexOf("sh -c '");
        if (start < 0 || !text.trimEnd().endsWith("'")) break;
        text = unquote(text.slice(start + "sh -c ".length).trimEnd());
    }
    const params: Record<string, string> = {};
    for (const match of text.matchAll(/^([A-Z_][A-Z0-9_]*)=('[^']*'(?:\\''[^']*')*)/gm)) {
        const [, name, quoted] = match as unknown as [string, string, string];
        if (!(name in params)) params[name] = unquote(quoted);
    }
    return params;
}

/** A single-quoted shell word's value (`'it'\''s'` → `it's`). */
function unquote(quoted: string): string {
    return quoted.slice(1, -1).replace(/'\\''/g, "'");
}

/** Whether a script parameter whose name matches `names` changes between the old and the new `create`. */
export function paramChange(c: Change, names: RegExp): How {
    if (c.news.create === UNKNOWN || holdsUnknown(c.news.create)) return "maybe";
    const before = scriptParameters(c.olds.create);
    const after = scriptParameters(c.news.create);
    const keys = new Set([...Object.keys(before), ...Object.keys(after)].filter((k) => names.test(k)));
    return [...keys].some((k) => before[k] !== after[k]) ? "yes" : "no";
}

/** `text` without `prefix` where it starts with it. */
export const withoutPrefix = (text: string, prefix: string) => (text.startsWith(prefix) ? text.slice(prefix.length) : text);

/** The more certain of two changes. */
export const either = (a: How, b: How): How => (["yes", "maybe", "hidden"] as const).find((how) => a === how || b === how) ?? "no";

/** A Kubernetes object's `metadata.name`, else the resource's name. */
export const metadataName = (c: Change): string => String(at(c.news, "metadata.name") ?? at(c.olds, "metadata.name") ?? c.name);
/** The inputs a change leaves (the old ones of a delete). */
export const inputsOf = (c: Change) => (c.op === "delete" ? c.olds : c.news);

// ---------------------------------------------------------------------------------------------
// Picking out the resources a rule reads

/** What a target is matched on: a resource's type, its component's type and name, its own name and its object's name. */
export interface Named {
    readonly type: string;
    readonly parentType: string;
    readonly parentName: string;
    readonly name: string;
    /** A Kubernetes object's `metadata.name`; else the resource's name. */
    readonly objectName: string;
}

/** A kind of resource a rule reads. */
export interface Target {
    /** The resource's type: any of these. */
    readonly types: readonly string[];
    /** The type of the component it belongs to; any when absent. */
    readonly parentType?: string;
    /** Which of the component's resources; any of the types when absent. */
    readonly named?: (r: Named) => boolean;
}

/** A command run over SSH or locally: the type of every host and node step of the components. */
export const COMMANDS = ["command:remote:Command", "command:local:Command"];

/** The component's child whose name `stepName` makes from the component's name. */
export const child =
    (stepName: (component: string) => string) =>
    (r: Named): boolean =>
        r.name === stepName(r.parentName);

/** Whether a resource is of the target's kind. */
export function isTarget(target: Target, r: Named): boolean {
    return (
        target.types.includes(r.type) &&
        (target.parentType === undefined || r.parentType === target.parentType) &&
        (target.named?.(r) ?? true)
    );
}

/** Whether a change is of the target's kind. */
export const is = (c: Change, target: Target) => isTarget(target, { ...c, objectName: metadataName(c) });

// ---------------------------------------------------------------------------------------------
// Rules

/** A rule reads one change; `all` is every change of the preview, for what a sibling tells about it. */
export type Rule = (c: Change, all: readonly Change[]) => Finding[];

/** A command that runs a container: recreated when its spec (fingerprint, image, files) or its stdin changes. */
export function containerChange(c: Change): How {
    if (c.op !== "update") return "yes";
    return either(paramChange(c, /FINGERPRINT$|IMAGE$|_FILES$|^MIRRORS$/), changeAt(c, "stdin"));
}

/** `keepPulledWithinDays` of each rule of a rendered retention script (its RULES: "PREFIX NEWEST DAYS PULLED_DAYS" a line). */
export function retentionPulledDays(script: unknown): Map<string, number | undefined> {
    const rules = new Map<string, number | undefined>();
    for (const line of (scriptParameters(script).RULES ?? "").split("\n")) {
        const [prefix, , , pulled] = line.split(" ");
        if (prefix) rules.set(prefix, pulled === undefined || pulled === "-" ? undefined : Number(pulled));
    }
    return rules;
}

/**
 * What a change of the rules' `keepPulledWithinDays` (`retentionPulledDays` before and after) does, wherever
 * retention runs: a rule's shortened or removed lets the next collection remove (in "apply") or list the old
 * tags only pulls kept; one added keeps more once the history, fed as `fedBy` says, reaches that far back.
 */
export function pulledDaysFindings(
    olds: ReadonlyMap<string, number | undefined>,
    news: ReadonlyMap<string, number | undefined>,
    applies: boolean,
    fedBy: string,
): Finding[] {
    const findings: Finding[] = [];
    for (const [prefix, before] of olds) {
        const after = news.get(prefix);
        if (before === undefined || (after !== undefined && after >= before)) continue;
        const now =
            after === undefined ? "no longer keeps tags for being pulled" : `keeps tags pulled within ${after} days instead of ${before}`;
        findings.push({
            kind: "data",
            text: `tag retention: "${prefix}" ${now}: the next garbage collection ${applies ? "removes" : "lists (dry-run)"} the old tags only pulls kept, and pulls of them fail from then on (docs/deletes-and-gc.md, Retention by last pull)`,
            ...(applies ? { disrupts: DATA } : {}),
        });
    }
    for (const [prefix, after] of news) {
        if (after === undefined || olds.get(prefix) !== undefined) continue;
        findings.push({
            kind: "other",
            text: `tag retention: "${prefix}" keeps tags pulled within ${after} days, ${fedBy}; until its pull history reaches ${after} days back, a tag it does not show pulled is kept`,
        });
    }
    return findings;
}
