/**
 * The schema's issues in words a person can act on: the key, what is wrong and what is allowed there.
 * A credential typed as a plain key is pointed at the secret that holds it.
 */
import { z } from "zod";
import { patternOf, type RegistryMode, variantReason } from "./modeShapes";
import { type ConfigProblem, closest, editCommand, keyPath } from "./problems";
import { schema } from "./schema";
import { secretNames, secretSpecs } from "./secrets";

const CREDENTIAL_WORDS = /pass(word)?|secret|token|private.?key|apikey|credential(?!id)/i;

/** The catalogue's keys at a path (every mode's), to list the keys allowed there. */
export function allowedKeysAt(path: readonly PropertyKey[]): string[] {
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
        // A variant's own word on a key it needs (acmeEmail with ACME) says why.
        const why = /^is required /.test(issue.message) ? issue.message : `is required (${issue.expected})`;
        return [{ key: keyPath(issue.path), message: why }];
    }
    if (issue.code === "invalid_value") {
        // A value a placement refuses says why in the entry's own words (the collection's mode off the external host).
        const own = !issue.message.startsWith("Invalid");
        return [
            {
                key: keyPath(issue.path),
                message: own
                    ? issue.message
                    : `is ${JSON.stringify(issue.input)}; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
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

/** What each key of another variant is for, told with its refusal. */
const VARIANT_HINTS: Readonly<Record<string, string>> = {
    externalHost: 'it is the SSH connection and directories of registry.mode "external-host"',
    "registry.tls": `kind's registry serves plain HTTP on the Docker host's loopback and on the kind network only (docs/kind.md, Why plain HTTP)`,
    "registry.tls.certManagerIssuer": 'it is used with registry.tls.mode "cert-manager"',
    "registry.tls.certManagerCaCertificate": `it is used with registry.tls.mode "cert-manager"; the generated CA is known to the program, and an existing registry's CA goes in existing.caCertificate`,
    "registry.storage.s3": 'it is used with registry.storage.kind "s3"',
    "registry.allowedNetworks": `kind's registry listens on the Docker host's loopback and the kind network only`,
    "nodes.list": 'nodes are listed for delivery "ssh" only',
    ...Object.fromEntries(
        ["host", "port", "hostKey", "allowUnpinnedHostKey"].map((key) => [
            `nodes.list[].${key}`,
            "the node's commands run where Pulumi runs, without SSH",
        ]),
    ),
};

/**
 * An issue of a mode's shape (./modeShapes.ts) in words a person can act on: a key the catalogue knows
 * but this variant does not take is refused with the setting that rules it out; anything else as
 * `describeIssue` tells it.
 */
export function describeShapeIssue(issue: z.core.$ZodIssue, raw: Readonly<Record<string, unknown>>, mode: RegistryMode): ConfigProblem[] {
    if (issue.code !== "unrecognized_keys") return describeIssue(issue);
    const known = allowedKeysAt(issue.path);
    return issue.keys.flatMap((unknownKey) => {
        if (!known.includes(unknownKey)) return describeIssue({ ...issue, keys: [unknownKey] });
        const path = [...issue.path, unknownKey];
        const hint = VARIANT_HINTS[patternOf(path)];
        const fix = { remove: path };
        return [
            {
                key: keyPath(path),
                message: `has no place with ${variantReason(path, raw, mode)}${hint ? ` (${hint})` : ""}: remove it (${editCommand(fix)}), or change that setting`,
                fix,
            },
        ];
    });
}
