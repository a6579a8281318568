/**
 * Asks the cluster, with kubectl and the kubeconfig the Kubernetes provider uses, which prerequisites
 * it lacks. kubectl is the tool made for reading a cluster with any kubeconfig (client certificates,
 * tokens, exec plugins); where it is missing or cannot reach the cluster, nothing is decided here and
 * the provider reports what it finds. Why: docs/decisions/cluster-prerequisites.md
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { type DeclaredObject, type ForeignObject, foreignAmong, itemsOf, kubectlResource } from "./ownership";
import {
    DEFAULT_INGRESS_CLASS_ANNOTATION,
    defaultIngressClassNotes,
    type FoundIngressClass,
    type IngressMessages,
    type ObjectRef,
    type Prerequisite,
} from "./prerequisites";

/** Where the provider finds its cluster: `kubernetes:kubeconfig` (a path or the file's text) and `kubernetes:context`. */
export interface ClusterAccess {
    readonly kubeconfig?: string;
    readonly context?: string;
}

export interface CheckResult {
    /** Prerequisites the cluster answered it does not have. */
    readonly missing: Prerequisite[];
    /** Why some or all could not be checked (kubectl missing, cluster unreachable, access refused). */
    readonly unchecked: string[];
    /** What the cluster's answers call for telling, though nothing is missing (the default IngressClass's controller). */
    readonly notes: string[];
}

type Kubectl = (args: readonly string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

const NOT_FOUND = /NotFound|not found|could not find the requested resource|doesn't have a resource type/i;

/**
 * kubectl processes one check runs at once. Its questions are independent, and each process waits mostly on
 * the API server; run one after the other they took 1.5 to 1.9 s of every preview and every update on the
 * local stack (eleven of them), and the program registers nothing until the check is done.
 */
const KUBECTL_AT_ONCE = 4;

/**
 * Runs kubectl with the provider's kubeconfig and context; a kubeconfig given as text goes through a private
 * file. At most `KUBECTL_AT_ONCE` at a time, and the same question asked twice in one check is asked once.
 */
function kubectlFor(access: ClusterAccess): { kubectl: Kubectl; abandon: () => void; cleanup: () => void } {
    const prefix: string[] = [];
    let dir: string | undefined;
    const given = access.kubeconfig?.trim();
    if (given) {
        if (given.includes("\n") || given.startsWith("{")) {
            dir = mkdtempSync(path.join(tmpdir(), "dso-registry-kubeconfig-"));
            const file = path.join(dir, "kubeconfig");
            writeFileSync(file, given, { mode: 0o600 });
            prefix.push("--kubeconfig", file);
        } else {
            prefix.push("--kubeconfig", given.startsWith("~/") ? path.join(homedir(), given.slice(2)) : given);
        }
    }
    if (access.context) prefix.push("--context", access.context);
    const once: Kubectl = (args) =>
        new Promise((resolve) => {
            execFile("kubectl", [...prefix, ...args], { timeout: 30_000, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
                const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
                const missingBinary = error && (error as NodeJS.ErrnoException).code === "ENOENT";
                resolve({ code, stdout, stderr: missingBinary ? "kubectl was not found on PATH" : stderr });
            });
        });
    let running = 0;
    let abandoned = false;
    const waiting: (() => void)[] = [];
    const limited: Kubectl = async (args) => {
        if (running >= KUBECTL_AT_ONCE) await new Promise<void>((turn) => waiting.push(turn));
        // Once the cluster cannot be reached, a question still waiting for its turn is not asked.
        if (abandoned) {
            waiting.shift()?.();
            return { code: -1, stdout: "", stderr: "" };
        }
        running++;
        try {
            return await once(args);
        } finally {
            running--;
            waiting.shift()?.();
        }
    };
    const asked = new Map<string, ReturnType<Kubectl>>();
    const kubectl: Kubectl = (args) => {
        const key = args.join("\0");
        const answer = asked.get(key) ?? limited(args);
        asked.set(key, answer);
        return answer;
    };
    return {
        kubectl,
        abandon: () => {
            abandoned = true;
        },
        cleanup: () => dir && rmSync(dir, { recursive: true, force: true }),
    };
}

/**
 * Whether kubectl reaches the cluster (`kubectl version`), asked beside the check's other questions: an
 * unreachable cluster or a missing kubectl decides nothing, and the questions not yet asked are dropped.
 * Resolves to why not, or undefined when it answers.
 */
function unreachable(kubectl: Kubectl, abandon: () => void): Promise<string | undefined> {
    return kubectl(["version", "--output=json"]).then((probe) => {
        if (probe.code === 0 && /"serverVersion"/.test(probe.stdout)) return undefined;
        abandon();
        return firstLine(probe.stderr) || "kubectl could not reach the cluster";
    });
}

const firstLine = (text: string) => text.trim().split("\n")[0] ?? "";

/** How many of `objects` do not exist yet (kubectl answers nothing, or cannot say). */
async function pendingOf(kubectl: Kubectl, resource: string, objects: readonly ObjectRef[]): Promise<number> {
    const answers = await Promise.all(
        objects.map((o) =>
            kubectl(["get", resource, o.name, ...(o.namespace ? ["--namespace", o.namespace] : []), "--ignore-not-found", "--output=name"]),
        ),
    );
    return answers.filter((r) => r.code !== 0 || r.stdout.trim() === "").length;
}

/** The IngressClasses in `kubectl get ingressclasses --output=json`. */
export function ingressClassesOf(json: string): FoundIngressClass[] {
    const items =
        (
            JSON.parse(json) as {
                items?: { metadata?: { name?: string; annotations?: Record<string, string> }; spec?: { controller?: string } }[];
            }
        ).items ?? [];
    return items
        .map((i) => ({
            name: i.metadata?.name ?? "",
            controller: i.spec?.controller ?? "",
            isDefault: i.metadata?.annotations?.[DEFAULT_INGRESS_CLASS_ANNOTATION] === "true",
        }))
        .filter((c) => c.name !== "")
        .sort((a, b) => a.name.localeCompare(b.name));
}

/** What one question to the cluster found: prerequisites missing, why something could not be checked, notes to tell. */
interface Answer {
    readonly missing?: readonly Prerequisite[];
    readonly unchecked?: readonly string[];
    readonly notes?: readonly string[];
}
const NOTHING: Promise<Answer> = Promise.resolve({});

/** The namespaces the stack needs and does not create: one question for all. */
async function namespacesAnswer(kubectl: Kubectl, prerequisites: readonly Prerequisite[]): Promise<Answer> {
    const namespaces = prerequisites.filter((p) => p.kind === "namespace");
    if (namespaces.length === 0) return {};
    const r = await kubectl(["get", "namespaces", ...namespaces.map((n) => n.name), "--ignore-not-found", "--output=name"]);
    if (r.code !== 0) return { unchecked: [firstLine(r.stderr)] };
    const present = new Set(r.stdout.split("\n").map((l) => l.trim().replace(/^namespace\//, "")));
    return { missing: namespaces.filter((n) => !present.has(n.name)) };
}

/** An API group version and the kinds the stack uses of it. */
async function apiAnswer(kubectl: Kubectl, p: Extract<Prerequisite, { kind: "api" }>): Promise<Answer> {
    const r = await kubectl(["get", "--raw", `/apis/${p.apiVersion}`]);
    if (r.code !== 0) return NOT_FOUND.test(r.stderr) ? { missing: [p] } : { unchecked: [firstLine(r.stderr)] };
    const served = new Set(((JSON.parse(r.stdout) as { resources?: { kind?: string }[] }).resources ?? []).map((x) => x.kind));
    return p.kinds.every((k) => served.has(k)) ? {} : { missing: [p] };
}

/** The default StorageClass, or a named one, for the claims still to be made (a claim that exists keeps the class it was bound with). */
async function storageClassAnswer(kubectl: Kubectl, prerequisites: readonly Prerequisite[]): Promise<Answer> {
    const wanted = prerequisites.filter(
        (p): p is Extract<Prerequisite, { kind: "default-storage-class" | "storage-class" }> =>
            p.kind === "default-storage-class" || p.kind === "storage-class",
    );
    const pending = await Promise.all(wanted.map((p) => pendingOf(kubectl, "persistentvolumeclaims", p.claims)));
    const classNeeds = wanted.filter((_, i) => (pending[i] ?? 0) > 0);
    if (classNeeds.length === 0) return {};
    const r = await kubectl(["get", "storageclasses", "--output=json"]);
    if (r.code !== 0) return { unchecked: [firstLine(r.stderr)] };
    const items =
        (JSON.parse(r.stdout) as { items?: { metadata?: { name?: string; annotations?: Record<string, string> } }[] }).items ?? [];
    const names = new Set(items.map((i) => i.metadata?.name));
    const isDefault = items.some((i) =>
        ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"].some(
            (a) => i.metadata?.annotations?.[a] === "true",
        ),
    );
    return { missing: classNeeds.filter((p) => (p.kind === "default-storage-class" ? !isDefault : !names.has(p.name))) };
}

/**
 * The default IngressClass, for the Ingresses still to be made: the API server gives an Ingress the default
 * class when it creates it, and the Ingress keeps it (docs/decisions/default-ingress-class.md).
 */
async function defaultIngressClassAnswer(
    kubectl: Kubectl,
    p: Extract<Prerequisite, { kind: "default-ingress-class" }>,
    ingress?: IngressMessages,
): Promise<Answer> {
    if ((await pendingOf(kubectl, "ingresses.networking.k8s.io", p.ingresses)) === 0) return {};
    const r = await kubectl(["get", "ingressclasses.networking.k8s.io", "--output=json"]);
    if (r.code !== 0) return { unchecked: [firstLine(r.stderr)] };
    const found = ingressClassesOf(r.stdout);
    const defaults = found.filter((c) => c.isDefault);
    if (defaults.length === 1) return { notes: defaultIngressClassNotes(p, defaults[0] as FoundIngressClass, ingress) };
    return { missing: [{ ...p, found }] };
}

/** The IngressClasses the stack names. */
async function namedIngressClassAnswer(kubectl: Kubectl, prerequisites: readonly Prerequisite[]): Promise<Answer> {
    const named = prerequisites.filter((p) => p.kind === "ingress-class");
    if (named.length === 0) return {};
    const r = await kubectl(["get", "ingressclasses.networking.k8s.io", "--output=json"]);
    if (r.code !== 0) return { unchecked: [firstLine(r.stderr)] };
    const found = ingressClassesOf(r.stdout);
    return { missing: named.filter((p) => !found.some((c) => c.name === p.name)).map((p) => ({ ...p, found })) };
}

/** An object the stack reads and does not make. */
async function objectAnswer(kubectl: Kubectl, p: Extract<Prerequisite, { kind: "object" }>): Promise<Answer> {
    const [group, version] = p.apiVersion.includes("/") ? p.apiVersion.split("/") : ["", p.apiVersion];
    const resource = [p.objectKind.toLowerCase(), ...(group ? [version, group] : [])].join(".");
    const r = await kubectl([
        "get",
        resource,
        p.name,
        ...(p.namespace ? ["--namespace", p.namespace] : []),
        "--ignore-not-found",
        "--output=name",
    ]);
    if (r.code === 0) return r.stdout.trim() === "" ? { missing: [p] } : {};
    return NOT_FOUND.test(r.stderr) ? { missing: [p] } : { unchecked: [firstLine(r.stderr)] };
}

/** Checks each prerequisite against the cluster. */
export async function checkPrerequisites(
    prerequisites: readonly Prerequisite[],
    access: ClusterAccess,
    ingress?: IngressMessages,
): Promise<CheckResult> {
    if (prerequisites.length === 0) return { missing: [], unchecked: [], notes: [] };
    const { kubectl, abandon, cleanup } = kubectlFor(access);
    try {
        // Each question on its own, all at once (kubectlFor bounds how many run), the probe first; the answers
        // are merged in the order of the prerequisites, so the message lists what is missing as before.
        const probe = unreachable(kubectl, abandon);
        const asked = Promise.all([
            namespacesAnswer(kubectl, prerequisites),
            ...prerequisites.map((p) => (p.kind === "api" ? apiAnswer(kubectl, p) : NOTHING)),
            storageClassAnswer(kubectl, prerequisites),
            ...prerequisites.map((p) => (p.kind === "default-ingress-class" ? defaultIngressClassAnswer(kubectl, p, ingress) : NOTHING)),
            namedIngressClassAnswer(kubectl, prerequisites),
            ...prerequisites.map((p) => (p.kind === "object" ? objectAnswer(kubectl, p) : NOTHING)),
        ]);
        // Every question has ended before the kubeconfig's file goes (cleanup).
        const [why, answers] = await Promise.all([probe, asked]);
        if (why !== undefined) return { missing: [], unchecked: [why], notes: [] };
        const missing = answers.flatMap((a) => a.missing ?? []);
        const unchecked = answers.flatMap((a) => a.unchecked ?? []);
        const notes = answers.flatMap((a) => a.notes ?? []);
        return { missing, unchecked: unchecked.filter((u) => u !== ""), notes };
    } finally {
        cleanup();
    }
}

export interface OwnershipResult {
    /** Objects the stack declares that the cluster holds without this project's label. */
    readonly foreign: ForeignObject[];
    /** Why some or all could not be asked about. */
    readonly unchecked: string[];
}

/**
 * Asks the cluster for each object the stack declares, one question per namespace: which exist
 * without this project's label (ownership.ts). A kind the cluster does not serve yet holds none (the
 * prerequisites say it is missing).
 */
export async function checkOwnership(objects: readonly DeclaredObject[], access: ClusterAccess): Promise<OwnershipResult> {
    if (objects.length === 0) return { foreign: [], unchecked: [] };
    const { kubectl, abandon, cleanup } = kubectlFor(access);
    try {
        const probe = unreachable(kubectl, abandon);
        const get = (names: readonly string[], namespace: string) =>
            kubectl([
                "get",
                ...names,
                ...(namespace ? ["--namespace", namespace] : []),
                "--ignore-not-found",
                "--show-managed-fields",
                "--output=json",
            ]);
        const byNamespace = new Map<string, DeclaredObject[]>();
        for (const o of objects) byNamespace.set(o.namespace ?? "", [...(byNamespace.get(o.namespace ?? "") ?? []), o]);
        // One namespace's questions beside another's and the probe (kubectlFor bounds how many run), merged in their order.
        const asked = Promise.all(
            [...byNamespace].map(async ([namespace, declared]) => {
                const ref = (o: DeclaredObject) => `${kubectlResource(o.apiVersion, o.kind)}/${o.name}`;
                // One question for the namespace; a kind the cluster does not serve fails it, so then one per object.
                const all = await get(declared.map(ref), namespace);
                const answers =
                    all.code === 0
                        ? [{ objects: declared, r: all }]
                        : await Promise.all(declared.map(async (o) => ({ objects: [o], r: await get([ref(o)], namespace) })));
                const foundForeign: ForeignObject[] = [];
                const notChecked: string[] = [];
                for (const { objects: asked, r } of answers) {
                    if (r.code !== 0) {
                        if (!NOT_FOUND.test(r.stderr)) notChecked.push(firstLine(r.stderr));
                        continue;
                    }
                    for (const item of itemsOf(r.stdout)) {
                        const kind = typeof item.kind === "string" ? item.kind : "";
                        foundForeign.push(
                            ...foreignAmong(
                                asked.filter((o) => o.kind === kind),
                                [item],
                            ),
                        );
                    }
                }
                return { foundForeign, notChecked };
            }),
        );
        const [why, perNamespace] = await Promise.all([probe, asked]);
        if (why !== undefined) return { foreign: [], unchecked: [why] };
        const foreign = perNamespace.flatMap((n) => n.foundForeign);
        const unchecked = perNamespace.flatMap((n) => n.notChecked);
        return { foreign, unchecked: unchecked.filter((u) => u !== "") };
    } finally {
        cleanup();
    }
}
