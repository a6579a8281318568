/**
 * The plan `pulumi up` makes when a stack deployed with one config is run with another (or destroyed):
 * which resources it creates, updates, replaces and deletes, and in which order, computed from two runs
 * of the program under the mock runtime (tools/mockRuntime.ts) and each provider's own diff rules.
 *
 * It models the engine and the providers; it knows nothing of this program. Where each rule comes from:
 *
 * - Engine (pulumi/pulumi pkg/resource/deploy/step_generator.go, step_executor.go): a resource is matched
 *   to the old state by URN or by one of its aliases; unmatched new resources are created, unmatched old
 *   ones deleted. Steps run in registration order; deletes (of removed resources and of replaced ones
 *   without delete-before-replace) run after every create and update, dependents first. A delete runs
 *   with the *old* state (for a command, the delete script stored at the last create/update). A property
 *   matching a `replaceOnChanges` path replaces. With delete-before-replace (the resource option, or the
 *   provider's answer), the old one is deleted first. A resource whose input comes from a resource being
 *   created or replaced sees that input unknown and is updated (or replaced, when the input forces it).
 * - @pulumi/command 1.2.1 (command:remote:Command, command:local:Command): the SDK registers every Command
 *   with `replaceOnChanges: ["triggers[*]"]` (remote/command.js, local/command.js); the provider's diff
 *   replaces on nothing else. An update runs the `update` script if set, else `create`, with the new
 *   inputs; the old `delete` never runs on an update.
 * - pulumi-kubernetes v4 (provider/pkg/provider/properties.go, forceNewProperties): `.metadata.name` and
 *   `.metadata.namespace` replace every kind; plus per kind the paths in KUBERNETES_FORCE_NEW below;
 *   ConfigMap and Secret data replace (enableConfigMapMutable / enableSecretMutable are off by default).
 *   An input unknown at preview replaces only where it is a replacing path itself, not when a replacing
 *   path lies inside it (a Deployment's known `spec.selector` in a `spec` with an unknown checksum).
 * - Engine, dependents of a delete-before-replace (step_generator.go calculateDependentReplacements): each
 *   resource with an input made from it is asked again with that whole input unknown; for a Kubernetes
 *   object an unknown `spec` holds its selector, so a DaemonSet whose pod template names a replaced
 *   Secret is replaced too (the real engine's `up`; test/engine/plans.test.ts).
 *   An object with a name of its own (not auto-named) is replaced delete-before-replace (provider Diff:
 *   two objects cannot share a name).
 * - pulumi-tls / pulumi-random (bridged terraform-provider-tls / -random): every input of PrivateKey,
 *   CertRequest, SelfSignedCert, LocallySignedCert and RandomPassword forces a new resource (keepers
 *   included), except a certificate's `earlyRenewalHours`, which changes in place. A certificate is also replaced when `readyForRenewal` turns true: now ≥ validity end −
 *   earlyRenewalHours (the providers' ModifyPlan), which needs a clock and the certificate's validity.
 * - Dynamic providers (@pulumi/pulumi cmd/dynamic-provider): the diff is the provider's own `diff` (given
 *   by the caller, it is the program's code), called with the old state and the new inputs.
 */
import * as pulumi from "@pulumi/pulumi";
import type { RecordedResource } from "../../tools/mockRuntime";

export type StepOp = "create" | "update" | "replace" | "delete";

export interface Step {
    readonly op: StepOp;
    /** For replace: whether the old one is deleted before the new one is created. */
    readonly deleteBeforeReplace?: boolean;
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** The old resource's inputs (update, replace, delete): a delete runs with these. */
    readonly olds?: Record<string, unknown>;
    /** The new inputs (create, update, replace). */
    readonly news?: Record<string, unknown>;
    /** The properties that made it change (update, replace). */
    readonly changed?: readonly string[];
    /** The delete of the old resource of a replacement (not counted as a delete). */
    readonly ofReplaced?: boolean;
    /**
     * The old resource has `retainOnDelete` (delete, or the old one of a replace): the engine forgets it
     * and calls no provider.
     */
    readonly retained?: boolean;
}

export interface Plan {
    readonly steps: readonly Step[];
    readonly counts: Readonly<Record<StepOp | "same", number>>;
}

/** A certificate's validity as deployed (the mock has no clock, the test gives one). */
export interface CertValidity {
    /** Milliseconds since the epoch of `validityEndTime`. */
    readonly end: number;
}

export interface PlanOptions {
    /** The time of the `up`; certificates past their renewal point are replaced. */
    readonly now?: number;
    /** Validity of certificates by URN; without one a certificate is taken as freshly issued. */
    readonly certificates?: Readonly<Record<string, CertValidity>>;
    /** Dynamic providers' diff by resource type (the provider's own code). */
    readonly dynamicDiff?: Readonly<Record<string, (olds: Record<string, unknown>, news: Record<string, unknown>) => DynamicDiff>>;
}

/** A dynamic provider's diff answer (pulumi.dynamic.DiffResult). */
export interface DynamicDiff {
    readonly changes?: boolean;
    readonly replaces?: readonly string[];
    readonly deleteBeforeReplace?: boolean;
}

/** pulumi-kubernetes v4 force-new paths per kind beyond metadata name/namespace (properties.go). */
const KUBERNETES_FORCE_NEW: Record<string, readonly string[]> = {
    "apps/v1:Deployment": ["spec.selector"],
    "apps/v1:DaemonSet": ["spec.selector"],
    "apps/v1:StatefulSet": [
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ],
    "batch/v1:Job": ["spec.completions", "spec.parallelism", "spec.selector", "spec.template"],
    "core/v1:PersistentVolumeClaim": ["spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"],
    "core/v1:Service": ["spec.clusterIP"],
    "core/v1:Secret": ["type", "stringData", "data"],
    "core/v1:ConfigMap": ["binaryData", "data"],
    "rbac.authorization.k8s.io/v1:RoleBinding": ["roleRef"],
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ["roleRef"],
    "policy/v1:PodDisruptionBudget": ["spec"],
    "storage.k8s.io/v1:StorageClass": ["parameters", "provisioner"],
};

/** Types of bridged Terraform providers whose every input forces a new resource. */
const ALL_INPUTS_FORCE_NEW = new Set([
    "tls:index/privateKey:PrivateKey",
    "tls:index/certRequest:CertRequest",
    "tls:index/selfSignedCert:SelfSignedCert",
    "tls:index/locallySignedCert:LocallySignedCert",
    "random:index/randomPassword:RandomPassword",
    "random:index/randomString:RandomString",
    "random:index/randomId:RandomId",
    "random:index/randomBytes:RandomBytes",
]);
const CERTIFICATES = new Set(["tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"]);
/** terraform-provider-tls's default `early_renewal_hours`. */
const TLS_DEFAULT_EARLY_RENEWAL_HOURS = 0;

/** The key of Pulumi's wire wrapper of a secret value, as the SDK declares it. */
const SIG_KEY = pulumi.runtime.specialSigKey;

/** A value with Pulumi's secret wrappers taken off: what the provider compares. */
export function plain(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (SIG_KEY in record) return plain(record.value);
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, plain(v)]));
    }
    return value;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function at(value: unknown, dotted: string): unknown {
    return dotted
        .split(".")
        .reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), value);
}

/** Top-level properties whose values differ (sorted keys, secrets unwrapped). */
function changedProperties(olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
    return [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !same(olds[k], news[k])).sort();
}

interface Decision {
    readonly op: "same" | "update" | "replace";
    readonly changed: string[];
    readonly deleteBeforeReplace: boolean;
}

/** The provider's and the engine's diff of one resource (see the header for the sources). */
function diff(
    old: RecordedResource,
    now: RecordedResource,
    unknownInputs: readonly string[],
    options: PlanOptions,
    wholeUnknown: readonly string[] = [],
): Decision {
    const olds = plain(old.rawInputs) as Record<string, unknown>;
    const news = plain(now.rawInputs) as Record<string, unknown>;
    const changed = [...new Set([...changedProperties(olds, news), ...unknownInputs])].sort();
    const optionDbr = now.options.deleteBeforeReplace;
    const replaceBy = (replaces: string[], providerDbr = false): Decision =>
        replaces.length > 0
            ? { op: "replace", changed: replaces, deleteBeforeReplace: optionDbr || providerDbr }
            : { op: changed.length > 0 ? "update" : "same", changed, deleteBeforeReplace: false };

    // Engine: replaceOnChanges paths ("triggers[*]" matches any change of triggers).
    const byOption = changed.filter((p) =>
        now.options.replaceOnChanges.some((r) => r === p || r.startsWith(`${p}[`) || r.startsWith(`${p}.`)),
    );

    if (ALL_INPUTS_FORCE_NEW.has(now.type)) {
        // terraform-provider-tls: `early_renewal_hours` is the one input a certificate changes in place.
        const replaces = changed.filter((p) => !(CERTIFICATES.has(now.type) && p === "earlyRenewalHours"));
        if (CERTIFICATES.has(now.type) && options.now !== undefined) {
            const validity = options.certificates?.[old.urn];
            const early = Number(news.earlyRenewalHours ?? TLS_DEFAULT_EARLY_RENEWAL_HOURS);
            if (validity && options.now >= validity.end - early * 3_600_000) replaces.push("readyForRenewal");
        }
        return replaceBy([...new Set([...replaces, ...byOption])]);
    }
    if (now.type.startsWith("kubernetes:")) {
        const kind = now.type.slice("kubernetes:".length);
        const paths = ["metadata.name", "metadata.namespace", ...(KUBERNETES_FORCE_NEW[kind] ?? [])];
        // An unknown input replaces only where it is itself a replacing path (PodDisruptionBudget's `spec`):
        // a Deployment whose pod template carries a new checksum keeps its known selector, an update (the
        // real engine's preview; test/engine/plans.test.ts).
        const replaces = paths.filter(
            (p) => !same(at(olds, p), at(news, p)) || unknownInputs.includes(p) || wholeUnknown.includes(p.split(".")[0]!),
        );
        // A named object cannot exist twice: the provider answers delete-before-replace.
        const named = typeof at(news, "metadata.name") === "string";
        return replaceBy([...new Set([...replaces, ...byOption])], named);
    }
    const dynamic = options.dynamicDiff?.[now.type];
    if (dynamic) {
        const answer = dynamic(olds, news);
        if (answer.replaces && answer.replaces.length > 0) return replaceBy([...answer.replaces], answer.deleteBeforeReplace);
        // changes undefined: the engine falls back to its own comparison of the inputs.
        const changes = answer.changes ?? changed.length > 0;
        return { op: changes ? "update" : "same", changed, deleteBeforeReplace: false };
    }
    // command:* and anything else: update on any change, replace only by replaceOnChanges.
    return replaceBy(byOption);
}

/** Old resources by every URN a new resource may claim them under (its own and its aliases'). */
function matchOld(olds: readonly RecordedResource[], now: RecordedResource): RecordedResource | undefined {
    const byUrn = new Map(olds.map((r) => [r.urn, r]));
    for (const urn of [now.urn, ...now.options.aliases]) {
        const found = byUrn.get(urn);
        if (found && found.type === now.type) return found;
    }
    return undefined;
}

/**
 * The plan of `pulumi up` from a stack deployed as `before` to the program run `after` (undefined: the
 * plan of `pulumi destroy`). Component resources have no steps; only custom resources are counted.
 */
export function planOf(
    before: readonly RecordedResource[],
    after: readonly RecordedResource[] | undefined,
    options: PlanOptions = {},
): Plan {
    const olds = before.filter((r) => r.custom);
    const news = (after ?? []).filter((r) => r.custom);
    const steps: Step[] = [];
    const deferredDeletes: RecordedResource[] = [];
    const claimed = new Set<string>();
    /** URNs whose outputs are unknown at preview: created or replaced in this plan. */
    const fresh = new Set<string>();
    /** URNs replaced delete-before-replace: the engine asks their dependents' providers with the inputs made from them wholly unknown. */
    const deletedFirst = new Set<string>();
    const counts = { create: 0, update: 0, replace: 0, delete: 0, same: 0 };

    for (const now of news) {
        const old = matchOld(olds, now);
        const step = { urn: now.urn, type: now.type, name: now.name, news: plain(now.rawInputs) as Record<string, unknown> };
        if (!old) {
            steps.push({ op: "create", ...step });
            fresh.add(now.urn);
            counts.create++;
            continue;
        }
        claimed.add(old.urn);
        // Outputs of a resource created or replaced in this plan are unknown until it runs: an input
        // made from them is a change (the preview shows it as such), whatever the mock returned.
        const unknownInputs = Object.entries(now.propertyDependencies)
            .filter(([, deps]) => deps.some((d) => fresh.has(d)))
            .map(([key]) => key);
        const wholeUnknown = Object.entries(now.propertyDependencies)
            .filter(([, deps]) => deps.some((d) => deletedFirst.has(d)))
            .map(([key]) => key);
        const decision = diff(old, now, unknownInputs, options, wholeUnknown);
        const oldInputs = plain(old.rawInputs) as Record<string, unknown>;
        if (decision.op === "same") {
            counts.same++;
        } else if (decision.op === "update") {
            steps.push({ op: "update", ...step, olds: oldInputs, changed: decision.changed });
            counts.update++;
        } else {
            steps.push({
                op: "replace",
                ...step,
                olds: oldInputs,
                changed: decision.changed,
                deleteBeforeReplace: decision.deleteBeforeReplace,
                retained: old.options.retainOnDelete || undefined,
            });
            if (!decision.deleteBeforeReplace) deferredDeletes.push(old);
            else deletedFirst.add(now.urn);
            fresh.add(now.urn);
            counts.replace++;
        }
    }
    // Deletes after every create and update, dependents before what they depend on: the reverse of the
    // old registration order (a valid topological order of the old state).
    const removed = olds.filter((r) => !claimed.has(r.urn));
    for (const old of [...removed, ...deferredDeletes].sort((a, b) => olds.indexOf(b) - olds.indexOf(a))) {
        const retained = old.options.retainOnDelete || undefined;
        const ofReplaced = !removed.includes(old) || undefined;
        steps.push({
            op: "delete",
            urn: old.urn,
            type: old.type,
            name: old.name,
            olds: plain(old.rawInputs) as Record<string, unknown>,
            retained,
            ofReplaced,
        });
        if (!ofReplaced) counts.delete++;
    }
    return { steps, counts };
}

/** One line per step, for failure messages and the report. */
export function describePlan(plan: Plan): string {
    const { create, update, replace, delete: del, same: unchanged } = plan.counts;
    const head = `+${create} ~${update} +-${replace} -${del} (=${unchanged})`;
    const lines = plan.steps.map(
        (s) =>
            `${s.op}${s.deleteBeforeReplace ? " (delete first)" : ""} ${s.type} ${s.name}${s.changed ? ` [${s.changed.join(", ")}]` : ""}`,
    );
    return [head, ...lines].join("\n");
}
