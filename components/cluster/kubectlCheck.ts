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

/** Runs kubectl with the provider's kubeconfig and context; a kubeconfig given as text goes through a private file. */
function kubectlFor(access: ClusterAccess): { kubectl: Kubectl; cleanup: () => void } {
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
    const kubectl: Kubectl = (args) =>
        new Promise((resolve) => {
            execFile("kubectl", [...prefix, ...args], { timeout: 30_000, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
                const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
                const missingBinary = error && (error as NodeJS.ErrnoException).code === "ENOENT";
                resolve({ code, stdout, stderr: missingBinary ? "kubectl was not found on PATH" : stderr });
            });
        });
    return { kubectl, cleanup: () => dir && rmSync(dir, { recursive: true, force: true }) };
}

const firstLine = (text: string) => text.trim().split("\n")[0] ?? "";

/** How many of `objects` do not exist yet (kubectl answers nothing, or cannot say). */
async function pendingOf(kubectl: Kubectl, resource: string, objects: readonly ObjectRef[]): Promise<number> {
    let pending = 0;
    for (const o of objects) {
        const r = await kubectl([
            "get",
            resource,
            o.name,
            ...(o.namespace ? ["--namespace", o.namespace] : []),
            "--ignore-not-found",
            "--output=name",
        ]);
        if (r.code !== 0 || r.stdout.trim() === "") pending++;
    }
    return pending;
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

/** Checks each prerequisite against the cluster. */
export async function checkPrerequisites(
    prerequisites: readonly Prerequisite[],
    access: ClusterAccess,
    ingress?: IngressMessages,
): Promise<CheckResult> {
    if (prerequisites.length === 0) return { missing: [], unchecked: [], notes: [] };
    const { kubectl, cleanup } = kubectlFor(access);
    try {
        // One question first: an unreachable cluster or a missing kubectl decides nothing.
        const probe = await kubectl(["version", "--output=json"]);
        if (probe.code !== 0 || !/"serverVersion"/.test(probe.stdout)) {
            return { missing: [], unchecked: [firstLine(probe.stderr) || "kubectl could not reach the cluster"], notes: [] };
        }
        const missing: Prerequisite[] = [];
        const unchecked: string[] = [];
        const notes: string[] = [];
        const namespaces = prerequisites.filter((p) => p.kind === "namespace");
        if (namespaces.length > 0) {
            const r = await kubectl(["get", "namespaces", ...namespaces.map((n) => n.name), "--ignore-not-found", "--output=name"]);
            if (r.code !== 0) unchecked.push(firstLine(r.stderr));
            else {
                const present = new Set(r.stdout.split("\n").map((l) => l.trim().replace(/^namespace\//, "")));
                missing.push(...namespaces.filter((n) => !present.has(n.name)));
            }
        }
        for (const p of prerequisites) {
            if (p.kind !== "api") continue;
            const r = await kubectl(["get", "--raw", `/apis/${p.apiVersion}`]);
            if (r.code !== 0) {
                if (NOT_FOUND.test(r.stderr)) missing.push(p);
                else unchecked.push(firstLine(r.stderr));
                continue;
            }
            const served = new Set(((JSON.parse(r.stdout) as { resources?: { kind?: string }[] }).resources ?? []).map((x) => x.kind));
            if (!p.kinds.every((k) => served.has(k))) missing.push(p);
        }
        const classNeeds: Extract<Prerequisite, { kind: "default-storage-class" | "storage-class" }>[] = [];
        for (const p of prerequisites) {
            if (p.kind !== "default-storage-class" && p.kind !== "storage-class") continue;
            // A claim that exists keeps the class it was bound with: only claims still to be made need one.
            if ((await pendingOf(kubectl, "persistentvolumeclaims", p.claims)) > 0) classNeeds.push(p);
        }
        if (classNeeds.length > 0) {
            const r = await kubectl(["get", "storageclasses", "--output=json"]);
            if (r.code !== 0) unchecked.push(firstLine(r.stderr));
            else {
                const items =
                    (JSON.parse(r.stdout) as { items?: { metadata?: { name?: string; annotations?: Record<string, string> } }[] }).items ??
                    [];
                const names = new Set(items.map((i) => i.metadata?.name));
                const isDefault = items.some((i) =>
                    ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"].some(
                        (a) => i.metadata?.annotations?.[a] === "true",
                    ),
                );
                for (const p of classNeeds) {
                    if (p.kind === "default-storage-class" ? !isDefault : !names.has(p.name)) missing.push(p);
                }
            }
        }
        for (const p of prerequisites) {
            // The API server gives an Ingress the default class when it creates it, and the Ingress keeps it: only
            // Ingresses still to be made need one (docs/decisions/default-ingress-class.md).
            if (p.kind !== "default-ingress-class" || (await pendingOf(kubectl, "ingresses.networking.k8s.io", p.ingresses)) === 0)
                continue;
            const r = await kubectl(["get", "ingressclasses.networking.k8s.io", "--output=json"]);
            if (r.code !== 0) {
                unchecked.push(firstLine(r.stderr));
                continue;
            }
            const found = ingressClassesOf(r.stdout);
            const defaults = found.filter((c) => c.isDefault);
            if (defaults.length === 1) notes.push(...defaultIngressClassNotes(p, defaults[0] as FoundIngressClass, ingress));
            else missing.push({ ...p, found });
        }
        const named = prerequisites.filter((p) => p.kind === "ingress-class");
        if (named.length > 0) {
            const r = await kubectl(["get", "ingressclasses.networking.k8s.io", "--output=json"]);
            if (r.code !== 0) unchecked.push(firstLine(r.stderr));
            else {
                const found = ingressClassesOf(r.stdout);
                for (const p of named) if (!found.some((c) => c.name === p.name)) missing.push({ ...p, found });
            }
        }
        for (const p of prerequisites) {
            if (p.kind !== "object") continue;
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
            if (r.code === 0) {
                if (r.stdout.trim() === "") missing.push(p);
            } else if (NOT_FOUND.test(r.stderr)) missing.push(p);
            else unchecked.push(firstLine(r.stderr));
        }
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
    const { kubectl, cleanup } = kubectlFor(access);
    try {
        const probe = await kubectl(["version", "--output=json"]);
        if (probe.code !== 0 || !/"serverVersion"/.test(probe.stdout)) {
            return { foreign: [], unchecked: [firstLine(probe.stderr) || "kubectl could not reach the cluster"] };
        }
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
        const foreign: ForeignObject[] = [];
        const unchecked: string[] = [];
        for (const [namespace, declared] of byNamespace) {
            const ref = (o: DeclaredObject) => `${kubectlResource(o.apiVersion, o.kind)}/${o.name}`;
            // One question for the namespace; a kind the cluster does not serve fails it, so then one per object.
            const all = await get(declared.map(ref), namespace);
            const answers = all.code === 0 ? [{ objects: declared, r: all }] : [];
            if (all.code !== 0) for (const o of declared) answers.push({ objects: [o], r: await get([ref(o)], namespace) });
            for (const { objects: asked, r } of answers) {
                if (r.code !== 0) {
                    if (!NOT_FOUND.test(r.stderr)) unchecked.push(firstLine(r.stderr));
                    continue;
                }
                for (const item of itemsOf(r.stdout)) {
                    const kind = typeof item.kind === "string" ? item.kind : "";
                    foreign.push(
                        ...foreignAmong(
                            asked.filter((o) => o.kind === kind),
                            [item],
                        ),
                    );
                }
            }
        }
        return { foreign, unchecked: unchecked.filter((u) => u !== "") };
    } finally {
        cleanup();
    }
}
