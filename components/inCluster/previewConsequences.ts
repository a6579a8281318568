/**
 * What a preview of the in-cluster registry's changes disrupts, for the consequences summary
 * (tools/previewConsequences.ts, docs/preview-consequences.md): its workloads (the registry, the caches, the
 * web UI; the certificate probe is left out), picked out by the type token and the object names the
 * components export, and the ways in, claims and namespaces, which the rules read by their Kubernetes
 * type whichever component makes them (the node-trust DaemonSet's namespace too).
 */
import {
    at,
    changeAt,
    DATA,
    is,
    MEASURED,
    MEASURED_SECONDS,
    may,
    metadataName,
    pulledDaysFindings,
    type Rule,
    retentionPulledDays,
    scriptParameters,
    type Target,
    UNMEASURED_OUTAGE,
} from "../consequences/previewConsequences";
import { CLUSTER_MIRROR_PREFIX } from "../mirrors/mirrorManifests";
import { UI_WORKLOAD } from "../registryUi/kubernetes";
import { CERTIFICATE_PROBE } from "./certificateProbe";
import { IN_CLUSTER_REGISTRY_TYPE } from "./inClusterRegistry";
import { PULL_HISTORY } from "./pullHistory";
import { IN_CLUSTER } from "./spec";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CLAIM = "kubernetes:core/v1:PersistentVolumeClaim";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";

/** The resources the in-cluster registry's rules read. */
export const IN_CLUSTER_TARGETS = {
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
    /** ConfigMap registry-config: its retention.sh holds tag retention's rules (its RULES parameter). */
    clusterConfig: { types: [CONFIG_MAP], parentType: IN_CLUSTER_REGISTRY_TYPE, named: (r) => r.objectName === IN_CLUSTER.configMap },
} as const satisfies Record<string, Target>;

/** The in-cluster registry's workloads. */
const inClusterWorkload: Rule = (c) => {
    if (!is(c, IN_CLUSTER_TARGETS.clusterWorkload) || is(c, IN_CLUSTER_TARGETS.clusterCertificateProbe) || c.op === "create") return [];
    const name = metadataName(c);
    const how = c.op === "update" ? changeAt(c, "spec.template") : "yes";
    if (how === "no") return [];
    if (is(c, IN_CLUSTER_TARGETS.clusterCache)) {
        if (c.op === "delete") return [{ kind: "cache", text: `cache ${name} is removed: nodes pull those images from the upstream` }];
        return [
            {
                kind: "cache",
                text: `cache ${name}'s pod ${may(how, "is replaced", "be replaced")}: while it restarts, nodes pull those images from the upstream`,
            },
        ];
    }
    if (is(c, IN_CLUSTER_TARGETS.clusterUi))
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

const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/** Who a NetworkPolicy admits and where it lets its pods connect: "namespace X" and "network C" entries per direction. */
function policyPeers(spec: unknown): { readonly admitted: Set<string>; readonly out: Set<string> | undefined } {
    const peers = (rules: unknown, key: "from" | "to") => {
        const found = new Set<string>();
        for (const rule of Array.isArray(rules) ? rules : []) {
            for (const peer of ((rule as Record<string, unknown>)?.[key] as unknown[] | undefined) ?? []) {
                const p = peer as { namespaceSelector?: { matchExpressions?: { values?: string[] }[] }; ipBlock?: { cidr?: string } };
                for (const e of p.namespaceSelector?.matchExpressions ?? []) for (const v of e.values ?? []) found.add(`namespace ${v}`);
                if (p.ipBlock?.cidr) found.add(`network ${p.ipBlock.cidr}`);
            }
        }
        return found;
    };
    const types = at(spec, "policyTypes");
    const restrictsOut = Array.isArray(types) && types.includes("Egress");
    return { admitted: peers(at(spec, "ingress"), "from"), out: restrictsOut ? peers(at(spec, "egress"), "to") : undefined };
}

const listed = (items: Iterable<string>) => [...items].sort().join(", ");

/**
 * The registry's NetworkPolicy: created, it refuses pods it does not admit (where the network plugin enforces it);
 * changed, what it admits no longer or newly, and its pods' connections out; deleted, every pod reaches them again.
 */
const networkPolicy: Rule = (c) => {
    if (c.type !== NETWORK_POLICY) return [];
    const name = metadataName(c);
    const enforced = "where the cluster's network plugin enforces NetworkPolicy";
    if (c.op === "delete")
        return [{ kind: "exposure", text: `NetworkPolicy ${name} is deleted: every pod of the cluster reaches the registry's pods again` }];
    const now = policyPeers(at(c.news, "spec"));
    if (c.op === "create") {
        const out = now.out ? `; their connections out are limited to DNS and ${listed(now.out) || "nothing else"}` : "";
        return [
            {
                kind: "exposure",
                text: `NetworkPolicy ${name} is created: ${enforced}, only ${listed(now.admitted)} reach the registry's pods; a pod elsewhere that connects to them directly (Service registry or registry-tls, not through the ingress) is refused${out}`,
            },
        ];
    }
    const before = policyPeers(at(c.olds, "spec"));
    const dropped = [...before.admitted].filter((p) => !now.admitted.has(p));
    const added = [...now.admitted].filter((p) => !before.admitted.has(p));
    const parts = [
        ...(dropped.length
            ? [`${listed(dropped)} no longer reach the registry's pods (${enforced}): their direct pulls and pushes are refused`]
            : []),
        ...(added.length ? [`${listed(added)} now reach them`] : []),
    ];
    const outBefore = before.out ? listed(before.out) : undefined;
    const outNow = now.out ? listed(now.out) : undefined;
    if (outBefore !== outNow) {
        parts.push(
            outNow === undefined
                ? "the pods' connections out are no longer restricted"
                : `the pods' connections out are limited to DNS and ${outNow || "nothing else"}${outBefore === undefined ? "" : ` (before: ${outBefore || "DNS only"})`}`,
        );
    }
    if (!parts.length) return [];
    return [{ kind: "exposure", text: `NetworkPolicy ${name} ${c.op === "replace" ? "is replaced" : "changes"}: ${parts.join("; ")}` }];
};

/** Claims and namespaces, which hold the data. */
const claims: Rule = (c) => {
    if (c.type === CLAIM) {
        const name = metadataName(c);
        const cache = is(c, IN_CLUSTER_TARGETS.cacheClaim);
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

/** `keepPulledWithinDays` of each rule of the retention script in a ConfigMap registry-config's data. */
const clusterPulledDays = (configMap: unknown) =>
    retentionPulledDays((at(configMap, "data") as Record<string, unknown> | undefined)?.[IN_CLUSTER.retentionScript]);

/**
 * Tag retention by last pull in the cluster: a rule's `keepPulledWithinDays` shortened or removed lets the next
 * collection (in "apply") remove old tags that only recent pulls kept; the last one removed deletes the harvest
 * (CronJob registry-pulls) and the history it kept (ConfigMap registry-pull-history); one added keeps more, once
 * the history reaches that far back.
 */
const clusterRetention: Rule = (c) => {
    if (!is(c, IN_CLUSTER_TARGETS.clusterConfig) || c.op === "delete") return [];
    const olds = c.op === "create" ? new Map<string, number | undefined>() : clusterPulledDays(c.olds);
    const news = clusterPulledDays(c.news);
    const script = (at(c.news, "data") as Record<string, unknown> | undefined)?.[IN_CLUSTER.retentionScript];
    const applies = scriptParameters(script).MODE === "apply";
    const findings = pulledDaysFindings(
        olds,
        news,
        applies,
        `from the fronts' logs that CronJob ${PULL_HISTORY.jobName} harvests every 15 minutes into ConfigMap ${PULL_HISTORY.configMap}`,
    );
    const keptBefore = [...olds.values()].some((d) => d !== undefined);
    const keptAfter = [...news.values()].some((d) => d !== undefined);
    if (keptBefore && !keptAfter) {
        findings.push({
            kind: "other",
            text: `no retention rule keeps tags for being pulled any more: CronJob ${PULL_HISTORY.jobName} and ConfigMap ${PULL_HISTORY.configMap} are deleted, with the pulls recorded; a rule that keeps them again starts a new history`,
        });
    }
    return findings;
};

/** The in-cluster registry's rules, in the order the summary applies them. */
export const IN_CLUSTER_RULES: readonly Rule[] = [inClusterWorkload, exposure, networkPolicy, claims, clusterRetention];
