/**
 * What a `pulumi preview --json` of this program will disrupt, said for a reviewer: which nodes restart
 * their container runtime, which registry containers or pods are replaced and for how long pulls and
 * pushes go unanswered, whether the front reloads, whether a claim or a data directory is touched,
 * whether a credential or certificate changes. docs/preview-consequences.md says what it covers.
 *
 * It reads each step's `op`, its URN (type chain and name), the old and new inputs and `detailedDiff`.
 * It never reads `diffReasons` or `diffs`: the real Kubernetes provider leaves them empty. A value the
 * engine knows only during the `up` (its unknown marker) counts as changed, said as "may"; a secret
 * shown as "[secret]" on both sides counts as unchanged unless `detailedDiff` names it.
 *
 * Which resource is which it knows from the components themselves: their type tokens and the names they
 * give their children are imported from where the components define them (TARGETS below).
 */
import { parse as parseYaml } from "yaml";
import { PASSWORD_OVERLAP_TYPE } from "../components/accounts/passwordOverlap";
import { PULL_SECRETS_TYPE } from "../components/accounts/pullSecrets";
import { passwordOverlapName, REGISTRY_ACCOUNTS_TYPE } from "../components/accounts/registryAccounts";
import { type DisruptionBudget, disruptionBudget } from "../components/config/schema/review";
import { CADDY_SITE_TYPE, caddyApplyStepName } from "../components/externalHost/caddySite";
import { HOST_PACKAGES_TYPE } from "../components/externalHost/hostPackages";
import { HOST_LOGIN_LIMIT_TYPE } from "../components/externalHost/loginLimit";
import { MAVEN_CONTAINER_TYPE } from "../components/externalHost/mavenContainer";
import { PURGE_ON_DESTROY_TYPE, purgeMarkerStepName } from "../components/externalHost/purgeOnDestroy";
import { REGISTRY_CONTAINER_TYPE } from "../components/externalHost/registryContainer";
import { UI_CONTAINER_TYPE } from "../components/externalHost/uiContainer";
import { CERTIFICATE_PROBE } from "../components/inCluster/certificateProbe";
import { IN_CLUSTER_REGISTRY_TYPE } from "../components/inCluster/inClusterRegistry";
import { JENKINS_CREDENTIAL_TYPE } from "../components/jenkins/jenkinsCredentials";
import { KIND_REGISTRY_TYPE, kindContainersStepName, kindNodesStepName } from "../components/kind/kindRegistry";
import { MIRROR_CACHES_ON_HOST_TYPE } from "../components/mirrors/mirrorCachesOnHost";
import { CLUSTER_MIRROR_PREFIX } from "../components/mirrors/mirrorManifests";
import { NODE_FILE_TYPE } from "../components/nodeTrust/nodeFile";
import { NODE_TRUST_DAEMON_SET_TYPE } from "../components/nodeTrust/nodeTrustDaemonSet";
import { nodeTrustName } from "../components/nodeTrust/nodeTrustFleet";
import { configPathStepName, NODE_TRUST_TYPE } from "../components/nodeTrust/nodeTrustPerNode";
import { UI_WORKLOAD } from "../components/registryUi/kubernetes";
import { PROJECT } from "../components/shared/facts";
import { containerRunStepName, dataDirStepName } from "../components/shared/hostAccess";

/** The engine's marker for a value known only once the `up` runs (`plugin.UnknownStringValue`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** How `preview --json` shows a secret value. */
const SECRET = "[secret]";

/**
 * Outages the project has measured, each with where it is written down. Nothing else is given a figure.
 */
export const MEASURED_SECONDS = {
    /** The in-cluster registry pod, `Recreate` on a ReadWriteOnce claim, on the engine tier's real node. */
    inClusterRecreate: 10.5,
} as const;

/** The measured outages as the summary says them. */
export const MEASURED = {
    inClusterRecreate: `about ${MEASURED_SECONDS.inClusterRecreate} s without an answer (measured on a real node: docs/in-cluster.md, docs/engine.md)`,
    /** Pods that may overlap, rolled one at a time, each stopping one handing its clients over. */
    inClusterRolling: "no outage expected: no push or pull failed while three pods rolled on a real node (docs/in-cluster.md, Scale-out)",
} as const;

interface StepState {
    readonly type?: string;
    readonly custom?: boolean;
    readonly inputs?: Record<string, unknown>;
    readonly parent?: string;
    readonly retainOnDelete?: boolean;
}

/** One step of `preview --json` as this module reads it. */
export interface PreviewStep {
    readonly op: string;
    readonly urn: string;
    readonly oldState?: StepState;
    readonly newState?: StepState;
    readonly detailedDiff?: Record<string, { kind?: string }> | null;
}

/** What a reviewer is told about, in the order the summary lists it. */
export const KINDS = ["runtime", "registry", "front", "cache", "exposure", "data", "credential", "certificate", "other"] as const;
export type ConsequenceKind = (typeof KINDS)[number];

/** Headings of the kinds in the summary. */
const HEADINGS: Record<ConsequenceKind, string> = {
    runtime: "Nodes: container runtime restarts and trust",
    registry: "The registry: pulls and pushes",
    front: "Front (Caddy)",
    cache: "Pull-through caches",
    exposure: "How clients reach the registry",
    data: "Claims and data directories",
    credential: "Credentials",
    certificate: "Certificates",
    other: "Other",
};

/**
 * What a consequence disrupts, in the terms of a stack's disruption budget (`dso-registry:disruptionBudget`,
 * components/config/schema/review.ts). A consequence that only may happen (a value known only during the
 * `up`) is counted as if it happens.
 */
export interface Disruption {
    /** Pulls, pushes or both go unanswered: for `seconds` where the project measured it, else for a time nobody measured. */
    readonly outage?: { readonly pulls: boolean; readonly pushes: boolean; readonly seconds?: number };
    /** A node's container runtime restarts. */
    readonly runtimeRestart?: true;
    /** A credential (a password, a Jenkins credential, a pull secret, the CA clients trust) stops working: at once, or when its rotation's overlap ends. */
    readonly credentialCut?: "now" | "after-overlap";
    /** A claim, a namespace, a data directory or what a destroy deletes is touched. */
    readonly data?: true;
}

/** Pulls and pushes unanswered for a time nobody measured. */
const UNMEASURED_OUTAGE: Disruption = { outage: { pulls: true, pushes: true } };
const RESTART: Disruption = { runtimeRestart: true };
const CUT: Disruption = { credentialCut: "now" };
const DATA: Disruption = { data: true };

/** One consequence of one resource's step. */
export interface Consequence {
    readonly kind: ConsequenceKind;
    /** The sentence a reviewer reads. */
    readonly text: string;
    /** What it disrupts, for the budget; nothing it counts when absent. */
    readonly disrupts?: Disruption;
    /** The resource it comes from (the last part of its URN). */
    readonly resource: string;
}

/** A stack's consequences and its step counts. */
export interface StackConsequences {
    readonly stack: string;
    /** Custom resources by operation: create, update, replace, delete. */
    readonly counts: Readonly<Record<"create" | "update" | "replace" | "delete", number>>;
    readonly consequences: readonly Consequence[];
}

// ---------------------------------------------------------------------------------------------
// Reading steps

/** The operations of a replacement, which the engine may list as one step or as several. */
const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced"]);
/** Operations that change nothing. */
const QUIET_OPS = new Set(["same", "read", "refresh", "discard", "remove-pending-replace"]);

/** A step reduced to what the rules read. */
interface Change {
    readonly op: "create" | "update" | "replace" | "delete";
    readonly type: string;
    /** The type of the component the resource belongs to (the URN's type chain, one up). */
    readonly parentType: string;
    readonly name: string;
    /** The last part of the parent's URN. */
    readonly parentName: string;
    readonly olds: Record<string, unknown>;
    readonly news: Record<string, unknown>;
    readonly detailed: readonly string[];
    readonly retainOnDelete: boolean;
}

/** The stack a URN belongs to (`urn:pulumi:<stack>::<project>::…`). */
export function stackOfUrn(urn: string): string {
    return urn.split("::")[0]?.replace(/^urn:pulumi:/, "") ?? "";
}

function changesOf(steps: readonly PreviewStep[]): Change[] {
    const byUrn = new Map<string, Change>();
    for (const step of steps) {
        if (QUIET_OPS.has(step.op) || step.urn.includes("::pulumi:providers:")) continue;
        const state = step.newState ?? step.oldState;
        if (state?.custom === false) continue;
        const op = REPLACE_OPS.has(step.op) ? "replace" : step.op;
        if (!["create", "update", "replace", "delete"].includes(op)) continue;
        const parts = step.urn.split("::");
        const chain = (parts[2] ?? "").split("$");
        const parentUrn = step.newState?.parent ?? step.oldState?.parent ?? "";
        const previous = byUrn.get(step.urn);
        byUrn.set(step.urn, {
            op: previous && previous.op !== op ? "replace" : (op as Change["op"]),
            type: state?.type ?? chain[chain.length - 1] ?? "",
            parentType: chain[chain.length - 2] ?? "",
            name: parts[parts.length - 1] ?? "",
            parentName: parentUrn.split("::").pop() ?? "",
            olds: { ...previous?.olds, ...step.oldState?.inputs },
            news: { ...previous?.news, ...step.newState?.inputs },
            detailed: [...(previous?.detailed ?? []), ...Object.keys(step.detailedDiff ?? {})],
            retainOnDelete: Boolean(step.oldState?.retainOnDelete ?? step.newState?.retainOnDelete),
        });
    }
    return [...byUrn.values()];
}

const holdsUnknown = (value: unknown): boolean => JSON.stringify(value ?? null).includes(UNKNOWN);

/** JSON with every object's keys sorted: the state and the program may list an object's keys in different orders. */
function canonical(value: unknown): string {
    return JSON.stringify(value ?? null, (_, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
            : v,
    );
}

/** The value at a dotted path (`spec.template`). */
function at(value: unknown, path: string): unknown {
    let here = value;
    for (const key of path.split(".").filter(Boolean)) {
        if (here === null || typeof here !== "object") return undefined;
        here = (here as Record<string, unknown>)[key];
    }
    return here;
}

/**
 * Whether an input changes: "yes"; "maybe", its new value is known only during the `up`; "hidden", it is a
 * secret on both sides and only a secret can have changed (see visiblyChanged); "no".
 */
type How = "yes" | "maybe" | "hidden" | "no";

/** Whether the input at `path` changes. */
function changeAt(c: Change, path: string): How {
    if (c.detailed.some((d) => d === path || d.startsWith(`${path}.`) || d.startsWith(`${path}[`) || path.startsWith(`${d}.`)))
        return "yes";
    const before = at(c.olds, path);
    const after = at(c.news, path);
    if (holdsUnknown(after) && !holdsUnknown(before)) return "maybe";
    if (before === SECRET && after === SECRET) return c.detailed.length > 0 || visiblyChanged(c) ? "no" : "hidden";
    return canonical(before) === canonical(after) ? "no" : "yes";
}

/**
 * Whether any input shown in the clear changes. An update with none changes a secret one, which the
 * preview shows as "[secret]" on both sides.
 */
function visiblyChanged(c: Change): boolean {
    return [...new Set([...Object.keys(c.olds), ...Object.keys(c.news)])].some((key) => {
        const before = c.olds[key];
        const after = c.news[key];
        return !(before === SECRET && after === SECRET) && canonical(before) !== canonical(after);
    });
}

/** "may " when the change is not certain. */
/** The verb as it stands when the step surely happens (`sure`: "restarts"), or "may" and its plain form (`plain`: "restart") when the preview cannot tell. */
const may = (how: How, sure: string, plain: string) => (how === "maybe" || how === "hidden" ? `may ${plain}` : sure);

/**
 * The parameters a rendered script assigns at its top (`NAME='value'`, components/shared/shellScript.ts),
 * inside the `sh -c '…'` (or `sudo -n sh -c '…'`, `docker exec … sh -c '…'`) that runs it.
 */
export function scriptParameters(command: unknown): Record<string, string> {
    if (typeof command !== "string" || command === UNKNOWN) return {};
    let text = command;
    for (let depth = 0; depth < 3; depth++) {
        const start = text.indexOf("sh -c '");
        if (start < 0 || !text.trimEnd().endsWith("'")) break;
        text = unquote(text.slice(start + "sh -c ".length).trimEnd());
    }
    const params: Record<string, string> = {};
    for (const match of text.matchAll(/^([A-Z_][A-Z0-9_]*)=('[^']*'(?:\\''[^']*')*)/gm)) {
        const [, name, quoted] = match as unknown as [string, string, string];
        if (!(name in params)) params[name] = unquote(quoted);
    }
    return params;
}

/** A single-quoted shell word's value (`'it'\''s'` → `it's`). */
function unquote(quoted: string): string {
    return quoted.slice(1, -1).replace(/'\\''/g, "'");
}

/** Whether a script parameter whose name matches `names` changes between the old and the new `create`. */
function paramChange(c: Change, names: RegExp): How {
    if (c.news.create === UNKNOWN || holdsUnknown(c.news.create)) return "maybe";
    const before = scriptParameters(c.olds.create);
    const after = scriptParameters(c.news.create);
    const keys = new Set([...Object.keys(before), ...Object.keys(after)].filter((k) => names.test(k)));
    return [...keys].some((k) => before[k] !== after[k]) ? "yes" : "no";
}

/** `text` without `prefix` where it starts with it. */
const withoutPrefix = (text: string, prefix: string) => (text.startsWith(prefix) ? text.slice(prefix.length) : text);

/** The more certain of two changes. */
const either = (a: How, b: How): How => (["yes", "maybe", "hidden"] as const).find((how) => a === how || b === how) ?? "no";

const metadataName = (c: Change): string => String(at(c.news, "metadata.name") ?? at(c.olds, "metadata.name") ?? c.name);
const inputsOf = (c: Change) => (c.op === "delete" ? c.olds : c.news);

// ---------------------------------------------------------------------------------------------
// The resources the rules read, as the components name them

/** What a target is matched on: a resource's type, its component's type and name, its own name and its object's name. */
export interface Named {
    readonly type: string;
    readonly parentType: string;
    readonly parentName: string;
    readonly name: string;
    /** A Kubernetes object's `metadata.name`; else the resource's name. */
    readonly objectName: string;
}

/** A kind of resource a rule reads. */
export interface Target {
    /** The resource's type: any of these. */
    readonly types: readonly string[];
    /** The type of the component it belongs to; any when absent. */
    readonly parentType?: string;
    /** Which of the component's resources; any of the types when absent. */
    readonly named?: (r: Named) => boolean;
}

const COMMANDS = ["command:remote:Command", "command:local:Command"];
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CLAIM = "kubernetes:core/v1:PersistentVolumeClaim";
const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";

/** The component's child whose name `stepName` makes from the component's name. */
const child =
    (stepName: (component: string) => string) =>
    (r: Named): boolean =>
        r.name === stepName(r.parentName);

/** The cache a command of the host's caches runs (`<component>-<cache>-run`), or undefined. */
function hostCacheOf(r: Pick<Named, "name" | "parentName">): string | undefined {
    const prefix = `${r.parentName}-`;
    const suffix = containerRunStepName("");
    if (!r.name.startsWith(prefix) || !r.name.endsWith(suffix) || r.name.length <= prefix.length + suffix.length) return undefined;
    return r.name.slice(prefix.length, -suffix.length);
}

/**
 * The kind cluster whose nodes a command of the kind placement configures: "" for the cluster on the
 * component's own provider, its name for each other one (kind.clusterNames); undefined for another command.
 */
function kindClusterOf(r: Pick<Named, "name" | "parentName">): string | undefined {
    const own = kindNodesStepName(r.parentName);
    if (r.name === own) return "";
    const other = kindNodesStepName(r.parentName, "");
    return r.name.startsWith(other) && r.name.length > other.length ? r.name.slice(other.length) : undefined;
}

/** Every kind of resource a rule reads. */
export const TARGETS = {
    nodeFile: { types: COMMANDS, parentType: NODE_FILE_TYPE },
    configPath: { types: COMMANDS, parentType: NODE_TRUST_TYPE, named: child(configPathStepName) },
    nodeTrustDaemonSet: { types: ["kubernetes:apps/v1:DaemonSet"], parentType: NODE_TRUST_DAEMON_SET_TYPE },
    hostRegistry: { types: COMMANDS, parentType: REGISTRY_CONTAINER_TYPE, named: child(containerRunStepName) },
    hostFront: { types: COMMANDS, parentType: CADDY_SITE_TYPE, named: child(caddyApplyStepName) },
    hostCache: { types: COMMANDS, parentType: MIRROR_CACHES_ON_HOST_TYPE, named: (r) => hostCacheOf(r) !== undefined },
    hostMaven: { types: COMMANDS, parentType: MAVEN_CONTAINER_TYPE, named: child(containerRunStepName) },
    hostUi: { types: COMMANDS, parentType: UI_CONTAINER_TYPE, named: child(containerRunStepName) },
    hostLoginLimit: { types: COMMANDS, parentType: HOST_LOGIN_LIMIT_TYPE },
    hostRegistryData: { types: COMMANDS, parentType: HOST_PACKAGES_TYPE, named: child(dataDirStepName) },
    hostMavenData: { types: COMMANDS, parentType: MAVEN_CONTAINER_TYPE, named: child(dataDirStepName) },
    hostPurgeMarker: { types: COMMANDS, parentType: PURGE_ON_DESTROY_TYPE, named: child(purgeMarkerStepName) },
    kindContainers: { types: COMMANDS, parentType: KIND_REGISTRY_TYPE, named: child(kindContainersStepName) },
    kindNodes: { types: COMMANDS, parentType: KIND_REGISTRY_TYPE, named: (r) => kindClusterOf(r) !== undefined },
    clusterWorkload: { types: [DEPLOYMENT], parentType: IN_CLUSTER_REGISTRY_TYPE },
    clusterCertificateProbe: {
        types: [DEPLOYMENT],
        parentType: IN_CLUSTER_REGISTRY_TYPE,
        named: (r) => r.objectName === CERTIFICATE_PROBE.name,
    },
    clusterCache: {
        types: [DEPLOYMENT],
        parentType: IN_CLUSTER_REGISTRY_TYPE,
        named: (r) => r.objectName.startsWith(CLUSTER_MIRROR_PREFIX),
    },
    clusterUi: { types: [DEPLOYMENT], parentType: IN_CLUSTER_REGISTRY_TYPE, named: (r) => r.objectName === UI_WORKLOAD.name },
    cacheClaim: { types: [CLAIM], named: (r) => r.objectName.startsWith(CLUSTER_MIRROR_PREFIX) },
    password: { types: [RANDOM_PASSWORD], parentType: REGISTRY_ACCOUNTS_TYPE },
    passwordOverlap: { types: [PASSWORD_OVERLAP_TYPE], parentType: REGISTRY_ACCOUNTS_TYPE },
    jenkinsCredential: { types: [JENKINS_CREDENTIAL_TYPE] },
    pullSecret: { types: ["kubernetes:core/v1:Secret"], parentType: PULL_SECRETS_TYPE },
} as const satisfies Record<string, Target>;

/** Whether a resource is of the target's kind. */
export function isTarget(target: Target, r: Named): boolean {
    return (
        target.types.includes(r.type) &&
        (target.parentType === undefined || r.parentType === target.parentType) &&
        (target.named?.(r) ?? true)
    );
}

const is = (c: Change, target: Target) => isTarget(target, { ...c, objectName: metadataName(c) });

// ---------------------------------------------------------------------------------------------
// The rules: one per kind of resource whose change a reviewer must hear about.

/** A rule reads one change; `all` is every change of the preview, for what a sibling tells about it. */
type Rule = (c: Change, all: readonly Change[]) => Omit<Consequence, "resource">[];

/** A command that runs a container: recreated when its spec (fingerprint, image, files) or its stdin changes. */
function containerChange(c: Change): How {
    if (c.op !== "update") return "yes";
    return either(paramChange(c, /FINGERPRINT$|IMAGE$|_FILES$|^MIRRORS$/), changeAt(c, "stdin"));
}

/** k3s / RKE2 registries.yaml (or CRI-O's registries.conf) on a node over SSH. */
const nodeFile: Rule = (c) => {
    if (!is(c, TARGETS.nodeFile)) return [];
    const params = scriptParameters(c.op === "delete" ? c.olds.delete : (c.news.create ?? c.olds.create));
    const node = withoutPrefix(c.parentName, nodeTrustName("")).replace(/-(registries-yaml|registries-conf)$/, "");
    const how = c.op === "update" ? changeAt(c, "stdin") : "yes";
    if (how === "no") return [];
    if (params.FLAVOUR) {
        const units = (params.UNITS ?? params.FLAVOUR).split("\n").join(" or ");
        if (params.ALLOW_RESTART === "false") {
            return [
                {
                    kind: "runtime",
                    text: `${node}: registries.yaml changes; ${units} must be restarted by hand to read it (allowServiceRestart is off)`,
                },
            ];
        }
        const turn = params.TURN ? ` (${params.TURN})` : "";
        return [
            {
                kind: "runtime",
                disrupts: RESTART,
                text: `${node}: ${units} ${may(how, "restarts", "restart")}${turn}: registries.yaml ${c.op === "delete" ? "loses the registry's entries" : "changes"}; the apply waits until the node is Ready again (up to ${params.RESTART_TIMEOUT_SECONDS ?? "?"} s) before the next node's turn`,
            },
        ];
    }
    if (params.UNITS)
        return [{ kind: "runtime", text: `${node}: CRI-O ${may(how, "reloads", "reload")} its registries configuration (no restart)` }];
    return [];
};

/** containerd's config_path on a node over SSH: set once, with a restart when allowed. */
const configPath: Rule = (c) => {
    if (!is(c, TARGETS.configPath)) return [];
    if (c.op === "update") return [];
    const params = scriptParameters(c.op === "delete" ? c.olds.delete : c.news.create);
    if (params.ALLOW_RESTART !== "true") return [];
    const node = withoutPrefix(c.parentName, nodeTrustName(""));
    const what = c.op === "delete" ? "its original config is put back" : "its config_path is not set yet";
    return [{ kind: "runtime", text: `${node}: containerd restarts if ${what}`, disrupts: RESTART }];
};

/** The node-trust DaemonSet: a rolling update, one node at a time; on k3s / RKE2 each node's service restarts. */
const nodeTrustDaemonSet: Rule = (c) => {
    if (!is(c, TARGETS.nodeTrustDaemonSet)) return [];
    if (c.op === "delete") {
        return [
            {
                kind: "runtime",
                text: "node trust removed from every node (each pod takes its files away as it stops): nodes no longer trust the registry",
                disrupts: { outage: { pulls: true, pushes: false } },
            },
        ];
    }
    const how = c.op === "update" ? changeAt(c, "spec.template") : c.op === "replace" ? "yes" : "no";
    if (how === "no" || c.op === "create") return [];
    const spec = inputsOf(c);
    const text = JSON.stringify(at(spec, "spec.template.spec") ?? {});
    const restarts = text.includes('"DSO_HOST_EXEC"');
    const flavour = /"\/etc\/rancher\/(k3s|rke2)"/.exec(text)?.[1];
    if (restarts && flavour) {
        return [
            {
                kind: "runtime",
                text: `every node: ${flavour} ${may(how, "restarts", "restart")} where its registries.yaml changes, one node at a time (the DaemonSet's rolling update)`,
                disrupts: RESTART,
            },
        ];
    }
    if (restarts && text.includes('"/etc/containerd"')) {
        return [
            {
                kind: "runtime",
                text: "every node: containerd restarts where its config_path is not set yet, one node at a time",
                disrupts: RESTART,
            },
        ];
    }
    if (restarts && text.includes('"/etc/containers"')) {
        return [{ kind: "runtime", text: "every node: CRI-O reloads its registries configuration, one node at a time (no restart)" }];
    }
    return [];
};

/** Distribution on the external host. */
const hostRegistry: Rule = (c) => {
    if (!is(c, TARGETS.hostRegistry)) return [];
    if (c.op === "create") return [];
    if (c.op === "delete")
        return [
            {
                kind: "registry",
                text: "the registry container on the external host is removed (its data stays): the registry stops answering",
                disrupts: UNMEASURED_OUTAGE,
            },
        ];
    const how = c.op === "replace" ? "yes" : either(paramChange(c, /^REGISTRY_(FINGERPRINT|IMAGE)$/), changeAt(c, "stdin"));
    if (how === "no") return [];
    return [
        {
            kind: "registry",
            text: `the registry container on the external host ${may(how, "is recreated", "be recreated")}: pulls and pushes fail from its stop until the new container answers (not measured); pushes under way fail and their clients retry`,
            disrupts: UNMEASURED_OUTAGE,
        },
    ];
};

/**
 * The external host's front: a reload of the pinned Caddy lets uploads in flight finish; a new image (or
 * the move from the distribution's caddy service) makes the front anew, and the port closes while it starts.
 */
const hostCaddy: Rule = (c) => {
    if (!is(c, TARGETS.hostFront)) return [];
    if (c.op === "delete")
        return [
            {
                kind: "front",
                text: "the registry's front on the external host is removed: the registry stops answering",
                disrupts: UNMEASURED_OUTAGE,
            },
        ];
    if (c.op === "create") return [];
    const how = changeAt(c, "create");
    if (how === "no") return [];
    const olds = scriptParameters(c.olds.create);
    const news = scriptParameters(c.news.create);
    const why = "(docs/decisions/host-front.md)";
    if (olds.FRONT_IMAGE === undefined && news.FRONT_IMAGE !== undefined)
        return [
            {
                kind: "front",
                disrupts: UNMEASURED_OUTAGE,
                text: `the front on the external host ${may(how, "moves", "move")} from the caddy service to the pinned Caddy's container (${news.FRONT_IMAGE}), with the service's certificates: the port is closed while the container starts, and requests in flight then are cut ${why}`,
            },
        ];
    // The parameters that make caddy-apply.sh's spec label: a change of any of them makes the front anew.
    const spec = ["FRONT_IMAGE", "FRONT_MOUNTS", "FRONT_MEMORY_MIB", "FRONT_GO_MEMORY_LIMIT", "FRONT_OPEN_FILES"];
    if (news.FRONT_IMAGE !== undefined && spec.some((name) => olds[name] !== news[name]))
        return [
            {
                kind: "front",
                disrupts: UNMEASURED_OUTAGE,
                text: `the front on the external host ${may(how, "is made anew", "be made anew")}${olds.FRONT_IMAGE !== news.FRONT_IMAGE ? ` with ${news.FRONT_IMAGE}` : ""}: the port is closed while the new container starts, and requests in flight then are cut ${why}`,
            },
        ];
    return [
        {
            kind: "front",
            text: `the front (Caddy) on the external host ${may(how, "reloads", "reload")}: uploads in flight finish, the next request gets the new config (docs/decisions/access-policy.md#reloads-and-uploads-in-flight)`,
        },
    ];
};

/** Pull-through caches on the external host. */
const hostCache: Rule = (c) => {
    const cache = is(c, TARGETS.hostCache) ? hostCacheOf(c) : undefined;
    if (cache === undefined) return [];
    if (c.op === "create") return [{ kind: "cache", text: `cache ${cache} is started` }];
    if (c.op === "delete")
        return [{ kind: "cache", text: `cache ${cache} is removed with its storage: its images are pulled from the upstream again` }];
    const how = containerChange(c);
    if (how === "no") return [];
    return [
        {
            kind: "cache",
            text: `cache ${cache} ${may(how, "is recreated", "be recreated")}: while it restarts, nodes pull those images from the upstream`,
        },
    ];
};

/** Other containers on the external host: Maven, the web UI. */
const hostOtherContainer: Rule = (c) => {
    const what = is(c, TARGETS.hostMaven)
        ? "the Maven repository's container (deploys and downloads fail while it restarts)"
        : is(c, TARGETS.hostUi)
          ? "the web UI's container"
          : undefined;
    if (!what) return [];
    if (c.op === "create") return [];
    if (c.op === "delete") return [{ kind: "other", text: `${what} is removed` }];
    const how = containerChange(c);
    return how === "no" ? [] : [{ kind: "other", text: `${what} ${may(how, "is recreated", "be recreated")}` }];
};

/** The external host's login limit (fail2ban). */
const hostLoginLimit: Rule = (c) => {
    if (!is(c, TARGETS.hostLoginLimit) || c.op === "create") return [];
    if (c.op === "update" && changeAt(c, "create") === "no") return [];
    // The script that runs: the jail's (with its limits as JAIL) or, turned off, the one that removes it.
    if (c.op !== "delete" && (c.news.create === UNKNOWN || scriptParameters(c.news.create).JAIL !== undefined)) {
        return [{ kind: "other", text: "fail2ban's registry jail is reloaded with the new limits" }];
    }
    return [{ kind: "other", text: "fail2ban's registry jail is removed: its bans are lifted, and failed logins are no longer limited" }];
};

/** Data directories on the external host, and the purge marker that decides whether a destroy removes them. */
const hostData: Rule = (c) => {
    const maven = is(c, TARGETS.hostMavenData);
    if (maven || is(c, TARGETS.hostRegistryData)) {
        const which = maven ? "the Maven repository's data directory" : "the registry's data directory";
        if (c.op === "create") return [];
        // The step's delete removes no file; whether the data goes is the purge marker's line (same preview).
        if (c.op === "delete")
            return [
                {
                    kind: "data",
                    text: `${which}: its setup step goes, and deletes no file itself (the purge marker decides whether the data goes)`,
                    disrupts: DATA,
                },
            ];
        if (changeAt(c, "create") === "no") return [];
        return [
            { kind: "data", text: `${which} is set up again (created if missing, its owner and mode set; files stay)`, disrupts: DATA },
        ];
    }
    if (is(c, TARGETS.hostPurgeMarker)) {
        const listed = (inputs: Record<string, unknown>) => scriptParameters(inputs.create).DIRECTORIES?.split("\n").filter(Boolean) ?? [];
        if (c.op === "delete") {
            const dirs = listed(c.olds);
            return dirs.length > 0
                ? [
                      {
                          kind: "data",
                          text: `the data is deleted: ${dirs.join(", ")} (purgeDataOnDestroy was on at the last up)`,
                          disrupts: DATA,
                      },
                  ]
                : [{ kind: "data", text: "the data directories are kept (purgeDataOnDestroy was off at the last up)" }];
        }
        if (c.op !== "update") return [];
        const before = listed(c.olds).length > 0;
        const after = listed(c.news).length > 0;
        if (before === after) return [];
        return [
            {
                kind: "data",
                ...(after ? { disrupts: DATA } : {}),
                text: after
                    ? `from this up on, a destroy deletes the data: ${listed(c.news).join(", ")} (purgeDataOnDestroy turned on)`
                    : "from this up on, a destroy keeps the data (purgeDataOnDestroy turned off)",
            },
        ];
    }
    return [];
};

/** kind's containers on the Docker host: Distribution, the front, the node watcher, caches. */
const kindContainers: Rule = (c) => {
    if (is(c, TARGETS.kindNodes)) {
        if (c.op === "update" || c.op === "create") return [];
        const cluster = kindClusterOf(c);
        const nodes = cluster ? `each node of kind cluster ${cluster}` : "each kind node";
        if (c.op === "delete") {
            // nodes-unconfigure.sh removes the files and leaves config_path: nothing restarts.
            return [
                {
                    kind: "runtime",
                    text: `${nodes}: the registry's files are removed (nothing restarts); its pods no longer pull from the registry`,
                    disrupts: { outage: { pulls: true, pushes: false } },
                },
            ];
        }
        return [
            {
                kind: "runtime",
                text: `${nodes}: the registry configuration is rewritten; containerd restarts in a node only where its config_path had to be set`,
                disrupts: RESTART,
            },
        ];
    }
    if (!is(c, TARGETS.kindContainers) || c.op === "create") return [];
    if (c.op === "delete")
        return [
            {
                kind: "registry",
                text: "kind's registry and front containers are removed (the images stay on the Docker host)",
                disrupts: UNMEASURED_OUTAGE,
            },
        ];
    if (c.op === "replace") {
        return [
            {
                kind: "registry",
                text: "kind's registry, front and watcher containers are all recreated (their data directory or name changes): pulls and pushes fail until they answer (not measured)",
                disrupts: UNMEASURED_OUTAGE,
            },
            {
                kind: "data",
                text: "kind's registry data directory changes: images stored under the old one are not served from the new one",
                disrupts: DATA,
            },
        ];
    }
    const out: Omit<Consequence, "resource">[] = [];
    const registry = paramChange(c, /^DISTRIBUTION_(FILES|IMAGE)$/);
    if (registry !== "no") {
        out.push({
            kind: "registry",
            text: `kind's Distribution container ${may(registry, "is recreated", "be recreated")}: pulls and pushes fail until it answers (not measured)`,
            disrupts: UNMEASURED_OUTAGE,
        });
    }
    const front = paramChange(c, /^FRONT_(FILES|IMAGE)$/);
    if (front !== "no") {
        out.push({
            kind: "front",
            text: `kind's front (Caddy) container ${may(front, "is recreated", "be recreated")}: requests in progress are cut, and nothing answers until it runs again`,
            disrupts: UNMEASURED_OUTAGE,
        });
    }
    const caches = paramChange(c, /^MIRRORS$/);
    if (caches !== "no")
        out.push({
            kind: "cache",
            text: `kind's pull-through caches ${may(caches, "change", "change")}: a changed cache is recreated, a removed one loses its storage`,
        });
    return out;
};

/** The in-cluster registry's workloads. */
const inClusterWorkload: Rule = (c) => {
    if (!is(c, TARGETS.clusterWorkload) || is(c, TARGETS.clusterCertificateProbe) || c.op === "create") return [];
    const name = metadataName(c);
    const how = c.op === "update" ? changeAt(c, "spec.template") : "yes";
    if (how === "no") return [];
    if (is(c, TARGETS.clusterCache)) {
        if (c.op === "delete") return [{ kind: "cache", text: `cache ${name} is removed: nodes pull those images from the upstream` }];
        return [
            {
                kind: "cache",
                text: `cache ${name}'s pod ${may(how, "is replaced", "be replaced")}: while it restarts, nodes pull those images from the upstream`,
            },
        ];
    }
    if (is(c, TARGETS.clusterUi))
        return [
            {
                kind: "other",
                text: `the web UI's pod (${name}) ${c.op === "delete" ? "is removed" : `${may(how, "is replaced", "be replaced")}`}`,
            },
        ];
    if (c.op === "delete")
        return [{ kind: "registry", text: `Deployment ${name} is deleted: the registry stops answering`, disrupts: UNMEASURED_OUTAGE }];
    const strategy = at(c.news, "spec.strategy.type");
    const outage =
        strategy === "Recreate"
            ? `no pod answers between the old pod's stop and the new pod's readiness (Recreate, its claim is ReadWriteOnce): ${MEASURED.inClusterRecreate}`
            : `each new pod is ready before an old one stops, and a stopping pod hands its clients over (RollingUpdate): ${MEASURED.inClusterRolling}`;
    return [
        {
            kind: "registry",
            text: `the registry's pod (Deployment ${name}, Distribution and its Caddy front) ${may(how, "is replaced", "be replaced")}; ${outage}`,
            ...(strategy === "Recreate"
                ? { disrupts: { outage: { pulls: true, pushes: true, seconds: MEASURED_SECONDS.inClusterRecreate } } }
                : {}),
        },
    ];
};

/** Ingresses, Gateways and routes. */
const exposure: Rule = (c) => {
    const kind = /:(Ingress|Gateway|HTTPRoute)$/.exec(c.type)?.[1];
    // A new route adds a way in and an update is read in place; a replaced or deleted one is gone for a while.
    if (!kind || c.op === "update" || c.op === "create") return [];
    const verb = c.op === "replace" ? "is replaced" : "is deleted";
    return [
        {
            kind: "exposure",
            text: `${kind} ${metadataName(c)} ${verb}: until the controller has read the change, requests by that route may fail (not measured)`,
            disrupts: UNMEASURED_OUTAGE,
        },
    ];
};

/** Claims and namespaces, which hold the data. */
const claims: Rule = (c) => {
    if (c.type === CLAIM) {
        const name = metadataName(c);
        const cache = is(c, TARGETS.cacheClaim);
        const kept = c.retainOnDelete ? " the old claim is left in the cluster (retainOnDelete) with its data," : "";
        if (c.op === "create") return [{ kind: "data", text: `claim ${name} is created (empty)` }];
        if (c.op === "update") return [{ kind: "data", text: `claim ${name} is changed in place`, disrupts: DATA }];
        if (c.op === "delete") {
            return [
                {
                    kind: cache ? "cache" : "data",
                    text: c.retainOnDelete
                        ? `claim ${name} is left in the cluster (retainOnDelete): Pulumi forgets it, its data stays`
                        : `claim ${name} is deleted${cache ? " (a cache: its images are fetched again)" : " with its data"}`,
                    ...(cache ? {} : { disrupts: DATA }),
                },
            ];
        }
        const where =
            at(c.olds, "metadata.namespace") !== at(c.news, "metadata.namespace")
                ? ` (namespace ${String(at(c.olds, "metadata.namespace"))} → ${String(at(c.news, "metadata.namespace"))})`
                : "";
        return [
            {
                kind: cache ? "cache" : "data",
                text: `claim ${name} is replaced${where}:${kept} the new claim starts empty unless it binds the same volume`,
                ...(cache ? {} : { disrupts: DATA }),
            },
        ];
    }
    if (c.type === "kubernetes:core/v1:Namespace" && (c.op === "delete" || c.op === "replace")) {
        return [
            {
                kind: "data",
                disrupts: DATA,
                text: c.retainOnDelete
                    ? `namespace ${metadataName(c)} is left in the cluster (retainOnDelete), with every object in it`
                    : `namespace ${metadataName(c)} is deleted: Kubernetes deletes every object in it (claims and their data too, where it holds any)`,
            },
        ];
    }
    return [];
};

/** Generated passwords, Jenkins credentials and pull secrets. */
const credentials: Rule = (c, all) => {
    if (c.type === RANDOM_PASSWORD) {
        if (!is(c, TARGETS.password)) return [];
        const user = String(at(inputsOf(c), "keepers.username") ?? c.name);
        if (c.op === "replace") {
            // Its PasswordOverlap (components/accounts/passwordOverlap.ts) keeps the old one for the overlap.
            const overlap = all.find((o) => is(o, TARGETS.passwordOverlap) && o.name === passwordOverlapName(c.name) && o.op === "update");
            const seconds = Number(overlap ? at(overlap.news, "overlapSeconds") : 0);
            const kept =
                seconds > 0
                    ? `the old one keeps working for ${seconds / 3600} hours after this runs (the rotation's overlap), then stops`
                    : "the old one stops working when this runs";
            return [
                {
                    kind: "credential",
                    text: `account ${user}: its password rotates; ${kept}`,
                    disrupts: { credentialCut: seconds > 0 ? "after-overlap" : "now" },
                },
            ];
        }
        if (c.op === "delete")
            return [{ kind: "credential", text: `account ${user} is removed: its password stops working when this runs`, disrupts: CUT }];
        if (c.op === "create") return [{ kind: "credential", text: `account ${user} is added` }];
        return [];
    }
    if (is(c, TARGETS.jenkinsCredential)) {
        const id = String(at(inputsOf(c), "credentialId") ?? c.name);
        if (c.op === "create") return [{ kind: "credential", text: `Jenkins credential ${id} is created` }];
        if (c.op === "delete")
            return [{ kind: "credential", text: `Jenkins credential ${id} is deleted: pipelines that use it fail`, disrupts: CUT }];
        const secret = either(changeAt(c, "password"), changeAt(c, "secret"));
        const visible = ["username", "description", "kind", "credentialId", "jenkinsUrl"].some((k) => changeAt(c, k) !== "no");
        if (secret === "no" && !visible) {
            return changeAt(c, "jenkinsSecret") === "no"
                ? []
                : [
                      {
                          kind: "credential",
                          text: `Jenkins credential ${id}: only the token the program reaches Jenkins with changes; the credential stays as it is`,
                      },
                  ];
        }
        const verb = c.op === "replace" ? "replaced" : "rewritten";
        // A password generated anew in the same plan for the credential's account is what changes, whether the
        // preview shows the new value as unknown or, as newer engines do for an unknown secret, as "[secret]".
        const username = at(inputsOf(c), "username");
        const rotated = all.some(
            (o) =>
                is(o, TARGETS.password) && o.op === "replace" && username !== undefined && at(inputsOf(o), "keepers.username") === username,
        );
        if (secret === "hidden" && rotated) {
            return [
                {
                    kind: "credential",
                    text: `Jenkins credential ${id} is ${verb} with the new password: a pipeline that read it before the up keeps the old value`,
                },
            ];
        }
        if (secret === "hidden" && !visible) {
            return [
                {
                    kind: "credential",
                    text: `Jenkins credential ${id} is ${verb}: a secret input changes, its password or only the token the program reaches Jenkins with (the preview shows neither)`,
                },
            ];
        }
        const what = secret === "yes" || secret === "maybe" ? " with the new password" : "";
        return [
            {
                kind: "credential",
                text: `Jenkins credential ${id} is ${verb}${what}: a pipeline that read it before the up keeps the old value`,
            },
        ];
    }
    if (is(c, TARGETS.pullSecret) && c.op !== "create") {
        const ns = String(at(inputsOf(c), "metadata.namespace") ?? "");
        return [
            {
                kind: "credential",
                text: `pull secret ${metadataName(c)}${ns ? ` in ${ns}` : ""} is ${c.op === "delete" ? "deleted" : "rewritten"}`,
                ...(c.op === "delete" ? { disrupts: CUT } : {}),
            },
        ];
    }
    return [];
};

/** The generated CA and the server certificate. */
const certificates: Rule = (c) => {
    if (c.op === "create" || c.op === "update") return [];
    if (c.type === "tls:index/selfSignedCert:SelfSignedCert") {
        return [
            {
                kind: "certificate",
                disrupts: CUT,
                text:
                    c.op === "delete"
                        ? "the generated CA is removed: a client that trusts only it must trust the CA of the certificate served from then on"
                        : "the generated CA is replaced: every node's trust file and every copy of the CA get the new one in this up; a client holding the old CA fails until it has the new one",
            },
        ];
    }
    if (c.type === "tls:index/locallySignedCert:LocallySignedCert" && c.op === "replace") {
        return [
            {
                kind: "certificate",
                text: "the registry's server certificate is replaced (the front serves the new one once it restarts or reloads)",
            },
        ];
    }
    return [];
};

const RULES: readonly Rule[] = [
    nodeFile,
    configPath,
    nodeTrustDaemonSet,
    hostRegistry,
    hostCaddy,
    hostCache,
    hostOtherContainer,
    hostLoginLimit,
    hostData,
    kindContainers,
    inClusterWorkload,
    exposure,
    claims,
    credentials,
    certificates,
];

// ---------------------------------------------------------------------------------------------
// The summary

/** The consequences of one `preview --json` document (one stack). */
export function previewConsequences(preview: { readonly steps?: readonly PreviewStep[] | null }): StackConsequences {
    const steps = preview.steps ?? [];
    const changes = changesOf(steps);
    const counts = { create: 0, update: 0, replace: 0, delete: 0 };
    for (const c of changes) counts[c.op]++;
    const consequences = changes
        .flatMap((c) => RULES.flatMap((rule) => rule(c, changes)).map((found) => ({ ...found, resource: c.name })))
        .sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.text.localeCompare(b.text));
    const stack = steps.map((s) => stackOfUrn(s.urn)).find(Boolean) ?? "";
    return { stack, counts, consequences };
}

/** Parses `preview --json` output (one document, as the CLI prints it) and gives its consequences. */
export function consequencesOfPreviewJson(text: string): StackConsequences {
    const start = text.indexOf("{");
    if (start < 0) throw new Error("no JSON document in the input: give the output of `pulumi preview --json`");
    return previewConsequences(JSON.parse(text.slice(start)) as { steps?: PreviewStep[] });
}

/** The summary of one stack in Markdown, for a pull request's comment and a terminal alike. */
export function renderConsequences(result: StackConsequences, stackName = result.stack): string {
    const { create, update, replace, delete: deleted } = result.counts;
    const lines = [`### What this change disrupts: stack \`${stackName || "?"}\``, ""];
    lines.push(`${create} to create, ${update} to update, ${replace} to replace, ${deleted} to delete.`, "");
    if (result.consequences.length === 0) {
        lines.push(
            create + update + replace + deleted === 0
                ? "No change."
                : "Nothing that restarts a node's runtime, replaces the registry, reloads its front, touches a claim or data directory, or changes a credential or certificate.",
        );
        return `${lines.join("\n")}\n`;
    }
    for (const kind of KINDS) {
        const texts = [...new Set(result.consequences.filter((c) => c.kind === kind).map((c) => c.text))];
        if (texts.length === 0) continue;
        lines.push(`**${HEADINGS[kind]}**`, "", ...texts.map((t) => `- ${t}`), "");
    }
    lines.push(
        'Figures are measured ones where the docs give them (docs/preview-consequences.md); "not measured" means the project has none.',
    );
    return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// The disruption budget

/** A consequence over the budget, with what it exceeds. */
export interface OverBudget {
    readonly consequence: Consequence;
    /** The budget's key and its value, and what the consequence does beyond it. */
    readonly exceeds: string;
}

/** How an outage of `seconds` (undefined: not measured) is said against a budget of `budget` seconds. */
const outageBeyond = (who: "pulls" | "pushes", seconds: number | undefined, key: string, budget: number): string | undefined =>
    seconds === undefined
        ? `disruptionBudget.${key} ${budget}: ${who} go unanswered for a time nobody measured`
        : seconds > budget
          ? `disruptionBudget.${key} ${budget}: ${who} go unanswered for about ${seconds} s`
          : undefined;

/** Each consequence over the budget, once for each part of the budget it exceeds. */
export function overBudget(result: StackConsequences, budget: DisruptionBudget): OverBudget[] {
    const over: OverBudget[] = [];
    for (const consequence of result.consequences) {
        const d = consequence.disrupts;
        if (!d) continue;
        const exceeded = [
            d.outage?.pulls ? outageBeyond("pulls", d.outage.seconds, "pullOutageSeconds", budget.pullOutageSeconds) : undefined,
            d.outage?.pushes ? outageBeyond("pushes", d.outage.seconds, "pushOutageSeconds", budget.pushOutageSeconds) : undefined,
            d.runtimeRestart && !budget.runtimeRestarts
                ? "disruptionBudget.runtimeRestarts false: a node's container runtime restarts"
                : undefined,
            d.credentialCut === "now" && budget.credentialCuts !== "any"
                ? `disruptionBudget.credentialCuts "${budget.credentialCuts}": a credential stops working when this runs`
                : undefined,
            d.credentialCut === "after-overlap" && budget.credentialCuts === "none"
                ? `disruptionBudget.credentialCuts "none": a password stops working once its rotation's overlap ends`
                : undefined,
            d.data && !budget.dataChanges
                ? "disruptionBudget.dataChanges false: a claim, namespace or data directory is touched"
                : undefined,
        ];
        for (const exceeds of exceeded) if (exceeds) over.push({ consequence, exceeds });
    }
    return over;
}

/** Who approved a change over the budget. */
export type Approval = { readonly by: "label"; readonly label: string } | { readonly by: "stack file"; readonly reason: string };

/** The keys of a budget that say what may be disrupted (all but `approved`), in the order the summary names them. */
export const BUDGET_KEYS = ["pullOutageSeconds", "pushOutageSeconds", "runtimeRestarts", "credentialCuts", "dataChanges"] as const;
export type BudgetKey = (typeof BUDGET_KEYS)[number];

/** The budget of a stack file that sets `disruptionBudget` without a key: every key at its strictest. */
export const DEFAULT_BUDGET: DisruptionBudget = disruptionBudget.parse({});

/** `credentialCuts` from the strictest to the loosest. */
const CUTS_ORDER: readonly DisruptionBudget["credentialCuts"][] = ["none", "after-overlap", "any"];

/** One key of a stack's budget that a pull request changes. */
export interface BudgetChange {
    readonly key: BudgetKey;
    /** The value the change is judged by (the base branch's, or the default for a new stack); undefined: no budget. */
    readonly before?: DisruptionBudget[BudgetKey];
    /** The pull request's value; undefined: its stack file sets no budget, and nothing is checked once it is merged. */
    readonly after?: DisruptionBudget[BudgetKey];
    /** It lets more through than before: a change to approve. */
    readonly looser: boolean;
}

/** Whether `after` lets more through than `before` (no budget at all lets everything through). */
function isLooser(
    key: BudgetKey,
    before: DisruptionBudget[BudgetKey] | undefined,
    after: DisruptionBudget[BudgetKey] | undefined,
): boolean {
    if (after === undefined) return before !== undefined;
    if (before === undefined) return false;
    if (key === "credentialCuts") {
        return (
            CUTS_ORDER.indexOf(after as DisruptionBudget["credentialCuts"]) >
            CUTS_ORDER.indexOf(before as DisruptionBudget["credentialCuts"])
        );
    }
    return typeof after === "number" ? after > (before as number) : after === true && before === false;
}

/** Each key that differs between the budget that judges (`before`) and the pull request's (`after`). */
export function budgetChanges(before: DisruptionBudget | undefined, after: DisruptionBudget | undefined): BudgetChange[] {
    if (before === undefined && after === undefined) return [];
    return BUDGET_KEYS.filter((key) => before?.[key] !== after?.[key]).map((key) => ({
        key,
        before: before?.[key],
        after: after?.[key],
        looser: isLooser(key, before?.[key], after?.[key]),
    }));
}

/** Where the budget that judges a change comes from. */
export type BudgetSource =
    /** The stack file the preview ran with: a run by hand, with no base branch to compare with. */
    | "stack file"
    /** The base branch's stack file: a pull request's own budget never judges it. */
    | "base branch"
    /** DEFAULT_BUDGET: the base branch has no file for the stack (it is new in the pull request). */
    | "default";

/** The budget's verdict on one stack's consequences. */
export interface BudgetVerdict {
    /** The budget the change is judged by; undefined when there is none (nothing is checked). */
    readonly budget?: DisruptionBudget;
    readonly source: BudgetSource;
    readonly over: readonly OverBudget[];
    /** The keys of the budget the pull request changes, against the budget that judges it (none without a base branch). */
    readonly changes: readonly BudgetChange[];
    /** Whether the pull request's stack file sets a budget (undefined without a base branch: not compared). */
    readonly headHasBudget?: boolean;
    /** The approval that lets what is over the budget, and a looser budget, pass; undefined when there is none or nothing to approve. */
    readonly approval?: Approval;
    /** What the reviewer is told besides: an approval that approves nothing, or one an earlier change left behind. */
    readonly notes: readonly string[];
    /** Whether the pull request's check passes. */
    readonly passes: boolean;
}

/** The label on a pull request that approves its disruptions (read from the event by .github/workflows/preview.yml). */
export const APPROVAL_LABEL = "disruption-approved";

/** The base branch has no stack file for the stack: it is new in the pull request. */
export const NEW_STACK = "new stack";

export interface BudgetInputs {
    /** `disruptionBudget` of the stack file the preview ran with (the pull request's), parsed; undefined when it sets none. */
    readonly budget?: DisruptionBudget;
    /**
     * The base branch's stack file, in a pull request: its `disruptionBudget` (undefined when it sets none), or
     * NEW_STACK when the base branch has no file for the stack. Its budget judges the change, or DEFAULT_BUDGET
     * for a new stack, never the pull request's own; each key the pull request changes is named, and a looser
     * one needs an approval as a change over the budget does. Its `approved` approves nothing any more.
     * Absent (a run by hand, no pull request): the stack file's own budget judges, and nothing is compared.
     */
    readonly base?: { readonly budget?: DisruptionBudget } | typeof NEW_STACK;
    /** The pull request carries APPROVAL_LABEL. */
    readonly labelApproved?: boolean;
}

/** Compares the consequences with the budget that judges them, and the pull request's budget with it; says whether the check passes, and why. */
export function budgetVerdict(result: StackConsequences, inputs: BudgetInputs): BudgetVerdict {
    const { base } = inputs;
    const source: BudgetSource = base === undefined ? "stack file" : base === NEW_STACK ? "default" : "base branch";
    const budget = base === undefined ? inputs.budget : base === NEW_STACK ? DEFAULT_BUDGET : base.budget;
    const changes = base === undefined ? [] : budgetChanges(budget, inputs.budget);
    const headHasBudget = base === undefined ? undefined : inputs.budget !== undefined;
    if (!budget && changes.length === 0) return { source, over: [], changes, headHasBudget, notes: [], passes: true };
    const over = budget ? overBudget(result, budget) : [];
    const toApprove = over.length + changes.filter((c) => c.looser).length;
    const baseApproved = typeof base === "object" ? base.budget?.approved : undefined;
    const approved = inputs.budget?.approved;
    const notes: string[] = [];
    let fromFile: Approval | undefined;
    if (approved !== undefined) {
        if (approved === baseApproved) {
            notes.push(
                `\`disruptionBudget.approved\` ("${approved}") is on the base branch already: it approved an earlier change and approves nothing here. Remove it from the stack file.`,
            );
        } else if (toApprove === 0) {
            notes.push(`\`disruptionBudget.approved\` ("${approved}") approves nothing: the change is within the budget. Remove it.`);
        } else {
            fromFile = { by: "stack file", reason: approved };
        }
    }
    const approval = toApprove === 0 ? undefined : inputs.labelApproved ? { by: "label" as const, label: APPROVAL_LABEL } : fromFile;
    return { budget, source, over, changes, headHasBudget, approval, notes, passes: toApprove === 0 || approval !== undefined };
}

/** A budget's value as the summary writes it. */
const budgetValue = (value: DisruptionBudget[BudgetKey] | undefined): string =>
    value === undefined ? "no budget" : typeof value === "string" ? `"${value}"` : String(value);

/** The budget's whole statement, for the verdict's first line. */
const statedBudget = (b: DisruptionBudget): string =>
    `pulls ${b.pullOutageSeconds} s, pushes ${b.pushOutageSeconds} s, runtime restarts ${b.runtimeRestarts ? "allowed" : "not allowed"}, credential cuts "${b.credentialCuts}", data changes ${b.dataChanges ? "allowed" : "not allowed"}`;

/** The verdict in Markdown, below the summary. */
export function renderBudgetVerdict(verdict: BudgetVerdict, stackName: string): string {
    const lines: string[] = [];
    const b = verdict.budget;
    const looser = verdict.changes.some((c) => c.looser);
    if (!b) {
        lines.push(
            verdict.source === "base branch"
                ? `**Disruption budget**: none set for stack \`${stackName}\` on the base branch, nothing is checked.`
                : `**Disruption budget**: none set for stack \`${stackName}\` (\`dso-registry:disruptionBudget\`), nothing is checked.`,
        );
    } else {
        const whose =
            verdict.source === "base branch"
                ? "the base branch's: "
                : verdict.source === "default"
                  ? `the default, stack \`${stackName}\` being new in this pull request: `
                  : "";
        const what =
            verdict.over.length === 0
                ? looser
                    ? "within it, but the pull request loosens the budget"
                    : "within it"
                : looser
                  ? "over it, and the pull request loosens the budget"
                  : "over it";
        const status =
            verdict.over.length === 0 && !looser
                ? `${what}.`
                : verdict.approval === undefined
                  ? `**${what}, not approved**.`
                  : verdict.approval.by === "label"
                    ? `${what}, approved by the label \`${verdict.approval.label}\`.`
                    : `${what}, approved in the stack file: "${verdict.approval.reason}".`;
        lines.push(`**Disruption budget** (${whose}${statedBudget(b)}): ${status}`);
        if (verdict.over.length > 0) lines.push("", ...verdict.over.map((o) => `- ${o.consequence.text}: over ${o.exceeds}`));
    }
    if (verdict.changes.length > 0) {
        const intro =
            verdict.source === "default"
                ? `**The stack is new in this pull request**: it is judged by the default budget (every key at its strictest), not by its own stack file's, which judges pull requests from its merge on. Its budget against the default:`
                : verdict.headHasBudget === false
                  ? `**This pull request removes the disruption budget** of stack \`${stackName}\` (\`dso-registry:disruptionBudget\`): once it is merged, nothing is checked. It is judged by the base branch's budget:`
                  : `**This pull request changes the disruption budget** of stack \`${stackName}\`. It is judged by the base branch's budget; its own judges pull requests from its merge on:`;
        lines.push(
            "",
            intro,
            "",
            ...verdict.changes.map(
                (c) =>
                    `- \`${c.key}\`: ${budgetValue(c.before)} → ${budgetValue(c.after)} (${c.looser ? "looser: to approve" : c.before === undefined ? "a new budget" : "stricter"})`,
            ),
        );
    }
    if ((verdict.over.length > 0 || looser) && verdict.approval === undefined) {
        lines.push(
            "",
            `To go ahead, a maintainer adds the label \`${APPROVAL_LABEL}\` to this pull request, or the pull request sets \`disruptionBudget.approved\` in \`Pulumi.${stackName}.yaml\` to who approved it and why (removed again in the next pull request). docs/preview-consequences.md`,
        );
    }
    if (verdict.notes.length > 0) lines.push("", ...verdict.notes.map((n) => `- ${n}`));
    return `${lines.join("\n")}\n`;
}

/** A stack file's `dso-registry:disruptionBudget`, checked by the config's own schema; undefined when it sets none. */
export function budgetOfStackFile(text: string, file: string): DisruptionBudget | undefined {
    const parsed = parseYaml(text) as { config?: Record<string, unknown> } | null;
    const raw = parsed?.config?.[`${PROJECT}:disruptionBudget`];
    if (raw === undefined) return undefined;
    const result = disruptionBudget.safeParse(raw);
    if (!result.success) {
        const problems = result.error.issues.map((i) => `${[`${PROJECT}:disruptionBudget`, ...i.path.map(String)].join(".")} ${i.message}`);
        throw new Error(`${file}: ${problems.join("; ")}`);
    }
    return result.data;
}
