/**
 * Offline synth: `npm run synth -- --stack <name> [--out <dir>]`.
 *
 * Runs the real program under Pulumi's mock runtime with the stack's config read from Pulumi.yaml and
 * Pulumi.<stack>.yaml (secure values are never decrypted: they stay "[secret]"), and writes what the
 * stack would create: resources.json, one YAML file per Kubernetes object under k8s/, every file
 * placed on a machine under hosts/<target>/<absolute path>, and every command run on a machine as
 * hosts/<target>/commands/<resource name>.{create,update,delete}.sh. A value the program keeps secret
 * is shown in full with only its secret parts masked (tools/secretMask.ts). The same input gives the
 * same bytes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import {
    ConfigError,
    loadStackConfig,
    PROJECT,
    parseConfig,
    type SecretName,
    type SecretState,
    secretNames,
    secretSpecs,
} from "../components/config";
import type { HostTarget, PlacedFile } from "../components/shared/hostAccess";
import { defineStack } from "../components/stack";
import {
    isSecret,
    type MockRuntimeOptions,
    type RecordedResource,
    redactWireValue,
    SECRET,
    settle,
    startMockRuntime,
    UNKNOWN,
} from "./mockRuntime";
import { maskSecretValue } from "./secretMask";

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

/** What a project's Pulumi.yaml says of its program: its name, and the file the nodejs runtime loads. */
export interface ProjectFile {
    readonly name: string;
    /** The program's main module (Pulumi.yaml's `main`, a file or a folder's index.ts). */
    readonly main: string;
}

/** Reads a project's Pulumi.yaml. */
export function readProjectFile(projectDir: string): ProjectFile {
    const doc = (YAML.parse(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) ?? {}) as { name?: unknown; main?: unknown };
    if (typeof doc.name !== "string") throw new Error(`${path.join(projectDir, "Pulumi.yaml")} names no project`);
    const main = path.resolve(projectDir, typeof doc.main === "string" ? doc.main : ".");
    return { name: doc.name, main: path.extname(main) === "" ? path.join(main, "index.ts") : main };
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
        name?: string;
        config?: Record<string, unknown>;
    };
    const namespace = project.name ?? PROJECT;
    const stackDoc = (YAML.parse(readFileSync(stackFile, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const entries: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(project.config ?? {})) {
        // Project-level config may be `key: {default: value}` or `key: value`.
        const v = value && typeof value === "object" && "default" in (value as object) ? (value as { default: unknown }).default : value;
        entries[key.includes(":") ? key : `${namespace}:${key}`] = v;
    }
    for (const [key, value] of Object.entries(stackDoc.config ?? {})) {
        entries[key.includes(":") ? key : `${namespace}:${key}`] = value;
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
        setOnce(files, file, YAML.stringify(object, { lineWidth: 0 }), `${String(kind)} ${String(meta.name)}`);
    }
}

const COMMAND_TYPES = new Set(["command:remote:Command", "command:local:Command"]);

/** A synth file's text: placeholders for secret or unknown values on a line of their own. */
function fileText(value: unknown): string {
    const text = typeof value === "string" ? value : UNKNOWN;
    if (text === SECRET || text === UNKNOWN) return `${text}\n`;
    return text;
}

function setOnce(files: Map<string, string>, file: string, content: string, what: string): void {
    if (files.has(file)) throw new Error(`two resources would be written to ${file} (${what})`);
    files.set(file, content);
}

/** The host a component acts on, where it registers one (see HostTarget in hostAccess.ts). */
function targetOf(r: RecordedResource): string | undefined {
    const target = (r.inputs as Partial<HostTarget>).target;
    return !r.custom && typeof target === "string" ? target : undefined;
}

/** The file a component places, where it registered one (see PlacedFile in hostAccess.ts). */
function placedFileOf(r: RecordedResource): PlacedFile | undefined {
    const { target, path: filePath, mode } = r.inputs as Partial<Record<keyof PlacedFile, unknown>>;
    if (r.custom || typeof target !== "string" || typeof filePath !== "string" || typeof mode !== "string") return undefined;
    return { target, path: filePath, mode };
}

/**
 * Every file placed on a machine, under hosts/<target>/<absolute path>: the component that places it
 * registered target, path and mode; its command's stdin is the content.
 */
function hostFiles(resources: readonly RecordedResource[], files: Map<string, string>): void {
    const writersOf = new Map<string, RecordedResource[]>();
    for (const c of resources) {
        if (c.parentUrn && COMMAND_TYPES.has(c.type) && "stdin" in c.inputs)
            writersOf.set(c.parentUrn, [...(writersOf.get(c.parentUrn) ?? []), c]);
    }
    for (const r of resources) {
        const placed = placedFileOf(r);
        if (!placed) continue;
        const writers = writersOf.get(r.urn) ?? [];
        if (writers.length !== 1)
            throw new Error(`${r.type} ${r.name} places ${placed.path} but has ${writers.length} commands with stdin, not one`);
        setOnce(files, `hosts/${placed.target}${placed.path}`, fileText(writers[0]!.inputs.stdin), `${placed.path} on ${placed.target}`);
    }
}

/**
 * Every command's scripts, so that a review sees what changes on a machine: create, update (where it
 * differs from create) and delete, under hosts/<target>/commands/ for the nearest enclosing component
 * that names its host, or under commands/ for a command whose components name none.
 */
function commandFiles(resources: readonly RecordedResource[], files: Map<string, string>): void {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    for (const r of resources) {
        if (!COMMAND_TYPES.has(r.type)) continue;
        let target: string | undefined;
        let ancestor = r.parentUrn ? byUrn.get(r.parentUrn) : undefined;
        while (ancestor && target === undefined) {
            target = targetOf(ancestor);
            ancestor = ancestor.parentUrn ? byUrn.get(ancestor.parentUrn) : undefined;
        }
        const dir = target === undefined ? "commands" : `hosts/${target}/commands`;
        const { create, update, delete: del } = r.inputs;
        const scripts: [string, unknown][] = [
            ["create", create],
            ["update", update !== undefined && update !== create ? update : undefined],
            ["delete", del],
        ];
        for (const [phase, script] of scripts) {
            if (script === undefined) continue;
            const text = fileText(script);
            setOnce(files, `${dir}/${r.name}.${phase}.sh`, text.endsWith("\n") ? text : `${text}\n`, `the ${phase} script of ${r.name}`);
        }
    }
}

/** A dynamic provider's serialized code is an implementation detail, not a reviewable input. */
function withoutProviderCode(inputs: Record<string, unknown>): Record<string, unknown> {
    return "__provider" in inputs ? { ...inputs, __provider: "[dynamic provider code]" } : inputs;
}

/** Fields of an SSH connection a review may see; the rest (the private key, passwords) stays "[secret]". */
const PLAIN_CONNECTION_FIELDS = new Set(["host", "port", "user", "hostKey", "dialErrorLimit", "perDialTimeout"]);

/**
 * A command's connection holds the private key, so Pulumi marks all of it secret; a review still needs
 * to see which machine, port, user and pinned host key a command uses. Every other field (the private
 * key, passwords, a proxy) stays "[secret]" whole, whatever the masking would make of it.
 */
function withReviewableConnection(r: RecordedResource, inputs: Record<string, unknown>): Record<string, unknown> {
    const connection = inputs.connection;
    if (!COMMAND_TYPES.has(r.type) || r.inputs.connection !== SECRET || !isRecord(connection)) return inputs;
    const shown = Object.fromEntries(Object.entries(connection).map(([k, v]) => [k, PLAIN_CONNECTION_FIELDS.has(k) ? v : SECRET]));
    return { ...inputs, connection: shown };
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The UTF-8 text that a base64 value encodes, if it is canonical base64 of valid UTF-8. */
function base64Text(value: string): string | undefined {
    const bytes = Buffer.from(value, "base64");
    if (bytes.toString("base64") !== value) return undefined;
    try {
        return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
        return undefined;
    }
}

/**
 * A Secret's `data` values that are text, shown decoded under `stringData` (masked as any secret value).
 * A review reads the synth as a diff: a base64 line that changes says only that something did, and one
 * that holds a password could only be masked whole. The API server stores `stringData` as `data`, so
 * the object shown is the one applied. Bytes that are not text stay base64 under `data`, masked whole
 * where they hold a secret.
 */
function withSecretDataAsText(r: RecordedResource, inputs: Record<string, unknown>): Record<string, unknown> {
    if (r.type !== "kubernetes:core/v1:Secret") return inputs;
    // The recorded plain value marks the whole map secret when any value in it is.
    const raw = r.rawInputs.data;
    const data: unknown = pulumi.runtime.unwrapRpcSecret(raw);
    const { data: shownData, stringData: shownStringData = {}, ...rest } = inputs;
    if (!isRecord(data) || !isRecord(shownData) || !isRecord(shownStringData)) return inputs;
    const binary: Record<string, unknown> = {};
    const decoded: Record<string, string> = {};
    for (const [key, value] of Object.entries(data)) {
        const text = typeof value === "string" ? base64Text(value) : undefined;
        if (text === undefined) binary[key] = shownData[key];
        else decoded[key] = text;
    }
    const text = { ...shownStringData, ...(pulumi.runtime.isRpcSecret(raw) ? (maskSecretValue(decoded) as object) : decoded) };
    return {
        ...rest,
        ...(Object.keys(binary).length > 0 ? { data: binary } : {}),
        ...(Object.keys(text).length > 0 ? { stringData: text } : {}),
    };
}

/**
 * A resource's inputs as a review sees them: a value the program marked secret rendered with only its
 * secret parts masked, so that a change to it shows as a diff of its lines. Masking applies where the
 * program marked a secret only: a password in a value it did not mark is the program's leak, and shows
 * (the leak tests look for it).
 */
function reviewInputs(r: RecordedResource): Record<string, unknown> {
    const inputs = redactWireValue(r.wireInputs, maskSecretValue) as Record<string, unknown>;
    return withReviewableConnection(r, withSecretDataAsText(r, withoutProviderCode(inputs)));
}

/**
 * The options of a resource that change what the engine does, only those set (undefined: none): the
 * resources it waits for by name (sorted: the SDK gathers them in no fixed order), aliases as the URNs
 * they name, lists otherwise as the program gives them.
 */
function optionsJson(r: RecordedResource, nameOf: ReadonlyMap<string, string>): Record<string, unknown> | undefined {
    const { protect, retainOnDelete, deleteBeforeReplace, replaceOnChanges, ignoreChanges, dependsOn, aliases } = r.options;
    const lists: [string, readonly string[]][] = [
        ["replaceOnChanges", replaceOnChanges],
        ["ignoreChanges", ignoreChanges],
        ["dependsOn", [...new Set(dependsOn.map((urn) => nameOf.get(urn) ?? urn))].sort()],
        ["aliases", aliases],
        ["additionalSecretOutputs", r.additionalSecretOutputs],
    ];
    const options: Record<string, unknown> = {
        ...(protect ? { protect } : {}),
        ...(retainOnDelete ? { retainOnDelete } : {}),
        ...(deleteBeforeReplace ? { deleteBeforeReplace } : {}),
        ...Object.fromEntries(lists.filter(([, list]) => list.length > 0)),
    };
    return Object.keys(options).length > 0 ? (sortKeys(options) as Record<string, unknown>) : undefined;
}

function resourcesJson(resources: readonly RecordedResource[]): string {
    const nameOf = new Map(resources.map((r) => [r.urn, r.name]));
    const rows = resources
        .map((r) => ({
            type: r.type,
            name: r.name,
            urn: r.urn,
            parent: r.parentUrn ? (nameOf.get(r.parentUrn) ?? r.parentUrn) : undefined,
            options: optionsJson(r, nameOf),
            inputs: sortKeys(r.inputs),
        }))
        .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name) || a.urn.localeCompare(b.urn));
    return `${JSON.stringify(rows, null, 2)}\n`;
}

/**
 * The secrets the stack's config needs that its stack file does not set. An invalid config yields none:
 * loading it then reports every problem, as `pulumi up` would.
 */
function missingSecrets(config: Readonly<Record<string, string>>, secretKeys: readonly string[]): SecretName[] {
    const raw: Record<string, unknown> = {};
    const states: Partial<Record<SecretName, SecretState>> = {};
    for (const [fullKey, value] of Object.entries(config)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        if ((secretNames as readonly string[]).includes(key)) {
            states[key as SecretName] = secretKeys.includes(fullKey) ? "secret" : "plaintext";
            continue;
        }
        try {
            raw[key] = JSON.parse(value);
        } catch {
            raw[key] = value;
        }
    }
    try {
        return [...parseConfig(raw, states, { allowMissingSecrets: true }).missingSecrets];
    } catch (error) {
        if (error instanceof ConfigError) return [];
        throw error;
    }
}

/**
 * Runs the program for a stack under mocks and returns the files synth writes: this project's stack
 * from its config, or another project's program (examples/library) as the nodejs runtime runs it.
 */
export async function synthesize(projectDir: string, stack: string): Promise<SynthFiles> {
    const project = readProjectFile(projectDir);
    const stackConfig = readStackConfig(projectDir, stack);
    if (project.name === PROJECT) return synthesizeConfig(stack, stackConfig);
    const run = await runProgramFile(project, stack, stackConfig);
    return { files: synthFilesOf(run), warnings: run.warnings };
}

/**
 * Secrets the program reads as structured text get a placeholder of that structure, so the program
 * takes it apart as it would the real value: `mirrorCredentials` (JSON keyed by upstream) holds an
 * account of placeholders for each mirror with `credentials: true`; `accountPasswords` (JSON keyed by
 * account name) a placeholder for each named account whose password is the operator's. Values are
 * never decrypted.
 */
function structuredSecretPlaceholders(config: Record<string, string>): void {
    const setting = <T>(key: string, read: (value: Record<string, unknown>) => T[]): T[] => {
        try {
            const value = JSON.parse(config[`${PROJECT}:${key}`] ?? "{}") as Record<string, unknown>;
            return read(value);
        } catch {
            return [];
        }
    };
    const list = (value: unknown) => (Array.isArray(value) ? (value as Record<string, unknown>[]) : []);
    if (config[`${PROJECT}:mirrorCredentials`] === SECRET) {
        const mirrors = setting("registry", (r) => list(r.mirrors));
        config[`${PROJECT}:mirrorCredentials`] = JSON.stringify(
            Object.fromEntries(
                mirrors
                    .filter((m) => m.credentials === true && typeof m.upstream === "string")
                    .map((m) => [m.upstream, { username: SECRET, password: SECRET }]),
            ),
        );
    }
    if (config[`${PROJECT}:accountPasswords`] === SECRET) {
        const accounts = setting("containerRegistry", (c) => [...list(c.pushAccounts), ...list(c.readAccounts)]);
        config[`${PROJECT}:accountPasswords`] = JSON.stringify(
            Object.fromEntries(
                accounts.filter((a) => a.password === "operator" && typeof a.name === "string").map((a) => [a.name, SECRET]),
            ),
        );
    }
}

/** What one run of the program under mocks registered and returned, with the warnings a synth prints. */
export interface ProgramRun {
    readonly resources: readonly RecordedResource[];
    readonly outputs: Record<string, unknown>;
    readonly warnings: string[];
}

/**
 * Runs the program under mocks with the config given as a stack file gives it. Each run installs a
 * fresh mock runtime, so one process can run many configs one after another (never side by side:
 * Pulumi's runtime is process-global). `providerState` stands in for providers' outputs where it
 * answers (see MockRuntimeOptions).
 */
export async function runProgram(
    stack: string,
    stackConfig: StackFileConfig,
    providerState?: MockRuntimeOptions["providerState"],
): Promise<ProgramRun> {
    const config = { ...stackConfig.config };
    const secretKeys = [...stackConfig.secretKeys];
    const warnings: string[] = [];
    // A secret the stack needs but does not set yet gets a placeholder, as an encrypted value would:
    // the program then loads its config exactly as `pulumi up` does, and the synth warns.
    for (const name of missingSecrets(config, secretKeys)) {
        warnings.push(
            `${PROJECT}:${name} (${secretSpecs[name].description}) is not set; \`pulumi up\` will require it. Set it with: ${secretSpecs[name].setCommand}`,
        );
        config[`${PROJECT}:${name}`] = SECRET;
        secretKeys.push(`${PROJECT}:${name}`);
    }
    structuredSecretPlaceholders(config);
    const rt = await startMockRuntime({ stack, config, secretKeys, providerState });
    const cfg = loadStackConfig();
    // `pulumi up` and `preview` refuse placeholders (loadDeployableConfig); the synth shows what the
    // stack would do once they are filled in.
    for (const p of cfg.placeholders)
        warnings.push(`${p.key} ${p.message}; \`pulumi up\` and \`pulumi preview\` refuse the stack until then`);
    for (const w of cfg.warnings) warnings.push(`${w.key}: ${w.message}`);
    // Pulumi records a stack trace for every promise it creates (for leak reports and source
    // positions); synth never shows them, and with source maps they dominate the time of large stacks.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let outputs: Record<string, unknown> | undefined;
    let returned: Record<string, unknown> = {};
    try {
        outputs = await pulumi.runtime.runInPulumiStack(async () => {
            returned = { ...defineStack(cfg) };
            return returned;
        });
        await settle();
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }
    // What the engine refuses fails the run as `pulumi preview` fails: with the engine's message.
    if (rt.errors.length > 0) throw new Error(rt.errors.join("\n"));
    return { resources: rt.resources, outputs: await withSecretOutputsMasked(outputs ?? {}, returned), warnings };
}

/**
 * Runs another project's program under mocks, as Pulumi's nodejs runtime runs it: its main module is
 * loaded, and its exports (or what its exported function resolves to) are the stack's outputs. Its
 * config is passed as the stack file gives it; secure values stay "[secret]".
 */
export async function runProgramFile(project: ProjectFile, stack: string, stackConfig: StackFileConfig): Promise<ProgramRun> {
    const rt = await startMockRuntime({ project: project.name, stack, config: stackConfig.config, secretKeys: stackConfig.secretKeys });
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let outputs: Record<string, unknown> | undefined;
    let returned: Record<string, unknown> = {};
    try {
        outputs = await pulumi.runtime.runInPulumiStack(async () => {
            // The runtime requires the program (CommonJS), as tsx lets this process do for TypeScript.
            const exported: unknown = require(project.main);
            const value = typeof exported === "function" ? await exported() : exported;
            returned = Object.fromEntries(Object.entries((value ?? {}) as object).filter(([key]) => key !== "__esModule"));
            return returned;
        });
        await settle();
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }
    if (rt.errors.length > 0) throw new Error(rt.errors.join("\n"));
    return { resources: rt.resources, outputs: await withSecretOutputsMasked(outputs ?? {}, returned), warnings: [] };
}

/**
 * The stack's outputs with every secret one (`pulumi.secret`, or derived from a secret) masked as any
 * secret value: an account shows its username, its password is "[secret]".
 */
async function withSecretOutputsMasked(
    outputs: Record<string, unknown>,
    returned: Readonly<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
    const masked = { ...outputs };
    for (const [name, value] of Object.entries(returned)) {
        if (pulumi.Output.isInstance(value) && (await isSecret(value))) masked[name] = maskSecretValue(outputs[name]);
    }
    return masked;
}

/** Runs the program under mocks with the config given as a stack file gives it, and returns the files synth writes. */
export async function synthesizeConfig(stack: string, stackConfig: StackFileConfig): Promise<SynthFiles> {
    const run = await runProgram(stack, stackConfig);
    return { files: synthFilesOf(run), warnings: run.warnings };
}

/** The files synth writes for what a run of the program registered and returned (relative path → content). */
export function synthFilesOf(run: Pick<ProgramRun, "resources" | "outputs">): Map<string, string> {
    const resources = run.resources.map((r) => ({ ...r, inputs: reviewInputs(r) }));
    const files = new Map<string, string>();
    files.set("resources.json", resourcesJson(resources));
    files.set("outputs.json", `${JSON.stringify(sortKeys(run.outputs), null, 2)}\n`);
    kubernetesFiles(resources, files);
    hostFiles(resources, files);
    commandFiles(resources, files);
    return files;
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

async function main(argv: readonly string[]): Promise<void> {
    const { stack, out, project } = parseArgs(argv);
    const projectDir = path.resolve(project ?? path.join(__dirname, ".."));
    const outDir = path.resolve(out ?? path.join(projectDir, "out", stack));
    const synth = await synthesize(projectDir, stack);
    for (const warning of synth.warnings) console.error(`warning: ${warning}`);
    writeSynth(outDir, stack, synth);
    console.log(`synth: stack ${stack}: ${synth.files.size} files in ${path.relative(process.cwd(), outDir) || "."}`);
}

/**
 * What `npm run synth -- <argv>` does, up to the exit status it ends with (printed as the command prints
 * it). The tests run it in one process for every committed stack (test/support/committedSynthMain.ts).
 */
export async function synthCommand(argv: readonly string[]): Promise<number> {
    try {
        await main(argv);
        return 0;
    } catch (error) {
        if (error instanceof ConfigError) {
            console.error(error.message);
        } else {
            console.error(`synth failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        return 1;
    }
}

if (require.main === module) {
    synthCommand(process.argv.slice(2)).then((status) => process.exit(status));
}
