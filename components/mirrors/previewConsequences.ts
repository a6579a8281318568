/**
 * What a preview of the pull-through caches on the external host disrupts (`MirrorCachesOnHost`, one
 * command per cache: `<component>-<cache>-run`), for the consequences summary (tools/previewConsequences.ts,
 * docs/preview-consequences.md). The caches in the cluster are the in-cluster registry's children
 * (components/inCluster/previewConsequences.ts), kind's are in kind's containers
 * (components/kind/previewConsequences.ts).
 */
import { COMMANDS, containerChange, is, may, type Named, type Rule, type Target } from "../consequences/previewConsequences";
import { containerRunStepName } from "../shared/hostAccess";
import { MIRROR_CACHES_ON_HOST_TYPE } from "./mirrorCachesOnHost";

/** The cache a command of the host's caches runs (`<component>-<cache>-run`), or undefined. */
function hostCacheOf(r: Pick<Named, "name" | "parentName">): string | undefined {
    const prefix = `${r.parentName}-`;
    const suffix = containerRunStepName("");
    if (!r.name.startsWith(prefix) || !r.name.endsWith(suffix) || r.name.length <= prefix.length + suffix.length) return undefined;
    return r.name.slice(prefix.length, -suffix.length);
}

/** The resources the host caches' rule reads. */
export const MIRROR_TARGETS = {
    hostCache: { types: COMMANDS, parentType: MIRROR_CACHES_ON_HOST_TYPE, named: (r) => hostCacheOf(r) !== undefined },
} as const satisfies Record<string, Target>;

/** Pull-through caches on the external host. */
const hostCache: Rule = (c) => {
    const cache = is(c, MIRROR_TARGETS.hostCache) ? hostCacheOf(c) : undefined;
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

/** The host caches' rules. */
export const MIRROR_RULES: readonly Rule[] = [hostCache];
