/**
 * What a preview of the pull-through caches on the external host disrupts (`MirrorCachesOnHost`, one
 * command per cache: `<component>-<cache>-run`), and what a cache's warm list does wherever it runs (the
 * host's `<component>-<cache>-warm` command, the cluster's Job `registry-mirror-<cache>-warm-<list hash>`), for the consequences summary (tools/previewConsequences.ts,
 * docs/preview-consequences.md). The caches in the cluster are the in-cluster registry's children
 * (components/inCluster/previewConsequences.ts), kind's are in kind's containers
 * (components/kind/previewConsequences.ts).
 */
import {
    COMMANDS,
    changeAt,
    containerChange,
    is,
    may,
    metadataName,
    type Named,
    type Rule,
    type Target,
} from "../consequences/previewConsequences";
import { containerRunStepName } from "../shared/hostAccess";
import { MIRROR_CACHES_ON_HOST_TYPE, warmStepName } from "./mirrorCachesOnHost";
import { CLUSTER_MIRROR_PREFIX } from "./mirrorManifests";

/** The cache a command of the host's caches runs (`<component>-<cache>-run`), or undefined. */
function hostCacheOf(r: Pick<Named, "name" | "parentName">): string | undefined {
    const prefix = `${r.parentName}-`;
    const suffix = containerRunStepName("");
    if (!r.name.startsWith(prefix) || !r.name.endsWith(suffix) || r.name.length <= prefix.length + suffix.length) return undefined;
    return r.name.slice(prefix.length, -suffix.length);
}

/** The cache whose warm list a command of the host's caches runs (`<component>-<cache>-warm`), or undefined. */
function hostWarmOf(r: Pick<Named, "name" | "parentName">): string | undefined {
    const prefix = `${r.parentName}-`;
    const suffix = warmStepName("");
    if (!r.name.startsWith(prefix) || !r.name.endsWith(suffix) || r.name.length <= prefix.length + suffix.length) return undefined;
    return r.name.slice(prefix.length, -suffix.length);
}

/** The in-cluster warm Job of a cache (`registry-mirror-<upstream>-warm-<list hash>`). */
const CLUSTER_WARM_JOB = new RegExp(`^${CLUSTER_MIRROR_PREFIX}(.+)-warm-[0-9a-f]{8}$`);

/** The resources the caches' rules read. */
export const MIRROR_TARGETS = {
    hostCache: { types: COMMANDS, parentType: MIRROR_CACHES_ON_HOST_TYPE, named: (r) => hostCacheOf(r) !== undefined },
    hostWarm: { types: COMMANDS, parentType: MIRROR_CACHES_ON_HOST_TYPE, named: (r) => hostWarmOf(r) !== undefined },
    clusterWarm: { types: ["kubernetes:batch/v1:Job"], named: (r) => CLUSTER_WARM_JOB.test(r.objectName) },
} as const satisfies Record<string, Target>;

/** What a new or changed warm list does: nothing restarts; a run fetches the list from the upstream. */
function warmText(cache: string, where: string): string {
    return `cache ${cache}'s warm list runs (${where}): it fetches the listed images from the upstream into the cache; nothing is restarted and no pull is disrupted`;
}

/** A cache's warm list (`registry.mirrors[].warm`), on the external host and in the cluster. */
const warm: Rule = (c) => {
    if (c.op === "delete") return [];
    if (is(c, MIRROR_TARGETS.hostWarm)) {
        const cache = hostWarmOf(c)!;
        if (c.op === "update" && changeAt(c, "create") === "no") return [];
        return [{ kind: "cache", text: warmText(cache, "in the background on the host, not awaited by up") }];
    }
    if (is(c, MIRROR_TARGETS.clusterWarm) && (c.op === "create" || c.op === "replace")) {
        const cache = CLUSTER_WARM_JOB.exec(metadataName(c))?.[1] ?? "?";
        return [{ kind: "cache", text: warmText(`${CLUSTER_MIRROR_PREFIX}${cache}`, `Job ${metadataName(c)}, not awaited by up`) }];
    }
    return [];
};

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

/** The caches' rules. */
export const MIRROR_RULES: readonly Rule[] = [hostCache, warm];
