/**
 * What the real engine planned and did, from the CLI's JSON: `preview --json` prints one document with
 * the plan's steps; `up --json` and `destroy --json` print the summary document, then one document per
 * engine event, each starting at the start of a line. Both are reduced to "op name" lines of custom
 * resources (components and providers are not the plan model's), a replacement listed once, as
 * test/support/plan.ts lists its steps.
 */

export interface EngineStep {
    op: string;
    urn: string;
    oldState?: { custom?: boolean };
    newState?: { custom?: boolean };
}

export type PreEvent = EngineStep & { type?: string; old?: { custom?: boolean }; new?: { custom?: boolean } };

const isProvider = (urn: string) => urn.includes("::pulumi:providers:");
const lineOf = (op: string, urn: string) => `${op} ${urn.split("::").pop()}`;

/** A preview's plan (`preview --json` output) as sorted "op name" lines. */
export function previewLines(previewJson: string): string[] {
    const steps = (JSON.parse(previewJson) as { steps?: EngineStep[] }).steps ?? [];
    return steps
        .filter((s) => !isProvider(s.urn) && (s.newState ?? s.oldState)?.custom === true)
        .filter((s) => !["same", "read", "create-replacement", "delete-replaced", "refresh"].includes(s.op))
        .map((s) => lineOf(s.op, s.urn))
        .sort();
}

/** The engine events of `up --json` / `destroy --json` output, in the order they happened. */
export function preEvents(output: string): PreEvent[] {
    return output
        .split(/\n(?=\{)/)
        .filter((doc) => doc.trim())
        .map((doc) => (JSON.parse(doc) as { resourcePreEvent?: { metadata: PreEvent } }).resourcePreEvent?.metadata)
        .filter((m): m is PreEvent => m !== undefined);
}

/** What `up` (or `destroy`) did, from its engine events: one sorted "op name" line per custom resource. */
export function executedLines(events: readonly PreEvent[]): string[] {
    const ops = new Map<string, Set<string>>();
    for (const m of events) {
        if (isProvider(m.urn) || (m.new ?? m.old)?.custom !== true) continue;
        ops.set(m.urn, (ops.get(m.urn) ?? new Set()).add(m.op));
    }
    return [...ops]
        .map(([urn, set]) => {
            const op =
                set.has("replace") || set.has("create-replacement") ? "replace" : ["create", "update", "delete"].find((o) => set.has(o));
            return op ? lineOf(op, urn) : "";
        })
        .filter(Boolean)
        .sort();
}

/** "c u r d": how many lines create, update, replace and delete. */
export const countOps = (lines: readonly string[]) =>
    ["create", "update", "replace", "delete"].map((op) => lines.filter((l) => l.startsWith(`${op} `)).length).join(" ");

/** The plan model's steps as the same lines (a create-first replacement's later delete is not a step of its own). */
export const modelLines = (steps: ReadonlyArray<{ op: string; urn: string; ofReplaced?: unknown }>) =>
    steps
        .filter((s) => !(s.op === "delete" && s.ofReplaced))
        .map((s) => lineOf(s.op, s.urn))
        .sort();
