/**
 * How configuration problems are told: the key they concern, in the form `pulumi config` takes it,
 * and what to change. Schema issues are reworded here; a mistyped key gets the nearest allowed one.
 */
import { z } from "zod";
import { PROJECT } from "../shared/facts";
import { schema } from "./schema";
import { secretNames, secretSpecs } from "./secrets";

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

const CREDENTIAL_WORDS = /pass(word)?|secret|token|private.?key|apikey|credential(?!id)/i;

/** The schema node at a path, to list the keys allowed there. */
function allowedKeysAt(path: readonly PropertyKey[]): string[] {
    let node: z.ZodType = schema;
    for (const part of path) {
        node = unwrap(node);
        if (node instanceof z.ZodObject) {
            node = (node.shape as Record<string, z.ZodType>)[String(part)] ?? node;
        } else if (node instanceof z.ZodArray) {
            node = node.element as z.ZodType;
        }
    }
    node = unwrap(node);
    return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(node: z.ZodType): z.ZodType {
    let current: z.ZodType = node;
    for (;;) {
        if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
            current = current.def.innerType as z.ZodType;
        } else if (current instanceof z.ZodPipe) {
            current = current.def.in as z.ZodType;
        } else {
            return current;
        }
    }
}

/** A schema issue in words a person can act on: the key, what is wrong and what is allowed there. */
export function describeIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
    if (issue.code === "unrecognized_keys") {
        const allowed = allowedKeysAt(issue.path);
        return issue.keys.map((unknownKey) => {
            const key = keyPath([...issue.path, unknownKey]);
            if (CREDENTIAL_WORDS.test(unknownKey)) {
                const secret = secretNames.find((name) => name.toLowerCase().includes(unknownKey.toLowerCase()));
                return {
                    key,
                    message:
                        `credentials are never part of plain stack config; remove "${unknownKey}" from the stack file` +
                        (secret ? ` and run: ${secretSpecs[secret].setCommand}` : ` and set the matching secret key (see the README)`),
                };
            }
            const suggestion = closest(unknownKey, allowed);
            return {
                key,
                message:
                    `unknown key "${unknownKey}"` +
                    (suggestion ? `; did you mean "${suggestion}"?` : "") +
                    (allowed.length ? ` Allowed here: ${allowed.join(", ")}.` : ""),
            };
        });
    }
    if (issue.code === "invalid_type" && issue.input === undefined) {
        return [{ key: keyPath(issue.path), message: `is required (${issue.expected})` }];
    }
    if (issue.code === "invalid_value") {
        return [
            {
                key: keyPath(issue.path),
                message: `is ${JSON.stringify(issue.input)}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
            },
        ];
    }
    if (issue.code === "invalid_type") {
        const got = Array.isArray(issue.input) ? "a list" : issue.input === null ? "null" : `a ${typeof issue.input}`;
        const message = issue.message.startsWith("Invalid input") ? `must be ${article(issue.expected)}, got ${got}` : issue.message;
        return [{ key: keyPath(issue.path), message }];
    }
    return [{ key: keyPath(issue.path), message: issue.message }];
}

function article(type: string): string {
    return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
