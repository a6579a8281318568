/**
 * Every name the docs give a reader is real. Found by a search of what an operator reads (README.md,
 * docs/**, the config schema's descriptions; for stack outputs also the workflows and the examples), so a
 * newly documented name is covered by itself:
 *
 * - a config key, written `dso-registry:<key>` or as a dotted path from a top-level block of the schema
 *   (`registry.tls.mode`, `containerRegistry.pushAccounts[1].rotation`), is a key of the zod schema;
 * - a host command run after `sudo` (`sudo dso-registry-restore --list`) or named at its place
 *   (`/usr/local/sbin/dso-registry-gc`) is a script the program places on the host, and every flag a page
 *   gives it is one the script's own argument parsing takes;
 * - an in-cluster object a `kubectl` command names (`deploy/registry`, `cronjob/registry-gc`,
 *   `secret registry-tls`, `-c caddy`, `-l app.kubernetes.io/component=registry`) is one the program
 *   renders;
 * - an output a page tells a reader to read (`pulumi stack output <name>`) is one the program returns,
 *   and every output the program returns is named where an operator reads.
 *
 * What the program places and renders is what it registers under mocks for the committed stacks and for
 * variants of them that turn on what those leave off (named accounts, upkeep, the web UI, retention): the
 * resources and files the synth writes. A failure names the page, the line and the name.
 * Covers: index.ts, components/stack/index.ts (StackOutputs), components/config/schema.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import type { z } from "zod";
import { secretNames } from "../../components/config";
import { configShape, schema } from "../../components/config/schema";
import { PROJECT } from "../../components/shared/facts";
import { readStackConfig, runProgram, type StackFileConfig, synthFilesOf } from "../../tools/synth";
import { filesUnder, type Mention, OUTPUT_READ_FILES, outputMentions, PAGES, pageLines, ROOT, read, where } from "../support/docPages";

/** The schema's sources, whose descriptions flow into docs/configuration.md and the config check's messages. */
const SCHEMA_SOURCES = ["components/config/schema.ts", ...filesUnder("components/config/schema", [".ts"]), "components/config/secrets.ts"];

/** Program code shown on a page: its dotted names are properties of the code's own variables (`registry.deployment`), not config keys. */
const PROGRAM_CODE = new Set(["ts", "typescript", "js", "javascript"]);

/** A schema source's lines, only what its string literals say (descriptions, messages), numbered from 1. */
function stringLiteralLines(file: string): { line: number; text: string }[] {
    return read(file)
        .split("\n")
        .map((text, i) => ({
            line: i + 1,
            text: [...text.matchAll(/"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g)].map((m) => m[1] ?? m[2]).join("  "),
        }))
        .filter((l) => l.text !== "");
}

// ---------------------------------------------------------------------------------------------
// Config keys
// ---------------------------------------------------------------------------------------------

const BLOCKS = Object.keys(configShape);

/** One step of a key path: a key, an item of a list (`[]`, `[1]`, `[i]`), or a placeholder (`<host>`). */
type Step = { readonly key: string } | { readonly item: true } | { readonly placeholder: true };

function steps(keyPath: string): Step[] {
    return [...keyPath.matchAll(/\[[^\]]*\]|<[^>]+>|[^.[\]<>]+/g)].map(([s]): Step => {
        if (s.startsWith("[")) return { item: true };
        if (s.startsWith("<")) return { placeholder: true };
        return { key: s };
    });
}

type Def = {
    type: string;
    innerType?: z.ZodType;
    in?: z.ZodType;
    out?: z.ZodType;
    getter?: () => z.ZodType;
    options?: z.ZodType[];
    left?: z.ZodType;
    right?: z.ZodType;
    shape?: Record<string, z.ZodType>;
    valueType?: z.ZodType;
    element?: z.ZodType;
};
const defOf = (s: z.ZodType) => (s as unknown as { def: Def }).def;

/** Whether the schema has the path: objects by their keys, records by any key, lists by an item, unions by any option. */
function hasPath(node: z.ZodType, path: readonly Step[]): boolean {
    if (path.length === 0) return true;
    const def = defOf(node);
    const [step, ...rest] = path as [Step, ...Step[]];
    switch (def.type) {
        case "optional":
        case "nullable":
        case "default":
        case "prefault":
        case "readonly":
        case "catch":
        case "nonoptional":
            return hasPath(def.innerType!, path);
        case "pipe":
            return hasPath(def.in!, path) || hasPath(def.out!, path);
        case "lazy":
            return hasPath(def.getter!(), path);
        case "union":
            return def.options!.some((o) => hasPath(o, path));
        case "intersection":
            return hasPath(def.left!, path) || hasPath(def.right!, path);
        case "any":
        case "unknown":
            return true;
        case "object":
            if ("item" in step) return false;
            if ("placeholder" in step) return Object.values(def.shape!).some((c) => hasPath(c, rest));
            return Object.hasOwn(def.shape!, step.key) && hasPath(def.shape![step.key]!, rest);
        case "record":
            return !("item" in step) && hasPath(def.valueType!, rest);
        case "array":
            return !("key" in step) && hasPath(def.element!, rest);
        default:
            return false;
    }
}

/** Whether `dso-registry:<key>` (or a dotted path) names a key of the schema or a secret. */
function isConfigKey(keyPath: string): boolean {
    if ((secretNames as readonly string[]).includes(keyPath)) return true;
    return hasPath(schema, steps(keyPath));
}

/** `dso-registry:<key>`; a type token (`dso-registry:externalHost:CaddySite`) is not a key. */
const NAMESPACED_KEY = /dso-registry:([A-Za-z][A-Za-z0-9]*(?:\.(?:[A-Za-z0-9]+|<[^>\s]+>)|\[[^\]\s]*\])*)(?!:[A-Z]|[\w-])/g;
/** A dotted path from a top-level block, not inside a word, an address or a path. */
const DOTTED_KEY = new RegExp(
    `(?<![\\w./:@-])((?:${BLOCKS.join("|")})(?:\\[[^\\]\\s]*\\])*(?:\\.(?:[A-Za-z][A-Za-z0-9]*|<[^>\\s]+>)(?:\\[[^\\]\\s]*\\])*)+)(?![\\w-])`,
    "g",
);
/**
 * A dotted path that is a host name or a file, not a key (`registry.example.com`, `registry.dso.svc`,
 * `kind.test.ts`, `registry.crt`): its last part is a top-level domain, a cluster suffix or a file
 * extension, none of which a key of the schema ends with.
 */
const NOT_A_KEY_ENDING =
    /\.(com|net|org|io|dev|local|svc|cluster|internal|lan|test|example|ts|mts|md|sh|ya?ml|json|crt|key|pem|sock|toml|conf|txt)$/;

/**
 * Dotted names that start like a block of this schema but belong to another program's configuration,
 * each on the page that names it.
 */
const OTHER_PROGRAMS: readonly { readonly file: string; readonly name: string; readonly whose: string }[] = [
    { file: "docs/node-trust.md", name: "registry.configs", whose: "containerd's CRI plugin (its `registry` section)" },
    { file: "docs/node-trust.md", name: "registry.mirrors", whose: "containerd's CRI plugin (its `registry` section)" },
    { file: "docs/node-trust.md", name: "registry.configs.<host>.auth", whose: "containerd's CRI plugin (its `registry` section)" },
    { file: "docs/kind.md", name: "registry.insecure", whose: "BuildKit's image exporter (`--output type=image,registry.insecure=true`)" },
];

function configKeyMentions(): Mention[] {
    const sources = [
        ...PAGES.map((file) => ({ file, lines: pageLines(file).filter((l) => !PROGRAM_CODE.has(l.fence)) })),
        ...SCHEMA_SOURCES.map((file) => ({ file, lines: stringLiteralLines(file) })),
    ];
    return sources.flatMap(({ file, lines }) =>
        lines.flatMap(({ line, text }) => [
            ...[...text.matchAll(NAMESPACED_KEY)].map((m) => ({ file, line, name: m[1]! })),
            ...[...text.matchAll(DOTTED_KEY)]
                .map((m) => ({ file, line, name: m[1]! }))
                .filter((m) => !NOT_A_KEY_ENDING.test(m.name))
                .filter((m) => !OTHER_PROGRAMS.some((o) => o.file === file && o.name === m.name)),
        ]),
    );
}

describe("config keys the docs and the schema's descriptions name", () => {
    const mentions = configKeyMentions();

    it("the search finds them (it is not empty by accident)", () => {
        const names = new Set(mentions.map((m) => m.name));
        for (const name of [
            "registry.tls.mode",
            "containerRegistry.rotation",
            "inCluster.namespace",
            "sshPrivateKey",
            "nodes.list[].name",
        ]) {
            expect(names).toContain(name);
        }
        expect(mentions.length).toBeGreaterThan(500);
        // The schema's own descriptions are searched too.
        expect(mentions.filter((m) => m.file.startsWith("components/config/schema")).map((m) => m.name)).toContain(
            "registry.maintenance.garbageCollection.enabled",
        );
    });

    it("the schema walk refuses what it does not have", () => {
        expect(isConfigKey("registry.tls.mode")).toBe(true);
        expect(isConfigKey("containerRegistry.pushAccounts[1].rotation")).toBe(true);
        expect(isConfigKey("inCluster.pod.resources.registry")).toBe(true);
        expect(isConfigKey("registry.tls.modes")).toBe(false);
        expect(isConfigKey("registry.mirrors.maxSize")).toBe(false);
        expect(isConfigKey("containerRegistry.rotation[0]")).toBe(false);
    });

    it("every one is a key of the schema (or a secret)", () => {
        const missing = mentions.filter((m) => !isConfigKey(m.name)).map((m) => `${where(m)}: ${m.name}`);
        expect(missing).toEqual([]);
    });

    it("every other program's name let through is still on its page", () => {
        const stale = OTHER_PROGRAMS.filter((o) => !pageLines(o.file).some((l) => l.text.includes(o.name)));
        expect(stale).toEqual([]);
    });
});

// ---------------------------------------------------------------------------------------------
// What the program registers: stack outputs, host scripts, in-cluster objects
// ---------------------------------------------------------------------------------------------

/** A committed stack with `change` merged into one of its structured keys, as the CLI hands structured values over (JSON text). */
function withBlock(stack: string, block: string, change: (value: Record<string, any>) => Record<string, unknown>): StackFileConfig {
    const base = readStackConfig(ROOT, stack);
    const value = JSON.parse(base.config[`${PROJECT}:${block}`] ?? "{}") as Record<string, any>;
    return { ...base, config: { ...base.config, [`${PROJECT}:${block}`]: JSON.stringify(change(value)) } };
}

/** The local stack with named accounts and rotation by age: the outputs only such a stack has. */
function localWithAccounts(): StackFileConfig {
    return withBlock("local", "containerRegistry", (registry) => ({
        ...registry,
        pushAccounts: [{ name: "team-a", prefixes: [`${registry.pathPrefix}/team-a/`] }],
        readAccounts: [{ name: "alice" }],
        rotateAfterDays: 90,
    }));
}

/** The upkeep the committed stacks leave off: garbage collection with retention, backups, the web UI with deletes. */
const upkeep = (registry: Record<string, any>, prefix: string, backupDestination: Record<string, unknown>) => ({
    ...registry,
    ui: { enabled: true, deleteEnabled: true },
    maintenance: {
        ...registry.maintenance,
        garbageCollection: { enabled: true, schedule: "30 3 * * 0" },
        retention: { rules: [{ prefix, keepNewest: 5 }] },
        backup: { enabled: true, schedule: "0 2 * * *", keep: 7, destination: backupDestination },
    },
});

/** The local stack with upkeep on (retention by last pull's harvest too) and the CA copied by trust-manager: the in-cluster objects only such a stack has. */
function localWithUpkeep(): StackFileConfig {
    const prefix = JSON.parse(readStackConfig(ROOT, "local").config[`${PROJECT}:containerRegistry`]!).pathPrefix;
    const registry = withBlock("local", "registry", (r) => {
        const withUpkeep = upkeep(r, `${prefix}/`, { kind: "volume", size: "100Gi" });
        const retention = { rules: [{ prefix: `${prefix}/`, keepNewest: 5, keepPulledWithinDays: 30 }] };
        return { ...withUpkeep, maintenance: { ...withUpkeep.maintenance, retention } };
    });
    // The CA's copies through trust-manager: its Bundle.
    return { ...registry, config: { ...registry.config, [`${PROJECT}:caConfigMap`]: JSON.stringify({ delivery: "trust-manager" }) } };
}

/** The prod stack with upkeep on: the host scripts only such a stack has (retention by last pull's feed too). */
function prodWithUpkeep(): StackFileConfig {
    const prefix = JSON.parse(readStackConfig(ROOT, "prod").config[`${PROJECT}:containerRegistry`]!).pathPrefix;
    return withBlock("prod", "registry", (registry) => {
        const withUpkeep = upkeep(registry, `${prefix}/`, registry.maintenance.backup.destination);
        const retention = { rules: [{ prefix: `${prefix}/`, keepNewest: 5, keepPulledWithinDays: 30 }] };
        return { ...withUpkeep, maintenance: { ...withUpkeep.maintenance, retention } };
    });
}

/** What each config's run registered: its outputs and the files the synth writes for it. */
interface Registered {
    readonly outputs: Set<string>;
    readonly files: Map<string, string>;
}

const CONFIGS: readonly { readonly name: string; readonly stack: string; readonly config: () => StackFileConfig }[] = [
    ...["local", "prod", "existing", "kind"].map((stack) => ({ name: stack, stack, config: () => readStackConfig(ROOT, stack) })),
    { name: "local with named accounts", stack: "local", config: localWithAccounts },
    { name: "local with upkeep", stack: "local", config: localWithUpkeep },
    { name: "prod with upkeep", stack: "prod", config: prodWithUpkeep },
];

const registered = new Map<string, Registered>();

beforeAll(async () => {
    // One program run at a time: Pulumi's runtime is process-global.
    for (const { name, stack, config } of CONFIGS) {
        const run = await runProgram(stack, config());
        registered.set(name, { outputs: new Set(Object.keys(run.outputs)), files: synthFilesOf(run) });
    }
}, 180_000);

// ---------------------------------------------------------------------------------------------
// Stack outputs
// ---------------------------------------------------------------------------------------------

describe("the stack's outputs", () => {
    const returnedByAny = () => new Set([...registered.values()].flatMap((r) => [...r.outputs]));

    it("index.ts returns defineStack's outputs unchanged, not a list of its own", () => {
        const program = read("index.ts");
        expect(program).toMatch(/const outputs = defineStack\(config\);/);
        expect(program).toMatch(/return outputs;\n\};/);
    });

    it("the search finds the outputs the operator pages name (it is not empty by accident)", () => {
        expect(outputMentions().map((m) => m.name)).toEqual(
            expect.arrayContaining(["caCertPem", "pushCredentials", "readAccountCredentials", "imagePrefix", "registryHostOps"]),
        );
    });

    it("every output a page tells a reader to read is returned by the program for some stack", () => {
        const all = returnedByAny();
        expect(
            outputMentions()
                .filter((m) => !all.has(m.name))
                .map((m) => `${where(m)}: ${m.name}`),
        ).toEqual([]);
    });

    it("every output the program returns is named where an operator reads", () => {
        const text = OUTPUT_READ_FILES.map(read).join("\n");
        const all = [...returnedByAny()].sort();
        expect(all.length).toBeGreaterThan(5);
        expect(all.filter((name) => !new RegExp(`\\b${name}\\b`).test(text))).toEqual([]);
    });

    it("an output a stack has no value for is absent, never null", async () => {
        const existing = await runProgram("existing", readStackConfig(ROOT, "existing"));
        expect(Object.values(existing.outputs).filter((v) => v === null || v === undefined)).toEqual([]);
        expect(Object.keys(existing.outputs)).not.toContain("pushCredentials");
    });
});

// ---------------------------------------------------------------------------------------------
// Host commands
// ---------------------------------------------------------------------------------------------

/** A host command as a page gives it: the script's name and the flags after it. */
interface CommandMention extends Mention {
    readonly flags: readonly string[];
}

/** `sudo [-n] dso-registry-<word> [args]`, and a script named at its place on the host. */
const SUDO_COMMAND = /\bsudo\s+(?:-\w+\s+)*(dso-registry-[a-z][a-z-]*[a-z])\b((?:[ \t]+(?!#)[^\s`|;&)]+)*)/g;
const PLACED_PATH = /\/usr\/local\/s?bin\/(dso-registry-[a-z][a-z-]*[a-z])\b/g;

function hostCommandMentions(): CommandMention[] {
    return PAGES.flatMap((file) =>
        pageLines(file).flatMap(({ line, text }) => [
            ...[...text.matchAll(SUDO_COMMAND)].map((m) => ({
                file,
                line,
                name: m[1]!,
                flags: m[2]!
                    .trim()
                    .split(/\s+/)
                    .filter((a) => /^--?[a-z]/.test(a)),
            })),
            ...[...text.matchAll(PLACED_PATH)].map((m) => ({ file, line, name: m[1]!, flags: [] })),
        ]),
    );
}

/** Every script the program places on a host, by name, with its text. */
function placedScripts(): Map<string, string> {
    const scripts = new Map<string, string>();
    for (const { files } of registered.values()) {
        for (const [file, text] of files) {
            const m = /^hosts\/[^/]+\/usr\/local\/s?bin\/(dso-registry-[\w-]+)$/.exec(file);
            if (m) scripts.set(m[1]!, text);
        }
    }
    return scripts;
}

/** Whether a script's argument parsing takes the flag: a `case` pattern that names it. */
const takesFlag = (script: string, flag: string) =>
    new RegExp(`(^|[\\s(|])${flag.replace(/[-]/g, "\\-")}(\\||\\))`, "m").test(script.replace(/"/g, ""));

describe("host commands the docs tell operators to run", () => {
    const mentions = hostCommandMentions();

    it("the search finds them (it is not empty by accident)", () => {
        const names = new Set(mentions.map((m) => m.name));
        for (const name of ["dso-registry-status", "dso-registry-gc", "dso-registry-verify", "dso-registry-restore"])
            expect(names).toContain(name);
        expect(mentions.some((m) => m.flags.includes("--list"))).toBe(true);
    });

    it("the program places scripts where the search looks", () => {
        expect([...placedScripts().keys()]).toEqual(
            expect.arrayContaining(["dso-registry-gc", "dso-registry-restore", "dso-registry-retention"]),
        );
    });

    it("every one is a script the program places on the host", () => {
        const placed = placedScripts();
        const missing = mentions.filter((m) => !placed.has(m.name)).map((m) => `${where(m)}: ${m.name}`);
        expect(missing).toEqual([]);
    });

    it("every flag a page gives one is taken by the script's argument parsing", () => {
        const placed = placedScripts();
        expect(takesFlag(placed.get("dso-registry-restore")!, "--list")).toBe(true);
        expect(takesFlag(placed.get("dso-registry-restore")!, "--lost")).toBe(false);
        const refused = mentions.flatMap((m) =>
            m.flags.filter((f) => placed.has(m.name) && !takesFlag(placed.get(m.name)!, f)).map((f) => `${where(m)}: ${m.name} ${f}`),
        );
        expect(refused).toEqual([]);
    });
});

// ---------------------------------------------------------------------------------------------
// In-cluster objects
// ---------------------------------------------------------------------------------------------

interface RenderedObject {
    readonly kind: string;
    readonly name: string;
    /** "" for a cluster-scoped object. */
    readonly namespace: string;
    readonly labels: Record<string, string>;
    /** The containers of its pod template (init containers too), for a workload. */
    readonly containers: readonly string[];
}

function podTemplate(object: any): any {
    if (object.kind === "CronJob") return object.spec?.jobTemplate?.spec?.template;
    return object.spec?.template;
}

/** Every Kubernetes object any config's run renders, from the synth's files. */
function renderedObjects(): RenderedObject[] {
    const objects = new Map<string, RenderedObject>();
    for (const { files } of registered.values()) {
        for (const [file, text] of files) {
            if (!/^k8s\/.+\.yaml$/.test(file)) continue;
            const o = YAML.parse(text);
            const spec = podTemplate(o)?.spec;
            const containers = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].map((c: any) => String(c.name));
            const namespace = typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "";
            const labels = { ...(o.metadata?.labels ?? {}), ...(podTemplate(o)?.metadata?.labels ?? {}) };
            // Pod templates the program renders into a ConfigMap (the CI agents'), as the pods made from them.
            for (const [entry, value] of Object.entries<string>(o.kind === "ConfigMap" ? (o.data ?? {}) : {})) {
                const pod = entry.endsWith(".yaml") ? YAML.parse(value) : undefined;
                if (pod?.kind !== "Pod") continue;
                objects.set(`${namespace}/Pod/${entry}`, {
                    kind: "Pod",
                    name: entry,
                    namespace,
                    labels: pod.metadata?.labels ?? {},
                    containers: (pod.spec?.containers ?? []).map((c: any) => String(c.name)),
                });
            }
            const key = `${namespace}/${o.kind}/${o.metadata.name}`;
            const known = objects.get(key);
            objects.set(key, {
                kind: o.kind,
                name: o.metadata.name,
                namespace,
                labels: { ...known?.labels, ...labels },
                containers: [...new Set([...(known?.containers ?? []), ...containers])],
            });
        }
    }
    return [...objects.values()];
}

/** kubectl's names for the kinds the program renders (short names, singular and plural). */
const KINDS: Readonly<Record<string, string>> = {
    deploy: "Deployment",
    deployment: "Deployment",
    deployments: "Deployment",
    ds: "DaemonSet",
    daemonset: "DaemonSet",
    daemonsets: "DaemonSet",
    cj: "CronJob",
    cronjob: "CronJob",
    cronjobs: "CronJob",
    job: "Job",
    jobs: "Job",
    svc: "Service",
    service: "Service",
    services: "Service",
    cm: "ConfigMap",
    configmap: "ConfigMap",
    configmaps: "ConfigMap",
    secret: "Secret",
    secrets: "Secret",
    pvc: "PersistentVolumeClaim",
    persistentvolumeclaim: "PersistentVolumeClaim",
    ing: "Ingress",
    ingress: "Ingress",
    sa: "ServiceAccount",
    serviceaccount: "ServiceAccount",
    bundle: "Bundle",
    certificate: "Certificate",
    issuer: "Issuer",
};

/** What one kubectl command names: objects, containers, labels, in the namespace it gives (undefined: any, "…" or a placeholder). */
interface KubectlMention {
    readonly file: string;
    readonly line: number;
    readonly namespace: string | undefined | null;
    readonly objects: readonly { kind: string; name: string }[];
    readonly containers: readonly string[];
    readonly labels: readonly string[];
    /** The workload the containers are in, when the command names one. */
    readonly workload?: { kind: string; name: string };
    /** Jobs the command creates (`create job NAME`). */
    readonly creates: readonly string[];
}

/** Flags of kubectl that take a value as the next word. */
const VALUE_FLAGS = new Set([
    "-n",
    "--namespace",
    "-c",
    "--container",
    "-l",
    "--selector",
    "-o",
    "--output",
    "--for",
    "--timeout",
    "--since",
    "--tail",
    "--replicas",
    "--sort-by",
    "--image",
    "--restart",
    "--context",
    "--kubeconfig",
    "--from",
]);

const isPlaceholder = (word: string) => /[<>…$]|\.\.\./.test(word);

function parseKubectl(words: readonly string[]): Omit<KubectlMention, "file" | "line"> {
    let namespace: string | undefined | null = null;
    const flags: [string, string][] = [];
    const positional: string[] = [];
    for (let i = 0; i < words.length; i++) {
        const w = words[i]!;
        if (w === "--") break;
        if (w === "…" || w === "...") namespace = undefined;
        const eq = /^(--?[\w-]+)=(.*)$/.exec(w);
        if (eq) flags.push([eq[1]!, eq[2]!]);
        else if (VALUE_FLAGS.has(w)) flags.push([w, words[++i] ?? ""]);
        else if (!w.startsWith("-")) positional.push(w);
    }
    const flag = (...names: string[]) => flags.filter(([f]) => names.includes(f)).map(([, v]) => v);
    const ns = flag("-n", "--namespace")[0];
    if (ns !== undefined) namespace = isPlaceholder(ns) ? undefined : ns;
    const objects: { kind: string; name: string }[] = [];
    const creates: string[] = [];
    const [verb, ...rest] = positional;
    const slashed = (word: string) => {
        const m = /^([a-z]+)\/([^/\s]+)$/.exec(word);
        if (m && KINDS[m[1]!]) objects.push({ kind: KINDS[m[1]!]!, name: m[2]! });
    };
    for (const from of flag("--from")) slashed(from);
    switch (verb) {
        case "create":
            if (rest[0] === "job" && rest[1]) creates.push(rest[1]);
            break;
        case "rollout":
            rest.slice(1).forEach(slashed);
            break;
        case "logs":
        case "exec":
        case "port-forward":
        case "scale":
        case "wait":
        case "get":
        case "describe":
        case "delete":
        case "set": {
            const args = verb === "set" ? rest.slice(1) : rest;
            args.forEach(slashed);
            // `get secret registry-tls`: one kind, then names.
            const [kind, ...names] = args;
            if (kind && !kind.includes("/") && !kind.includes(",") && KINDS[kind]) {
                for (const name of names) if (!name.includes("/")) objects.push({ kind: KINDS[kind]!, name });
            }
            break;
        }
    }
    const workloads = objects.filter((o) => ["Deployment", "DaemonSet", "CronJob"].includes(o.kind));
    return {
        namespace,
        objects,
        containers: flag("-c", "--container"),
        labels: flag("-l", "--selector").flatMap((s) => s.split(",")),
        ...(workloads.length === 1 ? { workload: workloads[0]! } : {}),
        creates,
    };
}

/** Every kubectl command on the pages: in code blocks, and in inline code; each command of a pipeline or list on its own. */
function kubectlMentions(): KubectlMention[] {
    return PAGES.flatMap((file) =>
        pageLines(file).flatMap(({ line, text }) => {
            const code = [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
            const candidates = code.some((c) => c.includes("kubectl")) ? code : [text];
            return candidates.flatMap((c) =>
                c
                    .replace(/\s#\s.*$/, "")
                    .replace(/\s\d?>>?\s*[^\s;|&]+/g, "")
                    .split(/&&|\|\||[|;]|\$\(/)
                    .map((part) => /\bkubectl\s+(.*)$/.exec(part.trim())?.[1])
                    .filter((rest): rest is string => rest !== undefined)
                    .map((rest) => ({ file, line, ...parseKubectl(rest.split(/\s+/).filter(Boolean)) })),
            );
        }),
    );
}

/** The kinds the program never renders an object of on its own, named after what made them. */
const MADE_AT_RUN_TIME = new Set(["Job"]);

describe("in-cluster objects the docs name in kubectl commands", () => {
    const mentions = kubectlMentions();

    /**
     * The program's objects a command can mean: those of the namespace it gives (none of another program's
     * namespace, such as kube-system, but every namespace named `dso…`); any, when it elides the namespace;
     * the cluster-scoped ones, when it gives none (kubectl's default namespace is the user's own).
     */
    function meant(rendered: RenderedObject[], ns: string | undefined | null): RenderedObject[] | undefined {
        if (ns === undefined) return rendered;
        if (ns === null) return rendered.filter((o) => o.namespace === "");
        if (ns.startsWith("dso") || rendered.some((o) => o.namespace === ns)) return rendered.filter((o) => o.namespace === ns);
        return undefined;
    }

    it("the search finds them (it is not empty by accident)", () => {
        const named = mentions.flatMap((m) => m.objects.map((o) => `${o.kind}/${o.name}`));
        expect(named).toEqual(
            expect.arrayContaining([
                "Deployment/registry",
                "CronJob/registry-gc",
                "Secret/registry-tls",
                "DaemonSet/dso-node-trust",
                "Bundle/dso-registry-ca",
            ]),
        );
        expect(mentions.flatMap((m) => m.containers)).toEqual(expect.arrayContaining(["registry", "caddy", "backup"]));
        expect(mentions.flatMap((m) => m.labels)).toContain("app.kubernetes.io/component=registry");
    });

    it("every object named is one the program renders, in that namespace", () => {
        const rendered = renderedObjects();
        const createdOnPage = (file: string) => new Set(mentions.filter((m) => m.file === file).flatMap((m) => m.creates));
        const missing = mentions.flatMap((m) => {
            const candidates = meant(rendered, m.namespace);
            if (!candidates) return [];
            return (
                m.objects
                    .filter((o) => !isPlaceholder(o.name))
                    // A Job made on the page (`create job NAME --from=cronjob/…`), read back on it.
                    .filter((o) => !(MADE_AT_RUN_TIME.has(o.kind) && createdOnPage(m.file).has(o.name)))
                    // In kubectl's default namespace only a kind the program renders cluster-scoped is the program's.
                    .filter((o) => m.namespace !== null || candidates.some((r) => r.kind === o.kind))
                    .filter((o) => !candidates.some((r) => r.kind === o.kind && r.name === o.name))
                    .map((o) => `${m.file}:${m.line}: ${o.kind}/${o.name}${m.namespace ? ` in ${m.namespace}` : ""}`)
            );
        });
        expect(missing).toEqual([]);
    });

    it("every container named is one of the workload's (or of a pod the program renders in that namespace)", () => {
        const rendered = renderedObjects();
        const missing = mentions
            .filter((m) => m.namespace !== null)
            .flatMap((m) => {
                const inNamespace = meant(rendered, m.namespace);
                if (!inNamespace) return [];
                const { workload } = m;
                const candidates = workload ? inNamespace.filter((r) => r.kind === workload.kind && r.name === workload.name) : inNamespace;
                return m.containers
                    .filter((c) => !isPlaceholder(c) && !candidates.some((r) => r.containers.includes(c)))
                    .map((c) => `${m.file}:${m.line}: container ${c}${workload ? ` of ${workload.kind}/${workload.name}` : ""}`);
            });
        expect(missing).toEqual([]);
    });

    it("every label selected is one an object of the program carries in that namespace", () => {
        const rendered = renderedObjects();
        const missing = mentions
            .filter((m) => m.namespace !== null)
            .flatMap((m) => {
                const inNamespace = meant(rendered, m.namespace);
                if (!inNamespace) return [];
                return m.labels
                    .filter((l) => {
                        const [key, value] = l.split("=") as [string, string | undefined];
                        return !inNamespace.some((r) => (value === undefined ? key in r.labels : r.labels[key] === value));
                    })
                    .map((l) => `${m.file}:${m.line}: label ${l}`);
            });
        expect(missing).toEqual([]);
    });
});
