/**
 * No setting is silently ignored. Every leaf key of the config schema, found by walking the zod schema
 * (so a new key is covered the day it is added), is changed from several base configurations (each
 * committed stack, and one base per mode a key may apply in), and the change must do one of three
 * things:
 *
 * - change what the synth writes (resources, outputs, Kubernetes objects, files and scripts on
 *   machines), with no warning that the key has no effect;
 * - be refused, by a problem that names the key;
 * - leave the synth as it was and warn that the key "has no effect with" the setting that makes it moot.
 *
 * A key the program never reads, only tools (TOOL_SETTINGS, components/config/toolSettings.ts), must leave
 * the synth as it was without a warning; one base is enough to show it, the tool's tests show what it does.
 *
 * Synths run in this process, one after another (Pulumi's runtime is process-global), each config once,
 * its program twice: the second run must plan no change (Pulumi's ExpectNoChanges), so every config the
 * walk builds is also checked for a second `up` that would change something.
 * The keys are checked by three test files (test/unit/everySetting*.test.ts), by top-level key, so that
 * they run side by side; each calls `describeEverySetting` with its part.
 */
import { generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, type ConfigProblem, PROJECT, parseConfig, TOOL_SETTINGS } from "../../components/config";
import { schema } from "../../components/config/schema";
import { readStackConfig, runProgram, synthFilesOf } from "../../tools/synth";
import { secondRunChanges, stackConfigOf } from "./noChange";

type Path = (string | number)[];
type Raw = Record<string, unknown>;

const PROJECT_DIR = path.resolve(__dirname, "../..");
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheEverySettingTest";
const PEM = "-----BEGIN CERTIFICATE-----\nMIIBeverySettingTest\n-----END CERTIFICATE-----\n";
/** A signing key (containerRegistry.signingKeys), made when the test loads: the schema parses it. */
const SIGNING_KEY = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

// ---------------------------------------------------------------------------------------------
// The schema's leaves
// ---------------------------------------------------------------------------------------------

interface Leaf {
    /** Path with 0 for "an item of this list", e.g. ["nodes", "list", 0, "runtime"]. */
    readonly path: Path;
    /** The leaf's schema with its default and optionality, to tell valid values and the default. */
    readonly schema: z.ZodType;
    /** The leaf's type without wrappers. */
    readonly inner: z.ZodType;
}

function unwrap(node: z.ZodType): z.ZodType {
    let current = node;
    while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
        current = current.def.innerType as z.ZodType;
    }
    return current;
}

/** Every leaf of the schema: objects are walked, a list of objects through its item. */
function leavesOf(node: z.ZodType, at: Path = []): Leaf[] {
    const inner = unwrap(node);
    if (inner instanceof z.ZodObject) {
        return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) => leavesOf(child, [...at, key]));
    }
    if (inner instanceof z.ZodArray && unwrap(inner.element as z.ZodType) instanceof z.ZodObject) {
        return leavesOf(inner.element as z.ZodType, [...at, 0]);
    }
    return [{ path: at, schema: node, inner }];
}

/** "nodes.list[0].runtime", as problems and warnings name it after the namespace. */
const dotted = (p: Path) => p.map((part, i) => (typeof part === "number" ? `[${part}]` : `${i > 0 ? "." : ""}${part}`)).join("");
/** "nodes.list[].runtime": the key whatever the item. */
const keyPattern = (p: Path) => p.map((part, i) => (typeof part === "number" ? "[]" : `${i > 0 ? "." : ""}${part}`)).join("");

// ---------------------------------------------------------------------------------------------
// Base configurations, and what an absent parent or value is set to
// ---------------------------------------------------------------------------------------------

/** The `dso-registry:*` keys of a committed stack, decoded. */
function committed(stack: string): Raw {
    const { config } = readStackConfig(PROJECT_DIR, stack);
    const raw: Raw = {};
    for (const [fullKey, value] of Object.entries(config)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        try {
            raw[fullKey.slice(PROJECT.length + 1)] = JSON.parse(value);
        } catch {
            raw[fullKey.slice(PROJECT.length + 1)] = value;
        }
    }
    return raw;
}

const jenkins = { enabled: true, url: "https://jenkins.example.test" };

/** The committed stacks, and one base per mode that they leave out. */
const BASES: Record<string, Raw> = {
    local: committed("local"),
    prod: committed("prod"),
    kind: committed("kind"),
    existing: {
        containerRegistry: { host: "registry.corp.example.test", pathPrefix: "platform", requiresAuthForPull: true },
        registry: { mode: "existing", tls: { mode: "public" } },
        existing: { caCertificate: PEM },
        nodes: { delivery: "daemonset", runtime: "k3s" },
        jenkins,
        pullSecrets: { namespaces: ["apps"], flux: true },
    },
    "in-cluster-s3": {
        containerRegistry: { host: "registry.lab.example.test", pathPrefix: "lab", requiresAuthForPull: true, port: 5443 },
        mavenRegistry: { host: "maven.lab.example.test", pathPrefix: "releases" },
        registry: {
            mode: "in-cluster",
            replicas: 2,
            tls: { mode: "cert-manager", certManagerIssuer: { name: "lab-ca" } },
            storage: { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.lab.example.test" } },
            allowedNetworks: ["10.0.0.0/8"],
            maintenance: { garbageCollection: { enabled: true } },
            ui: { enabled: true, deleteEnabled: true },
            loginLimit: { allowUnlimitedCredentialRequests: true },
        },
        inCluster: { ingressClass: "nginx" },
        nodes: {
            delivery: "ssh",
            runtime: "containerd",
            allowContainerdRestart: true,
            list: [{ name: "node-a", host: "10.0.0.7", hostKey: HOST_KEY, user: "deploy" }],
        },
        jenkins: { ...jenkins, auth: "password", registryHostCredentialId: "registry-host" },
        pullSecrets: { namespaces: ["apps"] },
    },
    // In-cluster backups (S3) of the registry's volume, which the committed stacks leave off.
    "in-cluster-backup": {
        containerRegistry: { host: "registry.lab.example.test", pathPrefix: "lab" },
        registry: {
            mode: "in-cluster",
            maintenance: {
                backup: {
                    enabled: true,
                    destination: { kind: "s3", endpoint: "https://minio.lab.example.test", bucket: "registry-backup" },
                },
            },
        },
    },
    "external-generated-ca": {
        containerRegistry: { host: "registry.example.test", pathPrefix: "" },
        // The converged case on the host: the same site serves the Maven repository (and Jenkins holds
        // its credential, so changing mavenRegistry.host away from the registry still has an effect).
        mavenRegistry: { host: "registry.example.test", pathPrefix: "maven-releases" },
        jenkins,
        registry: {
            mode: "external-host",
            tls: { mode: "generated-ca" },
            ui: { enabled: true },
            maintenance: { garbageCollection: { enabled: true } },
        },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } },
        nodes: { delivery: "daemonset", runtime: "containerd", registryAddress: "10.0.0.5" },
    },
};

/** What an optional object is given when a base lacks it and a key below it is to be changed. */
const PARENT_SAMPLES: Record<string, unknown> = {
    mavenRegistry: { host: "maven.example.test", pathPrefix: "releases" },
    externalHost: { ssh: { host: "10.0.0.6", hostKey: HOST_KEY } },
    "kind.ssh": { host: "10.0.0.7", hostKey: HOST_KEY },
    "registry.storage.s3": { bucket: "dso-images" },
    "registry.tls.certManagerIssuer": { name: "lab-ca" },
    "nodes.list[]": { name: "node-z", host: "10.0.0.9", hostKey: HOST_KEY },
    "registry.mirrors[]": { upstream: "quay.io" },
    "registry.mirrors[].warm": { images: ["org/app:1.0"] },
    // Under the pathPrefix of the local and prod stacks.
    "containerRegistry.pushAccounts[]": { name: "team-a-ci", prefixes: ["docker-internal/p2c/team-a/"] },
    "containerRegistry.readAccounts[]": { name: "dev-alice" },
    "containerRegistry.readAccounts[].pullSecret": { namespaces: ["apps"] },
    "registry.distributionConfig.notifications": { endpoints: [{ name: "ci", url: "https://hooks.example.test/registry" }] },
    // Under the pathPrefix of the prod stack (garbage collection on, which retention needs).
    "registry.maintenance.retention.rules[]": { prefix: "docker-internal/p2c/team-a/", keepNewest: 5 },
};

/** Values for keys a generic change cannot make: optional keys without a default, and values in a fixed format. */
const ALTERNATIVES: Record<string, unknown[]> = {
    "containerRegistry.rotateAfterDays": [90],
    "containerRegistry.signingKeys": [[SIGNING_KEY]],
    "containerRegistry.pushAccounts[].name": ["team-b-ci"],
    "containerRegistry.pushAccounts[].prefixes": [["docker-internal/p2c/team-b/"]],
    "containerRegistry.pushAccounts[].credentialId": ["team-a-push"],
    "containerRegistry.pushAccounts[].rotation": ["2"],
    "containerRegistry.readAccounts[].name": ["dev-bob"],
    "containerRegistry.readAccounts[].rotation": ["2"],
    "containerRegistry.readAccounts[].pullSecret.namespaces": [["apps", "tools"]],
    "containerRegistry.readAccounts[].pullSecret.secretName": ["team-pull"],
    "registry.tls.acmeEmail": ["ops@example.test"],
    "registry.tls.acmeDirectory": ["https://acme-staging-v02.api.letsencrypt.org/directory"],
    "registry.storage.storageClass": ["fast-ssd"],
    "registry.storage.s3.endpoint": ["https://minio.example.test"],
    "registry.allowedNetworks": [["192.168.0.0/16"]],
    "registry.loginLimit.ignoreNetworks": [["192.168.0.0/16"]],
    "existing.caCertificate": [PEM],
    "registry.tls.certManagerCaCertificate": [PEM],
    "jenkins.url": ["https://jenkins.other.example.test"],
    "registry.mirrors[].remoteUrl": ["https://mirror-api.example.test"],
    "registry.mirrors[].warm.images": [["org/app:1.0", "org/tool:2.1"]],
    "registry.mirrors[].warm.platforms": [["linux/amd64"]],
    "registry.mirrors[].warm.schedule": ["30 2 * * *"],
    // Unset means "accounts" where there is no allowlist: "anonymous" is the change that opens the caches.
    "registry.mirrorPull": ["anonymous"],
    "jenkins.caCertificate": [PEM],
    "jenkins.registryHostCredentialId": ["registry-host-2"],
    // Unset: no kaniko template (kaniko is archived upstream); a named image adds it.
    "jenkins.agentImages.kaniko": ["mirror.example.test/kaniko-project/executor:v1.23.2-debug"],
    "nodes.registryAddress": ["10.0.0.99"],
    "inCluster.clusterDns.kubectlContext": ["lab-cluster"],
    "inCluster.networkPolicy.ingressNamespaces": [["haproxy-controller"]],
    "inCluster.networkPolicy.clientNamespaces": [["jenkins"]],
    "inCluster.networkPolicy.nodeNetworks": [["10.0.0.0/24"]],
    "inCluster.networkPolicy.monitoringNamespaces": [["observability"]],
    "inCluster.networkPolicy.egressNetworks": [["10.20.0.0/16"]],
    // Unset: the cluster's default IngressClass (the Ingresses name none); a named class is the change.
    "inCluster.ingressClass": ["traefik"],
    // kind's web UI behind the cluster's ingress: another host, port, namespace and class, each a change.
    "kind.ui.host": ["registry.localhost"],
    "kind.ui.port": [8081],
    "kind.ui.namespace": ["registry-ui"],
    "kind.ui.ingressClass": ["nginx"],
    "inCluster.gateway.namespace": ["gateways"],
    "inCluster.gateway.sectionName": ["https"],
    "inCluster.gateway.className": ["traefik"],
    "inCluster.gateway.proxyNetworks": [["10.42.0.0/16"]],
    "inCluster.pod.resources.registry": [{ requests: { cpu: "500m" }, limits: { memory: "2Gi" } }],
    "inCluster.pod.resources.front": [{ limits: { cpu: 1, memory: "1Gi" } }],
    "inCluster.pod.resources.maven": [{ limits: { memory: "256Mi" } }],
    "inCluster.pod.resources.cache": [{ limits: { memory: "1Gi" } }],
    "inCluster.pod.resources.ui": [{ limits: { memory: "256Mi" } }],
    "inCluster.pod.resources.jobs": [{ requests: { cpu: "50m" } }],
    "inCluster.pod.nodeSelector": [{ "node-role.kubernetes.io/infra": "true" }],
    "inCluster.pod.tolerations": [[{ key: "dedicated", operator: "Equal", value: "infra", effect: "NoSchedule" }]],
    "inCluster.pod.affinity": [
        {
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] }],
                },
            },
        },
    ],
    "inCluster.pod.priorityClassName": ["system-cluster-critical"],
    "inCluster.pod.annotations": [{ "example.com/team": "platform" }],
    // Unset: a directory the program chooses on the Docker host.
    "kind.dataDir": ["/srv/dso-registry-kind"],
    // Unset: the cluster named "kind" alone.
    "kind.clusterName": ["dev"],
    "kind.clusterNames": [["kind", "ci"]],
    "nodes.list[].kubernetesNodeName": ["node-a-k8s"],
    "pullSecrets.namespaces": [["web"]],
    "registry.maintenance.backup.destination.endpoint": ["https://minio.example.test"],
    "registry.maintenance.backup.destination.bucket": ["registry-backup"],
    "registry.maintenance.backup.destination.host": ["backup-01.example.test"],
    "registry.maintenance.backup.destination.path": ["/srv/restic/registry"],
    "registry.maintenance.backup.destination.hostKey": [HOST_KEY],
    "registry.maintenance.backup.destination.storageClass": ["other-disks"],
    "registry.maintenance.retention.rules[].prefix": ["docker-internal/p2c/team-b/"],
    "registry.maintenance.retention.rules[].keepDays": [30],
    "registry.maintenance.retention.rules[].keepPulledWithinDays": [30],
    "registry.maintenance.retention.protect": [["latest"]],
    "registry.distributionConfig.log.fields": [{ environment: "lab" }],
    "registry.distributionConfig.http.headers": [{ "X-Frame-Options": ["DENY"] }],
    "registry.distributionConfig.notifications.endpoints[].headers": [{ "X-Registry": ["lab"] }],
    "registry.distributionConfig.notifications.endpoints[].timeout": ["5s"],
    "registry.distributionConfig.notifications.endpoints[].threshold": [5],
    "registry.distributionConfig.notifications.endpoints[].backoff": ["5s"],
    "registry.distributionConfig.notifications.endpoints[].ignore.mediatypes": [["application/octet-stream"]],
    "registry.distributionConfig.notifications.endpoints[].ignore.actions": [["pull"]],
    "registry.distributionConfig.validation.manifests.urls.allow": [["^https://layers\\.example\\.test/"]],
    "registry.distributionConfig.validation.manifests.urls.deny": [[".*"]],
    "disruptionBudget.approved": ["the platform lead: the namespace move, announced for Saturday"],
};

/** Value at a path, or undefined. */
function get(raw: unknown, at: Path): unknown {
    return at.reduce<unknown>((node, part) => (node === undefined || node === null ? undefined : (node as Raw)[part as string]), raw);
}

/** A copy of `raw` in which every object and list on the way to `at` exists (from PARENT_SAMPLES when absent). */
function withParents(raw: Raw, at: Path): Raw {
    const copy = structuredClone(raw);
    let node: Record<string | number, unknown> = copy;
    for (let i = 0; i < at.length - 1; i++) {
        const part = at[i]!;
        const next = at[i + 1]!;
        if (node[part] === undefined || (Array.isArray(node[part]) && (node[part] as unknown[]).length === 0)) {
            const sample = PARENT_SAMPLES[keyPattern(at.slice(0, typeof next === "number" ? i + 2 : i + 1))];
            node[part] = typeof next === "number" ? [structuredClone(sample ?? {})] : structuredClone(sample ?? {});
        }
        node = node[part] as Record<string | number, unknown>;
    }
    return copy;
}

function withValue(raw: Raw, at: Path, value: unknown): Raw {
    const copy = structuredClone(raw);
    const parent = get(copy, at.slice(0, -1)) as Record<string | number, unknown>;
    parent[at[at.length - 1]!] = value;
    return copy;
}

/** "registry:2.8.3" → "registry:3.8.3": the first number, one higher. */
const bumpNumber = (text: string) => text.replace(/\d+/, (n) => String(Number(n) + 1));

/** Values the leaf may be changed to from `current`: each valid for the leaf's own schema and different. */
function changedValues(leaf: Leaf, current: unknown): unknown[] {
    const { inner } = leaf;
    let candidates: unknown[];
    if (inner instanceof z.ZodBoolean) candidates = current === undefined ? [true, false] : [!current];
    else if (inner instanceof z.ZodEnum) candidates = (inner.options as unknown[]).filter((o) => o !== current);
    else if (inner instanceof z.ZodNumber) candidates = typeof current === "number" ? [current + 1, current - 1] : [];
    else if (typeof current === "string") candidates = [bumpNumber(current), `${current}x`];
    else candidates = [];
    candidates = [...(ALTERNATIVES[keyPattern(leaf.path)] ?? []), ...candidates];
    const valid = candidates.filter((v) => JSON.stringify(v) !== JSON.stringify(current) && leaf.schema.safeParse(v).success);
    // Every option of an enum is tried; for other kinds one valid change is enough.
    return inner instanceof z.ZodEnum ? valid : valid.slice(0, 1);
}

// ---------------------------------------------------------------------------------------------
// Parsing and synthesizing, each config once
// ---------------------------------------------------------------------------------------------

type Parsed = { ok: true; warnings: readonly ConfigProblem[] } | { ok: false; problems: readonly ConfigProblem[] };

function parse(raw: Raw): Parsed {
    try {
        return { ok: true, warnings: parseConfig(raw, {}, { allowMissingSecrets: true }).warnings };
    } catch (error) {
        if (error instanceof ConfigError) return { ok: false, problems: error.problems };
        throw error;
    }
}

const synths = new Map<string, Promise<Map<string, string>>>();
let queue: Promise<unknown> = Promise.resolve();

/**
 * The synth's files for a config; the same config is synthesized once, and one synth runs at a time.
 * Each config's program runs twice, and the second run must plan no change (Pulumi's ExpectNoChanges,
 * test/support/noChange.ts): a config whose second `up` would change something fails the test that
 * synthesized it, with the plan.
 */
function synth(raw: Raw): Promise<Map<string, string>> {
    const id = JSON.stringify(raw);
    let result = synths.get(id);
    if (!result) {
        const config = stackConfigOf(raw);
        result = queue.then(async () => {
            const first = await runProgram("every-setting", config);
            const changes = secondRunChanges(first, await runProgram("every-setting", config));
            if (changes) throw new Error(`config ${JSON.stringify(raw)}: ${changes}`);
            return synthFilesOf(first);
        });
        queue = result.catch(() => undefined);
        synths.set(id, result);
    }
    return result;
}

/** Names of the files that differ between two synths. */
function differences(a: Map<string, string>, b: Map<string, string>): string[] {
    return [...new Set([...a.keys(), ...b.keys()])].filter((f) => a.get(f) !== b.get(f));
}

/** Whether a problem is about the key: it names the key, a key below it or the block above it that its mode refuses, or speaks of it. */
function names(problem: ConfigProblem, leaf: Leaf): boolean {
    const key = `${PROJECT}:${dotted(leaf.path)}`;
    return (
        problem.key === key ||
        problem.key.startsWith(`${key}.`) ||
        problem.key.startsWith(`${key}[`) ||
        ((key.startsWith(`${problem.key}.`) || key.startsWith(`${problem.key}[`)) && /has no place with /.test(problem.message)) ||
        problem.message.includes(dotted(leaf.path))
    );
}

/**
 * A warning that the key, a key below it (a value that is itself an object or a list of objects), or a
 * block above it (a block of another mode, in a stack file of an earlier release) has no effect.
 */
const isMootWarning = (w: ConfigProblem, leaf: Leaf) => {
    const key = `${PROJECT}:${dotted(leaf.path)}`;
    const related = [key, w.key].some((a) => {
        const b = a === key ? w.key : key;
        return b === a || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);
    });
    return related && /has no effect with /.test(w.message);
};

/** Whether only tools read the key (components/config/toolSettings.ts). */
const readByTools = (leaf: Leaf) => String(leaf.path[0]) in TOOL_SETTINGS;

/** What changing one leaf of one base did; `problem` says why it is none of the three. */
interface Outcome {
    readonly base: string;
    readonly value: unknown;
    readonly result: "changes the synth" | "refused" | "warns" | "read by a tool" | "base does not take the key" | "no base value";
    readonly problem?: string;
}

async function outcomes(leaf: Leaf, baseName: string): Promise<Outcome[]> {
    const before = withParents(BASES[baseName]!, leaf.path);
    const parsedBefore = parse(before);
    if (!parsedBefore.ok) {
        // The key's parent is refused in this base (e.g. externalHost in mode in-cluster): it has its own outcome.
        return [{ base: baseName, value: undefined, result: "base does not take the key" }];
    }
    // Synthesized (and its second run checked) even where every changed value is refused.
    const synthBefore = await synth(before);
    const explicit = get(before, leaf.path);
    const current = explicit ?? (leaf.schema.safeParse(undefined).success ? leaf.schema.parse(undefined) : undefined);
    const values = changedValues(leaf, current);
    if (values.length === 0) {
        return [
            {
                base: baseName,
                value: current,
                result: "no base value",
                problem: `no valid changed value for ${dotted(leaf.path)} (now ${JSON.stringify(current)}): add one to ALTERNATIVES`,
            },
        ];
    }
    const results: Outcome[] = [];
    for (const value of values) {
        const after = withValue(before, leaf.path, value);
        const parsedAfter = parse(after);
        if (!parsedAfter.ok) {
            const named = parsedAfter.problems.some((p) => names(p, leaf));
            results.push({
                base: baseName,
                value,
                result: "refused",
                problem: named
                    ? undefined
                    : `refused without naming the key: ${parsedAfter.problems.map((p) => `${p.key}: ${p.message}`).join(" | ")}`,
            });
            continue;
        }
        const changed = differences(synthBefore, await synth(after));
        const mootWarning = parsedAfter.warnings.find((w) => isMootWarning(w, leaf));
        if (readByTools(leaf)) {
            results.push({
                base: baseName,
                value,
                result: "read by a tool",
                problem:
                    changed.length > 0
                        ? `is read by tools only (TOOL_SETTINGS) but changes ${changed.join(", ")}`
                        : mootWarning
                          ? `is read by tools only (TOOL_SETTINGS) but warns "${mootWarning.message}"`
                          : undefined,
            });
        } else if (changed.length > 0) {
            results.push({
                base: baseName,
                value,
                result: "changes the synth",
                problem: mootWarning ? `changes ${changed.join(", ")} but warns "${mootWarning.message}"` : undefined,
            });
        } else {
            results.push({
                base: baseName,
                value,
                result: "warns",
                problem: mootWarning ? undefined : "changes nothing the synth writes, is not refused, and no warning says it has no effect",
            });
        }
    }
    return results;
}

// ---------------------------------------------------------------------------------------------
// The tests, in parts
// ---------------------------------------------------------------------------------------------

const LEAVES = leavesOf(schema);

/** The top-level keys of each part but the rest, which takes every other key (a new one the day it is added). */
const PARTS = { "registry and externalHost": ["registry", "externalHost"], "nodes and jenkins": ["nodes", "jenkins"] } as const;
const NAMED = Object.values(PARTS).flat() as readonly string[];

/** A part of the schema's keys: one of PARTS, or "the rest". */
export type EverySettingPart = keyof typeof PARTS | "the rest";

const inPart = (leaf: Leaf, part: EverySettingPart) =>
    part === "the rest" ? !NAMED.includes(String(leaf.path[0])) : (PARTS[part] as readonly string[]).includes(String(leaf.path[0]));

/** Every leaf of the part changed from every base; "the rest" also checks the walk and the bases themselves. */
export function describeEverySetting(part: EverySettingPart): void {
    describe(`every setting (${part}) does something, is refused, or warns that it has no effect`, () => {
        if (part === "the rest") {
            it("finds the schema's keys, list items included", () => {
                const keys = LEAVES.map((l) => keyPattern(l.path));
                expect(keys).toEqual(
                    expect.arrayContaining(["containerRegistry.host", "registry.storage.s3.bucket", "nodes.list[].hostKey"]),
                );
                expect(new Set(keys).size).toBe(keys.length);
            });

            it.each(Object.keys(PARTS))("part %s has keys to check", (name) => {
                expect(LEAVES.filter((leaf) => inPart(leaf, name as EverySettingPart))).not.toEqual([]);
            });

            it.each(Object.keys(BASES))("base %s is a valid configuration", (name) => {
                expect(parse(BASES[name]!)).toMatchObject({ ok: true });
            });
        }

        it.each(LEAVES.filter((leaf) => inPart(leaf, part)).map((leaf) => [dotted(leaf.path), leaf] as const))("%s", async (_key, leaf) => {
            const all: Outcome[] = [];
            // A key only tools read cannot act through another base: one shows that it leaves the synth alone.
            const bases = readByTools(leaf) ? ["local"] : Object.keys(BASES);
            for (const base of bases) all.push(...(await outcomes(leaf, base)));
            const failures = all.filter((o) => o.problem).map((o) => `${o.base}, value ${JSON.stringify(o.value)}: ${o.problem}`);
            expect(failures).toEqual([]);
            expect(
                all.some((o) => o.result !== "base does not take the key"),
                "no base takes this key: add a base or a PARENT_SAMPLES entry",
            ).toBe(true);
        });
    });
}

/**
 * Every stack file the every-setting walk builds, refused or taken: each base, and each base with one
 * leaf changed to each value the walk tries (for the checks of what the config says about them, which
 * need no synth).
 */
export function everySettingVariations(): { readonly name: string; readonly raw: Raw }[] {
    const variations = new Map<string, { name: string; raw: Raw }>();
    const add = (name: string, raw: Raw) => {
        const id = JSON.stringify(raw);
        if (!variations.has(id)) variations.set(id, { name, raw });
    };
    for (const [baseName, base] of Object.entries(BASES)) add(baseName, base);
    for (const leaf of LEAVES) {
        for (const [baseName, base] of Object.entries(BASES)) {
            const before = withParents(base, leaf.path);
            add(`${baseName} with ${dotted(leaf.path)} given`, before);
            const explicit = get(before, leaf.path);
            const current = explicit ?? (leaf.schema.safeParse(undefined).success ? leaf.schema.parse(undefined) : undefined);
            for (const value of changedValues(leaf, current)) {
                add(`${baseName}, ${dotted(leaf.path)} = ${JSON.stringify(value)}`, withValue(before, leaf.path, value));
            }
        }
    }
    return [...variations.values()];
}

/**
 * Every config the every-setting tests synthesize: each base, and each base with one leaf changed to
 * each value the tests try, where the config is valid (a refused config never reaches the engine).
 */
export function everySettingConfigs(options: { readonly basesOnly?: boolean } = {}): { readonly name: string; readonly raw: Raw }[] {
    const configs = new Map<string, { name: string; raw: Raw }>();
    const add = (name: string, raw: Raw) => {
        const id = JSON.stringify(raw);
        if (!configs.has(id) && parse(raw).ok) configs.set(id, { name, raw });
    };
    for (const [baseName, base] of Object.entries(BASES)) add(baseName, base);
    if (options.basesOnly) return [...configs.values()];
    for (const leaf of LEAVES) {
        for (const [baseName, base] of Object.entries(BASES)) {
            const before = withParents(base, leaf.path);
            if (!parse(before).ok) continue;
            add(`${baseName} with ${dotted(leaf.path)} given`, before);
            const explicit = get(before, leaf.path);
            const current = explicit ?? (leaf.schema.safeParse(undefined).success ? leaf.schema.parse(undefined) : undefined);
            for (const value of changedValues(leaf, current)) {
                add(`${baseName}, ${dotted(leaf.path)} = ${JSON.stringify(value)}`, withValue(before, leaf.path, value));
            }
        }
    }
    return [...configs.values()];
}
