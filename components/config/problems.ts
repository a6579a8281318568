/**
 * How configuration problems are told: the key they concern, in the form `pulumi config` takes it,
 * and what to change; a mistyped key gets the nearest allowed one. Schema issues are reworded in
 * ./schemaIssues.ts.
 */
import { PROJECT } from "../shared/facts";

/**
 * A change to the stack file a problem suggests, which its message words as a `pulumi config` command
 * (`editCommand`): a key taken out, or a key set to a value. Applied, the problem is gone.
 */
export type ConfigEdit =
    | { readonly remove: readonly PropertyKey[] }
    | { readonly set: readonly PropertyKey[]; readonly value: string | number | boolean };

/** A configuration problem a person can act on. */
export interface ConfigProblem {
    /** Full key path, e.g. "dso-registry:containerRegistry.pathPrefix". */
    readonly key: string;
    /** What is wrong and what to change, written to follow the key. */
    readonly message: string;
    /** The change that settles it, where one change does; the message gives its command. */
    readonly fix?: ConfigEdit;
}

/** Invalid configuration: every problem found, listed at once; nothing is created. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly ConfigProblem[]) {
        super(
            ["The stack configuration is invalid; nothing was created.", ...problems.map((p) => `  - ${p.key}: ${p.message}`)].join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** The full key a person types after `pulumi config`, e.g. "dso-registry:nodes.list[0].hostKey". */
export function keyPath(path: readonly PropertyKey[]): string {
    const [top, ...rest] = path;
    let key = `${PROJECT}:${String(top ?? "")}`;
    for (const part of rest) {
        key += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
    }
    return key;
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let previous = row[0]!;
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const current = row[j]!;
            row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
            previous = current;
        }
    }
    return row[b.length]!;
}

/** The candidate nearest to a mistyped word, when it is near enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
        if (distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** A change that takes the key at `path` out of the stack file. */
export const removal = (path: readonly PropertyKey[]): ConfigEdit => ({ remove: path });

/** A change that sets the key at `path` to `value`. */
export const setting = (path: readonly PropertyKey[], value: string | number | boolean): ConfigEdit => ({ set: path, value });

/**
 * A problem that one change settles: its message names the change's command (`say` words it), and
 * the change is kept beside it, so the words and the change cannot part.
 */
export function fixable(path: readonly PropertyKey[], fix: ConfigEdit, say: (command: string) => string): ConfigProblem {
    return { key: keyPath(path), message: say(editCommand(fix)), fix };
}

/** A value as `pulumi config set --path` takes it: a string quoted for the shell, a number or a boolean as it is. */
function shellValue(value: string | number | boolean): string {
    return typeof value === "string" ? `'${value.replaceAll("'", `'\\''`)}'` : String(value);
}

/** The `pulumi config` command that makes a change to the stack file. */
export function editCommand(edit: ConfigEdit): string {
    if ("remove" in edit) {
        return edit.remove.length === 1 ? `pulumi config rm ${keyPath(edit.remove)}` : `pulumi config rm --path '${keyPath(edit.remove)}'`;
    }
    return `pulumi config set --path '${keyPath(edit.set)}' ${shellValue(edit.value)}`;
}
