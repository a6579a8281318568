/**
 * Warming a pull-through cache ahead of need (`registry.mirrors[].warm`), pure part: the images a
 * cache fetches from its upstream before any node asks for them, as the warm script reads them, and
 * the script itself (sh/mirror-warm.sh), which every placement runs against the cache's own
 * Distribution (no front in between): in the cluster a Job and a CronJob reaching the cache's Service
 * with busybox's wget; on the external host a command and a cron entry reaching its unix socket with curl.
 *
 * What a warm run stores is what a pull through the cache stores: each listed image's manifest (for an
 * index, also the manifests of the listed platforms), and every blob of each (config and layers), read
 * to the end so that Distribution keeps it. It then pulls with the upstream down.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { renderShellScript } from "../shared/shellScript";
import { DEFAULT_WARM_PLATFORMS, DEFAULT_WARM_SCHEDULE } from "../shared/warmList";
import { DOCKER_HUB, type MirrorWarm } from "./mirrors";

/**
 * An image of a warm list as the script reads it: "REPOSITORY REFERENCE", the digest when one is given
 * (it names the content exactly), the tag otherwise. Docker Hub's single-component names are under
 * "library/", as the runtimes read them ("nginx:1.30" is "library/nginx 1.30").
 */
export function warmImageLine(upstream: string, image: string): string {
    const at = image.indexOf("@");
    const nameAndTag = at < 0 ? image : image.slice(0, at);
    const colon = nameAndTag.lastIndexOf(":");
    const hasTag = colon > nameAndTag.lastIndexOf("/");
    const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
    const reference = at >= 0 ? image.slice(at + 1) : nameAndTag.slice(colon + 1);
    const repository = upstream === DOCKER_HUB.name && !name.includes("/") ? `library/${name}` : name;
    return `${repository} ${reference}`;
}

/** The cache's warm list from its config: images normalised (duplicates once), defaults applied. */
export function mirrorWarm(
    upstream: string,
    warm: { readonly images: readonly string[]; readonly platforms?: readonly string[]; readonly schedule?: string },
): MirrorWarm {
    return {
        images: [...new Set(warm.images.map((image) => warmImageLine(upstream, image)))],
        platforms: warm.platforms && warm.platforms.length > 0 ? [...warm.platforms] : [...DEFAULT_WARM_PLATFORMS],
        schedule: warm.schedule ?? DEFAULT_WARM_SCHEDULE,
    };
}

/** A short hash of what a warm run fetches (images and platforms): a changed list runs again. */
export function warmListHash(warm: Pick<MirrorWarm, "images" | "platforms">): string {
    return createHash("sha256")
        .update(`${warm.images.join("\n")}\n--\n${warm.platforms.join("\n")}\n`)
        .digest("hex")
        .slice(0, 12);
}

/** How the warm script reaches the cache's Distribution. */
export interface WarmAccess {
    /** Distribution's own address (`http://host:port`). */
    readonly base: string;
    /** curl over the cache's unix socket (the external host), or busybox's wget (the cluster's upkeep image). */
    readonly client: "curl" | "busybox-wget";
    /** The cache's unix socket (curl only); `base` then names no real host. */
    readonly unixSocket?: string;
    /** The command that shows the cache's log, named when it does not answer. */
    readonly cacheLogs: string;
}

/**
 * The warm script's complete text. One line per image: `warm: fetched library/nginx:1.30 (2 platforms, 7 blobs)`
 * or `warm: failed library/nginx:1.30: <why>`; a summary line; exits 1 when any image failed, after trying all.
 */
export function renderWarmScript(warm: Pick<MirrorWarm, "images" | "platforms">, access: WarmAccess): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-warm.sh"), {
        REGISTRY_URL: access.base,
        HTTP_CLIENT: access.client,
        UNIX_SOCKET: access.unixSocket ?? "",
        REGISTRY_LOGS: access.cacheLogs,
        IMAGES: [...warm.images],
        PLATFORMS: [...warm.platforms],
    });
}
