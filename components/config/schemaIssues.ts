/**
 * The schema's issues in words a person can act on: the key, what is wrong and what is allowed there.
 * A credential typed as a plain key is pointed at the secret that holds it.
 */
import { z } from "zod";
import { type ConfigProblem, closest, keyPath } from "./problems";
import { schema } from "./schema";
import { secretNames, secretSpecs } from "./secrets";

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
