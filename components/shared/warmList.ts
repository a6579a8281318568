/**
 * What a cache's warm list (`registry.mirrors[].warm`) may name, and its defaults: read by the config's
 * schema and by the mirrors' renderer (components/mirrors/warm.ts).
 */
import { imageReferenceProblem } from "./imageReference";

/** What a warm run fetches for the platforms of an index when `platforms` is unset: the two platforms Kubernetes nodes run. */
export const DEFAULT_WARM_PLATFORMS = ["linux/amd64", "linux/arm64"] as const;

/** When the warm job runs again when `schedule` is unset: daily, before the working day. */
export const DEFAULT_WARM_SCHEDULE = "15 4 * * *";

/** `platforms` entry that fetches every platform an index lists (attestations included). */
export const ALL_PLATFORMS = "all";

/**
 * Why `value` is not an image a warm list can name (as the upstream writes it, with a tag or a digest,
 * without the registry's name), or undefined.
 */
export function warmImageProblem(value: string): string | undefined {
    const problem = imageReferenceProblem(value);
    if (problem) return problem;
    const at = value.indexOf("@");
    const nameAndTag = at < 0 ? value : value.slice(0, at);
    const first = nameAndTag.split("/")[0]!;
    if (nameAndTag.includes("/") && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase())) {
        return `${JSON.stringify(value)} names a registry ("${first}"): write the image as its upstream names it, without the registry, e.g. "library/nginx:1.30"`;
    }
    if (at < 0 && nameAndTag.lastIndexOf(":") < 0) {
        return `${JSON.stringify(value)} has no tag and no digest: name the one to fetch, e.g. "${value}:1.0" or "${value}@sha256:…"`;
    }
    return undefined;
}

/** Why `value` is not a platform a warm list can name ("os/architecture[/variant]" or "all"), or undefined. */
export function warmPlatformProblem(value: string): string | undefined {
    if (value === ALL_PLATFORMS || /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(value)) return undefined;
    return `${JSON.stringify(value)} is not a platform: write "os/architecture" with an optional "/variant" (e.g. "linux/amd64", "linux/arm/v7"), or "all"`;
}
