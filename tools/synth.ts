/**
 * Offline synth: `npm run synth -- --stack <name> [--out <dir>]`.
 *
 * Runs the real program under Pulumi's mock runtime with the stack's config read from Pulumi.yaml and
 * Pulumi.<stack>.yaml (secure values are never decrypted: they stay "[secret]"), and writes what the
 * stack would create: resources.json, one YAML file per Kubernetes object under k8s/, and every file
 * placed on a machine under hosts/<target>/<absolute path>. The same input gives the same bytes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { ConfigError, loadStackConfig, PROJECT } from "../components/config";
import { parsePlaceFileScript } from "../components/shared/hostAccess";
import { defineStack } from "../components/stack";
import { type RecordedResource, SECRET, settle, startMockRuntime, UNKNOWN } from "./mockRuntime";

const MARKER_FILE = ".dso-synth";

export interface StackFileConfig {
    /** Full key → value as the Pulumi CLI hands it to a program (objects as JSON text). */
    readonly config: Record<string, string>;
    /** Keys whose value (or part of it) is `secure:`. */
    readonly secretKeys: string[];
}

/** Replaces `{secure: …}` anywhere in a value by the placeholder; reports whether any was found. */
function redactSecure(value: unknown): { value: unknown; secure: boolean } {
    if (Array.isArray(value)) {
        const items = value.map(redactSecure);
        return { value: items.map((i) => i.value), secure: items.some((i) => i.secure) };
    }
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (Object.keys(record).length === 1 && typeof record.secure === "string") {
            return { value: SECRET, secure: true };
        }
        let secure = false;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(record)) {
            const r = redactSecure(v);
            out[k] = r.value;
            secure ||= r.secure;
        }
        return { value: out, secure };
    }
    return { value, secure: false };
}

/** Reads project defaults and a stack file the way the Pulumi CLI presents them to the program. */
export function readStackConfig(projectDir: string, stack: string): StackFileConfig {
    const stackFile = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!existsSync(stackFile)) {
        const stacks = readdirSync(projectDir)
            .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
            .filter((s): s is string => Boolean(s));
        throw new Error(`No stack file ${path.basename(stackFile)}. Stacks in this project: ${stacks.join(", ") || "none"}`);
    }
    const project = (YAML.parse(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) ?? {}) as {
        config?: Record<string, unknown>;
    };
    const stackDoc = (YAML.parse(readFileSync(stackFile, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const entries: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(project.config ?? {})) {
        // Project-level config may be `key: {default: value}` or `key: value`.
        const v = value && typeof value === "object" && "default" in (value as object) ? (value as { default: unknown }).default : value;
        entries[key.includes(":") ? key : `${PROJECT}:${key}`] = v;
    }
    for (const [key, value] of Object.entries(stackDoc.config ?? {})) {
        entries[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(entries)) {
        const { value: redacted, secure } = redactSecure(value);
        if (secure) secretKeys.push(key);
        config[key] = typeof redacted === "string" ? redacted : JSON.stringify(redacted);
    }
    return { config, secretKeys: secretKeys.sort() };
}

/** Object with keys sorted at every level, so output does not depend on registration order. */
export function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value as object)
                .sort()
                .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

export interface SynthFiles {
    /** Relative path → content. */
    readonly files: Map<string, string>;
    readonly warnings: string[];
}

function kubernetesFiles(resources: readonly RecordedResource[], files: Map<string, string>): void {
    for (const r of resources) {
        if (!r.custom || !r.type.startsWith("kubernetes:")) continue;
        const { apiVersion, kind, metadata, ...rest } = r.inputs as Record<string, unknown> & {
            metadata?: Record<string, unknown>;
        };
        const meta: Record<string, unknown> = { ...(metadata ?? {}), name: metadata?.name ?? r.name };
        const namespace = typeof meta.namespace === "string" ? meta.namespace : "_cluster";
        const object = { apiVersion, kind, metadata: sortKeys(meta), ...(sortKeys(rest) as object) };
        const file = `k8s/${namespace}/${String(kind)}-${String(meta.name)}.yaml`;
        if (files.has(file)) throw new Error(`two Kubernetes objects would be written to ${file}`);
        files.set(file, YAML.stringify(object, { lineWidth: 0 }));
    }
}

function hostFiles(resources: readonly RecordedResource[], files: Map<string, string>): void {
    for (const r of resources) {
        if (r.type !== "command:remote:Command" && r.type !== "command:local:Command") continue;
        const create = r.inputs.create;
        if (typeof create !== "string") continue;
        const placed = parsePlaceFileScript(create);
        if (!placed) continue;
        const content = r.inputs.stdin;
        const text = typeof content === "string" ? content : UNKNOWN;
        const file = `hosts/${placed.target}${placed.path}`;
        if (files.has(file)) throw new Error(`two resources place ${placed.path} on ${placed.target}`);
        files.set(file, text === SECRET || text === UNKNOWN ? `${text}\n` : text);
    }
}

/** A dynamic provider's serialized code is an implementation detail, not a reviewable input. */
function withoutProviderCode(inputs: Record<string, unknown>): Record<string, unknown> {
    return "__provider" in inputs ? { ...inputs, __provider: "[dynamic provider code]" } : inputs;
}

function resourcesJson(resources: readonly RecordedResource[]): string {
    const nameOf = new Map(resources.map((r) => [r.urn, r.name]));
    const rows = resources
        .map((r) => ({
            type: r.type,
            name: r.name,
            parent: r.parentUrn ? nameOf.get(r.parentUrn) ?? r.parentUrn : undefined,
            inputs: sortKeys(withoutProviderCode(r.inputs)),
        }))
        .sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type.localeCompare(b.type)));
    return `${JSON.stringify(rows, null, 2)}\n`;
}

/** Runs the program for a stack under mocks and returns the files synth writes. */
export async function synthesize(projectDir: string, stack: string): Promise<SynthFiles> {
    const { config, secretKeys } = readStackConfig(projectDir, stack);
    const warnings: string[] = [];
    const rt = await startMockRuntime({ stack, config, secretKeys });
    const cfg = loadStackConfig({ allowMissingSecrets: true, warn: (m) => warnings.push(m) });
    // Pulumi records a stack trace for every promise it creates (for leak reports and source
    // positions); synth never shows them, and with source maps they dominate the time of large stacks.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 3;
    let outputs: Record<string, unknown> | undefined;
    try {
        outputs = await pulumi.runtime.runInPulumiStack(async () => defineStack(cfg));
        await settle();
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }
    const files = new Map<string, string>();
    files.set("resources.json", resourcesJson(rt.resources));
    files.set("outputs.json", `${JSON.stringify(sortKeys(outputs ?? {}), null, 2)}\n`);
    kubernetesFiles(rt.resources, files);
    hostFiles(rt.resources, files);
    return { files, warnings };
}

/** Writes the files under `outDir`, replacing an earlier synth there (and nothing else). */
export function writeSynth(outDir: string, stack: string, synth: SynthFiles): void {
    if (existsSync(outDir)) {
        const entries = readdirSync(outDir);
        if (entries.length > 0 && !entries.includes(MARKER_FILE)) {
            throw new Error(`${outDir} exists and was not written by synth; choose another --out or remove it`);
        }
        rmSync(outDir, { recursive: true, force: true });
    }
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, MARKER_FILE), `stack ${stack}\n`);
    const made = new Set<string>();
    for (const [relative, content] of [...synth.files].sort(([a], [b]) => a.localeCompare(b))) {
        const target = path.join(outDir, relative);
        const dir = path.dirname(target);
        if (!made.has(dir)) {
            mkdirSync(dir, { recursive: true });
            made.add(dir);
        }
        writeFileSync(target, content);
    }
}

const USAGE = "Usage: npm run synth -- --stack <name> [--out <dir>] [--project <dir with Pulumi.yaml>]";

function parseArgs(argv: readonly string[]): { stack: string; out?: string; project?: string } {
    const values: Record<string, string | undefined> = {};
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]!;
        const match = /^--(stack|out|project)(?:=(.*))?$/.exec(arg) ?? (arg === "-s" ? [arg, "stack"] : undefined);
        if (!match) throw new Error(`unknown argument "${arg}". ${USAGE}`);
        values[match[1]!] = match[2] ?? argv[++i];
    }
    if (!values.stack) throw new Error(`missing --stack. ${USAGE}`);
    return { stack: values.stack, out: values.out, project: values.project };
}

async function main(): Promise<void> {
    const { stack, out, project } = parseArgs(process.argv.slice(2));
    const projectDir = path.resolve(project ?? path.join(__dirname, ".."));
    const outDir = path.resolve(out ?? path.join(projectDir, "out", stack));
    const synth = await synthesize(projectDir, stack);
    for (const warning of synth.warnings) console.error(`warning: ${warning}`);
    writeSynth(outDir, stack, synth);
    console.log(`synth: stack ${stack}: ${synth.files.size} files in ${path.relative(process.cwd(), outDir) || "."}`);
}

if (require.main === module) {
    main().then(
        () => process.exit(0),
        (error: unknown) => {
            if (error instanceof ConfigError) {
                console.error(error.message);
            } else {
                console.error(`synth failed: ${error instanceof Error ? error.message : String(error)}`);
            }
            process.exit(1);
        },
    );
}
