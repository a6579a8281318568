/**
 * How configuration problems are told: the key they concern, in the form `pulumi config` takes it,
 * and what to change; a mistyped key gets the nearest allowed one. Schema issues are reworded in
 * ./schemaIssues.ts.
 */
import { PROJECT } from "../shared/facts";

/** A configuration problem a person can act on. */
export interface ConfigProblem {
    /** Full key path, e.g. "dso-registry:containerRegistry.pathPrefix". */
    readonly key: string;
    /** What is wrong and what to change, written to follow the key. */
    readonly message: string;
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
