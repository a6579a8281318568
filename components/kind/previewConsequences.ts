/**
 * What a preview of the kind placement's changes disrupts, for the consequences summary
 * (tools/previewConsequences.ts, docs/preview-consequences.md): its containers on the Docker host
 * (Distribution, the front, the node watcher, the caches: one command) and the configuration of each kind
 * cluster's nodes, picked out by the type token and step names components/kind/kindRegistry.ts exports.
 */
import {
    COMMANDS,
    child,
    DATA,
    type Finding,
    is,
    may,
    type Named,
    paramChange,
    RESTART,
    type Rule,
    type Target,
    UNMEASURED_OUTAGE,
} from "../consequences/previewConsequences";
import { KIND_REGISTRY_TYPE, kindContainersStepName, kindNodesStepName } from "./kindRegistry";

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

/** The resources kind's rule reads. */
export const KIND_TARGETS = {
    kindContainers: { types: COMMANDS, parentType: KIND_REGISTRY_TYPE, named: child(kindContainersStepName) },
    kindNodes: { types: COMMANDS, parentType: KIND_REGISTRY_TYPE, named: (r) => kindClusterOf(r) !== undefined },
} as const satisfies Record<string, Target>;

/** kind's containers on the Docker host: Distribution, the front, the node watcher, caches. */
const kindContainers: Rule = (c) => {
    if (is(c, KIND_TARGETS.kindNodes)) {
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
    if (!is(c, KIND_TARGETS.kindContainers) || c.op === "create") return [];
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
    const out: Finding[] = [];
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

/** kind's rules. */
export const KIND_RULES: readonly Rule[] = [kindContainers];
